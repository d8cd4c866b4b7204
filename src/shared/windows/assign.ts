/**
 * Event-time window assignment, a pure function of the record's time and the
 * window spec, as in Kafka Streams' `TimeWindows.windowsFor`: windows are
 * aligned to the epoch, `[start, start + size)`, starting every `advance`
 * milliseconds (`advance === size`: tumbling). Both threads use it: workers
 * to fold records into windows, the main thread to tell late records.
 */
export const WINDOW_KINDS = ['count', 'tumbling', 'hopping'] as const;
export type WindowKind = (typeof WINDOW_KINDS)[number];

export interface TimeWindowSpec {
  readonly kind: 'tumbling' | 'hopping';
  readonly sizeMs: number;
  /** Equal to sizeMs for tumbling windows; a divisor-free 0 < advance <= size for hopping ones. */
  readonly advanceMs: number;
  readonly graceMs: number;
}

/** The start of the latest window holding `ts` (windows start at multiples of the advance). */
export function lastWindowStart(ts: number, spec: TimeWindowSpec): number {
  return Math.floor(ts / spec.advanceMs) * spec.advanceMs;
}

/** The end (exclusive) of the latest window holding `ts`: a record is late when this is <= its partition's watermark. */
export function lastWindowEnd(ts: number, spec: TimeWindowSpec): number {
  return lastWindowStart(ts, spec) + spec.sizeMs;
}

/**
 * Writes the starts of every window holding `ts` into `out`, oldest first,
 * and returns how many (1 for tumbling windows, about size / advance for
 * hopping ones). Allocates nothing.
 */
export function windowStarts(ts: number, spec: TimeWindowSpec, out: Float64Array): number {
  const last = lastWindowStart(ts, spec);
  let first = last;
  while (first - spec.advanceMs > ts - spec.sizeMs) first -= spec.advanceMs;
  let n = 0;
  for (let start = first; start <= last; start += spec.advanceMs) out[n++] = start;
  return n;
}

/** Most windows one record can fall in: the length `windowStarts` needs for `out`. */
export function windowsPerRecord(spec: TimeWindowSpec): number {
  return Math.ceil(spec.sizeMs / spec.advanceMs);
}
