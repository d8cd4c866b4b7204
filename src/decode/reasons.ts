/**
 * Why a record was dead-lettered. These are label values of
 * `geowindow_records_dead_lettered_total{reason}` and the value of the
 * `geowindow-dlq-reason` header, so they stay stable. All but the last three
 * are found by the decoder.
 */
export const DEAD_LETTER_REASONS = [
  'empty',
  'oversized',
  'invalid_utf8',
  'invalid_json',
  'not_an_object',
  'missing_field',
  'invalid_field',
  'out_of_range',
  'non_finite',
  'unsupported_geometry',
  'too_many_readings',
  /** Event-time windows: every window the record falls in had closed when it arrived (its partition's watermark had passed their ends). */
  'late',
  /** The chunk's worker died of out-of-memory twice; every record of the window is dead-lettered. */
  'worker_out_of_memory',
  /** The chunk's worker failed twice for another reason. */
  'aggregation_failed',
] as const;

export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];
