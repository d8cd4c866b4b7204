import { expect } from 'vitest';
import { addTo, lateness, readReading, type RefReading, type RefWindow, type RefZones } from '../../support/event-reference.js';
import { header, type ReadRecord } from '../../support/kafka.js';
import { reconcile } from '../../support/reconcile.js';
import type { Committed } from './kafka-io.js';
import { ZONE_GRACE_MS, ZONE_WINDOW_MS, type DeliveryMode } from './modes.js';

/** What a case reconciled, printed by every case. */
export interface ReconciledCounts {
  /** Readings in the input topic. */
  readonly produced: number;
  /** Readings counted by the aggregates, after de-duplication by identity. */
  readonly counted: number;
  /** Input records in the dead-letter topic, after de-duplication by source offset. */
  readonly deadLettered: number;
  /** Distinct aggregates (windows, and for event time keys). */
  readonly aggregates: number;
  /** Aggregates written again with the same identity and content, removed. */
  readonly duplicateAggregates: number;
  /** Aggregates closed by the clock and written again with more records (`timeClosedSuperseded` only), the earlier removed. */
  readonly supersededAggregates: number;
  /** Dead letters written again for the same source record, removed. */
  readonly duplicateDeadLetters: number;
}

/** A case's topics as read back. */
export interface CaseRecords {
  readonly inputs: readonly ReadRecord[];
  readonly outputs: readonly ReadRecord[];
  readonly deadLetters: readonly ReadRecord[];
}

/** An aggregate's identity and its content (everything but `emittedAt`, the one field a replay changes). */
interface Written {
  readonly identity: string;
  readonly content: string;
  /** Closed by the clock (count: idle, shutdown...; event time: idle, cap), not where a replay closes it again. */
  readonly closedByTime: boolean;
}

/**
 * How duplicates are judged. `identical`: every aggregate written again has
 * the identity and content of the first. `timeClosedSuperseded`: as
 * README's "Window identity survives replay" allows for a window closed by
 * the clock, a later one with its identity may hold more records and
 * supersedes it (later in the output log, where one key keeps its order);
 * any other duplicate is identical.
 */
export type Duplicates = 'identical' | 'timeClosedSuperseded';

const at = (partition: number, offset: number) => `${partition}:${offset}`;
const NO_BYTES = Buffer.alloc(0);

/**
 * One aggregate per identity. A later one with the same identity must have
 * the same content (the only duplicates a crash or rebalance may leave), or,
 * with `timeClosedSuperseded`, may replace one closed by the clock. A mode
 * without duplicates allows none.
 */
function uniqueAggregates(outputs: readonly ReadRecord[], written: (record: ReadRecord) => Written, mode: DeliveryMode, rule: Duplicates) {
  const kept = new Map<string, { record: ReadRecord; written: Written }>();
  let duplicates = 0;
  let superseded = 0;
  for (const record of outputs) {
    const now = written(record);
    const earlier = kept.get(now.identity);
    if (earlier === undefined) kept.set(now.identity, { record, written: now });
    else if (now.content === earlier.written.content) duplicates++;
    else {
      expect(rule === 'timeClosedSuperseded' && earlier.written.closedByTime, `aggregate ${now.identity} written twice with different content`).toBe(true);
      kept.set(now.identity, { record, written: now });
      superseded++;
    }
  }
  if (!mode.duplicatesAllowed) expect(duplicates + superseded, `${mode.name}: aggregates written more than once`).toBe(0);
  return { unique: [...kept.values()].map((v) => v.record), duplicates, superseded };
}

/**
 * Keeps the first dead letter of each source record; a later one must carry
 * the same reason and bytes. Every one names a record of the input topic.
 */
function uniqueDeadLetters(deadLetters: readonly ReadRecord[], topic: string, inputs: ReadonlyMap<string, ReadRecord>, mode: DeliveryMode) {
  const first = new Map<string, ReadRecord>();
  let duplicates = 0;
  for (const record of deadLetters) {
    expect(header(record, 'geowindow-source-topic')).toBe(topic);
    const source = at(Number(header(record, 'geowindow-source-partition')), Number(header(record, 'geowindow-source-offset')));
    const input = inputs.get(source);
    expect(input, `dead letter for ${source}, which is not an input record`).toBeDefined();
    // A null and an empty value are the same record here (a chunk keeps no difference between them).
    expect((record.value ?? NO_BYTES).equals(input!.value ?? NO_BYTES), `dead letter for ${source} does not carry its record's bytes`).toBe(true);
    const earlier = first.get(source);
    if (earlier === undefined) first.set(source, record);
    else {
      duplicates++;
      expect(header(record, 'geowindow-dlq-reason'), `dead letter ${source} written twice with different reasons`).toBe(header(earlier, 'geowindow-dlq-reason'));
    }
  }
  if (!mode.duplicatesAllowed) expect(duplicates, `${mode.name}: dead letters written more than once`).toBe(0);
  return { unique: first, duplicates };
}

/** The reason the fleet says a bad record must get (`late` records are judged by the reference instead). */
function expectedBadReason(record: ReadRecord): string | undefined {
  const expected = header(record, 'geowindow-fleet-expect');
  return expected === 'late' ? undefined : expected;
}

/** The dead-letter topic holds exactly `expected` (source -> reason), once each after de-duplication. */
function checkDeadLetters(unique: ReadonlyMap<string, ReadRecord>, expected: ReadonlyMap<string, string>): void {
  const reasons = new Map([...unique].map(([source, record]) => [source, header(record, 'geowindow-dlq-reason')]));
  expect(reasons.size, 'distinct dead letters').toBe(expected.size);
  for (const [source, reason] of expected) expect(reasons.get(source), `dead letter of ${source}`).toBe(reason);
}

function inputIndex(inputs: readonly ReadRecord[]): Map<string, ReadRecord> {
  return new Map(inputs.map((r) => [at(r.partition, r.offset), r]));
}

interface V1Aggregate {
  window: { closedBy: string };
  source: { topic: string; partition: number; firstOffset: number; lastOffset: number };
  emittedAt: number;
}

/** Count-window ends a replay of the same records reproduces (README, schema v1). */
const REPLAYED_COUNT_CLOSES = new Set(['count', 'bytes_full']);

/** Count windows (v1): the identity is the Kafka key, `<topic>:<partition>:<firstOffset>`. */
function countWindow(record: ReadRecord): Written {
  const aggregate = JSON.parse(record.value!.toString()) as V1Aggregate;
  const { topic, partition, firstOffset } = aggregate.source;
  const identity = `${topic}:${partition}:${firstOffset}`;
  expect(record.key?.toString(), 'the Kafka key of a v1 aggregate is its identity').toBe(identity);
  return { identity, content: JSON.stringify({ ...aggregate, emittedAt: 0 }), closedByTime: !REPLAYED_COUNT_CLOSES.has(aggregate.window.closedBy) };
}

/**
 * Count windows: duplicates identical; after de-duplication every input
 * record is in exactly one window or one dead letter, every window counts
 * exactly its records that were not dead-lettered, and the dead letters are
 * exactly the fleet's bad records, each with the reason the fleet expects.
 */
export function reconcileCountWindows(topic: string, records: CaseRecords, mode: DeliveryMode, rule: Duplicates): ReconciledCounts {
  const inputs = inputIndex(records.inputs);
  const aggregates = uniqueAggregates(records.outputs, countWindow, mode, rule);
  const dead = uniqueDeadLetters(records.deadLetters, topic, inputs, mode);
  const expected = new Map<string, string>();
  for (const record of records.inputs) {
    const reason = expectedBadReason(record);
    if (reason !== undefined) expected.set(at(record.partition, record.offset), reason);
  }
  checkDeadLetters(dead.unique, expected);
  const result = reconcile(topic, [...records.inputs], aggregates.unique, [...dead.unique.values()]);
  expect(result.aggregated + expected.size, 'every record aggregated or dead-lettered').toBe(records.inputs.length);
  return {
    produced: records.inputs.length,
    counted: result.aggregated,
    deadLettered: dead.unique.size,
    aggregates: aggregates.unique.length,
    duplicateAggregates: aggregates.duplicates,
    supersededAggregates: aggregates.superseded,
    duplicateDeadLetters: dead.duplicates,
  };
}

interface V2Aggregate {
  window: { start: number; end: number; closedBy: string };
  key: { by: string; id: string };
  source: { topic: string; partition: number };
  count: number;
  readings: Record<string, { count: number; min: number; max: number; sum: number }>;
  emittedAt: number;
}

/** Event-time windows (v2): the identity is the Kafka key, (key, start, end, topic, partition). */
function timeWindow(record: ReadRecord): Written {
  const aggregate = JSON.parse(record.value!.toString()) as V2Aggregate;
  const identity = `${aggregate.key.by}:${aggregate.key.id}|${aggregate.window.start}-${aggregate.window.end}|${aggregate.source.topic}:${aggregate.source.partition}`;
  expect(record.key?.toString(), 'the Kafka key of a v2 aggregate is its identity').toBe(identity);
  return { identity, content: JSON.stringify({ ...aggregate, emittedAt: 0 }), closedByTime: aggregate.window.closedBy !== 'watermark' };
}

/** The test's own account of a zone-window stream (event-reference.ts): its readings, late records and windows. */
export interface ZoneReference {
  readonly readings: readonly RefReading[];
  /** `partition:offset` of the readings that are late. */
  readonly late: ReadonlySet<string>;
  /** By `zone|start|partition`, the windows of the readings that are not late. */
  readonly windows: ReadonlyMap<string, RefWindow>;
  /** `partition:offset` -> reason, of every record that belongs in the dead-letter topic. */
  readonly deadLetters: ReadonlyMap<string, string>;
}

const windowStart = (ts: number) => Math.floor(ts / ZONE_WINDOW_MS) * ZONE_WINDOW_MS;
const zoneWindowKey = (zone: string, start: number, partition: number) => `${zone}|${start}|${partition}`;

export function zoneReference(inputs: readonly ReadRecord[], zones: RefZones): ZoneReference {
  const readings = inputs.map(readReading).filter((r): r is RefReading => r !== undefined);
  const late = lateness(readings, ZONE_WINDOW_MS, ZONE_GRACE_MS);
  const windows = new Map<string, RefWindow>();
  for (const r of readings) {
    if (late.has(at(r.partition, r.offset))) continue;
    addTo(windows, zoneWindowKey(zones.zoneOf(r.lon, r.lat) ?? 'outside', windowStart(r.ts), r.partition), r);
  }
  const deadLetters = new Map<string, string>([...late].map((source) => [source, 'late']));
  for (const record of inputs) {
    const reason = expectedBadReason(record);
    if (reason !== undefined) deadLetters.set(at(record.partition, record.offset), reason);
  }
  return { readings, late, windows, deadLetters };
}

/**
 * Zone windows: duplicates identical; after de-duplication the aggregates
 * are exactly the reference's windows per zone, minute and source partition,
 * each with its count and every reading's count, min, max and sum, so every
 * reading that is not late is counted exactly once; the dead letters are
 * exactly the bad and the late records.
 */
export function reconcileZoneWindows(topic: string, records: CaseRecords, mode: DeliveryMode, reference: ZoneReference, rule: Duplicates): ReconciledCounts {
  const inputs = inputIndex(records.inputs);
  const aggregates = uniqueAggregates(records.outputs, timeWindow, mode, rule);
  const dead = uniqueDeadLetters(records.deadLetters, topic, inputs, mode);
  checkDeadLetters(dead.unique, reference.deadLetters);
  const actual = new Map<string, V2Aggregate>();
  for (const record of aggregates.unique) {
    const a = JSON.parse(record.value!.toString()) as V2Aggregate;
    expect(a.key.by).toBe('zone');
    expect(a.window.end - a.window.start).toBe(ZONE_WINDOW_MS);
    actual.set(zoneWindowKey(a.key.id, a.window.start, a.source.partition), a);
  }
  expect([...actual.keys()].sort(), 'zone windows (zone|start|partition)').toEqual([...reference.windows.keys()].sort());
  let counted = 0;
  for (const [key, want] of reference.windows) {
    const got = actual.get(key)!;
    expect(got.count, key).toBe(want.count);
    counted += got.count;
    expect(Object.keys(got.readings).sort(), key).toEqual([...want.readings.keys()].sort());
    for (const [name, totals] of want.readings) {
      const stats = got.readings[name]!;
      expect([stats.count, stats.min, stats.max], `${key} ${name}`).toEqual([totals.count, totals.min, totals.max]);
      expect(Math.abs(stats.sum - totals.sum), `${key} ${name} sum`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(totals.sum)));
    }
  }
  expect(counted + reference.deadLetters.size, 'every record aggregated or dead-lettered').toBe(records.inputs.length);
  return {
    produced: records.inputs.length,
    counted,
    deadLettered: dead.unique.size,
    aggregates: aggregates.unique.length,
    duplicateAggregates: aggregates.duplicates,
    supersededAggregates: aggregates.superseded,
    duplicateDeadLetters: dead.duplicates,
  };
}

/** Committed offsets, and the aggregates and dead letters written, read in that order at one moment. */
export interface CommitSnapshot {
  readonly committed: ReadonlyMap<number, Committed>;
  readonly outputs: readonly ReadRecord[];
  readonly deadLetters: readonly ReadRecord[];
}

/**
 * Count windows: every input record below a committed offset is in a window
 * or a dead letter that was already written. Returns the records checked.
 */
export function checkCountCommits(snapshot: CommitSnapshot, inputs: readonly ReadRecord[]): number {
  const covered = new Set<string>();
  for (const record of snapshot.outputs) {
    const { partition, firstOffset, lastOffset } = (JSON.parse(record.value!.toString()) as V1Aggregate).source;
    for (let offset = firstOffset; offset <= lastOffset; offset++) covered.add(at(partition, offset));
  }
  for (const record of snapshot.deadLetters) {
    covered.add(at(Number(header(record, 'geowindow-source-partition')), Number(header(record, 'geowindow-source-offset'))));
  }
  let checked = 0;
  for (const record of inputs) {
    if (record.offset >= (snapshot.committed.get(record.partition)?.offset ?? 0)) continue;
    expect(covered.has(at(record.partition, record.offset)), `record ${at(record.partition, record.offset)} committed but in no written output`).toBe(true);
    checked++;
  }
  return checked;
}

/** The event-time checkpoint committed with an offset, as README "Commits, replay and identity" writes it. */
const CHECKPOINT = /^geowindow\/2 watermark=(-?\d+(?:\.\d+)?) settled=(\d+)$/;

/**
 * Zone windows: what a restart from the committed offset C with the
 * checkpoint (watermark W, settled P) would not write again was written
 * already. C <= P; every window ending at or before W is written; every
 * reading before C counts only in such windows (a window ending after W is
 * rebuilt from all of its readings); every dead letter before P is written.
 * Returns the records checked.
 */
export function checkZoneCommits(snapshot: CommitSnapshot, reference: ZoneReference, zones: RefZones): number {
  const written = new Set<string>();
  for (const record of snapshot.outputs) {
    const a = JSON.parse(record.value!.toString()) as V2Aggregate;
    written.add(zoneWindowKey(a.key.id, a.window.start, a.source.partition));
  }
  const deadLettered = new Set(
    snapshot.deadLetters.map((r) => at(Number(header(r, 'geowindow-source-partition')), Number(header(r, 'geowindow-source-offset')))),
  );
  const checkpoints = new Map<number, { offset: number; watermark: number; settled: number }>();
  for (const [partition, { offset, metadata }] of snapshot.committed) {
    if (offset === 0) continue;
    const match = CHECKPOINT.exec(metadata ?? '');
    expect(match, `partition ${partition} committed ${offset} without a checkpoint`).not.toBeNull();
    const checkpoint = { offset, watermark: Number(match![1]), settled: Number(match![2]) };
    expect(checkpoint.offset, `partition ${partition}: committed offset after the settled point`).toBeLessThanOrEqual(checkpoint.settled);
    checkpoints.set(partition, checkpoint);
  }
  for (const [key] of reference.windows) {
    const [, start, partition] = key.split('|');
    const checkpoint = checkpoints.get(Number(partition));
    if (checkpoint !== undefined && Number(start) + ZONE_WINDOW_MS <= checkpoint.watermark) {
      expect(written.has(key), `window ${key} ended before the committed watermark but was not written`).toBe(true);
    }
  }
  let checked = 0;
  for (const r of reference.readings) {
    const checkpoint = checkpoints.get(r.partition);
    if (checkpoint === undefined || r.offset >= checkpoint.offset || reference.late.has(at(r.partition, r.offset))) continue;
    const key = zoneWindowKey(zones.zoneOf(r.lon, r.lat) ?? 'outside', windowStart(r.ts), r.partition);
    expect(windowStart(r.ts) + ZONE_WINDOW_MS, `reading ${at(r.partition, r.offset)} is before the committed offset, in a window the restart would rebuild without it`).toBeLessThanOrEqual(checkpoint.watermark);
    expect(written.has(key), `window ${key} of a committed reading was not written`).toBe(true);
    checked++;
  }
  for (const source of reference.deadLetters.keys()) {
    const [partition, offset] = source.split(':').map(Number) as [number, number];
    const checkpoint = checkpoints.get(partition);
    if (checkpoint === undefined || offset >= checkpoint.settled) continue;
    expect(deadLettered.has(source), `dead letter ${source} is before the settled point but was not written`).toBe(true);
    checked++;
  }
  return checked;
}

/** One line per case and kind: what it reconciled, and what the case adds (kills, outage, peaks). */
export function printCounts(label: string, counts: ReconciledCounts, extra = ''): void {
  console.log(
    `[faults] ${label}: produced ${counts.produced}, counted ${counts.counted}, dead-lettered ${counts.deadLettered}; ` +
      `duplicates removed: ${counts.duplicateAggregates} aggregates (${counts.aggregates} distinct), ${counts.duplicateDeadLetters} dead letters` +
      (counts.supersededAggregates === 0 ? '' : `, ${counts.supersededAggregates} aggregates closed by the clock superseded`) +
      (extra === '' ? '' : `; ${extra}`),
  );
}
