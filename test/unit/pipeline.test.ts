import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { ChunkPool } from '../../src/chunks/chunk-pool.js';
import { createMetrics } from '../../src/metrics.js';
import { DLQ_HEADERS } from '../../src/pipeline/dead-letter.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Aggregator, OffsetCommitter, RecordSink } from '../../src/pipeline/ports.js';
import type { OutgoingRecord, RecordBatch, SourceRecord, TopicPartitionOffset } from '../../src/pipeline/records.js';
import type { AggregateTask, ChunkAggregate } from '../../src/protocol/messages.js';
import type { AggregateRecord } from '../../src/windows/aggregate-record.js';
import aggregateChunk from '../../workers/aggregate-chunk.js';
import { deferred, isSettled, jsonBytes, settle, type Deferred } from './helpers.js';

const INPUT = 'readings-in';
const OUTPUT = 'aggregates-out';
const DLQ = 'readings-dlq';
const PARTITION = 3;
const WINDOW_SIZE = 3;
const IDLE_MS = 5_000;
/** Offsets start well away from 0 so an offset is never confused with a count. */
const BASE = 100;

// ---------------------------------------------------------------- fakes

/**
 * Aggregates on the calling thread with the worker's own code. In `manual`
 * mode each result is held until the test releases it, so completions can be
 * reordered or withheld.
 */
class FakeAggregator implements Aggregator {
  readonly tasks: { task: AggregateTask; result: Deferred<ChunkAggregate>; value: ChunkAggregate }[] = [];
  constructor(private readonly mode: 'immediate' | 'manual' = 'immediate') {}

  aggregate(task: AggregateTask): Promise<ChunkAggregate> {
    // Computed now, while the chunk is certainly still held by the window.
    const value = aggregateChunk(task);
    const result = deferred<ChunkAggregate>();
    this.tasks.push({ task, result, value });
    if (this.mode === 'immediate') result.resolve(value);
    return result.promise;
  }

  finish(index: number): void {
    const entry = this.tasks[index]!;
    entry.result.resolve(entry.value);
  }
}

interface Sent {
  readonly topic: string;
  readonly record: OutgoingRecord;
  readonly ack: Deferred<undefined>;
}

/** Records every send; acknowledges at once in `auto` mode, else when the test says. */
class FakeSink implements RecordSink {
  readonly sent: Sent[] = [];
  constructor(private readonly mode: 'auto' | 'manual' = 'auto') {}

  send(topic: string, record: OutgoingRecord): Promise<void> {
    const ack = deferred<undefined>();
    this.sent.push({ topic, record, ack });
    if (this.mode === 'auto') ack.resolve(undefined);
    return ack.promise;
  }

  to(topic: string): Sent[] {
    return this.sent.filter((s) => s.topic === topic);
  }

  aggregates(): AggregateRecord[] {
    return this.to(OUTPUT).map((s) => JSON.parse(s.record.value as string) as AggregateRecord);
  }
}

class FakeCommitter implements OffsetCommitter {
  readonly commits: (readonly TopicPartitionOffset[])[] = [];
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.commits.push(offsets);
    return Promise.resolve();
  }

  /** Every offset committed for the test partition, in order. */
  offsets(): number[] {
    return this.commits.flat().filter((o) => o.topic === INPUT && o.partition === PARTITION).map((o) => o.offset);
  }
}

class FakeClock {
  ms = 1_700_000_000_000;
  readonly now = (): number => this.ms;
}

interface Reading {
  device: string;
  lon: number;
  lat: number;
  temp?: number;
}

function goodValue({ device, lon, lat, temp }: Reading, ts: number): Buffer {
  return jsonBytes({ device_id: device, ts, lon, lat, ...(temp === undefined ? {} : { readings: { temp_c: temp } }) });
}

function record(offset: number, value: Buffer | null, headers?: SourceRecord['headers']): SourceRecord {
  return {
    offset: String(offset),
    key: Buffer.from(`key-${offset}`),
    value,
    timestamp: String(1_700_000_000_000 + offset),
    ...(headers === undefined ? {} : { headers }),
  };
}

function batchOf(records: SourceRecord[], active = () => true) {
  const batch = {
    topic: INPUT,
    partition: PARTITION,
    records,
    highWatermark: String(Number(records[records.length - 1]?.offset ?? -1) + 1),
    heartbeat: vi.fn(() => Promise.resolve()),
    isActive: vi.fn(active),
    markRead: vi.fn((_offset: string) => undefined),
  } satisfies RecordBatch;
  return batch;
}

/** `count` good readings from offset `from` on, one device per two records, temp = offset. */
function goodRecords(from: number, count: number): SourceRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const offset = from + i;
    return record(offset, goodValue({ device: `dev-${Math.floor(i / 2)}`, lon: i, lat: -i, temp: offset }, 1_000 + offset));
  });
}

interface SetupOptions {
  aggregator?: FakeAggregator;
  sink?: FakeSink;
  poolSize?: number;
  /** Follow the real clock (drain() times out on it) instead of the test's manual one. */
  realTime?: boolean;
  deadLetterBytesLimit?: number;
}

function setup(options: SetupOptions = {}) {
  const aggregator = options.aggregator ?? new FakeAggregator();
  const sink = options.sink ?? new FakeSink();
  const committer = new FakeCommitter();
  const clock = new FakeClock();
  const pool = new ChunkPool(options.poolSize ?? 4, WINDOW_SIZE, 4);
  const metrics = createMetrics(new Registry(), pool);
  const pipeline = new Pipeline({
    pool,
    aggregator,
    sink,
    committer,
    metrics,
    logger: pino({ level: 'silent' }),
    outputTopic: OUTPUT,
    dlqTopic: DLQ,
    windowSize: WINDOW_SIZE,
    deadLetterBytesLimit: options.deadLetterBytesLimit ?? 1024 * 1024,
    windowIdleMs: IDLE_MS,
    limits: { maxBytes: 4096, maxReadings: 4 },
    now: options.realTime === true ? Date.now : clock.now,
  });
  return { pipeline, aggregator, sink, committer, clock, pool, metrics };
}

async function metricValue(metric: { get(): Promise<{ values: { value: number; labels: object }[] }> }, labels = {}) {
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))
    ?.value;
}

// ---------------------------------------------------------------- tests

describe('Pipeline: windows and dead letters', () => {
  /** Offsets 100..107: 100-102 good, 103 bad, 104-107 good. */
  const BAD_OFFSET = BASE + 3;
  const BAD_BYTES = Buffer.from('{"device_id": "dev-x", "ts": ', 'utf8');
  function mixedBatch() {
    const good = goodRecords(BASE, 8);
    good[3] = record(BAD_OFFSET, BAD_BYTES, { 'trace-id': 'abc-123' });
    return batchOf(good);
  }

  it('turns 7 good records into 2 full windows, then 1 idle partial one', async () => {
    const { pipeline, sink, clock, metrics } = setup();
    const batch = mixedBatch();
    await pipeline.handleBatch(batch);
    await settle();

    const full = sink.aggregates();
    expect(full).toHaveLength(2);
    expect(full.map((a) => a.window)).toEqual([
      { type: 'count', size: WINDOW_SIZE, partial: false, closedBy: 'count' },
      { type: 'count', size: WINDOW_SIZE, partial: false, closedBy: 'count' },
    ]);
    // The bad record at 103 belongs to no window: the second one starts after it.
    expect(full.map((a) => [a.source.firstOffset, a.source.lastOffset])).toEqual([
      [100, 102],
      [104, 106],
    ]);
    expect(full.map((a) => a.count)).toEqual([3, 3]);
    expect(full[0]!.source).toMatchObject({ topic: INPUT, partition: PARTITION });
    expect(sink.to(OUTPUT).map((s) => s.record.key)).toEqual([`${INPUT}:${PARTITION}:100`, `${INPUT}:${PARTITION}:104`]);

    // Window 1 holds records i = 0, 1, 2: lon = i, lat = -i, temp = offset, devices dev-0, dev-0, dev-1.
    expect(full[0]).toMatchObject({
      devices: 2,
      centroid: [1, -1],
      bbox: [0, -2, 2, 0],
      hull: null, // (0,0), (1,-1), (2,-2) lie on a line
      eventTime: { min: 1_100, max: 1_102 },
      readings: { temp_c: { count: 3, min: 100, max: 102, mean: 101 } },
    });
    // Window 2 holds i = 4, 5, 6: dev-2, dev-2, dev-3.
    expect(full[1]).toMatchObject({ devices: 2, centroid: [5, -5], readings: { temp_c: { mean: 105 } } });

    // Not idle yet: 1 ms short of the timeout.
    clock.ms += IDLE_MS - 1;
    pipeline.closeIdleWindows();
    await settle();
    expect(sink.aggregates()).toHaveLength(2);

    clock.ms += 1;
    pipeline.closeIdleWindows();
    await settle();
    const all = sink.aggregates();
    expect(all).toHaveLength(3);
    expect(all[2]).toMatchObject({
      window: { partial: true, closedBy: 'idle' },
      source: { firstOffset: 107, lastOffset: 107 },
      count: 1,
      centroid: [7, -7],
      emittedAt: clock.ms,
    });

    expect(batch.markRead).toHaveBeenCalledTimes(1);
    expect(batch.markRead).toHaveBeenCalledWith('107');
    expect(await metricValue(metrics.recordsIn)).toBe(8);
    expect(await metricValue(metrics.windowsEmitted, { closed_by: 'count' })).toBe(2);
    expect(await metricValue(metrics.windowsEmitted, { closed_by: 'idle' })).toBe(1);
    expect(await metricValue(metrics.recordsAggregated)).toBe(7);
    expect(await metricValue(metrics.deadLettered, { reason: 'invalid_json' })).toBe(1);
  });

  it('dead-letters the original bytes, key and headers, plus why and where from', async () => {
    const { pipeline, sink } = setup();
    await pipeline.handleBatch(mixedBatch());
    await settle();

    const deadLetters = sink.to(DLQ);
    expect(deadLetters).toHaveLength(1);
    const { record: dead } = deadLetters[0]!;
    expect(Buffer.isBuffer(dead.value)).toBe(true);
    expect((dead.value as Buffer).equals(BAD_BYTES)).toBe(true);
    expect(dead.key).toEqual(Buffer.from(`key-${BAD_OFFSET}`));
    expect(dead.headers).toEqual({
      'trace-id': 'abc-123',
      [DLQ_HEADERS.reason]: 'invalid_json',
      [DLQ_HEADERS.detail]: 'value',
      [DLQ_HEADERS.topic]: INPUT,
      [DLQ_HEADERS.partition]: String(PARTITION),
      [DLQ_HEADERS.offset]: String(BAD_OFFSET),
      [DLQ_HEADERS.timestamp]: String(1_700_000_000_000 + BAD_OFFSET),
    });
  });

  it('emits aggregates in offset order when the second window is aggregated first', async () => {
    const aggregator = new FakeAggregator('manual');
    const { pipeline, sink } = setup({ aggregator });
    await pipeline.handleBatch(batchOf(goodRecords(BASE, 6)));
    expect(aggregator.tasks).toHaveLength(2);

    aggregator.finish(1);
    await settle();
    expect(sink.to(OUTPUT)).toHaveLength(0);

    aggregator.finish(0);
    await settle();
    expect(sink.aggregates().map((a) => a.source.firstOffset)).toEqual([100, 103]);
  });
});

describe('Pipeline: commits', () => {
  it('commits nothing past a window whose aggregate is not acknowledged, and the end offset once all are', async () => {
    const sink = new FakeSink('manual');
    const { pipeline, committer, clock } = setup({ sink });
    const batch = batchOf(goodRecords(BASE, 7)); // windows 100-102, 103-105, open 106
    await pipeline.handleBatch(batch);
    await settle();
    expect(batch.markRead).toHaveBeenCalledWith('106');
    const [first, second] = sink.to(OUTPUT);
    expect(sink.to(OUTPUT)).toHaveLength(2);

    await pipeline.commit();
    expect(Math.max(...committer.offsets())).toBeLessThanOrEqual(100);

    // The later window's acknowledgement alone frees nothing.
    second!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(Math.max(...committer.offsets())).toBeLessThanOrEqual(100);

    // With the first acknowledged, everything up to the open window's first record is safe.
    first!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(committer.offsets().at(-1)).toBe(106);

    clock.ms += IDLE_MS;
    pipeline.closeIdleWindows();
    await settle();
    await pipeline.commit();
    expect(committer.offsets().at(-1)).toBe(106); // the idle window is sent, not yet acknowledged

    sink.to(OUTPUT)[2]!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(committer.offsets().at(-1)).toBe(107);
    expect(committer.commits.at(-1)).toEqual([{ topic: INPUT, partition: PARTITION, offset: 107 }]);

    // Nothing new: no further commit call.
    const calls = committer.commits.length;
    await pipeline.commit();
    expect(committer.commits).toHaveLength(calls);
  });

  it('holds the commit at an unacknowledged dead letter', async () => {
    const sink = new FakeSink('manual');
    const { pipeline, committer } = setup({ sink });
    const records = goodRecords(BASE, 4);
    records[0] = record(BASE, null); // empty: dead-lettered
    await pipeline.handleBatch(batchOf(records)); // dead letter 100, window 101-103
    await settle();
    const window = sink.to(OUTPUT)[0]!;
    window.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(committer.offsets()).toEqual([100]);

    sink.to(DLQ)[0]!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(committer.offsets().at(-1)).toBe(104);
  });

  it('drains as soon as every window and dead letter is acknowledged', async () => {
    const { pipeline } = setup({ realTime: true });
    const records = goodRecords(BASE, 5);
    records[1] = record(BASE + 1, Buffer.from('[]'));
    await pipeline.handleBatch(batchOf(records));
    pipeline.closeAllWindows('shutdown');
    await settle();
    // No commit has run in between: drain must not depend on one.
    await expect(pipeline.drain(200)).resolves.toBe(true);
  });

  it('does not drain while an aggregate is unacknowledged', async () => {
    const sink = new FakeSink('manual');
    const { pipeline } = setup({ sink, realTime: true });
    await pipeline.handleBatch(batchOf(goodRecords(BASE, 3)));
    await settle();
    await expect(pipeline.drain(60)).resolves.toBe(false);
  });
});

describe('Pipeline: replays keep window identity', () => {
  it('holds the commit at the start of a written window while a dead letter inside it is unacknowledged', async () => {
    const sink = new FakeSink('manual');
    const { pipeline, committer } = setup({ sink });
    const records = goodRecords(BASE, 5);
    records[1] = record(BASE + 1, null); // window 100,102,103 with a dead letter at 101 inside it
    await pipeline.handleBatch(batchOf(records));
    await settle();
    sink.to(OUTPUT)[0]!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    // Committing 101 would re-read 102 and 103 into a second, overlapping window.
    expect(Math.max(...committer.offsets())).toBe(100);
    sink.to(DLQ)[0]!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(committer.offsets().at(-1)).toBe(104); // the open window at 104 holds the rest
  });

  it('writes nothing after a window closed by time until that window is committed', async () => {
    const { pipeline, sink, committer, clock } = setup();
    await pipeline.handleBatch(batchOf(goodRecords(BASE, 2))); // open window 100-101
    clock.ms += IDLE_MS;
    pipeline.closeIdleWindows(); // partial 100-101
    await settle();
    expect(sink.aggregates().map((a) => a.source.lastOffset)).toEqual([101]);
    // Its acknowledgement asks for a commit at once, before the next window may leave.
    await settle();
    expect(committer.offsets()).toContain(102);
    await pipeline.handleBatch(batchOf(goodRecords(BASE + 2, 3))); // full window 102-104
    await settle();
    expect(sink.aggregates().map((a) => [a.source.firstOffset, a.source.lastOffset])).toEqual([
      [100, 101],
      [102, 104],
    ]);
  });

  it('holds later windows back while the commit after a time-closed window fails', async () => {
    const { pipeline, sink, committer, clock } = setup();
    const failing = vi.spyOn(committer, 'commit').mockRejectedValue(new Error('rebalance in progress'));
    await pipeline.handleBatch(batchOf(goodRecords(BASE, 2)));
    clock.ms += IDLE_MS;
    pipeline.closeIdleWindows();
    await settle();
    await pipeline.handleBatch(batchOf(goodRecords(BASE + 2, 3)));
    await settle();
    expect(sink.aggregates()).toHaveLength(1);
    failing.mockRestore();
    await pipeline.commit();
    await settle();
    expect(sink.aggregates()).toHaveLength(2);
  });

  it('drops unwritten windows on a rebalance and gives their chunks back', async () => {
    const aggregator = new FakeAggregator('manual');
    const { pipeline, sink, pool } = setup({ aggregator });
    await pipeline.handleBatch(batchOf(goodRecords(BASE, 4))); // window 100-102 being aggregated, 103 open
    expect(pool.inUse).toBe(2);
    pipeline.resetAssignment();
    aggregator.finish(0);
    await settle();
    expect(sink.aggregates()).toEqual([]);
    expect(pool.inUse).toBe(0);
  });
});

describe('Pipeline: failures', () => {
  it('fails when a send fails: failed is true, the listener hears it once, nothing is committed', async () => {
    const sink = new FakeSink('manual');
    const { pipeline, committer } = setup({ sink });
    const listener = vi.fn();
    pipeline.onFailure(listener);
    await pipeline.handleBatch(batchOf(goodRecords(BASE, 7)));
    await settle();
    expect(pipeline.failed).toBe(false);

    const error = new Error('broker said no');
    sink.to(OUTPUT)[0]!.ack.reject(error);
    sink.to(OUTPUT)[1]!.ack.reject(new Error('second failure'));
    await settle();
    expect(pipeline.failed).toBe(true);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener).toHaveBeenCalledWith(error);

    await pipeline.commit();
    expect(committer.commits).toEqual([]);

    // Later batches are not read.
    const later = batchOf(goodRecords(BASE + 7, 3));
    await pipeline.handleBatch(later);
    expect(later.markRead).not.toHaveBeenCalled();
  });

  it('fails when a dead letter cannot be written', async () => {
    const sink = new FakeSink('manual');
    const { pipeline, committer } = setup({ sink });
    const listener = vi.fn();
    pipeline.onFailure(listener);
    await pipeline.handleBatch(batchOf([record(BASE, Buffer.from('nope'))]));
    sink.to(DLQ)[0]!.ack.reject(new Error('dlq down'));
    await settle();
    expect(pipeline.failed).toBe(true);
    expect(listener).toHaveBeenCalledTimes(1);
    await pipeline.commit();
    expect(committer.commits).toEqual([]);
  });
});

describe('Pipeline: backpressure', () => {
  it('waits for a free chunk, heartbeating, and goes on once one is released', async () => {
    const aggregator = new FakeAggregator('manual');
    const { pipeline, pool, sink, metrics } = setup({ aggregator, poolSize: 2 });
    // 100-102 and 103-105 fill both chunks; 106 needs a third.
    const batch = batchOf(goodRecords(BASE, 7));
    const handling = pipeline.handleBatch(batch);

    await settle();
    expect(aggregator.tasks).toHaveLength(2);
    expect(pool.free).toBe(0);
    expect(await isSettled(handling)).toBe(false);
    expect(batch.markRead).not.toHaveBeenCalled();
    expect(await metricValue(metrics.chunkWaits)).toBeGreaterThanOrEqual(1);

    // The wait is sliced so the group membership stays alive (one slice is 1 s).
    await vi.waitFor(() => expect(batch.heartbeat).toHaveBeenCalled(), { timeout: 2_500, interval: 50 });
    expect(await isSettled(handling)).toBe(false);

    aggregator.finish(0);
    await handling;
    expect(batch.markRead).toHaveBeenCalledWith('106');
    expect(pool.inUse).toBe(2); // window 2 still aggregating, window 3 open on the released chunk
    expect(sink.aggregates().map((a) => a.source.firstOffset)).toEqual([100]);
  }, 10_000);

  it('stops the batch without reading on when the consumer goes inactive during the wait', async () => {
    const aggregator = new FakeAggregator('manual');
    const { pipeline, pool } = setup({ aggregator, poolSize: 2 });
    let active = true;
    const batch = batchOf(goodRecords(BASE, 8), () => active);
    const handling = pipeline.handleBatch(batch);
    await settle();
    active = false;
    aggregator.finish(0);
    await handling;
    // 106 was not packed: it is left for the next fetch, and the free chunk stays free.
    expect(batch.markRead).toHaveBeenCalledWith('105');
    expect(pool.free).toBe(1);
  });
});
