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
}

const key = (partition: number, offset: number) => `${partition}:${offset}`;

/**
 * Every input record is in exactly one place: one dead letter, or (if not
 * dead-lettered) exactly one aggregate whose offset range covers it. Every
 * aggregate counts exactly the records of its range that were not
 * dead-lettered. Aggregates repeated with an identical identity (a replay
 * after a restart) are allowed and counted once; two different windows over
 * the same record are not.
 */
export function reconcile(topic: string, inputs: ReadRecord[], outputs: ReadRecord[], deadLetters: ReadRecord[]): Reconciliation {
  const inputIndex = new Set(inputs.map((r) => key(r.partition, r.offset)));
  const dead = new Map<string, string>();
  const deadLettered = new Map<string, number>();
  for (const record of deadLetters) {
    const partition = Number(header(record, 'geowindow-source-partition'));
    const offset = Number(header(record, 'geowindow-source-offset'));
    const reason = header(record, 'geowindow-dlq-reason') ?? 'missing reason header';
    expect(header(record, 'geowindow-source-topic')).toBe(topic);
    const k = key(partition, offset);
    expect(inputIndex.has(k), `dead letter for ${k} has no input record`).toBe(true);
    expect(dead.has(k), `record ${k} dead-lettered twice`).toBe(false);
    dead.set(k, reason);
    deadLettered.set(reason, (deadLettered.get(reason) ?? 0) + 1);
  }
  const byIdentity = new Map<string, AggregateRecord>();
  let duplicates = 0;
  for (const record of outputs) {
    const aggregate = JSON.parse(record.value!.toString()) as AggregateRecord;
    const { partition, firstOffset, lastOffset } = aggregate.source;
    expect(aggregate.source.topic).toBe(topic);
    const identity = `${partition}:${firstOffset}-${lastOffset}`;
    if (byIdentity.has(identity)) {
      duplicates++;
      expect(aggregate.count).toBe(byIdentity.get(identity)!.count);
      continue;
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
  return { aggregates: [...byIdentity.values()], deadLettered, aggregated, duplicates };
}
