import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { ChunkPool } from '../../src/chunks/chunk-pool.js';
import { createMetrics } from '../../src/metrics.js';
import { DLQ_HEADERS } from '../../src/pipeline/dead-letter.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Aggregator } from '../../src/pipeline/ports.js';
import type { RecordBatch, SourceRecord } from '../../src/pipeline/records.js';
import type { AggregateTask, ChunkResult, EventChunkResult, EventTask } from '../../src/protocol/messages.js';
import type { AggregateRecord } from '../../src/windows/aggregate-record.js';
import { RecordingCommitter, RecordingSink } from './pipeline-fakes.js';
import { aggregateCount, deferred, isSettled, jsonBytes, settle, type Deferred } from './helpers.js';

const INPUT = 'readings-in';
const OUTPUT = 'aggregates-out';
const DLQ = 'readings-dlq';
const PARTITION = 3;
const WINDOW_SIZE = 3;
const IDLE_MS = 5_000;
/** Larger records (key + value) are dead-lettered as oversized by the main thread. */
const MAX_MESSAGE_BYTES = 4096;
/** Bytes of one chunk in most tests: ample, so windows close by count. */
const BYTE_CAPACITY = 16 * 1024;
/** Offsets start well away from 0 so an offset is never confused with a count. */
const BASE = 100;

// ---------------------------------------------------------------- fakes

/**
 * Aggregates on the calling thread with the worker's own code. In `manual`
 * mode each result is held until the test releases it, so completions can be
 * reordered or withheld.
 */
class FakeAggregator implements Aggregator {
  readonly tasks: { task: AggregateTask; result: Deferred<ChunkResult>; value: ChunkResult }[] = [];
  constructor(private readonly mode: 'immediate' | 'manual' = 'immediate') {}

  aggregate(task: AggregateTask): Promise<ChunkResult> {
    // Computed now, while the chunk is certainly still held by the window.
    const value = aggregateCount(task);
    const result = deferred<ChunkResult>();
    this.tasks.push({ task, result, value });
    if (this.mode === 'immediate') result.resolve(value);
    return result.promise;
  }

  /** Count windows never fold: a call rejects, which fails the pipeline. */
  fold(_task: EventTask): Promise<EventChunkResult> {
    return Promise.reject(new Error('a count-window pipeline asked for an event-time fold'));
  }

  finish(index: number): void {
    const entry = this.tasks[index]!;
    entry.result.resolve(entry.value);
  }
}

class FakeSink extends RecordingSink {
  aggregates(): AggregateRecord[] {
    return this.to(OUTPUT).map((s) => JSON.parse(s.record.value as string) as AggregateRecord);
  }

  /** The source offset of each dead letter, in the order sent. */
  deadLetterOffsets(): number[] {
    return this.to(DLQ).map((s) => Number(s.record.headers?.[DLQ_HEADERS.offset]));
  }
}

class FakeCommitter extends RecordingCommitter {
  /** Every offset committed for the test partition, in order. */
  offsets(): number[] {
    return this.offsetsFor(INPUT, PARTITION);
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

const keyOf = (offset: number): Buffer => Buffer.from(`key-${offset}`);
const timestampOf = (offset: number): number => 1_700_000_000_000 + offset;

function record(offset: number, value: Buffer | null, headers?: SourceRecord['headers']): SourceRecord {
  return {
    offset: String(offset),
    key: keyOf(offset),
    value,
    timestamp: String(timestampOf(offset)),
    ...(headers === undefined ? {} : { headers }),
  };
}

/** A valid reading whose key and value together take exactly `totalBytes`. */
function sized(offset: number, totalBytes: number): SourceRecord {
  const fields = { device_id: 'dev-big', ts: 1_000 + offset, lon: 0, lat: 0, pad: '' };
  const bare = keyOf(offset).length + jsonBytes(fields).length;
  const value = jsonBytes({ ...fields, pad: 'x'.repeat(totalBytes - bare) });
  expect(keyOf(offset).length + value.length).toBe(totalBytes);
  return record(offset, value);
}

/** Over MAX_MESSAGE_BYTES by its key: the value alone would be under the limit. */
function oversized(offset: number): SourceRecord {
  const value = Buffer.alloc(MAX_MESSAGE_BYTES - 3, 0x7b);
  const r = record(offset, value, { 'trace-id': `t-${offset}` });
  expect(value.length).toBeLessThan(MAX_MESSAGE_BYTES);
  expect(r.key!.length + value.length).toBe(MAX_MESSAGE_BYTES + 4);
  return r;
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
  byteCapacity?: number;
  /** Follow the real clock (drain() times out on it) instead of the test's manual one. */
  realTime?: boolean;
  deadLetterBytesLimit?: number;
}

function setup(options: SetupOptions = {}) {
  const aggregator = options.aggregator ?? new FakeAggregator();
  const sink = options.sink ?? new FakeSink();
  const committer = new FakeCommitter();
  const clock = new FakeClock();
  // As the memory plan sizes it: an empty chunk holds any record the pipeline accepts.
  const byteCapacity = options.byteCapacity ?? BYTE_CAPACITY;
  expect(byteCapacity).toBeGreaterThanOrEqual(MAX_MESSAGE_BYTES);
  const pool = new ChunkPool(options.poolSize ?? 4, WINDOW_SIZE, byteCapacity);
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
    maxMessageBytes: MAX_MESSAGE_BYTES,
    maxReadings: 4,
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
  const BAD_HEADERS = { 'trace-id': Buffer.from('abc-123'), origin: 'gateway-7' };
  function mixedBatch() {
    const records = goodRecords(BASE, 8);
    records[3] = record(BAD_OFFSET, Buffer.from(BAD_BYTES), { ...BAD_HEADERS, 'trace-id': Buffer.from(BAD_HEADERS['trace-id']) });
    return batchOf(records);
  }

  it('counts good and bad records alike: windows 100-102 and 103-105 (2 valid), then an idle partial 106-107', async () => {
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
    // The bad record at 103 is one of the second window's three records; only the other two are aggregated.
    expect(full.map((a) => [a.source.firstOffset, a.source.lastOffset, a.count])).toEqual([
      [100, 102, 3],
      [103, 105, 2],
    ]);
    expect(full[0]!.source).toMatchObject({ topic: INPUT, partition: PARTITION });
    expect(sink.to(OUTPUT).map((s) => s.record.key)).toEqual([`${INPUT}:${PARTITION}:100`, `${INPUT}:${PARTITION}:103`]);

    // Window 1 holds records i = 0, 1, 2: lon = i, lat = -i, temp = offset, devices dev-0, dev-0, dev-1.
    expect(full[0]).toMatchObject({
      devices: 2,
      centroid: [1, -1],
      bbox: [0, -2, 2, 0],
      hull: null, // (0,0), (1,-1), (2,-2) lie on a line
      eventTime: { min: 1_100, max: 1_102 },
      readings: { temp_c: { count: 3, min: 100, max: 102, mean: 101, sum: 303 } },
    });
    // Window 2's valid records are i = 4, 5: both dev-2.
    expect(full[1]).toMatchObject({
      devices: 1,
      centroid: [4.5, -4.5],
      bbox: [4, -5, 5, -4],
      hull: null,
      eventTime: { min: 1_104, max: 1_105 },
      readings: { temp_c: { count: 2, min: 104, max: 105, mean: 104.5, sum: 209 } },
    });
    expect(sink.deadLetterOffsets()).toEqual([BAD_OFFSET]);

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
      source: { firstOffset: 106, lastOffset: 107 },
      count: 2,
      devices: 1, // i = 6, 7: dev-3
      centroid: [6.5, -6.5],
      emittedAt: clock.ms,
    });

    expect(batch.markRead).toHaveBeenCalledTimes(1);
    expect(batch.markRead).toHaveBeenCalledWith('107');
    expect(await metricValue(metrics.recordsIn)).toBe(8);
    expect(await metricValue(metrics.windowsEmitted, { closed_by: 'count' })).toBe(2);
    expect(await metricValue(metrics.windowsEmitted, { closed_by: 'idle' })).toBe(1);
    expect(await metricValue(metrics.recordsAggregated)).toBe(3 + 2 + 2);
    expect(await metricValue(metrics.deadLettered, { reason: 'invalid_json' })).toBe(1);
  });

  it('dead-letters a bad record once its window\'s worker returns, with its original bytes, key, headers and timestamp', async () => {
    const aggregator = new FakeAggregator('manual');
    const { pipeline, sink, pool } = setup({ aggregator });
    await pipeline.handleBatch(mixedBatch());
    await settle();
    // The bad record was copied into the second window like any other.
    expect(aggregator.tasks.map((t) => t.task.count)).toEqual([3, 3]);
    expect(sink.to(DLQ)).toHaveLength(0);

    aggregator.finish(0);
    await settle();
    expect(sink.to(DLQ)).toHaveLength(0); // the first window had no bad record

    aggregator.finish(1);
    await settle();
    const deadLetters = sink.to(DLQ);
    expect(deadLetters).toHaveLength(1);
    const { record: dead } = deadLetters[0]!;
    expect(Buffer.isBuffer(dead.value)).toBe(true);
    expect(dead.value).toEqual(BAD_BYTES);
    expect(dead.key).toEqual(keyOf(BAD_OFFSET));
    expect(dead.headers).toEqual({
      ...BAD_HEADERS,
      [DLQ_HEADERS.reason]: 'invalid_json',
      [DLQ_HEADERS.detail]: 'value',
      [DLQ_HEADERS.topic]: INPUT,
      [DLQ_HEADERS.partition]: String(PARTITION),
      [DLQ_HEADERS.offset]: String(BAD_OFFSET),
      [DLQ_HEADERS.timestamp]: String(timestampOf(BAD_OFFSET)),
    });

    // Copied out of the chunk: once the chunk is reused for other records, the dead letter is unchanged.
    expect(pool.inUse).toBe(1); // only the open window 106-107
    const badChunk = aggregator.tasks[1]!.task.buffer;
    await pipeline.handleBatch(batchOf(goodRecords(BASE + 8, 7)));
    aggregator.tasks.forEach((_, i) => aggregator.finish(i));
    await settle();
    expect(aggregator.tasks.slice(2).some((t) => t.task.buffer === badChunk)).toBe(true);
    expect(dead.value).toEqual(BAD_BYTES);
    expect(dead.key).toEqual(keyOf(BAD_OFFSET));
    expect(dead.headers?.['trace-id']).toEqual(Buffer.from('abc-123'));
  });

  it('writes no aggregate for a window without a valid record, only its dead letters', async () => {
    const { pipeline, sink, committer, metrics } = setup();
    const records = goodRecords(BASE, 6);
    records[0] = record(BASE, null); // a tombstone
    records[1] = record(BASE + 1, Buffer.from('[]'));
    records[2] = record(BASE + 2, Buffer.from('nope'));
    await pipeline.handleBatch(batchOf(records));
    await settle();
    expect(sink.aggregates().map((a) => [a.source.firstOffset, a.source.lastOffset, a.count])).toEqual([[103, 105, 3]]);
    expect(sink.to(DLQ).map((s) => [Number(s.record.headers?.[DLQ_HEADERS.offset]), s.record.headers?.[DLQ_HEADERS.reason]])).toEqual([
      [100, 'empty'],
      [101, 'not_an_object'],
      [102, 'invalid_json'],
    ]);
    expect(sink.to(DLQ)[0]!.record.value).toBeNull();
    expect(await metricValue(metrics.windowsEmitted, { closed_by: 'count' })).toBe(1);
    expect(await metricValue(metrics.recordsAggregated)).toBe(3);
    await pipeline.commit();
    expect(committer.offsets().at(-1)).toBe(106);
  });

  it('dead-letters a record over MAX_MESSAGE_BYTES (key + value) at once, without copying it into a window', async () => {
    const aggregator = new FakeAggregator('manual');
    const { pipeline, sink } = setup({ aggregator });
    const atLimit = sized(BASE + 2, MAX_MESSAGE_BYTES); // exactly the limit: accepted
    const big = oversized(BASE + 1);
    await pipeline.handleBatch(batchOf([goodRecords(BASE, 1)[0]!, big, atLimit, goodRecords(BASE + 3, 1)[0]!]));
    await settle();

    // Sent before any worker returned.
    expect(sink.to(DLQ)).toHaveLength(1);
    const { record: dead } = sink.to(DLQ)[0]!;
    expect(dead.value).toEqual(big.value);
    expect(dead.key).toEqual(keyOf(BASE + 1));
    expect(dead.headers).toEqual({
      'trace-id': `t-${BASE + 1}`,
      [DLQ_HEADERS.reason]: 'oversized',
      [DLQ_HEADERS.detail]: `${MAX_MESSAGE_BYTES + 4} bytes > ${MAX_MESSAGE_BYTES}`,
      [DLQ_HEADERS.topic]: INPUT,
      [DLQ_HEADERS.partition]: String(PARTITION),
      [DLQ_HEADERS.offset]: String(BASE + 1),
      [DLQ_HEADERS.timestamp]: String(timestampOf(BASE + 1)),
    });

    // The window is 100, 102, 103: three records copied, the oversized one not among them.
    expect(aggregator.tasks.map((t) => t.task.count)).toEqual([3]);
    aggregator.finish(0);
    await settle();
    expect(sink.aggregates().map((a) => [a.source.firstOffset, a.source.lastOffset, a.count])).toEqual([[100, 103, 3]]);
    expect(sink.to(DLQ)).toHaveLength(1);
  });

  it('closes a window early (bytes_full) when the next record does not fit its bytes, and writes on without waiting for a commit', async () => {
    const { pipeline, sink, committer } = setup({ byteCapacity: MAX_MESSAGE_BYTES });
    // 1500 bytes each: two fit in 4096, a third does not.
    const records = [0, 1, 2, 3, 4].map((i) => sized(BASE + i, 1500));
    await pipeline.handleBatch(batchOf(records));
    await settle();
    expect(sink.aggregates().map((a) => [a.source.firstOffset, a.source.lastOffset, a.count, a.window.closedBy, a.window.partial])).toEqual([
      [100, 101, 2, 'bytes_full', true],
      [102, 103, 2, 'bytes_full', true],
    ]);
    // A replay of the same records ends these windows at the same place: no commit barrier.
    expect(committer.commits).toEqual([]);
    await pipeline.commit();
    expect(committer.offsets()).toEqual([104]); // 104 is in the open window
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

  it.each(['aggregate', 'dead letter'] as const)(
    'holds a window until its aggregate and its dead letters are all acknowledged (%s first), then releases its chunk',
    async (first) => {
      const sink = new FakeSink('manual');
      const { pipeline, committer, pool } = setup({ sink });
      const records = goodRecords(BASE, 3);
      records[1] = record(BASE + 1, null);
      await pipeline.handleBatch(batchOf(records)); // window 100-102, 101 bad
      await settle();
      const aggregate = sink.to(OUTPUT)[0]!;
      const deadLetter = sink.to(DLQ)[0]!;
      expect([sink.to(OUTPUT).length, sink.to(DLQ).length]).toEqual([1, 1]);
      const [early, late] = first === 'aggregate' ? [aggregate, deadLetter] : [deadLetter, aggregate];

      early.ack.resolve(undefined);
      await settle();
      await pipeline.commit();
      expect(Math.max(...committer.offsets())).toBeLessThanOrEqual(100);
      expect(pool.inUse).toBe(1);
      expect(pipeline.inFlight).toBeGreaterThan(0);

      late.ack.resolve(undefined);
      await settle();
      await pipeline.commit();
      expect(committer.offsets().at(-1)).toBe(103);
      expect(pool.inUse).toBe(0);
      expect(pipeline.inFlight).toBe(0);
    },
  );

  it('holds the commit at an oversized record dead-lettered before any window', async () => {
    const sink = new FakeSink('manual');
    const { pipeline, committer } = setup({ sink });
    const records = goodRecords(BASE, 4);
    records[0] = oversized(BASE);
    await pipeline.handleBatch(batchOf(records)); // dead letter 100, window 101-103
    await settle();
    sink.to(OUTPUT)[0]!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(committer.offsets()).toEqual([100]);

    sink.to(DLQ)[0]!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(committer.offsets().at(-1)).toBe(104);
  });

  it('drains as soon as every window and dead letter is acknowledged', async () => {
    const { pipeline, sink } = setup({ realTime: true });
    const records = goodRecords(BASE, 5);
    records[1] = record(BASE + 1, Buffer.from('[]'));
    records[3] = oversized(BASE + 3);
    await pipeline.handleBatch(batchOf(records));
    pipeline.closeAllWindows('shutdown');
    await settle();
    // No commit has run in between: drain must not depend on one.
    await expect(pipeline.drain(200)).resolves.toBe(true);
    expect(sink.deadLetterOffsets().sort()).toEqual([101, 103]);
  });

  it('does not drain while an aggregate is unacknowledged', async () => {
    const sink = new FakeSink('manual');
    const { pipeline } = setup({ sink, realTime: true });
    await pipeline.handleBatch(batchOf(goodRecords(BASE, 3)));
    await settle();
    await expect(pipeline.drain(60)).resolves.toBe(false);
  });

  it('does not drain while a window\'s dead letter is unacknowledged', async () => {
    const sink = new FakeSink('manual');
    const { pipeline } = setup({ sink, realTime: true });
    const records = goodRecords(BASE, 3);
    records[2] = record(BASE + 2, Buffer.from('nope'));
    await pipeline.handleBatch(batchOf(records));
    await settle();
    sink.to(OUTPUT)[0]!.ack.resolve(undefined);
    await settle();
    await expect(pipeline.drain(60)).resolves.toBe(false);
    sink.to(DLQ)[0]!.ack.resolve(undefined);
    await expect(pipeline.drain(200)).resolves.toBe(true);
  });
});

describe('Pipeline: replays keep window identity', () => {
  it('holds the commit at the start of a written window while an oversized dead letter inside it is unacknowledged', async () => {
    const sink = new FakeSink('manual');
    const { pipeline, committer } = setup({ sink });
    const records = goodRecords(BASE, 5);
    records[1] = oversized(BASE + 1); // window 100, 102, 103 with a dead letter at 101 inside it
    await pipeline.handleBatch(batchOf(records));
    await settle();
    expect(sink.aggregates().map((a) => [a.source.firstOffset, a.source.lastOffset])).toEqual([[100, 103]]);
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

  it('asks for the commit after a time-closed window only once its dead letters are acknowledged too', async () => {
    const sink = new FakeSink('manual');
    const { pipeline, committer, clock } = setup({ sink });
    const records = goodRecords(BASE, 2);
    records[0] = record(BASE, Buffer.from('{'));
    await pipeline.handleBatch(batchOf(records)); // open window 100-101, 100 bad
    clock.ms += IDLE_MS;
    pipeline.closeIdleWindows();
    await settle();
    expect(sink.aggregates().map((a) => [a.source.firstOffset, a.source.lastOffset, a.count])).toEqual([[100, 101, 1]]);
    expect(sink.deadLetterOffsets()).toEqual([100]);

    sink.to(OUTPUT)[0]!.ack.resolve(undefined);
    await settle();
    expect(committer.commits).toEqual([]);
    await pipeline.handleBatch(batchOf(goodRecords(BASE + 2, 3))); // full window 102-104, held back
    await settle();
    expect(sink.to(OUTPUT)).toHaveLength(1);

    sink.to(DLQ)[0]!.ack.resolve(undefined);
    await settle();
    expect(committer.offsets()).toEqual([102]);
    expect(sink.aggregates().map((a) => [a.source.firstOffset, a.source.lastOffset])).toEqual([
      [100, 101],
      [102, 104],
    ]);
  });

  it('holds later windows back behind a time-closed window with no valid record', async () => {
    const sink = new FakeSink('manual');
    const { pipeline, committer, clock } = setup({ sink });
    await pipeline.handleBatch(batchOf([record(BASE, null)])); // open window 100, bad
    clock.ms += IDLE_MS;
    pipeline.closeIdleWindows();
    await settle();
    expect(sink.to(OUTPUT)).toHaveLength(0);
    expect(sink.deadLetterOffsets()).toEqual([100]);
    await pipeline.handleBatch(batchOf(goodRecords(BASE + 1, 3))); // full window 101-103
    await settle();
    expect(sink.to(OUTPUT)).toHaveLength(0);

    sink.to(DLQ)[0]!.ack.resolve(undefined);
    await settle();
    expect(committer.offsets()).toEqual([101]);
    expect(sink.aggregates().map((a) => [a.source.firstOffset, a.source.lastOffset])).toEqual([[101, 103]]);
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

  it('drops unwritten windows on a rebalance, dead letters included, and gives their chunks back', async () => {
    const aggregator = new FakeAggregator('manual');
    const { pipeline, sink, pool, committer } = setup({ aggregator });
    const records = goodRecords(BASE, 4);
    records[1] = record(BASE + 1, Buffer.from('nope'));
    await pipeline.handleBatch(batchOf(records)); // window 100-102 (101 bad) being aggregated, 103 open
    expect(pool.inUse).toBe(2);
    pipeline.resetAssignment();
    aggregator.finish(0);
    await settle();
    expect(sink.sent).toEqual([]);
    expect(pool.inUse).toBe(0);
    await pipeline.commit();
    expect(committer.commits).toEqual([]);
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

  it.each([
    ['an oversized record', [oversized(BASE)]],
    ['a bad record of a window', [record(BASE, Buffer.from('nope')), ...goodRecords(BASE + 1, 2)]],
  ])('fails when the dead letter of %s cannot be written', async (_name, records) => {
    const sink = new FakeSink('manual');
    const { pipeline, committer, pool } = setup({ sink });
    const listener = vi.fn();
    pipeline.onFailure(listener);
    await pipeline.handleBatch(batchOf(records));
    await settle();
    for (const sent of sink.to(OUTPUT)) sent.ack.resolve(undefined);
    const dlqDown = new Error('dlq down');
    sink.to(DLQ)[0]!.ack.reject(dlqDown);
    await settle();
    expect(pipeline.failed).toBe(true);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener).toHaveBeenCalledWith(dlqDown);
    await pipeline.commit();
    expect(committer.commits).toEqual([]);
    // A window whose dead letter failed is not done: its chunk is not handed back for new records.
    expect(pool.inUse).toBe(records.length === 3 ? 1 : 0);
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

  it('times a window from when its records were copied, not from when their batch began waiting for a chunk', async () => {
    const aggregator = new FakeAggregator('manual');
    const { pipeline, pool, sink, clock } = setup({ aggregator, poolSize: 2 });
    // 100-105 fill both chunks; 106 and 107 wait for one while the clock runs almost to the idle time.
    const handling = pipeline.handleBatch(batchOf(goodRecords(BASE, 8)));
    await settle();
    expect(pool.free).toBe(0);
    clock.ms += IDLE_MS - 1;
    aggregator.finish(0);
    await handling;
    // 106 and 107 were copied just now: two milliseconds later their window is not idle, whatever the batch's age.
    clock.ms += 2;
    pipeline.closeIdleWindows();
    aggregator.finish(1);
    await settle();
    expect(sink.aggregates().map((a) => a.source.firstOffset)).toEqual([100, 103]);
    expect(aggregator.tasks).toHaveLength(2);
    clock.ms += IDLE_MS;
    pipeline.closeIdleWindows();
    await settle();
    expect(aggregator.tasks).toHaveLength(3);
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
    // 106 was not copied: it is left for the next fetch, and the free chunk stays free.
    expect(batch.markRead).toHaveBeenCalledWith('105');
    expect(pool.free).toBe(1);
  });
});
