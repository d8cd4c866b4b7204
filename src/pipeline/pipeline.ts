import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Chunk } from '../chunks/chunk.js';
import type { ChunkPool } from '../chunks/chunk-pool.js';
import type { Metrics } from '../metrics.js';
import type { WindowCloseReason } from '../windows/count-window.js';
import { EventStream } from './event-stream.js';
import { PartitionStream } from './partition-stream.js';
import { decimalStringToNumber } from './decimal-string.js';
import { TransactionAbortedError } from '../errors.js';
import type { Aggregator, EndOffsets, OffsetCommitter, RecordSink, Transactions } from './ports.js';
import type { EventTimeSettings, InFlight, StreamContext } from './stream-context.js';
import type { RecordBatch, SourceRecord, TopicPartitionOffset } from './records.js';

/**
 * Event time: aggregates in flight at most, whatever the dead-letter share.
 * kafkajs encodes a request through about seven times its bytes of buffers,
 * dead once it is sent but freed only by a collection (memory/young-collector.ts
 * forces one, at most per turn of the event loop, when they pile up): with
 * 10 MB in flight, 100-150 MB of them were left between collections in the
 * churn soak.
 */
export const MAX_OUTPUT_IN_FLIGHT_BYTES = 2 * 1024 * 1024;

/** How often a batch waiting for a free chunk heartbeats and looks again. */
const CHUNK_WAIT_SLICE_MS = 1000;
/** How often a drain checks whether every window is acknowledged. */
const DRAIN_POLL_MS = 20;

export interface PipelineOptions {
  readonly pool: ChunkPool;
  readonly aggregator: Aggregator;
  readonly sink: RecordSink;
  readonly committer: OffsetCommitter;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly outputTopic: string;
  readonly dlqTopic: string;
  readonly windowSize: number;
  readonly windowIdleMs: number;
  /** Larger records are dead-lettered as `oversized` without being copied. */
  readonly maxMessageBytes: number;
  /** Most readings per record, and distinct reading names per window (the workers check). */
  readonly maxReadings: number;
  /** Dead-letter bytes not yet acknowledged above which a batch waits. */
  readonly deadLetterBytesLimit: number;
  /** Count windows: write schema v2 (OUTPUT_SCHEMA=v2). */
  readonly countOutputV2?: boolean;
  /** Event-time windows (WINDOW=tumbling|hopping); unset for count windows. */
  readonly eventTime?: EventTimeSettings;
  /** Testing only: see GEOWINDOW_TEST_OOM_DEVICE. */
  readonly testOomDevice?: string;
  /** EXACTLY_ONCE=true: writes and offsets go in each partition's transaction (the sink's), committed here. */
  readonly transactions?: Transactions;
  readonly now?: () => number;
}

type Stream = PartitionStream | EventStream;

/**
 * The main-thread flow, from fetched records to committed offsets:
 * copy into a window's chunk -> decode and aggregate in a worker -> write the
 * aggregate and the dead letters -> commit offsets whose records are all
 * acknowledged. It knows nothing of the Kafka client; the service feeds it
 * batches and gives it ports to write and commit through.
 *
 * Batches are handled one at a time (the consumer runs one partition's batch
 * at once).
 */
export class Pipeline {
  readonly #options: PipelineOptions;
  readonly #ctx: StreamContext;
  readonly #streams = new Map<string, Stream>();
  #enforcingBudget = false;
  readonly #inFlight: InFlight = { deadLetters: 0, deadLetterBytes: 0, outputBytes: 0 };
  #failure: unknown;
  #failureListener: ((error: unknown) => void) | undefined;
  #committing: Promise<void> | undefined;
  #commitAgain = false;
  #accepting = true;
  #sawBatch = false;
  #inBatch: Promise<void> | undefined;
  /** Exactly-once: a commit is quiescing; batches and time-driven closes wait for it. */
  #quiescing: Promise<void> | undefined;
  /** Exactly-once: partitions fenced since the assignment, with the committed offset read after the fence. */
  readonly #fenced = new Map<string, number | undefined>();

  constructor(options: PipelineOptions) {
    this.#options = options;
    this.#ctx = {
      pool: options.pool,
      aggregator: options.aggregator,
      sink: options.sink,
      metrics: options.metrics,
      outputTopic: options.outputTopic,
      dlqTopic: options.dlqTopic,
      windowSize: options.windowSize,
      maxReadings: options.maxReadings,
      now: options.now ?? Date.now,
      fail: (error) => this.#fail(error),
      inFlight: this.#inFlight,
      // Exactly-once commits quiesce the pipeline, so they come on COMMIT_INTERVAL_MS only.
      requestCommit: () => {
        if (options.transactions === undefined) void this.commit();
      },
      stateChanged: () => this.#windowStateChanged(),
      outputBytesLimit: Math.min(options.deadLetterBytesLimit, MAX_OUTPUT_IN_FLIGHT_BYTES),
      pumpOutputs: () => {
        for (const stream of this.#streams.values()) if (stream instanceof EventStream) stream.pump();
      },
      countOutputV2: options.countOutputV2 ?? false,
      exactlyOnce: options.transactions !== undefined,
      eventTime: options.eventTime,
      testOomDevice: options.testOomDevice,
    };
  }

  /** Called once with the first error that makes going on unsafe (an output could not be written). */
  onFailure(listener: (error: unknown) => void): void {
    this.#failureListener = listener;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  async handleBatch(batch: RecordBatch): Promise<void> {
    // Exactly-once: a commit is quiescing; wait outside #inBatch, which the commit waits for.
    while (this.#quiescing !== undefined) {
      await this.#quiescing;
      await batch.heartbeat();
    }
    const run = this.#handleBatch(batch);
    this.#inBatch = run;
    return run.finally(() => {
      if (this.#inBatch === run) this.#inBatch = undefined;
    });
  }

  async #handleBatch(batch: RecordBatch): Promise<void> {
    if (!this.#accepting || this.#failure !== undefined) return;
    if (!this.#sawBatch) {
      this.#sawBatch = true;
      this.#options.metrics.firstBatchTime.set(this.#ctx.now() / 1000);
    }
    const records = await this.#afterFence(batch);
    if (records === undefined) return;
    const stream = this.#stream(batch.topic, batch.partition);
    const first = records[0];
    if (stream instanceof EventStream && first !== undefined) {
      await stream.prepare(decimalStringToNumber(first.offset));
      // Closed windows still being written: read nothing more until they are (the aggregates are the backlog).
      if (!(await this.#waitForOutputs(batch))) return;
    }
    const { maxMessageBytes } = this.#options;
    let lastRead: string | undefined;
    let read = 0;
    // The clock is read once per batch, and again after every wait (for a chunk, for dead
    // letters): without a wait a batch is copied in milliseconds, far under WINDOW_IDLE_MS.
    let now = this.#ctx.now();
    for (const record of records) {
      const offset = decimalStringToNumber(record.offset);
      // The only check made here: a record too large to copy into a chunk.
      // Everything else is decoded and validated by the workers.
      const size = (record.value === null ? 0 : record.value.length) + (record.key === null ? 0 : record.key.length);
      if (size > maxMessageBytes) {
        if (this.#inFlight.deadLetterBytes > this.#options.deadLetterBytesLimit) {
          if (!(await this.#waitForDeadLetters(batch))) break;
          now = this.#ctx.now();
        }
        stream.deadLetter(record, offset, 'oversized', `${size} bytes > ${maxMessageBytes}`);
      } else if (stream.openChunk === undefined || !stream.append(record, offset, now)) {
        if (!(await this.#appendToNewWindow(stream, batch, record, offset))) break;
        now = this.#ctx.now();
      }
      lastRead = record.offset;
      read++;
    }
    const { metrics } = this.#options;
    metrics.recordsIn.inc(read);
    // Only what was packed or dead-lettered counts as read; the rest is fetched again.
    if (lastRead !== undefined) {
      batch.markRead(lastRead);
      // Event time: a partition read to its end sends its chunk now, so its windows close without waiting for more.
      if (stream instanceof EventStream && BigInt(lastRead) + 1n >= BigInt(batch.highWatermark)) stream.close();
      metrics.consumerLag.set(
        { topic: batch.topic, partition: batch.partition },
        Math.max(0, Number(batch.highWatermark) - Number(lastRead) - 1),
      );
    }
  }

  /**
   * Exactly-once, before a partition's first record: takes its transactional
   * id (fencing an earlier owner still writing, whose open transaction Kafka
   * aborts), then reads its committed offset again. The consumer read it
   * before the fence, and a transaction committed in between moved it:
   * records below it are in that commit's outputs already, and are skipped.
   * Undefined when the whole batch is skipped.
   */
  async #afterFence(batch: RecordBatch): Promise<readonly SourceRecord[] | undefined> {
    const { transactions, committer } = this.#options;
    if (transactions === undefined) return batch.records;
    const key = `${batch.topic}\u0000${batch.partition}`;
    if (!this.#fenced.has(key)) {
      await transactions.fence(batch);
      this.#fenced.set(key, await committer.committedOffset(batch.topic, batch.partition));
    }
    const committed = this.#fenced.get(key);
    if (committed === undefined) return batch.records;
    let skip = 0;
    while (skip < batch.records.length && decimalStringToNumber(batch.records[skip]!.offset) < committed) skip++;
    if (skip === 0) return batch.records;
    this.#options.logger.info({ topic: batch.topic, partition: batch.partition, skipped: skip, committed }, 'records committed by the fenced owner skipped');
    if (skip === batch.records.length) {
      batch.markRead(batch.records[skip - 1]!.offset);
      return undefined;
    }
    return batch.records.slice(skip);
  }

  /** Slow path: the partition has no open window, or its window's bytes are full. */
  async #appendToNewWindow(stream: Stream, batch: RecordBatch, record: SourceRecord, offset: number): Promise<boolean> {
    stream.close('bytes_full');
    const chunk = await this.#acquireChunk(batch);
    if (chunk === undefined) return false;
    if (stream.discarded) {
      this.#options.pool.release(chunk);
      return false;
    }
    stream.open(chunk, offset);
    // An empty chunk holds any record up to MAX_MESSAGE_BYTES: the plan sizes its bytes so.
    if (!stream.append(record, offset, this.#ctx.now())) throw new RangeError(`a ${chunk.layout.byteCapacity}-byte chunk cannot hold offset ${offset}`);
    return true;
  }

  /** A free chunk, waiting (and heartbeating) while there is none; undefined if the batch must stop. */
  async #acquireChunk(batch: RecordBatch): Promise<Chunk | undefined> {
    const { pool, metrics } = this.#options;
    const maxAtWorkers = this.#options.eventTime?.maxChunksAtWorkers ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const chunk = this.#chunksBeingAggregated() < maxAtWorkers ? pool.acquire() : undefined;
      if (chunk !== undefined) return chunk;
      metrics.chunkWaits.inc();
      if (this.#chunksBeingAggregated() === 0) this.#closeOldestOpenWindow();
      const slice = new AbortController();
      await Promise.race([pool.whenReleased(), sleep(CHUNK_WAIT_SLICE_MS, undefined, { signal: slice.signal }).catch(() => undefined)]);
      slice.abort();
      await batch.heartbeat();
      if (!batch.isActive() || !this.#accepting || this.#failure !== undefined) return undefined;
    }
  }

  /** Event time: closed windows queued to be written; wait (heartbeating) until the producer has taken them. */
  async #waitForOutputs(batch: RecordBatch): Promise<boolean> {
    while (this.#queuedWindows() > 0) {
      await sleep(DRAIN_POLL_MS);
      await batch.heartbeat();
      if (!batch.isActive() || !this.#accepting || this.#failure !== undefined) return false;
    }
    return true;
  }

  #queuedWindows(): number {
    let queued = 0;
    for (const stream of this.#streams.values()) if (stream instanceof EventStream) queued += stream.queuedWindows;
    return queued;
  }

  /** Too many dead letters unacknowledged: wait (heartbeating) until the producer catches up. */
  async #waitForDeadLetters(batch: RecordBatch): Promise<boolean> {
    while (this.#inFlight.deadLetterBytes > this.#options.deadLetterBytesLimit) {
      await sleep(DRAIN_POLL_MS);
      await batch.heartbeat();
      if (!batch.isActive() || !this.#accepting || this.#failure !== undefined) return false;
    }
    return true;
  }

  /**
   * Work a pause lets drain: chunks of closed windows (being aggregated or
   * written), dead letters not yet acknowledged, and closed event-time
   * windows queued to be written. Open windows wait for records and do not
   * count.
   */
  get inFlight(): number {
    return this.#chunksBeingAggregated() + this.#inFlight.deadLetters + this.#queuedWindows();
  }

  #chunksBeingAggregated(): number {
    let open = 0;
    for (const stream of this.#streams.values()) if (stream.openChunk !== undefined) open++;
    return this.#options.pool.inUse - open;
  }

  /** Every chunk is held by an open window and none will come back by itself: free the oldest. */
  #closeOldestOpenWindow(): void {
    let oldest: Stream | undefined;
    for (const stream of this.#streams.values()) {
      const window = stream.openChunk;
      if (window !== undefined && (oldest === undefined || window.lastAppendAt < oldest.openChunk!.lastAppendAt)) {
        oldest = stream;
      }
    }
    if (oldest === undefined) return;
    const context = { partition: oldest.partition, poolSize: this.#options.pool.size, assigned: this.#streams.size };
    if (oldest instanceof EventStream) {
      // Event time: a chunk is only a unit of work; sending it early changes no window.
      this.#options.logger.debug(context, 'chunk pool held by filling chunks; sending the oldest to a worker now');
    } else {
      this.#options.logger.warn(context, 'chunk pool exhausted by open windows; closing the oldest as partial (raise CHUNK_POOL_SIZE)');
    }
    oldest.close('pool_exhausted');
  }

  /** Emits, as partial, every window that received nothing for WINDOW_IDLE_MS. */
  closeIdleWindows(): void {
    // Exactly-once: nothing may be written between a commit's quiescing and its commit.
    if (this.#quiescing !== undefined) return;
    const now = this.#ctx.now();
    for (const stream of this.#streams.values()) {
      const window = stream.openChunk;
      if (window !== undefined && now - window.lastAppendAt >= this.#options.windowIdleMs) stream.close('idle');
    }
  }

  /**
   * Event time: partitions with open windows that were read to their end and
   * received nothing for `idleMs` move their watermark by the wall clock, so
   * their windows close although no record comes. A partition with records
   * still to fetch (a slow consumer, a paused one) is not idle: its end offset
   * says so. Resolves with the number of windows closed.
   */
  async closeIdlePartitions(ends: EndOffsets, idleMs: number): Promise<number> {
    const now = this.#ctx.now();
    const candidates: EventStream[] = [];
    for (const stream of this.#streams.values()) {
      if (stream instanceof EventStream && stream.idle && now - stream.lastRecordAt >= idleMs) candidates.push(stream);
    }
    if (candidates.length === 0 || this.#failure !== undefined) return 0;
    const endOffsets = await ends.endOffsets(candidates[0]!.topic);
    let closed = 0;
    if (this.#quiescing !== undefined) return 0;
    for (const stream of candidates) {
      const end = endOffsets.get(stream.partition);
      if (stream.discarded || end === undefined || stream.nextOffset === undefined || stream.nextOffset < end) continue;
      const n = stream.advanceIdle(this.#ctx.now());
      if (n > 0) this.#options.metrics.idleAdvances.inc();
      closed += n;
    }
    return closed;
  }

  /**
   * Window state changed: while the window-state share of the memory plan is
   * exceeded, the oldest window of all partitions is emitted early; the
   * gauges follow.
   */
  #windowStateChanged(): void {
    const settings = this.#options.eventTime;
    if (settings === undefined || this.#enforcingBudget) return;
    this.#enforcingBudget = true;
    try {
      while (settings.budget.exceeded && this.#closeOldestEarly('state_bytes') > 0);
    } finally {
      this.#enforcingBudget = false;
    }
    const { metrics } = this.#options;
    let open = 0;
    for (const stream of this.#streams.values()) {
      if (!(stream instanceof EventStream) || stream.store === undefined) continue;
      open += stream.store.openCount;
      if (Number.isFinite(stream.watermark)) metrics.watermark.set({ partition: String(stream.partition) }, stream.watermark / 1000);
    }
    metrics.openWindows.set(open);
    metrics.windowStateBytes.set(settings.budget.usedBytes);
    metrics.windowClosingBytes.set(settings.budget.closingBytes);
  }

  /**
   * Emits early the open windows ending at the oldest end of all partitions:
   * in the partition that holds it (the state budget: as little as frees
   * enough), or in every partition (the memory guard: a shed must free
   * memory now, and each waits for a drain). Returns the windows closed.
   */
  #closeOldestEarly(cap: 'state_bytes' | 'memory'): number {
    let oldest: EventStream | undefined;
    for (const stream of this.#streams.values()) {
      if (!(stream instanceof EventStream) || stream.store === undefined || stream.store.openCount === 0) continue;
      if (oldest === undefined || stream.store.oldestEnd < oldest.store!.oldestEnd) oldest = stream;
    }
    if (oldest === undefined) return 0;
    const end = oldest.store!.oldestEnd;
    if (cap === 'state_bytes') return oldest.closeEarlyUpTo(end, cap);
    let closed = 0;
    for (const stream of this.#streams.values()) if (stream instanceof EventStream) closed += stream.closeEarlyUpTo(end, cap);
    return closed;
  }

  /** Event-time window state a shed would free, in estimated bytes (0 for count windows). */
  get sheddableBytes(): number {
    return this.#options.eventTime?.budget.usedBytes ?? 0;
  }

  /**
   * The memory guard sheds (paused, drained and collected, still above its
   * high-water mark): the oldest windows of all partitions are emitted early.
   * Returns the windows closed.
   */
  shedWindows(): number {
    if (this.#failure !== undefined) return 0;
    return this.#closeOldestEarly('memory');
  }

  /**
   * Commits, per partition, the offsets whose records are all in an
   * acknowledged output. Never overlaps itself; never runs after a failure.
   */
  commit(): Promise<void> {
    if (this.#committing !== undefined) {
      // Work acknowledged since that commit began is not in it: go again after.
      this.#commitAgain = true;
      return this.#committing;
    }
    this.#committing = this.#commit().finally(() => {
      this.#committing = undefined;
      if (this.#commitAgain) {
        this.#commitAgain = false;
        void this.commit();
      }
    });
    return this.#committing;
  }

  /**
   * After a failure that leaves acknowledged work as it was (a topic lost
   * while running): commits what is acknowledged, as a stop for memory does.
   * Commit points never pass work that is not acknowledged, so whatever
   * failed is read again after a restart.
   */
  async commitAcknowledged(): Promise<void> {
    await this.#committing;
    await this.#commit(true);
  }

  async #commit(afterFailure = false): Promise<void> {
    if (this.#options.transactions !== undefined) {
      // Exactly-once: after a failure nothing is committed; open transactions are aborted and read again.
      if (this.#failure === undefined) await this.#commitTransactions(this.#options.transactions);
      return;
    }
    if (this.#failure !== undefined && !afterFailure) return;
    // Step 1: aggregates and dead letters were sent as their windows closed;
    // their acknowledgements mark work done in each partition's tracker.
    // Step 2: per partition, the committable offset is the first offset of
    // the oldest work not yet acknowledged (or one past the last record).
    // (Event time: the last chunk boundary before any window not yet safely written, with its watermark.)
    const offsets: TopicPartitionOffset[] = [];
    const streams: [Stream, TopicPartitionOffset][] = [];
    for (const stream of this.#streams.values()) {
      const point = stream.commitPoint();
      if (point !== undefined) {
        offsets.push(point);
        streams.push([stream, point]);
      }
    }
    if (offsets.length === 0) return;
    // Step 3: commit those offsets (the next offset to read, as Kafka expects).
    try {
      await this.#options.committer.commit(offsets);
      this.#options.metrics.commits.inc({ result: 'ok' });
      for (const [stream, point] of streams) stream.committedUpTo(point);
    } catch (error) {
      // A rebalance makes commits fail until the group settles; the next commit retries.
      this.#options.metrics.commits.inc({ result: 'failed' });
      this.#options.logger.warn({ err: error }, 'offset commit failed; will retry');
    }
  }

  /**
   * Exactly-once commit. Quiesces (no batch in progress, idle closes held
   * back, filling event-time chunks sent to the workers) until nothing is
   * in flight: every closed window and dead letter acknowledged, in its
   * partition's open transaction. Then each partition's transaction commits
   * with its commit point, which passes every record whose output it holds:
   * an open count window's dead letters wait for the window, and event time
   * settles at the last record read. A read_committed reader therefore sees
   * each output once, and a replay writes none of it again.
   */
  async #commitTransactions(transactions: Transactions): Promise<void> {
    let release!: () => void;
    this.#quiescing = new Promise((resolve) => (release = resolve));
    try {
      await this.#inBatch;
      for (const stream of this.#streams.values()) if (stream instanceof EventStream) stream.close();
      for (;;) {
        if (this.#failure !== undefined) return;
        let pending = 0;
        for (const stream of this.#streams.values()) pending += stream.pendingWork;
        if (pending === 0) break;
        await sleep(DRAIN_POLL_MS);
      }
      const offsets: TopicPartitionOffset[] = [];
      const streams: [Stream, TopicPartitionOffset][] = [];
      for (const stream of this.#streams.values()) {
        if (stream instanceof EventStream) stream.settleRead();
        const point = stream.commitPoint();
        if (point === undefined) continue;
        offsets.push(point);
        streams.push([stream, point]);
      }
      if (offsets.length === 0) return;
      try {
        await transactions.commit(offsets);
      } catch (error) {
        this.#options.metrics.commits.inc({ result: 'failed' });
        this.#fail(error);
        return;
      }
      this.#options.metrics.commits.inc({ result: 'ok' });
      for (const [stream, point] of streams) stream.committedUpTo(point);
    } finally {
      this.#quiescing = undefined;
      release();
    }
  }

  /**
   * The group was rebalanced: the client reads every assigned partition again
   * from its committed offset, so all uncommitted state is dropped. Windows
   * re-formed from the same records have the same identity.
   */
  resetAssignment(): void {
    for (const stream of this.#streams.values()) stream.discard();
    this.#streams.clear();
    this.#fenced.clear();
    // Exactly-once: the open transactions go too; their records are read again by the partitions' owners.
    void this.#options.transactions?.abort().catch((error: unknown) => this.#fail(error));
  }

  /** Stops taking records; a batch in progress stops at its next wait. */
  async stopAccepting(): Promise<void> {
    this.#accepting = false;
    await this.#inBatch;
  }

  /**
   * Count windows: emits every open window as partial. Event time: sends the
   * open chunks to the workers; open windows stay unwritten, and whoever
   * reads the partitions next rebuilds them from the committed offsets.
   */
  closeAllWindows(closedBy: WindowCloseReason): void {
    for (const stream of this.#streams.values()) stream.close(closedBy);
  }

  /** Resolves true once every closed window and dead letter is acknowledged, false on timeout or failure. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = this.#ctx.now() + timeoutMs;
    for (;;) {
      if (this.#failure !== undefined) return false;
      let pending = 0;
      for (const stream of this.#streams.values()) pending += stream.pendingWork;
      if (pending === 0) return true;
      if (this.#ctx.now() >= deadline) return false;
      await sleep(DRAIN_POLL_MS);
    }
  }

  #stream(topic: string, partition: number): Stream {
    const key = `${topic}\u0000${partition}`;
    let stream = this.#streams.get(key);
    if (stream === undefined) {
      stream = this.#ctx.eventTime === undefined ? new PartitionStream(topic, partition, this.#ctx) : new EventStream(topic, partition, this.#ctx);
      this.#streams.set(key, stream);
    }
    return stream;
  }

  #fail(error: unknown): void {
    // A write dropped with its aborted transaction is read again by the partition's owner: not a failure.
    if (error instanceof TransactionAbortedError || (error instanceof Error && error.cause instanceof TransactionAbortedError)) return;
    if (this.#failure !== undefined) return;
    this.#failure = error ?? new Error('unknown pipeline failure');
    this.#failureListener?.(this.#failure);
  }
}
