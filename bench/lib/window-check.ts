/**
 * "Every window right": the benchmark's own count of each (key, window) of
 * the data set it generated, against what a system wrote to its output
 * topic, summed over the source partitions it split them by. The key is the
 * record's zone, or its partition for the row without zones.
 */
import { randomBytes } from 'node:crypto';
import { nowMs, say, until } from './common.js';
import type { Counties } from './counties.js';
import { benchKafka, cleanUp, withAdmin } from './dataset.js';
import { zoneReadings, type ZoneDataset } from './zone-dataset.js';

/**
 * Configuration of every output topic the check reads: unlimited retention.
 * Quix stamps a window with its start, in the data set's past, and the
 * broker's time retention would delete those records before they are read.
 */
export const OUTPUT_TOPIC_CONFIG = [
  { name: 'retention.ms', value: '-1' },
  { name: 'retention.bytes', value: '-1' },
];

/** Count and pm25 statistics of one (key, window). */
export interface WindowStats {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** What a row's windows are keyed by: the record's county, or its partition (event time without zones). */
export type WindowKeyBy = 'zone' | 'partition';

/** `${key}|${start}`: a window's identity across systems (the window size is the same for all). */
export type WindowKey = string;
const windowKey = (key: string, start: number): WindowKey => `${key}|${start}`;
const keyOf = (key: WindowKey) => key.slice(0, key.indexOf('|'));
const startOf = (key: WindowKey) => Number(key.slice(key.indexOf('|') + 1));

export interface Expected {
  readonly windowMs: number;
  /** The grace of the partition-watermark rule the late records were told by. */
  readonly graceMs: number;
  readonly windows: ReadonlyMap<WindowKey, WindowStats>;
  /** Records late by geowindow's rule: their window's end <= (largest ts earlier in their partition) - grace. */
  readonly late: number;
  readonly records: number;
  /** Largest event time of each key (Quix closes a zone's windows by it). */
  readonly keyMaxTs: ReadonlyMap<string, number>;
}

function fold(windows: Map<WindowKey, WindowStats>, key: WindowKey, count: number, sum: number, min: number, max: number): void {
  const w = windows.get(key);
  if (w === undefined) windows.set(key, { count, sum, min, max });
  else {
    w.count += count;
    w.sum += sum;
    if (min < w.min) w.min = min;
    if (max > w.max) w.max = max;
  }
}

/**
 * The windows of the data set by replaying its generator: tumbling windows
 * of `windowMs` aligned to the epoch, each record under its device's county
 * (or its partition), less the records late by the per-partition watermark
 * rule with `graceMs`.
 */
export function expectedWindows(dataset: ZoneDataset, counties: Counties, by: WindowKeyBy, windowMs: number, graceMs: number): Expected {
  const windows = new Map<WindowKey, WindowStats>();
  const keyMaxTs = new Map<string, number>();
  const maxTs = new Array<number>(dataset.partitions).fill(Number.NEGATIVE_INFINITY);
  let late = 0;
  let records = 0;
  for (const r of zoneReadings(dataset.options, dataset.devicesPlaced)) {
    records++;
    const key = by === 'zone' ? counties.ids[r.device.county]! : String(r.partition);
    const start = Math.floor(r.ts / windowMs) * windowMs;
    if (start + windowMs <= maxTs[r.partition]! - graceMs) late++;
    else fold(windows, windowKey(key, start), 1, r.pm25, r.pm25, r.pm25);
    if (r.ts > maxTs[r.partition]!) maxTs[r.partition] = r.ts;
    if (r.ts > (keyMaxTs.get(key) ?? Number.NEGATIVE_INFINITY)) keyMaxTs.set(key, r.ts);
  }
  return { windowMs, graceMs, windows, late, records, keyMaxTs };
}

/** One emitted window, as a system's output names it. */
export interface EmittedWindow {
  /** The zone id, or the partition number for windows keyed by partition. */
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

export interface Emitted {
  readonly windows: Map<WindowKey, WindowStats>;
  /** Output records read (all keys), and how many were windows of the checked key kind. */
  readonly messages: number;
  readonly windowMessages: number;
  /** Output records that were not windows of the checked key kind and `windowMs`, or malformed. */
  readonly skipped: number;
  /** What closed the checked windows (geowindow's window.closedBy), when given. */
  readonly closedBy: Record<string, number>;
}

/**
 * Reads a whole output topic from the beginning (a fresh group; the topic is
 * complete: its writer has stopped) and sums its windows by (key, start).
 * `parse` returns a window, or undefined for a record of another key. The
 * topic must keep every record (see OUTPUT_TOPIC_CONFIG).
 */
export async function readEmitted(
  brokers: readonly string[],
  topic: string,
  windowMs: number,
  parse: (value: unknown) => (EmittedWindow & { readonly closedBy?: string }) | undefined,
  progressSeconds: number,
): Promise<Emitted> {
  const ends = await withAdmin(brokers, (admin) => admin.fetchTopicOffsets(topic));
  const trimmed = ends.reduce((a, p) => a + Number(p.low), 0);
  if (trimmed > 0) throw new Error(`${trimmed} output records of ${topic} were deleted before the check (retention?)`);
  const expected = ends.reduce((a, p) => a + Number(p.high), 0);
  const windows = new Map<WindowKey, WindowStats>();
  const closedBy: Record<string, number> = {};
  let messages = 0;
  let windowMessages = 0;
  let skipped = 0;
  if (expected === 0) return { windows, messages, windowMessages, skipped, closedBy };
  const group = `bench-check-${randomBytes(4).toString('hex')}`;
  const consumer = benchKafka(brokers, 'geowindow-bench-check').consumer({ groupId: group, maxBytes: 16 * 1024 * 1024 });
  await consumer.connect();
  let lastReport = nowMs();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          messages++;
          let w: ReturnType<typeof parse>;
          try {
            w = message.value === null ? undefined : parse(JSON.parse(message.value.toString('utf8')));
          } catch {
            w = undefined;
          }
          if (w === undefined || w.end - w.start !== windowMs) {
            skipped++;
            continue;
          }
          windowMessages++;
          if (w.closedBy !== undefined) closedBy[w.closedBy] = (closedBy[w.closedBy] ?? 0) + 1;
          fold(windows, windowKey(w.key, w.start), w.count, w.sum, w.min, w.max);
        }
        if (nowMs() - lastReport >= progressSeconds * 1000) {
          lastReport = nowMs();
          say(`check: ${messages}/${expected} output records of ${topic} read`);
        }
      },
    });
    await until(`all ${expected} output records of ${topic}`, 300_000, 100, () => (messages >= expected ? true : undefined));
  } finally {
    await consumer.disconnect();
    await cleanUp(brokers, [group], []);
  }
  return { windows, messages, windowMessages, skipped, closedBy };
}

/** A parser of geowindow v2 aggregates keyed by `by` into emitted windows (undefined for other keys). */
export function geowindowV2Windows(by: WindowKeyBy): (value: unknown) => (EmittedWindow & { closedBy: string }) | undefined {
  return (value) => parseGeowindowV2(value, by);
}

function parseGeowindowV2(value: unknown, by: WindowKeyBy): (EmittedWindow & { closedBy: string }) | undefined {
  const v = value as {
    window?: { start?: number; end?: number; closedBy?: string };
    key?: { by?: string; id?: string };
    count?: number;
    readings?: { pm25?: { sum?: number; min?: number; max?: number } };
  };
  if (v.key?.by !== by || typeof v.window?.start !== 'number' || typeof v.window.end !== 'number' || typeof v.count !== 'number') return undefined;
  const pm25 = v.readings?.pm25;
  return {
    key: String(v.key.id),
    start: v.window.start,
    end: v.window.end,
    count: v.count,
    sum: pm25?.sum ?? Number.NaN,
    min: pm25?.min ?? Number.NaN,
    max: pm25?.max ?? Number.NaN,
    closedBy: v.window.closedBy ?? 'unknown',
  };
}

/** A window of the Quix job (bench/quix/zone_windows.py). */
export function parseQuix(value: unknown): EmittedWindow | undefined {
  const v = value as { zone?: string; start?: number; end?: number; count?: number; pm25_sum?: number; pm25_min?: number; pm25_max?: number };
  if (typeof v.zone !== 'string' || typeof v.start !== 'number' || typeof v.end !== 'number' || typeof v.count !== 'number') return undefined;
  return { key: v.zone, start: v.start, end: v.end, count: v.count, sum: v.pm25_sum ?? Number.NaN, min: v.pm25_min ?? Number.NaN, max: v.pm25_max ?? Number.NaN };
}

export interface WindowCheck {
  readonly expectedWindows: number;
  readonly emittedWindows: number;
  /** Expected windows the check leaves out: still open when the system stopped, by its own closing rule. */
  readonly openAtEnd: number;
  readonly checked: number;
  /** Checked windows with the right count, sum, min and max. */
  readonly right: number;
  readonly countWrong: number;
  /** Right count, wrong pm25 sum, min or max. */
  readonly statsWrong: number;
  /** Expected (and closable) windows not emitted. */
  readonly missing: number;
  /** Emitted windows the data set has no record for. */
  readonly extra: number;
  readonly recordsExpected: number;
  readonly recordsCounted: number;
  readonly examples: readonly string[];
  readonly pass: boolean;
}

const EXAMPLES = 5;

/**
 * Compares emitted windows with the expected ones. `openAtEnd(key, start)`
 * names the windows the system could not have closed before it stopped;
 * those are left out of the check and counted apart.
 */
export function compareWindows(expected: Expected, emitted: Emitted, openAtEnd: (key: string, start: number) => boolean = () => false): WindowCheck {
  let open = 0;
  let right = 0;
  let countWrong = 0;
  let statsWrong = 0;
  let missing = 0;
  let extra = 0;
  let recordsExpected = 0;
  let recordsCounted = 0;
  const examples: string[] = [];
  const example = (text: string) => {
    if (examples.length < EXAMPLES) examples.push(text);
  };
  for (const [key, want] of expected.windows) {
    const start = startOf(key);
    const got = emitted.windows.get(key);
    if (got === undefined && openAtEnd(keyOf(key), start)) {
      open++;
      continue;
    }
    recordsExpected += want.count;
    if (got === undefined) {
      missing++;
      example(`${key}: missing (${want.count} records expected)`);
      continue;
    }
    recordsCounted += got.count;
    if (got.count !== want.count) {
      countWrong++;
      example(`${key}: count ${got.count}, expected ${want.count}`);
    } else if (got.min !== want.min || got.max !== want.max || Math.abs(got.sum - want.sum) > 1e-9 * Math.max(1, Math.abs(want.sum))) {
      statsWrong++;
      example(`${key}: pm25 sum/min/max ${got.sum}/${got.min}/${got.max}, expected ${want.sum}/${want.min}/${want.max}`);
    } else right++;
  }
  for (const [key, got] of emitted.windows) {
    if (expected.windows.has(key)) continue;
    extra++;
    recordsCounted += got.count;
    example(`${key}: emitted with ${got.count} records, none expected`);
  }
  const checked = expected.windows.size - open;
  return {
    expectedWindows: expected.windows.size,
    emittedWindows: emitted.windows.size,
    openAtEnd: open,
    checked,
    right,
    countWrong,
    statsWrong,
    missing,
    extra,
    recordsExpected,
    recordsCounted,
    examples,
    pass: right === checked && extra === 0,
  };
}

/** Quix's key closing rule: a zone's window is final once that zone's stream time passes its end plus the grace. */
export function quixOpenAtEnd(expected: Expected, graceMs: number): (zone: string, start: number) => boolean {
  return (zone, start) => start + expected.windowMs > (expected.keyMaxTs.get(zone) ?? Number.NEGATIVE_INFINITY) - graceMs;
}
