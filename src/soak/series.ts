/** One second of a soak: what the service reported. */
export interface SoakSample {
  /** Seconds since the soak started. */
  readonly t: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly paused: boolean;
  readonly recordsIn: number;
  /** Windows written and acknowledged so far (geowindow_windows_emitted_total, every closed_by summed). */
  readonly windowsEmitted: number;
  /** Open event-time windows, all partitions (geowindow_windows_open; 0 with count windows). */
  readonly windowsOpen: number;
  /** Estimated bytes held by open windows (geowindow_window_state_bytes). */
  readonly windowStateBytes: number;
  /** Estimated bytes of closed windows not yet written (geowindow_window_closing_bytes). */
  readonly windowClosingBytes: number;
  /** V8 heap the aggregation workers reserve, summed (geowindow_worker_heap_total_bytes): their part of RSS. */
  readonly workerHeapBytes: number;
}

/** Records per hundred million: the unit growth per record is reported in. */
const HUNDRED_MILLION = 100_000_000;
const SECONDS_PER_HOUR = 3600;

/** Least-squares slope of RSS over time, in MB per hour, from the samples at or after `fromSeconds`. */
export function rssSlopeMbPerHour(samples: readonly SoakSample[], fromSeconds: number): number {
  const points = samples.filter((s) => s.t >= fromSeconds);
  if (points.length < 2) return 0;
  const n = points.length;
  const meanT = points.reduce((sum, s) => sum + s.t, 0) / n;
  const meanY = points.reduce((sum, s) => sum + s.rssBytes, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const s of points) {
    covariance += (s.t - meanT) * (s.rssBytes - meanY);
    variance += (s.t - meanT) ** 2;
  }
  if (variance === 0) return 0;
  const bytesPerSecond = covariance / variance;
  return (bytesPerSecond * 3600) / (1024 * 1024);
}

/**
 * Records the service read per second over the samples at or after
 * `fromSeconds`: the records-in counter's rise from the first to the last of
 * them over the time between (0 with fewer than two samples or no time between).
 */
export function recordsPerSecond(samples: readonly SoakSample[], fromSeconds: number): number {
  const points = samples.filter((s) => s.t >= fromSeconds);
  const first = points[0];
  const last = points[points.length - 1];
  if (first === undefined || last === undefined || last.t <= first.t) return 0;
  return (last.recordsIn - first.recordsIn) / (last.t - first.t);
}

/**
 * RSS growth per hundred million records read: the slope after the warm-up
 * (MB per hour) over the records read in an hour at the rate measured over
 * the same samples,
 *
 *   growthMbPer100MRecords = slopeMbPerHour / (3600 × recordsPerSecond) × 10^8
 *
 * (6.4 MB/h at 10,000 records/s is 17.8 MB per 100 million records). It says
 * how far a leak per record would carry RSS at any rate; null when no record
 * was read, as growth per record is then undefined.
 */
export function growthMbPer100MRecords(slopeMbPerHour: number, recordsPerSecondRead: number): number | null {
  if (!(recordsPerSecondRead > 0)) return null;
  return (slopeMbPerHour / (SECONDS_PER_HOUR * recordsPerSecondRead)) * HUNDRED_MILLION;
}

/** The first sample at or after `t` seconds (the RSS at the end of the warm-up, say), else the last one. */
export function sampleAtOrAfter(samples: readonly SoakSample[], t: number): SoakSample | undefined {
  return samples.find((s) => s.t >= t) ?? samples[samples.length - 1];
}

/** Least and largest value of one series over the samples at or after `fromSeconds`; null without such samples. */
export function rangeFrom(
  samples: readonly SoakSample[],
  fromSeconds: number,
  value: (s: SoakSample) => number,
): { readonly min: number; readonly max: number } | null {
  let min = Infinity;
  let max = -Infinity;
  for (const s of samples) {
    if (s.t < fromSeconds) continue;
    min = Math.min(min, value(s));
    max = Math.max(max, value(s));
  }
  return min === Infinity ? null : { min, max };
}

export function peakRssBytes(samples: readonly SoakSample[]): number {
  return samples.reduce((peak, s) => Math.max(peak, s.rssBytes), 0);
}

/** Paused stretches as [start, end] seconds. */
export function pausedIntervals(samples: readonly SoakSample[]): [number, number][] {
  const intervals: [number, number][] = [];
  let start: number | undefined;
  for (const s of samples) {
    if (s.paused && start === undefined) start = s.t;
    if (!s.paused && start !== undefined) {
      intervals.push([start, s.t]);
      start = undefined;
    }
  }
  if (start !== undefined && samples.length > 0) intervals.push([start, samples[samples.length - 1]!.t]);
  return intervals;
}

export function toCsv(samples: readonly SoakSample[]): string {
  const lines = ['t_s,rss_mb,heap_used_mb,paused,records_in,windows_emitted,windows_open,window_state_mb,window_closing_mb,worker_heap_mb'];
  const mb = (bytes: number) => (bytes / 1048576).toFixed(2);
  for (const s of samples) {
    lines.push(
      `${s.t.toFixed(1)},${mb(s.rssBytes)},${mb(s.heapUsedBytes)},${s.paused ? 1 : 0},${s.recordsIn},` +
        `${s.windowsEmitted},${s.windowsOpen},${mb(s.windowStateBytes)},${mb(s.windowClosingBytes)},${mb(s.workerHeapBytes)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
