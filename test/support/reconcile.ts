import { expect } from 'vitest';
import { header, type ReadRecord } from './kafka.js';

export interface AggregateRecord {
  schema: string;
  window: { type: string; size: number; partial: boolean; closedBy: string };
  source: { topic: string; partition: number; firstOffset: number; lastOffset: number };
  count: number;
  devices: number;
  centroid: [number, number];
  bbox: [number, number, number, number];
  hull: { type: string; coordinates: number[][][] } | null;
  hullAreaM2: number;
  readings: Record<string, { count: number; min: number | null; max: number | null; mean: number | null }>;
}

export interface Reconciliation {
  /** Distinct aggregates by window identity. */
  readonly aggregates: AggregateRecord[];
  /** Input records dead-lettered, by reason. */
  readonly deadLettered: Map<string, number>;
  /** Input records counted in an aggregate. */
  readonly aggregated: number;
  /** Aggregates written more than once with the same identity (replays). */
  readonly duplicates: number;
  /** Dead letters written more than once for the same source record (replays). */
  readonly deadLetterDuplicates: number;
}

const key = (partition: number, offset: number) => `${partition}:${offset}`;

/**
 * Every input record is in exactly one place: one dead letter, or (if not
 * dead-lettered) exactly one window whose offset range covers it; every
 * window counts exactly the records of its range that were not
 * dead-lettered.
 *
 * A window's identity is its source topic, partition and first offset (the
 * Kafka key). Replays may write a window again: a full window comes back
 * identical, a window closed by time may come back with more records, and
 * then the later one (later in the output log, where one key keeps its
 * order) supersedes the earlier. A replayed dead letter names the same
 * source offset. Two windows with different identities over one record are
 * a failure.
 */
export function reconcile(topic: string, inputs: ReadRecord[], outputs: ReadRecord[], deadLetters: ReadRecord[]): Reconciliation {
  const inputIndex = new Set(inputs.map((r) => key(r.partition, r.offset)));
  const dead = new Map<string, string>();
  const deadLettered = new Map<string, number>();
  let deadLetterDuplicates = 0;
  for (const record of deadLetters) {
    const partition = Number(header(record, 'geowindow-source-partition'));
    const offset = Number(header(record, 'geowindow-source-offset'));
    const reason = header(record, 'geowindow-dlq-reason') ?? 'missing reason header';
    expect(header(record, 'geowindow-source-topic')).toBe(topic);
    const k = key(partition, offset);
    expect(inputIndex.has(k), `dead letter for ${k} has no input record`).toBe(true);
    if (dead.has(k)) {
      deadLetterDuplicates++;
      continue;
    }
    dead.set(k, reason);
    deadLettered.set(reason, (deadLettered.get(reason) ?? 0) + 1);
  }
  const byIdentity = new Map<string, AggregateRecord>();
  let duplicates = 0;
  for (const record of outputs) {
    const aggregate = JSON.parse(record.value!.toString()) as AggregateRecord;
    const { partition, firstOffset, lastOffset } = aggregate.source;
    expect(aggregate.source.topic).toBe(topic);
    const identity = `${partition}:${firstOffset}`;
    const earlier = byIdentity.get(identity);
    if (earlier !== undefined) {
      duplicates++;
      // Only a window closed by time may come back different, and then only longer.
      if (!earlier.window.partial) expect(lastOffset, `window ${identity}`).toBe(earlier.source.lastOffset);
      expect(lastOffset, `window ${identity}`).toBeGreaterThanOrEqual(earlier.source.lastOffset);
    }
    byIdentity.set(identity, aggregate);
  }
  const covered = new Map<string, string>();
  let aggregated = 0;
  for (const [identity, aggregate] of byIdentity) {
    const { partition, firstOffset, lastOffset } = aggregate.source;
    let live = 0;
    for (let offset = firstOffset; offset <= lastOffset; offset++) {
      const k = key(partition, offset);
      if (!inputIndex.has(k) || dead.has(k)) continue;
      expect(covered.get(k), `record ${k} is in two windows`).toBeUndefined();
      covered.set(k, identity);
      live++;
    }
    expect(aggregate.count, `window ${identity}`).toBe(live);
    aggregated += live;
  }
  for (const record of inputs) {
    const k = key(record.partition, record.offset);
    expect(dead.has(k) || covered.has(k), `record ${k} is neither aggregated nor dead-lettered`).toBe(true);
  }
  return { aggregates: [...byIdentity.values()], deadLettered, aggregated, duplicates, deadLetterDuplicates };
}
