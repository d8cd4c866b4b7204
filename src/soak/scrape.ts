/** What a soak reads of the service's /metrics: Prometheus text, by series. */
export type MetricValues = ReadonlyMap<string, number>;

/** The value of each series (name with its labels, as written) in a Prometheus text exposition. */
export function scrape(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** The sum of every series of metric `name`, whatever its labels (0 when it has none yet). */
export function metricTotal(values: MetricValues, name: string): number {
  let sum = 0;
  for (const [series, value] of values) if (series === name || series.startsWith(`${name}{`)) sum += value;
  return sum;
}

/**
 * The series of metric `name` that carry `label`, keyed by its value
 * (`geowindow_windows_emitted_total` by `closed_by`, say).
 */
export function metricByLabel(values: MetricValues, name: string, label: string): Record<string, number> {
  const byValue: Record<string, number> = {};
  const marker = `${label}="`;
  for (const [series, value] of values) {
    if (!series.startsWith(`${name}{`)) continue;
    const at = series.indexOf(marker, name.length);
    if (at < 0) continue;
    const start = at + marker.length;
    const key = series.slice(start, series.indexOf('"', start));
    byValue[key] = (byValue[key] ?? 0) + value;
  }
  return byValue;
}
