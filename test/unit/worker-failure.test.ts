/**
 * A window whose worker failed (the pool already retried once): its records
 * are rebuilt from the chunk's columns and dead-lettered one by one, and the
 * stream goes on. Anything else the aggregator rejects with stops the pipeline.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { ChunkPool } from '../../src/chunks/chunk-pool.js';
import { ChunkPoolError, WorkerTaskError } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics.js';
import { DLQ_HEADERS, rebuiltDeadLetter } from '../../src/pipeline/dead-letter.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Aggregator, OffsetCommitter, RecordSink } from '../../src/pipeline/ports.js';
import type { OutgoingRecord, RecordBatch, SourceRecord, TopicPartitionOffset } from '../../src/pipeline/records.js';
import type { AggregateTask, ChunkAggregate } from '../../src/protocol/messages.js';
import type { AggregateRecord } from '../../src/windows/aggregate-record.js';
import aggregateChunk from '../../workers/aggregate-chunk.js';
import { decoded, deferred, jsonBytes, settle, type Deferred } from './helpers.js';

const INPUT = 'readings-in';
const OUTPUT = 'aggregates-out';
const DLQ = 'readings-dlq';
const PARTITION = 5;
const WINDOW_SIZE = 3;
const IDLE_MS = 5_000;
const BASE = 200;
const REBUILT_DETAIL = 'rebuilt from the chunk columns; the original bytes were not kept';

// ---------------------------------------------------------------- fakes

/** Holds every aggregation until the test resolves it with the worker's own result or rejects it. */
class ManualAggregator implements Aggregator {
  readonly tasks: { value: ChunkAggregate; result: Deferred<ChunkAggregate> }[] = [];

  aggregate(task: AggregateTask): Promise<ChunkAggregate> {
    const result = deferred<ChunkAggregate>();
    this.tasks.push({ value: aggregateChunk(task), result });
    return result.promise;
  }

  succeed(index: number): void {
    const task = this.tasks[index]!;
    task.result.resolve(task.value);
  }

  fail(index: number, error: unknown): void {
    this.tasks[index]!.result.reject(error);
  }
}

interface Sent {
  readonly topic: string;
  readonly record: OutgoingRecord;
  readonly ack: Deferred<undefined>;
}

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
}

class FakeCommitter implements OffsetCommitter {
  readonly commits: (readonly TopicPartitionOffset[])[] = [];
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.commits.push(offsets);
    return Promise.resolve();
  }

  last(): number | undefined {
    return this.commits.flat().filter((o) => o.topic === INPUT && o.partition === PARTITION).at(-1)?.offset;
  }
}

// ---------------------------------------------------------------- records

interface SentReading {
  device_id: string;
  ts: number;
  lon: number;
  lat: number;
  readings: Record<string, number | null>;
}

/**
 * Record `i` of a test stream: coordinates and readings that float32 cannot
 * hold exactly, humidity reported only by even records (null otherwise).
 */
function readingOf(i: number): SentReading {
  return {
    device_id: `sensor-${i % 2}`,
    ts: 1_700_000_000_123 + i * 1000,
    lon: 13.404954 + i * 0.001,
    lat: 52.520008 - i * 0.001,
    readings: { temp_c: 21.7 + i, humidity: i % 2 === 0 ? 55.3 + i : null },
  };
}

function sourceRecord(offset: number): SourceRecord {
  return {
    offset: String(offset),
    key: Buffer.from(`key-${offset}`),
    value: jsonBytes(readingOf(offset - BASE)),
    timestamp: String(1_700_000_500_000 + offset),
    headers: { 'trace-id': `t-${offset}` },
  };
}

function batchOf(from: number, count: number): RecordBatch {
  return {
    topic: INPUT,
    partition: PARTITION,
    records: Array.from({ length: count }, (_, i) => sourceRecord(from + i)),
    highWatermark: String(from + count),
    heartbeat: () => Promise.resolve(),
    isActive: () => true,
    markRead: () => undefined,
  };
}

function setup(sink = new FakeSink()) {
  const aggregator = new ManualAggregator();
  const committer = new FakeCommitter();
  const clock = { ms: 1_700_000_000_000 };
  const pool = new ChunkPool(4, WINDOW_SIZE, 4);
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
    deadLetterBytesLimit: 1024 * 1024,
    windowIdleMs: IDLE_MS,
    limits: { maxBytes: 4096, maxReadings: 4 },
    now: () => clock.ms,
  });
  const failure = vi.fn();
  pipeline.onFailure(failure);
  return { pipeline, aggregator, sink, committer, clock, pool, metrics, failure };
}

async function deadLettered(metrics: ReturnType<typeof setup>['metrics'], reason: string): Promise<number | undefined> {
  return (await metrics.deadLettered.get()).values.find((v) => v.labels.reason === reason)?.value;
}

/** Checks one rebuilt dead letter against the record sent at `offset`. */
function expectRebuilt(sent: Sent, offset: number, reason: string): void {
  const original = readingOf(offset - BASE);
  expect(sent.topic).toBe(DLQ);
  expect(sent.record.key).toBe(original.device_id);
  expect(sent.record.headers).toEqual({
    [DLQ_HEADERS.reason]: reason,
    [DLQ_HEADERS.detail]: REBUILT_DETAIL,
    [DLQ_HEADERS.topic]: INPUT,
    [DLQ_HEADERS.partition]: String(PARTITION),
    [DLQ_HEADERS.offset]: String(offset),
  });
  expect(typeof sent.record.value).toBe('string');
  const value = JSON.parse(sent.record.value as string) as SentReading;
  expect(Object.keys(value).sort()).toEqual(['device_id', 'lat', 'lon', 'readings', 'ts']);
  expect(value.device_id).toBe(original.device_id);
  expect(value.ts).toBe(original.ts);
  // Coordinates and readings went through float32 columns: within float32 precision, and exactly its rounding.
  expect(value.lon).toBeCloseTo(original.lon, 5);
  expect(value.lon).toBe(Math.fround(original.lon));
  expect(value.lat).toBeCloseTo(original.lat, 5);
  expect(value.lat).toBe(Math.fround(original.lat));
  const expectedReadings: Record<string, number> = {};
  for (const [name, reading] of Object.entries(original.readings)) {
    if (reading !== null) expectedReadings[name] = Math.fround(reading);
  }
  expect(value.readings).toEqual(expectedReadings);
  expect(value.readings.temp_c).toBeCloseTo(original.readings.temp_c!, 5);
}

// ---------------------------------------------------------------- tests

describe('rebuiltDeadLetter', () => {
  it('rebuilds a row from the columns: device, time, float32 coordinates, present readings only', () => {
    const pool = new ChunkPool(1, 4, 3);
    const chunk = pool.acquire()!;
    chunk.append(decoded({ deviceId: 'a', ts: 1_000, lon: 1.1, lat: -2.2, readings: { temp_c: 20.1, co2: 400 } }), 70);
    chunk.append(decoded({ deviceId: 'b', ts: 2_000, lon: 3.3, lat: 4.4, readings: { temp_c: 19.9, co2: null } }), 72);
    chunk.append(decoded({ deviceId: 'a', ts: 3_000, lon: 5.5, lat: 6.6, readings: undefined }), 75);

    const second = rebuiltDeadLetter(chunk, 1, 'topic-x', 9, 'aggregation_failed');
    expect(second.key).toBe('b');
    expect(second.headers).toEqual({
      [DLQ_HEADERS.reason]: 'aggregation_failed',
      [DLQ_HEADERS.detail]: REBUILT_DETAIL,
      [DLQ_HEADERS.topic]: 'topic-x',
      [DLQ_HEADERS.partition]: '9',
      [DLQ_HEADERS.offset]: '72',
    });
    expect(JSON.parse(second.value as string)).toEqual({
      device_id: 'b',
      ts: 2_000,
      lat: Math.fround(4.4),
      lon: Math.fround(3.3),
      readings: { temp_c: Math.fround(19.9) },
    });
    expect(JSON.parse(rebuiltDeadLetter(chunk, 0, 'topic-x', 9, 'worker_out_of_memory').value as string)).toEqual({
      device_id: 'a',
      ts: 1_000,
      lat: Math.fround(-2.2),
      lon: Math.fround(1.1),
      readings: { temp_c: Math.fround(20.1), co2: 400 },
    });
    const third = rebuiltDeadLetter(chunk, 2, 'topic-x', 9, 'worker_out_of_memory');
    expect(third.key).toBe('a');
    expect(third.headers?.[DLQ_HEADERS.offset]).toBe('75');
    expect(JSON.parse(third.value as string)).toEqual({ device_id: 'a', ts: 3_000, lat: Math.fround(6.6), lon: Math.fround(5.5), readings: {} });
  });
});

describe('Pipeline: a window whose worker failed', () => {
  it('dead-letters every record of the window as worker_out_of_memory, and the stream goes on', async () => {
    const { pipeline, aggregator, sink, committer, clock, pool, metrics, failure } = setup();
    // Windows 200-202 and 203-205, 206 open.
    await pipeline.handleBatch(batchOf(BASE, 7));
    expect(aggregator.tasks).toHaveLength(2);

    aggregator.fail(0, new WorkerTaskError('worker ran out of memory twice', new Error('ERR_WORKER_OUT_OF_MEMORY'), true));
    await settle();
    const deadLetters = sink.to(DLQ);
    expect(deadLetters).toHaveLength(3);
    deadLetters.forEach((sent, row) => expectRebuilt(sent, BASE + row, 'worker_out_of_memory'));
    expect(sink.to(OUTPUT)).toHaveLength(0);
    expect(await deadLettered(metrics, 'worker_out_of_memory')).toBe(3);
    expect(await deadLettered(metrics, 'aggregation_failed')).toBe(0);

    // The next window is written as usual, and its records are all its own.
    aggregator.succeed(1);
    await settle();
    const aggregates = sink.to(OUTPUT).map((s) => JSON.parse(s.record.value as string) as AggregateRecord);
    expect(aggregates.map((a) => [a.source.firstOffset, a.source.lastOffset, a.count])).toEqual([[203, 205, 3]]);
    await pipeline.commit();
    expect(committer.last()).toBe(206); // up to the open window

    clock.ms += IDLE_MS;
    pipeline.closeIdleWindows();
    aggregator.succeed(2);
    await settle();
    await pipeline.commit();
    expect(committer.last()).toBe(207); // the end
    expect(pool.free).toBe(4);
    expect(pipeline.inFlight).toBe(0);
    expect(failure).not.toHaveBeenCalled();
    expect(pipeline.failed).toBe(false);
  });

  it('commits past the window only once every one of its dead letters is acknowledged', async () => {
    const { pipeline, aggregator, sink, committer, pool } = setup(new FakeSink('manual'));
    await pipeline.handleBatch(batchOf(BASE, 3));
    aggregator.fail(0, new WorkerTaskError('worker died', undefined, true));
    await settle();
    const [first, second, third] = sink.to(DLQ);
    expect(sink.to(DLQ)).toHaveLength(3);
    expect(pipeline.inFlight).toBeGreaterThan(0);

    await pipeline.commit();
    expect(committer.last() ?? BASE).toBeLessThanOrEqual(BASE);

    third!.ack.resolve(undefined);
    first!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(committer.last() ?? BASE).toBeLessThanOrEqual(BASE);
    expect(pool.free).toBe(3); // the chunk is held until the last one is acknowledged
    expect(pipeline.inFlight).toBeGreaterThan(0);

    second!.ack.resolve(undefined);
    await settle();
    await pipeline.commit();
    expect(committer.last()).toBe(BASE + 3);
    expect(pool.free).toBe(4);
    expect(pipeline.inFlight).toBe(0);
  });

  it('dead-letters as aggregation_failed when the worker failed otherwise than out of memory', async () => {
    const { pipeline, aggregator, sink, committer, metrics, failure } = setup();
    await pipeline.handleBatch(batchOf(BASE, 3));
    aggregator.fail(0, new WorkerTaskError('worker threw', new TypeError('boom'), false));
    await settle();
    const deadLetters = sink.to(DLQ);
    expect(deadLetters).toHaveLength(3);
    deadLetters.forEach((sent, row) => expectRebuilt(sent, BASE + row, 'aggregation_failed'));
    expect(await deadLettered(metrics, 'aggregation_failed')).toBe(3);
    expect(await deadLettered(metrics, 'worker_out_of_memory')).toBe(0);
    await pipeline.commit();
    expect(committer.last()).toBe(BASE + 3);
    expect(failure).not.toHaveBeenCalled();
  });

  it.each([
    ['a plain Error', new Error('pool destroyed')],
    ['another geowindow error', new ChunkPoolError('chunk 0 released twice')],
    ['a non-error value', 'terminated'],
  ])('fails the pipeline on %s, dead-lettering and committing nothing', async (_name, error) => {
    const { pipeline, aggregator, sink, committer, failure } = setup();
    await pipeline.handleBatch(batchOf(BASE, 4)); // window 200-202, 203 open
    aggregator.fail(0, error);
    await settle();
    expect(pipeline.failed).toBe(true);
    expect(failure).toHaveBeenCalledTimes(1);
    expect(failure).toHaveBeenCalledWith(error);
    expect(sink.sent).toEqual([]);
    await pipeline.commit();
    expect(committer.commits).toEqual([]);
  });

  it('fails the pipeline when a rebuilt dead letter cannot be written, and commits nothing', async () => {
    const { pipeline, aggregator, sink, committer, pool, failure } = setup(new FakeSink('manual'));
    await pipeline.handleBatch(batchOf(BASE, 3));
    aggregator.fail(0, new WorkerTaskError('worker died', undefined, true));
    await settle();
    const [first, second, third] = sink.to(DLQ);
    const dlqDown = new Error('dlq down');
    first!.ack.resolve(undefined);
    second!.ack.reject(dlqDown);
    third!.ack.resolve(undefined);
    await settle();
    expect(pipeline.failed).toBe(true);
    expect(failure).toHaveBeenCalledTimes(1);
    expect(failure).toHaveBeenCalledWith(dlqDown);
    await pipeline.commit();
    expect(committer.commits).toEqual([]);
    // The window is not done: its chunk is not handed back for new records.
    expect(pool.free).toBe(3);
  });
});
