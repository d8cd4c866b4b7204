/** One second of a soak: what the service reported. */
export interface SoakSample {
  /** Seconds since the soak started. */
  readonly t: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly paused: boolean;
  readonly recordsIn: number;
}

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
  const lines = ['t_s,rss_mb,heap_used_mb,paused,records_in'];
  for (const s of samples) {
    lines.push(
      `${s.t.toFixed(1)},${(s.rssBytes / 1048576).toFixed(2)},${(s.heapUsedBytes / 1048576).toFixed(2)},${s.paused ? 1 : 0},${s.recordsIn}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
