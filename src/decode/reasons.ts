/**
 * Why a record was dead-lettered. These are label values of
 * `geowindow_records_dead_lettered_total{reason}` and the value of the
 * `geowindow-dlq-reason` header, so they stay stable.
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
] as const;

export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];
