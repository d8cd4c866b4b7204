import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { ChunkPool } from '../../src/chunks/chunk-pool.js';
import { createMetrics } from '../../src/metrics.js';
import type { AggregateV2 } from '../../src/output/aggregate-v2.js';
import { DLQ_HEADERS } from '../../src/pipeline/dead-letter.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Aggregator, EndOffsets, OffsetCommitter } from '../../src/pipeline/ports.js';
import type { RecordBatch, SourceRecord, TopicPartitionOffset } from '../../src/pipeline/records.js';
import type { EventTimeSettings } from '../../src/pipeline/stream-context.js';
import type { AggregateTask, ChunkResult, EventChunkResult, EventTask } from '../../src/protocol/messages.js';
import type { KeyKind } from '../../src/shared/keys.js';
import { lastWindowEnd, windowStarts, windowsPerRecord, type TimeWindowSpec } from '../../src/shared/windows/assign.js';
import { decodeCheckpoint } from '../../src/windows/checkpoint.js';
import { StateBudget } from '../../src/windows/window-store.js';
import { RecordingSink } from './pipeline-fakes.js';
import { aggregateCount, deferred, foldEvent, jsonBytes, settle, type Deferred } from './helpers.js';

const INPUT = 'readings-in';
const OUTPUT = 'aggregates-out';
const DLQ = 'readings-dlq';
const MINUTE = 60_000;
/** Event times start at a round minute so window bounds are easy to read. */
const T0 = 1_764_000_000_000 - (1_764_000_000_000 % MINUTE);

/** Two squares side by side, x in [0, 1) and [1, 2), y in [0, 1): zone "west" and zone "east". */
function zonesFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-zones-'));
  const square = (x: number) => [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]];
  const file = join(dir, 'zones.geojson');
  writeFileSync(
    file,
    JSON.stringify({
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: { id: 'west' }, geometry: { type: 'Polygon', coordinates: square(0) } },
        { type: 'Feature', properties: { id: 'east' }, geometry: { type: 'Polygon', coordinates: square(1) } },
      ],
    }),
  );
  return file;
}
const ZONES = zonesFile();

/** Folds on the calling thread with the worker's own code; `manual` holds results until released. */
class InThreadAggregator implements Aggregator {
  readonly held: { result: Deferred<EventChunkResult>; value: EventChunkResult }[] = [];
  constructor(private readonly mode: 'immediate' | 'manual' = 'immediate') {}

  aggregate(task: AggregateTask): Promise<ChunkResult> {
    return Promise.resolve(aggregateCount(task));
  }

  fold(task: EventTask): Promise<EventChunkResult> {
    const value = foldEvent(task);
    const result = deferred<EventChunkResult>();
    this.held.push({ result, value });
    if (this.mode === 'immediate') result.resolve(value);
    return result.promise;
  }

  release(index: number): void {
    this.held[index]!.result.resolve(this.held[index]!.value);
  }
}

/** Commits recorded; the committed metadata served back as a broker would. */
class Committer implements OffsetCommitter {
  readonly commits: TopicPartitionOffset[] = [];
  readonly #committed = new Map<number, TopicPartitionOffset>();

  constructor(initial: readonly TopicPartitionOffset[] = []) {
    for (const point of initial) this.#committed.set(point.partition, point);
  }

  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    for (const point of offsets) {
      this.commits.push(point);
      this.#committed.set(point.partition, point);
    }
    return Promise.resolve();
  }

  committedOffset(_topic: string, partition: number): Promise<number | undefined> {
    return Promise.resolve(this.#committed.get(partition)?.offset);
  }

  committedMetadata(_topic: string, partition: number): Promise<string | null> {
    return Promise.resolve(this.#committed.get(partition)?.metadata ?? null);
  }

  last(partition: number): TopicPartitionOffset | undefined {
    return this.#committed.get(partition);
  }
}

class Clock {
  ms = T0 + 3_600_000;
  readonly now = (): number => this.ms;
}

interface Reading {
  readonly ts: number;
  readonly device?: string;
  readonly x?: number;
  readonly y?: number;
  readonly temp?: number;
}

function value(r: Reading): Buffer {
  return jsonBytes({ device_id: r.device ?? 'dev-1', ts: r.ts, lon: r.x ?? 0.5, lat: r.y ?? 0.5, readings: { temp_c: r.temp ?? 1 } });
}

function records(from: number, readings: readonly Reading[]): SourceRecord[] {
  return readings.map((r, i) => ({ offset: String(from + i), key: null, value: value(r), timestamp: String(r.ts) }));
}

function batch(partition: number, recs: SourceRecord[], highWatermark?: number): RecordBatch {
  return {
    topic: INPUT,
    partition,
    records: recs,
    highWatermark: String(highWatermark ?? Number(recs[recs.length - 1]!.offset) + 1),
    heartbeat: () => Promise.resolve(),
    isActive: () => true,
    markRead: () => undefined,
  };
}

interface Setup {
  spec?: Partial<TimeWindowSpec>;
  keys?: readonly KeyKind[];
  chunkRows?: number;
  aggregator?: InThreadAggregator;
  committer?: Committer;
  stateBytes?: number;
  maxOpen?: number;
  deadLetterLate?: boolean;
  /** Bytes of dead letters, and of aggregates, in flight before the pipeline waits. */
  inFlightBytes?: number;
  maxChunksAtWorkers?: number;
}

function setup(options: Setup = {}) {
  return setupWithSink(new RecordingSink(), options);
}

function setupWithSink(sink: RecordingSink, options: Setup = {}) {
  const aggregator = options.aggregator ?? new InThreadAggregator();
  const committer = options.committer ?? new Committer();
  const clock = new Clock();
  const pool = new ChunkPool(8, options.chunkRows ?? 4, 64 * 1024);
  const metrics = createMetrics(new Registry(), pool);
  const keys = options.keys ?? ['partition'];
  const eventTime: EventTimeSettings = {
    window: { kind: 'tumbling', sizeMs: MINUTE, advanceMs: MINUTE, graceMs: 0, ...options.spec },
    keys: { by: keys, zones: keys.includes('zone') ? { file: ZONES, idProperty: 'id' } : null, zoneUnmatched: null, h3Resolution: 5 },
    caps: { maxOpen: options.maxOpen ?? 64, maxKeys: 1000, maxTrackPoints: 1000, maxReadingNames: 8 },
    budget: new StateBudget(options.stateBytes ?? 64 * 1024 * 1024),
    deadLetterLate: options.deadLetterLate ?? true,
    checkpoints: committer,
    maxChunksAtWorkers: options.maxChunksAtWorkers ?? 8,
  };
  const pipeline = new Pipeline({
    pool,
    aggregator,
    sink,
    committer,
    metrics,
    logger: pino({ level: 'silent' }),
    outputTopic: OUTPUT,
    dlqTopic: DLQ,
    windowSize: options.chunkRows ?? 4,
    windowIdleMs: 5_000,
    maxMessageBytes: 4096,
    maxReadings: 8,
    deadLetterBytesLimit: options.inFlightBytes ?? 1024 * 1024,
    eventTime,
    now: clock.now,
  });
  const aggregates = () => sink.to(OUTPUT).map((s) => JSON.parse(s.record.value as string) as AggregateV2);
  const deadLetters = () =>
    sink.to(DLQ).map((s) => ({ offset: Number(s.record.headers?.[DLQ_HEADERS.offset]), reason: String(s.record.headers?.[DLQ_HEADERS.reason]) }));
  return { pipeline, sink, committer, clock, pool, metrics, aggregates, deadLetters, aggregator, budget: eventTime.budget };
}

/** An aggregate without the time it was written: what must come back identical on replay. */
const content = (a: AggregateV2) => JSON.stringify({ ...a, emittedAt: 0 });

describe('event-time windows: watermark, late records, per-partition time', () => {
  it('closes a window when the watermark reaches its end, counting out-of-order records within the grace', async () => {
    const { pipeline, aggregates, deadLetters } = setup({ spec: { graceMs: 10_000 } });
    // Window [T0, T0+1m) gets 3 records, one arriving after a record of the next window but within the grace.
    await pipeline.handleBatch(batch(0, records(100, [{ ts: T0 + 1_000 }, { ts: T0 + 59_000 }, { ts: T0 + 61_000 }, { ts: T0 + 55_000 }])));
    await settle();
    expect(aggregates()).toEqual([]);
    // T0 + 70 s - 10 s grace = T0 + 60 s: the first window's end.
    await pipeline.handleBatch(batch(0, records(104, [{ ts: T0 + 70_000 }])));
    await settle();
    const [first, ...rest] = aggregates();
    expect(rest).toEqual([]);
    expect(first).toMatchObject({
      schema: 'geowindow.aggregate.v2',
      window: { kind: 'tumbling', start: T0, end: T0 + MINUTE, closedBy: 'watermark' },
      key: { by: 'partition', id: '0' },
      source: { topic: INPUT, partition: 0, firstOffset: 100, lastOffset: 103 },
      count: 3,
      eventTime: { min: T0 + 1_000, max: T0 + 59_000 },
    });
    expect(deadLetters()).toEqual([]);
  });

  it('dead-letters a record whose window had closed when it arrived, with reason late', async () => {
    const { pipeline, aggregates, deadLetters, metrics } = setup();
    await pipeline.handleBatch(batch(0, records(0, [{ ts: T0 + 1_000 }, { ts: T0 + MINUTE + 1 }, { ts: T0 + 2_000 }, { ts: T0 + MINUTE + 2 }])));
    await settle();
    expect(aggregates().map((a) => [a.window.start, a.count])).toEqual([[T0, 1]]);
    expect(deadLetters()).toEqual([{ offset: 2, reason: 'late' }]);
    expect((await metrics.recordsLate.get()).values).toEqual([expect.objectContaining({ labels: { partition: '0' }, value: 1 })]);
  });

  it('drops late records and counts them with LATE_RECORDS=drop', async () => {
    const { pipeline, deadLetters, metrics } = setup({ deadLetterLate: false });
    await pipeline.handleBatch(batch(0, records(0, [{ ts: T0 + MINUTE + 1 }, { ts: T0 + 1 }])));
    await settle();
    expect(deadLetters()).toEqual([]);
    expect((await metrics.recordsLate.get()).values[0]?.value).toBe(1);
  });

  it('keeps each partition on its own watermark: a partition running ahead makes no record of another late', async () => {
    const { pipeline, aggregates, deadLetters } = setup();
    await pipeline.handleBatch(batch(1, records(0, [{ ts: T0 + 10 * MINUTE }, { ts: T0 + 11 * MINUTE }])));
    await pipeline.handleBatch(batch(2, records(0, [{ ts: T0 + 1_000 }, { ts: T0 + 2_000 }, { ts: T0 + MINUTE }])));
    await settle();
    expect(deadLetters()).toEqual([]);
    expect(aggregates().map((a) => [a.source.partition, a.window.start, a.count])).toEqual([
      [1, T0 + 10 * MINUTE, 1],
      [2, T0, 2],
    ]);
  });

  it('finds rows late against a chunk still in a worker when this one was sent', async () => {
    const aggregator = new InThreadAggregator('manual');
    const { pipeline, aggregates, deadLetters } = setup({ aggregator, chunkRows: 2 });
    // Chunk A (offsets 0-1) jumps to minute 5; chunk B (2-3) holds a minute-0 record, folded before A is merged.
    await pipeline.handleBatch(batch(0, records(0, [{ ts: T0 + 5 * MINUTE }, { ts: T0 + 5 * MINUTE + 1 }, { ts: T0 + 1 }, { ts: T0 + 5 * MINUTE + 2 }])));
    aggregator.release(1);
    await settle();
    expect(aggregates()).toEqual([]);
    aggregator.release(0);
    await settle();
    expect(deadLetters()).toEqual([{ offset: 2, reason: 'late' }]);
    expect(aggregates()).toEqual([]);
  });

  it('takes no chunk while maxChunksAtWorkers chunks are at the workers, and loses nothing by waiting', async () => {
    const aggregator = new InThreadAggregator('manual');
    const { pipeline, aggregates, deadLetters, metrics, pool } = setup({ aggregator, chunkRows: 2, maxChunksAtWorkers: 1 });
    const handled = pipeline.handleBatch(batch(0, records(0, [{ ts: T0 + 1 }, { ts: T0 + 2 }, { ts: T0 + 3 }, { ts: T0 + 4 }, { ts: T0 + MINUTE + 1 }])));
    await settle();
    // The first chunk is at a worker; the second waits for it to come back although the pool has free chunks.
    expect(aggregator.held).toHaveLength(1);
    expect(pool.inUse).toBe(1);
    expect((await metrics.chunkWaits.get()).values[0]?.value).toBeGreaterThan(0);
    aggregator.release(0);
    await settle();
    expect(aggregator.held).toHaveLength(2);
    aggregator.release(1);
    await handled;
    // The partition was read to its end: its last chunk went to a worker without taking another.
    expect(aggregator.held).toHaveLength(3);
    aggregator.release(2);
    await settle();
    expect(aggregates().map((a) => [a.window.start, a.count, a.source.firstOffset, a.source.lastOffset])).toEqual([[T0, 4, 0, 3]]);
    expect(deadLetters()).toEqual([]);
  });

  it('puts a record in every hopping window it falls in, and only in the open ones when some closed', async () => {
    const { pipeline, aggregates, deadLetters, metrics } = setup({ spec: { kind: 'hopping', sizeMs: 3 * MINUTE, advanceMs: MINUTE } });
    await pipeline.handleBatch(batch(0, records(0, [{ ts: T0 + 30_000 }, { ts: T0 + 2 * MINUTE + 30_000 }, { ts: T0 + 45_000 }, { ts: T0 + 6 * MINUTE }])));
    await settle();
    // ts T0+30s is in the windows starting T0-2m, T0-1m, T0. ts T0+2m30s: T0, T0+1m, T0+2m.
    // T0+45s arrives after the watermark reached T0+2m30s: windows T0-2m and T0-1m (ending T0+1m, T0+2m) closed, window T0 open.
    const counts = aggregates().map((a) => [(a.window.start! - T0) / MINUTE, a.count]);
    expect(counts).toEqual([[-2, 1], [-1, 1], [0, 3], [1, 1], [2, 1]]);
    expect(deadLetters()).toEqual([]);
    expect((await metrics.lateAssignments.get()).values[0]?.value).toBe(2);
  });
});

describe('event-time windows: keys', () => {
  it('counts a record once under each configured kind, zones by point-in-polygon, devices with tracks', async () => {
    const { pipeline, aggregates } = setup({ keys: ['zone', 'device'], chunkRows: 3 });
    await pipeline.handleBatch(
      batch(0, records(0, [
        { ts: T0 + 1_000, device: 'a', x: 0.5, y: 0.5, temp: 10 },
        { ts: T0 + 3_000, device: 'a', x: 1.5, y: 0.5, temp: 20 },
        { ts: T0 + 2_000, device: 'b', x: 0.25, y: 0.5, temp: 30 },
        { ts: T0 + 4_000, device: 'a', x: 5, y: 5, temp: 40 },
        { ts: T0 + 2 * MINUTE },
      ])),
    );
    await settle();
    const byKey = new Map(aggregates().map((a) => [`${a.key.by}:${a.key.id}`, a]));
    expect([...byKey.keys()].sort()).toEqual(['device:a', 'device:b', 'zone:east', 'zone:west']);
    expect(byKey.get('zone:west')).toMatchObject({ count: 2, devices: 2, readings: { temp_c: { count: 2, min: 10, max: 30, sum: 40, mean: 20 } } });
    expect(byKey.get('zone:east')).toMatchObject({ count: 1, source: { firstOffset: 1, lastOffset: 1 } });
    const a = byKey.get('device:a')!;
    expect(a).toMatchObject({ count: 3, source: { firstOffset: 0, lastOffset: 3 } });
    // a's track in event-time order across two chunks: (0.5,0.5) -> (1.5,0.5) -> (5,5).
    expect(a.track).toMatchObject({ points: 3, first: { lon: 0.5, lat: 0.5, ts: T0 + 1_000 }, last: { lon: 5, lat: 5, ts: T0 + 4_000 } });
    expect(a.track!.distanceM).toBeGreaterThan(111_000 + 600_000);
  });
});

describe('event-time windows: idle partitions', () => {
  const ends = (end: number): EndOffsets => ({ endOffsets: vi.fn(() => Promise.resolve(new Map([[0, end]]))) });

  it('closes the windows of a partition read to its end and quiet for IDLE_PARTITION_MS by the wall clock, marked idle', async () => {
    const { pipeline, aggregates, clock } = setup();
    clock.ms = T0 + 30_000;
    await pipeline.handleBatch(batch(0, records(0, [{ ts: T0 + 1_000 }, { ts: T0 + 2_000 }])));
    await settle();
    clock.ms += 10_000;
    expect(await pipeline.closeIdlePartitions(ends(2), 30_000)).toBe(0);
    clock.ms += 20_000;
    // Quiet long enough, but the wall clock (T0 + 60 s) has only just reached the window's end.
    expect(await pipeline.closeIdlePartitions(ends(2), 30_000)).toBe(1);
    await settle();
    expect(aggregates().map((a) => [a.window.closedBy, a.count])).toEqual([['idle', 2]]);
  });

  it('does not close the windows of a partition with records still to fetch (slow, not idle)', async () => {
    const { pipeline, aggregates, clock } = setup();
    await pipeline.handleBatch(batch(0, records(0, [{ ts: T0 + 1_000 }]), 500));
    await settle();
    clock.ms += 3_600_000;
    expect(await pipeline.closeIdlePartitions(ends(500), 30_000)).toBe(0);
    expect(aggregates()).toEqual([]);
  });
});

describe('event-time windows: bounded state', () => {
  it('emits the oldest window early, marked cap, when a partition holds more than WINDOW_MAX_OPEN windows; later records for it are late', async () => {
    const { pipeline, aggregates, deadLetters, metrics } = setup({ maxOpen: 2, chunkRows: 1, spec: { graceMs: 10 * MINUTE } });
    await pipeline.handleBatch(batch(0, records(0, [{ ts: T0 }, { ts: T0 + MINUTE }, { ts: T0 + 2 * MINUTE }, { ts: T0 + 1 }])));
    await settle();
    expect(aggregates().map((a) => [a.window.start, a.window.closedBy, a.count])).toEqual([[T0, 'cap', 1]]);
    expect(deadLetters()).toEqual([{ offset: 3, reason: 'late' }]);
    expect((await metrics.windowCapHits.get()).values.find((v) => v.labels.cap === 'open_windows')?.value).toBe(1);
  });

  it('emits the oldest window of all partitions early when the window-state share of the memory plan is exceeded', async () => {
    const { pipeline, aggregates } = setup({ stateBytes: 1, chunkRows: 1 });
    await pipeline.handleBatch(batch(0, records(0, [{ ts: T0 + 5 * MINUTE }])));
    await pipeline.handleBatch(batch(1, records(0, [{ ts: T0 + MINUTE }])));
    await settle();
    expect(aggregates().map((a) => [a.source.partition, a.window.closedBy])).toEqual([[0, 'cap'], [1, 'cap']]);
  });
});

describe('event-time windows: the memory guard sheds', () => {
  it('emits the windows ending first, in every partition, marked cap and counted as memory; later ones stay open, records for the shed ones are late', async () => {
    const { pipeline, aggregates, deadLetters, metrics } = setup({ chunkRows: 1, spec: { graceMs: 10 * MINUTE } });
    await pipeline.handleBatch(batch(0, records(0, [{ ts: T0 }, { ts: T0 + MINUTE }])));
    await pipeline.handleBatch(batch(1, records(0, [{ ts: T0 + 1 }, { ts: T0 + 2 * MINUTE }])));
    await settle();
    expect(aggregates()).toEqual([]);
    const held = pipeline.sheddableBytes;
    expect(held).toBeGreaterThan(0);

    expect(pipeline.shedWindows()).toBe(2);
    await settle();
    expect(aggregates().map((a) => [a.source.partition, a.window.start, a.window.closedBy, a.count])).toEqual([
      [0, T0, 'cap', 1],
      [1, T0, 'cap', 1],
    ]);
    expect(pipeline.sheddableBytes).toBeGreaterThan(0);
    expect(pipeline.sheddableBytes).toBeLessThan(held);
    expect((await metrics.windowCapHits.get()).values.find((v) => v.labels.cap === 'memory')?.value).toBe(2);

    // Event time did not move: a record for a shed window is late, one for an open window counts.
    await pipeline.handleBatch(batch(0, records(2, [{ ts: T0 + 2 }, { ts: T0 + MINUTE + 1 }])));
    await settle();
    expect(deadLetters()).toEqual([{ offset: 2, reason: 'late' }]);

    // The next shed takes the next oldest end (partition 0's second minute), then partition 1's third.
    expect(pipeline.shedWindows()).toBe(1);
    expect(pipeline.shedWindows()).toBe(1);
    await settle();
    expect(aggregates().slice(2).map((a) => [a.source.partition, a.window.start, a.count])).toEqual([
      [0, T0 + MINUTE, 2],
      [1, T0 + 2 * MINUTE, 1],
    ]);
    expect(pipeline.sheddableBytes).toBe(0);
    expect(pipeline.shedWindows()).toBe(0);
  });
});

describe('event-time windows: commits and replay', () => {
  it('never commits past the first record of an open window, and commits the watermark with the offset', async () => {
    const { pipeline, committer } = setup({ chunkRows: 2 });
    await pipeline.handleBatch(batch(0, records(10, [{ ts: T0 + 1_000 }, { ts: T0 + MINUTE + 1 }, { ts: T0 + MINUTE + 2 }, { ts: T0 + 2 * MINUTE }])));
    await settle();
    await pipeline.commit();
    // Windows 0 and 1 closed (watermark T0 + 2 m after offset 13) and are written; window 2 (first record at 13) is open.
    // The checkpoint settles at the boundary 14 with that watermark; reading starts again at 13.
    const point = committer.last(0)!;
    expect(point.offset).toBe(13);
    expect(decodeCheckpoint(point.metadata ?? null)).toEqual({ watermark: T0 + 2 * MINUTE, settledTo: 14 });
  });

  it('writes a closed window a slice at a time under the in-flight limit, and reads no more while windows wait to be written', async () => {
    const sink = new RecordingSink('manual');
    const { pipeline, deadLetters } = setupWithSink(sink, { keys: ['device'], inFlightBytes: 1 });
    const devices = ['a', 'b', 'c'].map((device, i) => ({ ts: T0 + i, device }));
    await pipeline.handleBatch(batch(0, records(0, [...devices, { ts: T0 + MINUTE + 5, device: 'a' }])));
    await settle();
    // Three keys closed; one aggregate in flight at a time.
    expect(sink.to(OUTPUT)).toHaveLength(1);
    expect(pipeline.inFlight).toBeGreaterThan(0);
    let read = false;
    const next = pipeline.handleBatch(batch(0, records(4, [{ ts: T0 + 2 * MINUTE, device: 'd' }]))).then(() => (read = true));
    await settle();
    expect(read).toBe(false);
    for (let i = 0; i < 3; i++) {
      sink.to(OUTPUT)[i]!.ack.resolve(undefined);
      await settle();
    }
    expect(sink.to(OUTPUT).map((s) => JSON.parse(s.record.value as string).key.id)).toEqual(['a', 'b', 'c']);
    await next;
    expect(read).toBe(true);
    expect(deadLetters()).toEqual([]);
  });

  it('frees a closed window key by key as its aggregates are written, counting the rest as closing until then', async () => {
    const sink = new RecordingSink('manual');
    const { pipeline, budget, metrics } = setupWithSink(sink, { keys: ['device'], inFlightBytes: 1 });
    await pipeline.handleBatch(batch(0, records(0, ['a', 'b', 'c'].map((device, i) => ({ ts: T0 + i, device })))));
    await settle();
    const threeKeys = budget.usedBytes;
    expect(threeKeys).toBeGreaterThan(0);
    expect(budget.closingBytes).toBe(0);
    // A record of the next minute closes the window: one key is written at once, two wait.
    void pipeline.handleBatch(batch(0, records(3, [{ ts: T0 + MINUTE + 5, device: 'a' }])));
    await settle();
    expect(sink.to(OUTPUT)).toHaveLength(1);
    const twoLeft = budget.closingBytes;
    expect(twoLeft).toBeGreaterThan(0);
    expect(twoLeft).toBeLessThan(threeKeys);
    sink.to(OUTPUT)[0]!.ack.resolve(undefined);
    await settle();
    const oneLeft = budget.closingBytes;
    expect(oneLeft).toBeGreaterThan(0);
    expect(oneLeft).toBeLessThan(twoLeft);
    sink.to(OUTPUT)[1]!.ack.resolve(undefined);
    await settle();
    expect(budget.closingBytes).toBe(0);
    sink.to(OUTPUT)[2]!.ack.resolve(undefined);
    await settle();
    expect((await metrics.registry.getSingleMetric('geowindow_window_closing_bytes')!.get()).values[0]!.value).toBe(0);
  });

  it('stops counting a closing window when its partition is revoked before it is written', async () => {
    const sink = new RecordingSink('manual');
    const { pipeline, budget } = setupWithSink(sink, { keys: ['device'], inFlightBytes: 1 });
    const closing = [...['a', 'b', 'c'].map((device, i) => ({ ts: T0 + i, device })), { ts: T0 + MINUTE + 5, device: 'a' }];
    void pipeline.handleBatch(batch(0, records(0, closing)));
    await settle();
    expect(budget.closingBytes).toBeGreaterThan(0);
    pipeline.resetAssignment();
    expect(budget.closingBytes).toBe(0);
    expect(budget.usedBytes).toBe(0);
  });

  it('holds the checkpoint before a closed window not yet acknowledged', async () => {
    const sink = new RecordingSink('manual');
    const { pipeline, committer } = setupWithSink(sink, { chunkRows: 2 });
    await pipeline.handleBatch(batch(0, records(10, [{ ts: T0 + 1_000 }, { ts: T0 + MINUTE + 1 }, { ts: T0 + MINUTE + 2 }, { ts: T0 + 2 * MINUTE }])));
    await settle();
    await pipeline.commit();
    // Nothing written yet: the checkpoint stays where reading started, the offset at the oldest window's first record.
    expect(committer.last(0)).toMatchObject({ offset: 10 });
    expect(decodeCheckpoint(committer.last(0)!.metadata ?? null)).toEqual({ watermark: Number.NEGATIVE_INFINITY, settledTo: 0 });
    sink.sent[0]!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    // Window 0 (closed at boundary 12) is written; window 1 (closed at 14) is not: settle at 12, read again from 11.
    expect(committer.last(0)!.offset).toBe(11);
    expect(decodeCheckpoint(committer.last(0)!.metadata ?? null)).toEqual({ watermark: T0 + MINUTE + 1, settledTo: 12 });
  });

  /**
   * The crash test in small: an uninterrupted run, and a run that stops at a
   * commit and is taken over by a new pipeline reading from the committed
   * offset with the committed watermark, in other batch and chunk sizes.
   * Every window the watermark closed is written with the same identity and
   * content by both; the taken-over run writes nothing the uninterrupted one
   * did not.
   */
  it.each([
    [99, 7],
    [330, 7],
    [512, 8],
  ])('writes every watermark-closed window identically after a takeover from the commit made at offset %d (seed %d)', async (cut, initialSeed) => {
    const readings: Reading[] = [];
    let seed = initialSeed;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 600; i++) {
      // ~10 records a minute of event time, up to 50 s out of order, 3% late by far, two zones and four devices.
      const late = random() < 0.03;
      readings.push({ ts: T0 + i * 6_000 - Math.floor(random() * 50_000) - (late ? 10 * MINUTE : 0), device: `d${i % 4}`, x: random() * 2, y: random(), temp: Math.round(random() * 1000) / 10 });
    }
    const all = records(0, readings);
    const spec = { kind: 'hopping' as const, sizeMs: 2 * MINUTE, advanceMs: MINUTE, graceMs: 20_000 };
    const keys: KeyKind[] = ['zone', 'device', 'partition'];

    const whole = setup({ spec, keys, chunkRows: 7 });
    for (let i = 0; i < all.length; i += 25) await whole.pipeline.handleBatch(batch(0, all.slice(i, i + 25), all.length));
    await settle();
    const reference = new Map(whole.aggregates().map((a) => [`${a.key.by}:${a.key.id}|${a.window.start}`, content(a)]));
    expect(reference.size).toBeGreaterThan(50);
    expect(whole.deadLetters().length).toBeGreaterThan(5);

    const first = setup({ spec, keys, chunkRows: 5 });
    for (let i = 0; i < cut; i += 33) await first.pipeline.handleBatch(batch(0, all.slice(i, Math.min(i + 33, cut)), all.length));
    await settle();
    await first.pipeline.commit();
    const point = first.committer.last(0)!;
    expect(point.offset).toBeGreaterThan(cut - 100);
    expect(point.offset).toBeLessThan(cut);

    const second = setup({ spec, keys, chunkRows: 11, committer: new Committer([point]) });
    for (let i = point.offset; i < all.length; i += 40) await second.pipeline.handleBatch(batch(0, all.slice(i, Math.min(i + 40, all.length)), all.length));
    await settle();
    const written = [...first.aggregates(), ...second.aggregates()];
    for (const a of written) {
      expect(a.window.closedBy).toBe('watermark');
      expect(JSON.parse(content(a)), `${a.key.by}:${a.key.id} at ${a.window.start}`).toEqual(JSON.parse(reference.get(`${a.key.by}:${a.key.id}|${a.window.start}`)!));
    }
    // Nothing the uninterrupted run wrote is missing; duplicates are identical (checked above).
    expect(new Set(written.map((a) => `${a.key.by}:${a.key.id}|${a.window.start}`))).toEqual(new Set(reference.keys()));
    // Late records: the same ones, maybe twice (at least once), never a good one.
    const lateRef = new Set(whole.deadLetters().map((d) => d.offset));
    expect(new Set([...first.deadLetters(), ...second.deadLetters()].map((d) => d.offset))).toEqual(lateRef);
  });
});

describe('output schema v2', () => {
  const schema = JSON.parse(readFileSync(new URL('../../schema/aggregate.v2.schema.json', import.meta.url), 'utf8')) as object;
  const validate = new Ajv2020({ allErrors: true }).compile(schema);

  it('describes every aggregate of every key kind, hopping windows and tracks included', async () => {
    const { pipeline, aggregates } = setup({ keys: ['zone', 'h3', 'device', 'partition'], spec: { kind: 'hopping', sizeMs: 2 * MINUTE, advanceMs: MINUTE } });
    await pipeline.handleBatch(
      batch(0, records(0, [
        { ts: T0 + 1_000, device: 'a', x: 0.5, y: 0.5 },
        { ts: T0 + 2_000, device: 'a', x: 0.6, y: 0.7 },
        { ts: T0 + 3_000, device: 'b', x: 1.5, y: 0.2 },
        { ts: T0 + 9 * MINUTE },
      ])),
    );
    await settle();
    const written = aggregates();
    expect(new Set(written.map((a) => a.key.by))).toEqual(new Set(['zone', 'h3', 'device', 'partition']));
    for (const a of written) expect(validate(a), JSON.stringify(validate.errors)).toBe(true);
    // Something the schema refuses, so the check above can fail.
    expect(validate({ ...written[0], key: { by: 'county', id: 'x' } })).toBe(false);
  });
});

describe('window assignment', () => {
  const starts = (ts: number, spec: TimeWindowSpec) => {
    const out = new Float64Array(windowsPerRecord(spec));
    return Array.from(out.subarray(0, windowStarts(ts, spec, out)));
  };
  const tumbling: TimeWindowSpec = { kind: 'tumbling', sizeMs: MINUTE, advanceMs: MINUTE, graceMs: 0 };

  it('is epoch-aligned: a tumbling window holds [start, start + size)', () => {
    expect(starts(T0, tumbling)).toEqual([T0]);
    expect(starts(T0 + MINUTE - 1, tumbling)).toEqual([T0]);
    expect(starts(T0 + MINUTE, tumbling)).toEqual([T0 + MINUTE]);
    expect(starts(T0 - 1, tumbling)).toEqual([T0 - MINUTE]);
    expect(lastWindowEnd(T0, tumbling)).toBe(T0 + MINUTE);
    expect(lastWindowEnd(T0 - 1, tumbling)).toBe(T0);
  });

  it('handles times before the epoch like any other', () => {
    expect(starts(-1, tumbling)).toEqual([-MINUTE]);
    expect(starts(-MINUTE, tumbling)).toEqual([-MINUTE]);
    expect(lastWindowEnd(-1, tumbling)).toBe(0);
  });

  it('puts a hopping record in every window holding it, oldest first', () => {
    const hopping: TimeWindowSpec = { kind: 'hopping', sizeMs: 5 * MINUTE, advanceMs: MINUTE, graceMs: 0 };
    expect(windowsPerRecord(hopping)).toBe(5);
    expect(starts(T0, hopping)).toEqual([-4, -3, -2, -1, 0].map((k) => T0 + k * MINUTE));
    expect(starts(T0 + MINUTE - 1, hopping)).toEqual([-4, -3, -2, -1, 0].map((k) => T0 + k * MINUTE));
  });

  it('handles a size that is not a multiple of the advance', () => {
    const odd: TimeWindowSpec = { kind: 'hopping', sizeMs: 150_000, advanceMs: MINUTE, graceMs: 0 };
    expect(windowsPerRecord(odd)).toBe(3);
    // [T0-2m, T0+30s) holds T0+10s; [T0-2m, T0+30s) does not hold T0+40s.
    expect(starts(T0 + 10_000, odd)).toEqual([T0 - 2 * MINUTE, T0 - MINUTE, T0]);
    expect(starts(T0 + 40_000, odd)).toEqual([T0 - MINUTE, T0]);
    for (let ts = T0; ts < T0 + 3 * MINUTE; ts += 7_001) {
      for (const start of starts(ts, odd)) expect(ts >= start && ts < start + odd.sizeMs).toBe(true);
      // And no window holding ts is missing.
      const all = [];
      for (let start = Math.floor((ts - 3 * MINUTE) / MINUTE) * MINUTE; start <= ts; start += MINUTE) if (ts < start + odd.sizeMs) all.push(start);
      expect(starts(ts, odd)).toEqual(all);
    }
  });
});
