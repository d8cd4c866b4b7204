/**
 * A window whose worker failed (the pool already retried once): every one of
 * its records is dead-lettered with its original bytes, copied out of the
 * chunk, and the stream goes on. Anything else the aggregator rejects with
 * stops the pipeline.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { ChunkPool } from '../../src/chunks/chunk-pool.js';
import { ChunkPoolError, WorkerTaskError } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics.js';
import { chunkRowDeadLetter, DLQ_HEADERS } from '../../src/pipeline/dead-letter.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Aggregator } from '../../src/pipeline/ports.js';
import type { RecordBatch, SourceRecord } from '../../src/pipeline/records.js';
import type { AggregateTask, ChunkResult, EventChunkResult, EventTask } from '../../src/protocol/messages.js';
import type { AggregateRecord } from '../../src/windows/aggregate-record.js';
import { aggregateCount, deferred, jsonBytes, settle, type Deferred } from './helpers.js';
import { RecordingCommitter, RecordingSink, type Sent } from './pipeline-fakes.js';

const INPUT = 'readings-in';
const OUTPUT = 'aggregates-out';
const DLQ = 'readings-dlq';
const PARTITION = 5;
const WINDOW_SIZE = 3;
const IDLE_MS = 5_000;
const BASE = 200;
const OOM_MESSAGE = 'worker ran out of memory twice';

// ---------------------------------------------------------------- fakes

/** Holds every aggregation until the test resolves it with the worker's own result or rejects it. */
class ManualAggregator implements Aggregator {
  readonly tasks: { value: ChunkResult; result: Deferred<ChunkResult> }[] = [];

  aggregate(task: AggregateTask): Promise<ChunkResult> {
    const result = deferred<ChunkResult>();
    this.tasks.push({ value: aggregateCount(task), result });
    return result.promise;
  }

  /** Count windows never fold: a call rejects, which fails the pipeline. */
  fold(_task: EventTask): Promise<EventChunkResult> {
    return Promise.reject(new Error('a count-window pipeline asked for an event-time fold'));
  }

  succeed(index: number): void {
    const task = this.tasks[index]!;
    task.result.resolve(task.value);
  }

  fail(index: number, error: unknown): void {
    this.tasks[index]!.result.reject(error);
  }
}

class FakeCommitter extends RecordingCommitter {
  last(): number | undefined {
    return this.offsetsFor(INPUT, PARTITION).at(-1);
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
 * hold exactly (a dead letter must give them back as sent, not as a worker
 * would have read them), humidity reported only by even records.
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

const timestampOf = (offset: number): number => 1_700_000_500_000 + offset;

function sourceRecord(offset: number): SourceRecord {
  return {
    offset: String(offset),
    key: Buffer.from(`key-${offset}`),
    value: jsonBytes(readingOf(offset - BASE)),
    timestamp: String(timestampOf(offset)),
    headers: { 'trace-id': `t-${offset}` },
  };
}

function batchOf(from: number, count: number, replace: Record<number, SourceRecord> = {}): RecordBatch {
  return {
    topic: INPUT,
    partition: PARTITION,
    records: Array.from({ length: count }, (_, i) => replace[from + i] ?? sourceRecord(from + i)),
    highWatermark: String(from + count),
    heartbeat: () => Promise.resolve(),
    isActive: () => true,
    markRead: () => undefined,
  };
}

function setup(sink = new RecordingSink()) {
  const aggregator = new ManualAggregator();
  const committer = new FakeCommitter();
  const clock = { ms: 1_700_000_000_000 };
  const pool = new ChunkPool(4, WINDOW_SIZE, 16 * 1024);
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
    maxMessageBytes: 4096,
    maxReadings: 4,
    now: () => clock.ms,
  });
  const failure = vi.fn();
  pipeline.onFailure(failure);
  return { pipeline, aggregator, sink, committer, clock, pool, metrics, failure };
}

async function deadLettered(metrics: ReturnType<typeof setup>['metrics'], reason: string): Promise<number | undefined> {
  return (await metrics.deadLettered.get()).values.find((v) => v.labels.reason === reason)?.value;
}

/** Checks one dead letter of a failed window against the record sent at `offset`: its bytes, key and headers as they were. */
function expectOriginal(sent: Sent, offset: number, reason: string, detail: string): void {
  expect(sent.topic).toBe(DLQ);
  expect(sent.record.key).toEqual(Buffer.from(`key-${offset}`));
  expect(Buffer.isBuffer(sent.record.value)).toBe(true);
  // Byte for byte: 13.404954 and the readings come back as sent, not as float32 would hold them.
  expect(sent.record.value).toEqual(jsonBytes(readingOf(offset - BASE)));
  expect(sent.record.headers).toEqual({
    'trace-id': `t-${offset}`,
    [DLQ_HEADERS.reason]: reason,
    [DLQ_HEADERS.detail]: detail,
    [DLQ_HEADERS.topic]: INPUT,
    [DLQ_HEADERS.partition]: String(PARTITION),
    [DLQ_HEADERS.offset]: String(offset),
    [DLQ_HEADERS.timestamp]: String(timestampOf(offset)),
  });
}

// ---------------------------------------------------------------- tests

describe('chunkRowDeadLetter', () => {
  it("gives a row's original key, value, headers and timestamp, copied out of the chunk, plus why and where from", () => {
    const pool = new ChunkPool(1, 4, 256);
    const chunk = pool.acquire()!;
    const nonUtf8 = Buffer.from([0x7b, 0xff, 0x7d]);
    chunk.append(Buffer.from('dev-a'), Buffer.from('{"a":1}'), { 'trace-id': Buffer.from('t0'), hops: ['a', 'b'] }, 70, 1_000);
    chunk.append(null, null, undefined, 72, 2_000);
    chunk.append(Buffer.from('k'), nonUtf8, { [DLQ_HEADERS.reason]: 'spoofed' }, 75, 3_000);

    const first = chunkRowDeadLetter(chunk, 0, 'topic-x', 9, 'worker_out_of_memory', 'worker died');
    expect(first).toEqual({
      key: Buffer.from('dev-a'),
      value: Buffer.from('{"a":1}'),
      headers: {
        'trace-id': Buffer.from('t0'),
        hops: ['a', 'b'],
        [DLQ_HEADERS.reason]: 'worker_out_of_memory',
        [DLQ_HEADERS.detail]: 'worker died',
        [DLQ_HEADERS.topic]: 'topic-x',
        [DLQ_HEADERS.partition]: '9',
        [DLQ_HEADERS.offset]: '70',
        [DLQ_HEADERS.timestamp]: '1000',
      },
    });
    // A tombstone without key or headers stays one.
    const second = chunkRowDeadLetter(chunk, 1, 'topic-x', 9, 'empty', 'value');
    expect([second.key, second.value]).toEqual([null, null]);
    expect(second.headers).toEqual({
      [DLQ_HEADERS.reason]: 'empty',
      [DLQ_HEADERS.detail]: 'value',
      [DLQ_HEADERS.topic]: 'topic-x',
      [DLQ_HEADERS.partition]: '9',
      [DLQ_HEADERS.offset]: '72',
      [DLQ_HEADERS.timestamp]: '2000',
    });
    // Bytes that are no text come back as they were; geowindow's own headers win over look-alikes.
    const third = chunkRowDeadLetter(chunk, 2, 'topic-x', 9, 'invalid_utf8', 'value');
    expect(third.value).toEqual(nonUtf8);
    expect(third.headers?.[DLQ_HEADERS.reason]).toBe('invalid_utf8');

    // Copies: the chunk emptied and filled with other records changes none of them.
    pool.release(chunk);
    const reused = pool.acquire()!;
    expect(reused).toBe(chunk);
    reused.append(Buffer.from('XXXXX'), Buffer.from('{"zzzzzzzzzzz":0}'), { 'trace-id': Buffer.from('zz') }, 99, 9);
    expect(first.key).toEqual(Buffer.from('dev-a'));
    expect(first.value).toEqual(Buffer.from('{"a":1}'));
    expect(first.headers?.['trace-id']).toEqual(Buffer.from('t0'));
    expect(third.value).toEqual(nonUtf8);
  });
});

describe('Pipeline: a window whose worker failed', () => {
  it('dead-letters every record of the window as worker_out_of_memory, and the stream goes on', async () => {
    const { pipeline, aggregator, sink, committer, clock, pool, metrics, failure } = setup();
    // Windows 200-202 and 203-205, 206 open.
    await pipeline.handleBatch(batchOf(BASE, 7));
    expect(aggregator.tasks).toHaveLength(2);

    aggregator.fail(0, new WorkerTaskError(OOM_MESSAGE, new Error('ERR_WORKER_OUT_OF_MEMORY'), true));
    await settle();
    const deadLetters = sink.to(DLQ);
    expect(deadLetters).toHaveLength(3);
    deadLetters.forEach((sent, row) => expectOriginal(sent, BASE + row, 'worker_out_of_memory', OOM_MESSAGE));
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
    const { pipeline, aggregator, sink, committer, pool } = setup(new RecordingSink('manual'));
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
    deadLetters.forEach((sent, row) => expectOriginal(sent, BASE + row, 'aggregation_failed', 'worker threw'));
    expect(await deadLettered(metrics, 'aggregation_failed')).toBe(3);
    expect(await deadLettered(metrics, 'worker_out_of_memory')).toBe(0);
    await pipeline.commit();
    expect(committer.last()).toBe(BASE + 3);
    expect(failure).not.toHaveBeenCalled();
  });

  it('dead-letters every row for the worker failure, unreadable ones included, as they were', async () => {
    const { pipeline, aggregator, sink, metrics } = setup();
    const tombstone: SourceRecord = { ...sourceRecord(BASE + 1), value: null, key: null, headers: {} };
    const cut: SourceRecord = { ...sourceRecord(BASE + 2), value: Buffer.from('{"device_id": ') };
    await pipeline.handleBatch(batchOf(BASE, 3, { [BASE + 1]: tombstone, [BASE + 2]: cut }));
    // Had the worker returned, it would have reported rows 1 and 2 as bad.
    expect(aggregator.tasks[0]!.value.bad.map((b) => b.reason)).toEqual(['empty', 'invalid_json']);
    aggregator.fail(0, new WorkerTaskError(OOM_MESSAGE, undefined, true));
    await settle();
    const deadLetters = sink.to(DLQ);
    expect(deadLetters.map((s) => s.record.headers?.[DLQ_HEADERS.reason])).toEqual(Array(3).fill('worker_out_of_memory'));
    expect(deadLetters.map((s) => s.record.headers?.[DLQ_HEADERS.offset])).toEqual(['200', '201', '202']);
    expectOriginal(deadLetters[0]!, BASE, 'worker_out_of_memory', OOM_MESSAGE);
    expect([deadLetters[1]!.record.key, deadLetters[1]!.record.value]).toEqual([null, null]);
    expect(deadLetters[1]!.record.headers).not.toHaveProperty('trace-id');
    expect(deadLetters[2]!.record.value).toEqual(Buffer.from('{"device_id": '));
    expect(deadLetters[2]!.record.key).toEqual(Buffer.from(`key-${BASE + 2}`));
    expect(sink.to(OUTPUT)).toHaveLength(0);
    expect(await deadLettered(metrics, 'worker_out_of_memory')).toBe(3);
    expect(await deadLettered(metrics, 'empty')).toBe(0);
    expect(await deadLettered(metrics, 'invalid_json')).toBe(0);
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

  it('fails the pipeline when a dead letter of the failed window cannot be written, and commits nothing', async () => {
    const { pipeline, aggregator, sink, committer, pool, failure } = setup(new RecordingSink('manual'));
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
