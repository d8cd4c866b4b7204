import type { Chunk } from '../chunks/chunk.js';
import type { DeadLetterReason } from '../decode/reasons.js';
import { WorkerTaskError } from '../errors.js';
import type { ChunkResult } from '../protocol/messages.js';
import { aggregateV2Key, countWindowRecord, type AggregateV2 } from '../output/aggregate-v2.js';
import { aggregateKey, aggregateRecord } from '../windows/aggregate-record.js';
import { CountWindow, type WindowCloseReason } from '../windows/count-window.js';
import { chunkRowDeadLetter, deadLetterRecord } from './dead-letter.js';
import { decimalStringToNumber } from './decimal-string.js';
import { OffsetTracker } from './offset-tracker.js';
import { sendDeadLetter } from './dead-letter-sender.js';
import type { StreamContext } from './stream-context.js';
import type { OutgoingRecord, SourceRecord, TopicPartitionOffset } from './records.js';

/** Window ends a replay of the same records reproduces. */
const REPLAYABLE_CLOSE: ReadonlySet<WindowCloseReason> = new Set(['count', 'bytes_full']);

interface DeferredDeadLetter {
  readonly record: OutgoingRecord;
  readonly reason: DeadLetterReason;
}

interface ClosedWindow {
  readonly window: CountWindow;
  readonly closedBy: WindowCloseReason;
  readonly closedAt: number;
  /** Exactly-once: dead letters of records inside the window, written with it. */
  readonly deferred: readonly DeferredDeadLetter[];
  /** The worker's result; 'dead_lettered' when the worker failed and every record went to the dead-letter topic. */
  outcome: ChunkResult | 'dead_lettered' | undefined;
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
  /** Set while a time-closed window awaits its commit: the offset that must be committed first. */
  #barrier: number | undefined;
  /** Exactly-once: dead letters of records inside the open window (see deadLetter). */
  #deferred: DeferredDeadLetter[] = [];
  readonly #ctx: StreamContext;

  constructor(topic: string, partition: number, ctx: StreamContext) {
    this.topic = topic;
    this.partition = partition;
    this.#ctx = ctx;
  }

  get openWindow(): CountWindow | undefined {
    return this.#open;
  }

  /** The open window's chunk is the one being filled. */
  get openChunk(): CountWindow | undefined {
    return this.#open;
  }

  /** Windows closed but not yet acknowledged, plus dead letters in flight (the open window aside). */
  get pendingWork(): number {
    return this.tracker.pending - (this.#open === undefined ? 0 : 1);
  }

  /** Where this partition may commit: the first offset of the oldest work not yet acknowledged. */
  commitPoint(): TopicPartitionOffset | undefined {
    const offset = this.tracker.committable();
    if (offset === undefined || (this.committed !== undefined && offset <= this.committed)) return undefined;
    return { topic: this.topic, partition: this.partition, offset };
  }

  get discarded(): boolean {
    return this.#discarded;
  }

  /** Starts a window on `chunk` at `offset`. */
  open(chunk: Chunk, offset: number): CountWindow {
    const window = new CountWindow(this.topic, this.partition, chunk, offset, this.tracker.open(offset), this.#ctx.now());
    this.#open = window;
    return window;
  }

  /**
   * Copies a record into the open window (`now`: the batch's clock reading,
   * for the idle close). Returns false, copying nothing, when the window's
   * bytes are full and it must be closed first.
   */
  append(record: SourceRecord, offset: number, now: number): boolean {
    const window = this.#open!;
    const timestamp = decimalStringToNumber(record.timestamp);
    if (window.chunk.append(record.key, record.value, record.headers, offset, timestamp) === 'bytes_full') return false;
    window.lastOffset = offset;
    window.lastAppendAt = now;
    this.tracker.seen(offset);
    if (window.chunk.full) this.close('count');
    return true;
  }

  /** A record dead-lettered before it reaches a window (too large to copy). */
  deadLetter(record: SourceRecord, offset: number, reason: DeadLetterReason, detail: string): void {
    if (this.#ctx.exactlyOnce && this.#open !== undefined) {
      // Exactly-once: it goes with its window, in the transaction that commits past the window.
      this.tracker.seen(offset);
      this.#deferred.push({ record: deadLetterRecord(record, this.topic, this.partition, reason, detail), reason });
      return;
    }
    // Inside an open window, the dead letter holds commits back to the window's
    // start: committing past it would re-read the window's later records into
    // a new window that overlaps the one already written.
    const work = this.tracker.open(this.#open?.firstOffset ?? offset);
    this.tracker.seen(offset);
    void sendDeadLetter(this.#ctx, deadLetterRecord(record, this.topic, this.partition, reason, detail), reason, this).then((acked) => {
      work.done = acked;
    });
  }

  /** Closes the open window, if any, and hands its chunk to a worker. */
  close(closedBy: WindowCloseReason): void {
    const window = this.#open;
    if (window === undefined) return;
    this.#open = undefined;
    const { chunk } = window;
    const closed: ClosedWindow = { window, closedBy, closedAt: this.#ctx.now(), deferred: this.#deferred, outcome: undefined };
    this.#deferred = [];
    this.#closed.push(closed);
    const { aggregator, metrics, testOomDevice, maxReadings } = this.#ctx;
    const endTimer = metrics.aggregationSeconds.startTimer();
    aggregator
      .aggregate({
        kind: 'count',
        buffer: chunk.buffer,
        capacity: chunk.layout.capacity,
        byteCapacity: chunk.layout.byteCapacity,
        count: chunk.count,
        maxReadings,
        testAllocateBeyondLimit: testOomDevice !== undefined && chunk.hasKey(testOomDevice),
      })
      .then(
        (result) => {
          endTimer();
          closed.outcome = result;
          this.#emitReady();
        },
        (error: unknown) => {
          endTimer();
          this.#deadLetterWindow(closed, error);
        },
      );
  }

  /**
   * The window's worker failed twice (the pool retries once): every record
   * goes to the dead-letter topic with its original bytes, so the
   * reconciliation still holds and the stream goes on.
   */
  #deadLetterWindow(closed: ClosedWindow, error: unknown): void {
    if (!(error instanceof WorkerTaskError)) {
      this.#ctx.fail(error);
      return;
    }
    const reason: DeadLetterReason = error.outOfMemory ? 'worker_out_of_memory' : 'aggregation_failed';
    closed.outcome = 'dead_lettered';
    const rows = Array.from({ length: closed.window.chunk.count }, (_, row) => ({ row, reason, detail: error.message }));
    this.#finishWithDeadLetters(closed, rows, [], false);
    this.#emitReady();
  }

  /**
   * Sends the window's unreadable rows (and, once it is sent, the aggregate
   * already in flight) and marks the window done when all are acknowledged.
   */
  #finishWithDeadLetters(
    closed: ClosedWindow,
    rows: readonly { row: number; reason: DeadLetterReason; detail: string }[],
    others: readonly Promise<boolean>[],
    timed: boolean,
  ): void {
    const { pool, requestCommit } = this.#ctx;
    const { window } = closed;
    const sends = [...others];
    for (const { record, reason } of closed.deferred) sends.push(sendDeadLetter(this.#ctx, record, reason, this));
    for (const { row, reason, detail } of rows) {
      sends.push(sendDeadLetter(this.#ctx, chunkRowDeadLetter(window.chunk, row, this.topic, this.partition, reason, detail), reason, this));
    }
    void Promise.all(sends).then((acked) => {
      if (!acked.every(Boolean)) return;
      window.work.done = true;
      pool.release(window.chunk);
      if (timed) requestCommit();
    });
  }

  /**
   * Forgets this partition (revoked, or re-read after a rebalance). The open
   * window and closed windows not yet written are dropped and their chunks
   * released; nothing more is committed. Whoever reads the partition next
   * starts at the committed offset and forms the same windows again.
   */
  discard(): void {
    this.#discarded = true;
    this.#barrier = undefined;
    const window = this.#open;
    this.#open = undefined;
    if (window !== undefined) this.#ctx.pool.release(window.chunk);
    this.#emitReady();
  }

  /** The partition's offset `point.offset` is committed. */
  committedUpTo(point: TopicPartitionOffset): void {
    const { offset } = point;
    this.committed = offset;
    if (this.#barrier !== undefined && offset >= this.#barrier) {
      this.#barrier = undefined;
      this.#emitReady();
    }
  }

  /**
   * Writes the aggregates (and the dead letters of unreadable rows) that are
   * ready, in window order. A window's chunk stays taken until all of it is
   * acknowledged, so the chunk pool also bounds the outputs in flight.
   *
   * A window closed by time (idle, shutdown, pool exhausted) ends where a
   * replay would not end it. So nothing after it is written until it is
   * committed: a replay then starts either after it, or at its first offset
   * with nothing later written, and a re-formed window keeps its first offset
   * and key (it supersedes the partial one) instead of overlapping others.
   */
  #emitReady(): void {
    const { pool } = this.#ctx;
    while (this.#barrier === undefined && this.#closed.length > 0 && this.#closed[0]!.outcome !== undefined) {
      const closed = this.#closed.shift()!;
      const { window, outcome } = closed;
      if (outcome === 'dead_lettered') continue;
      if (this.#discarded) {
        // Revoked: dropped unwritten and uncommitted; whoever reads the partition next writes it.
        pool.release(window.chunk);
        continue;
      }
      // Exactly-once needs no barrier: a window is visible only with the commit past it, so a replay never re-forms it.
      const timed = !REPLAYABLE_CLOSE.has(closed.closedBy) && !this.#ctx.exactlyOnce;
      if (timed) this.#barrier = window.lastOffset + 1;
      const aggregateSent = outcome!.aggregate === null ? [] : [this.#sendAggregate(closed)];
      this.#finishWithDeadLetters(closed, outcome!.bad, aggregateSent, timed);
    }
  }

  #sendAggregate(closed: ClosedWindow): Promise<boolean> {
    const { sink, outputTopic, windowSize, metrics, fail, now } = this.#ctx;
    const { window, closedBy, closedAt } = closed;
    const aggregate = (closed.outcome as ChunkResult).aggregate!;
    const emittedAt = now();
    const record = this.#ctx.countOutputV2
      ? countWindowRecord(window, closedBy, aggregate, emittedAt)
      : aggregateRecord(window, windowSize, closedBy, aggregate, emittedAt);
    const key = this.#ctx.countOutputV2 ? aggregateV2Key(record as AggregateV2) : aggregateKey(window);
    return sink.send(outputTopic, { key, value: JSON.stringify(record) }, this).then(
      () => {
        const ackedAt = now();
        metrics.windowsEmitted.inc({ closed_by: closedBy });
        metrics.recordsAggregated.inc(record.count);
        metrics.windowLatency.observe((ackedAt - closedAt) / 1000);
        metrics.endToEndLatency.observe(Math.max(0, ackedAt - record.eventTime.max) / 1000);
        return true;
      },
      (error: unknown) => {
        fail(error);
        return false;
      },
    );
  }
}
