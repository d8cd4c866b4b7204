/**
 * What the map shows, from v2 aggregates keyed by zone: the per-partition
 * results of each (window, zone) merged into one, the reading to colour by,
 * and the window to draw.
 */

/** One reading's statistics, mergeable over partitions. */
export interface ReadingStats {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

/** A zone's result for one window, merged over the partitions that reported it. */
export interface ZoneWindow {
  readonly start: number;
  readonly end: number;
  readonly zone: string;
  /** Valid readings in the window and zone, over all partitions. */
  readonly count: number;
  readonly readings: ReadonlyMap<string, ReadingStats>;
  /** Input topics the records came from. */
  readonly topics: ReadonlySet<string>;
}

/** The window and reading the map colours zones by, with each zone's mean. */
export interface MapSelection {
  readonly reading: string;
  readonly start: number;
  readonly end: number;
  /** Every zone the window holds, by id; `mean` undefined where the zone has records but none of the reading. */
  readonly zones: ReadonlyMap<string, { readonly count: number; readonly mean: number | undefined; readonly readingCount: number }>;
  /** Records of the window, all its zones together. */
  readonly records: number;
  readonly topics: readonly string[];
  /** The smallest and largest zone mean of the reading. */
  readonly min: number;
  readonly max: number;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

interface ZoneAggregate {
  readonly identity: string;
  readonly start: number;
  readonly end: number;
  readonly zone: string;
  readonly topic: string;
  readonly count: number;
  readonly readings: Map<string, ReadingStats>;
}

/** A v2 aggregate of a time window keyed by zone, or undefined for anything else (v1, count windows, other keys). */
function zoneAggregate(value: unknown): ZoneAggregate | undefined {
  if (!isObject(value) || value.schema !== 'geowindow.aggregate.v2') return undefined;
  const { window, key, source, count } = value;
  if (!isObject(window) || !isNumber(window.start) || !isNumber(window.end)) return undefined;
  if (!isObject(key) || key.by !== 'zone' || typeof key.id !== 'string' || !isNumber(count)) return undefined;
  const topic = isObject(source) && typeof source.topic === 'string' ? source.topic : '';
  const partition = isObject(source) && isNumber(source.partition) ? source.partition : -1;
  const readings = new Map<string, ReadingStats>();
  if (isObject(value.readings)) {
    for (const [name, stats] of Object.entries(value.readings)) {
      if (!isObject(stats) || !isNumber(stats.count) || stats.count <= 0 || !isNumber(stats.min) || !isNumber(stats.max)) continue;
      // v2 carries the sum for merging; the mean gives it back when it is missing.
      const sum = isNumber(stats.sum) ? stats.sum : isNumber(stats.mean) ? stats.mean * stats.count : undefined;
      if (sum !== undefined) readings.set(name, { count: stats.count, sum, min: stats.min, max: stats.max });
    }
  }
  // The record's identity, as its Kafka key: a later record with the same one supersedes the earlier.
  const identity = `zone:${key.id}|${window.start}-${window.end}|${topic}:${partition}`;
  return { identity, start: window.start, end: window.end, zone: key.id, topic, count, readings };
}

function mergeStats(a: ReadingStats | undefined, b: ReadingStats): ReadingStats {
  if (a === undefined) return b;
  return { count: a.count + b.count, sum: a.sum + b.sum, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

/**
 * Collects zone windows from aggregates as they are read (parsed JSON, in
 * the order read; anything but v2 zone aggregates of time windows is
 * skipped), keeping only what the map needs of each, not its hull. The last
 * record of each identity counts (a replay supersedes); `windows` merges the
 * partitions of each (window, zone): counts and sums added, min of the
 * minima, max of the maxima, so mean = sum / count.
 */
export class ZoneWindowCollector {
  readonly #latest = new Map<string, ZoneAggregate>();

  /** Takes one aggregate; false when it is not a v2 zone aggregate of a time window. */
  add(value: unknown): boolean {
    const aggregate = zoneAggregate(value);
    if (aggregate !== undefined) this.#latest.set(aggregate.identity, aggregate);
    return aggregate !== undefined;
  }

  windows(): ZoneWindow[] {
    const merged = new Map<string, { start: number; end: number; zone: string; count: number; readings: Map<string, ReadingStats>; topics: Set<string> }>();
    for (const a of this.#latest.values()) {
      const id = `${a.start}-${a.end}|${a.zone}`;
      let entry = merged.get(id);
      if (entry === undefined) {
        entry = { start: a.start, end: a.end, zone: a.zone, count: 0, readings: new Map(), topics: new Set() };
        merged.set(id, entry);
      }
      entry.count += a.count;
      if (a.topic !== '') entry.topics.add(a.topic);
      for (const [name, stats] of a.readings) entry.readings.set(name, mergeStats(entry.readings.get(name), stats));
    }
    return [...merged.values()];
  }
}

/** The merged zone windows of a list of aggregates (see ZoneWindowCollector). */
export function mergeZoneWindows(values: Iterable<unknown>): ZoneWindow[] {
  const collector = new ZoneWindowCollector();
  for (const value of values) collector.add(value);
  return collector.windows();
}

/** Readings seen in the zone windows, each with how many zone windows have it, most first (ties by name). */
export function readingsByUse(windows: readonly ZoneWindow[]): [string, number][] {
  const uses = new Map<string, number>();
  for (const w of windows) for (const name of w.readings.keys()) uses.set(name, (uses.get(name) ?? 0) + 1);
  return [...uses].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/**
 * What to draw: the reading `wanted` (default: the one most zone windows
 * have), and of the windows, the one with the most zones that have that
 * reading; of several such, the latest. Undefined when no zone window has
 * the reading.
 */
export function selectMap(windows: readonly ZoneWindow[], wanted?: string): MapSelection | undefined {
  const reading = wanted ?? readingsByUse(windows)[0]?.[0];
  if (reading === undefined) return undefined;
  const zonesWithReading = new Map<string, number>();
  for (const w of windows) {
    if (w.readings.has(reading)) zonesWithReading.set(`${w.start}-${w.end}`, (zonesWithReading.get(`${w.start}-${w.end}`) ?? 0) + 1);
  }
  let best: ZoneWindow | undefined;
  let bestZones = 0;
  for (const w of windows) {
    const zones = zonesWithReading.get(`${w.start}-${w.end}`) ?? 0;
    if (zones === 0) continue;
    if (best === undefined || zones > bestZones || (zones === bestZones && (w.end > best.end || (w.end === best.end && w.start > best.start)))) {
      best = w;
      bestZones = zones;
    }
  }
  if (best === undefined) return undefined;
  const { start, end } = best;
  const zones = new Map<string, { count: number; mean: number | undefined; readingCount: number }>();
  const topics = new Set<string>();
  let records = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const w of windows) {
    if (w.start !== start || w.end !== end) continue;
    const stats = w.readings.get(reading);
    const mean = stats === undefined ? undefined : stats.sum / stats.count;
    if (mean !== undefined) {
      min = Math.min(min, mean);
      max = Math.max(max, mean);
    }
    zones.set(w.zone, { count: w.count, mean, readingCount: stats?.count ?? 0 });
    records += w.count;
    for (const topic of w.topics) topics.add(topic);
  }
  return { reading, start, end, zones, records, topics: [...topics].sort(), min, max };
}
