import type { Chunk } from '../chunks/chunk.js';
import type { ChunkPool } from '../chunks/chunk-pool.js';
import type { DecodedReading } from '../decode/decode-reading.js';
import type { DeadLetterReason } from '../decode/reasons.js';
import type { Metrics } from '../metrics.js';
import type { ChunkAggregate } from '../protocol/messages.js';
import { aggregateKey, aggregateRecord } from '../windows/aggregate-record.js';
import { CountWindow, type WindowCloseReason } from '../windows/count-window.js';
import { deadLetterRecord } from './dead-letter.js';
import { OffsetTracker } from './offset-tracker.js';
import type { Aggregator, RecordSink } from './ports.js';
import type { SourceRecord } from './records.js';

export interface StreamContext {
  readonly pool: ChunkPool;
  readonly aggregator: Aggregator;
  readonly sink: RecordSink;
  readonly metrics: Metrics;
  readonly outputTopic: string;
  readonly dlqTopic: string;
  readonly windowSize: number;
  /** Called when an output cannot be written or a chunk cannot be aggregated: the service must stop. */
  readonly fail: (error: unknown) => void;
  readonly now: () => number;
}

interface ClosedWindow {
  readonly window: CountWindow;
  readonly closedBy: WindowCloseReason;
  readonly devices: number;
  readonly closedAt: number;
  aggregate: ChunkAggregate | undefined;
}

/**
 * One assigned partition: its open window, the windows being aggregated, and
 * which offset may be committed. Aggregates leave in offset order, whatever
 * order the workers finish in.
 */
export class PartitionStream {
  readonly topic: string;
  readonly partition: number;
  readonly tracker = new OffsetTracker();
  /** The last offset committed for this partition (the next offset to read). */
  committed: number | undefined;
  #open: CountWindow | undefined;
  readonly #closed: ClosedWindow[] = [];
  #discarded = false;
  readonly #ctx: StreamContext;

  constructor(topic: string, partition: number, ctx: StreamContext) {
    this.topic = topic;
    this.partition = partition;
    this.#ctx = ctx;
  }

  get openWindow(): CountWindow | undefined {
    return this.#open;
  }

  /** Windows closed but not yet acknowledged, plus dead letters in flight. */
  get pendingWork(): number {
    return this.tracker.pending;
  }

  /** Starts a window on `chunk` at `offset`. */
  open(chunk: Chunk, offset: number): CountWindow {
    const window = new CountWindow(this.topic, this.partition, chunk, offset, this.tracker.open(offset), this.#ctx.now());
    this.#open = window;
    return window;
  }

  /**
   * Packs a decoded reading into the open window. Returns false, packing
   * nothing, when the window needs closing first (no reading column left).
   */
  append(reading: DecodedReading, offset: number): boolean {
    const window = this.#open!;
    if (window.chunk.append(reading) === 'columns_full') return false;
    window.lastOffset = offset;
    window.lastAppendAt = this.#ctx.now();
    this.tracker.seen(offset);
    if (window.chunk.full) this.close('count');
    return true;
  }

  deadLetter(record: SourceRecord, offset: number, reason: DeadLetterReason, detail: string): void {
    const { sink, dlqTopic, metrics, fail } = this.#ctx;
    const work = this.tracker.open(offset);
    this.tracker.seen(offset);
    sink.send(dlqTopic, deadLetterRecord(record, this.topic, this.partition, reason, detail)).then(() => {
      work.done = true;
      metrics.deadLettered.inc({ reason });
    }, fail);
  }

  /** Closes the open window, if any, and hands its chunk to a worker. */
  close(closedBy: WindowCloseReason): void {
    const window = this.#open;
    if (window === undefined) return;
    this.#open = undefined;
    const { chunk } = window;
    const closed: ClosedWindow = {
      window,
      closedBy,
      devices: chunk.deviceCount,
      closedAt: this.#ctx.now(),
      aggregate: undefined,
    };
    this.#closed.push(closed);
    const { aggregator, pool, metrics, fail } = this.#ctx;
    const endTimer = metrics.aggregationSeconds.startTimer();
    aggregator
      .aggregate({
        buffer: chunk.buffer,
        capacity: chunk.layout.capacity,
        readingColumns: chunk.layout.readingColumns,
        count: chunk.count,
        readingNames: chunk.readingNames.slice(),
      })
      .then((aggregate) => {
        endTimer();
        pool.release(chunk);
        closed.aggregate = aggregate;
        this.#emitReady();
      }, fail);
  }

  /**
   * Forgets this partition (revoked, or re-read after a rebalance): releases
   * the open window's chunk. Windows already closed still finish and are
   * written, but nothing more is committed for them; their records are read
   * again and form windows with the same identity.
   */
  discard(): void {
    this.#discarded = true;
    const window = this.#open;
    this.#open = undefined;
    if (window !== undefined) this.#ctx.pool.release(window.chunk);
  }

  get discarded(): boolean {
    return this.#discarded;
  }

  #emitReady(): void {
    const { sink, outputTopic, windowSize, metrics, fail, now } = this.#ctx;
    while (this.#closed.length > 0 && this.#closed[0]!.aggregate !== undefined) {
      const { window, closedBy, devices, closedAt, aggregate } = this.#closed.shift()!;
      const record = aggregateRecord(window, windowSize, closedBy, devices, aggregate!, now());
      sink.send(outputTopic, { key: aggregateKey(window), value: JSON.stringify(record) }).then(() => {
        window.work.done = true;
        metrics.windowsEmitted.inc({ closed_by: closedBy });
        metrics.recordsAggregated.inc(record.count);
        metrics.windowLatency.observe((now() - closedAt) / 1000);
      }, fail);
    }
  }
}
