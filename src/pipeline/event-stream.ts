import type { Chunk } from '../chunks/chunk.js';
import type { DeadLetterReason } from '../decode/reasons.js';
import { WorkerTaskError } from '../errors.js';
import { aggregateV2Key, timeWindowRecord } from '../output/aggregate-v2.js';
import type { BadRow, EventChunkResult } from '../protocol/messages.js';
import { lastWindowEnd } from '../shared/windows/assign.js';
import { Boundaries, decodeCheckpoint, encodeCheckpoint } from '../windows/checkpoint.js';
import type { KeyState, TimeCloseReason, TimeWindow } from '../windows/time-window.js';
import { WindowStore, type ClosedWindow } from '../windows/window-store.js';
import { chunkRowDeadLetter, deadLetterRecord } from './dead-letter.js';
import { sendDeadLetter } from './dead-letter-sender.js';
import { decimalStringToNumber } from './decimal-string.js';
import { OffsetTracker, type PendingWork } from './offset-tracker.js';
import type { SourceRecord, TopicPartitionOffset } from './records.js';
import type { EventTimeSettings, StreamContext } from './stream-context.js';

/** A window closed since the last settled checkpoint: its first record, end, the boundary it closed at, and whether it is written. */
interface ClosedEntry {
  readonly firstOffset: number;
  readonly end: number;
  readonly closedAt: number;
  acknowledged: boolean;
}

/** A closed window being written, a slice of keys at a time. */
interface Emission {
  readonly window: TimeWindow;
  readonly closedBy: TimeCloseReason;
  readonly entry: ClosedEntry;
  /** The window's keys; each is forgotten once its aggregate is built, so a closing window frees its state as it is written. */
  readonly keys: Iterator<KeyState>;
  readonly emittedAt: number;
  /** Estimated bytes of the keys not yet written (StateBudget.closingBytes). */
  closingBytes: number;
  /** Aggregates sent and not yet acknowledged. */
  outstanding: number;
  sent: number;
  /** Records counted under the first KEY_BY kind. */
  records: number;
  allSent: boolean;
}

/** A chunk of this partition: filling, or sent to a worker and waiting to be merged in offset order. */
interface ChunkInFlight {
  readonly chunk: Chunk;
  readonly firstOffset: number;
  lastOffset: number;
  lastAppendAt: number;
  /** Done once the chunk is merged and its dead letters are acknowledged. */
  readonly work: PendingWork;
  /** Leading rows the previous owner settled (see EventTask.settledRows). */
  settledRows: number;
  result: EventChunkResult | WorkerTaskError | undefined;
}

/**
 * One assigned partition under event-time windows. Chunks are units of
 * work: copied, folded by a worker into partials per (window, key), merged
 * here in offset order into the partition's open windows. The watermark
 * closes windows; their aggregates are written; offsets are committed only
 * where a replay rebuilds every window still open (see commitPoint).
 */
export class EventStream {
  readonly topic: string;
  readonly partition: number;
  /** The last offset committed for this partition (the next offset to read). */
  committed: number | undefined;
  /** Wall-clock time of the last record read, for the idle-partition check. */
  lastRecordAt: number;
  readonly #ctx: StreamContext;
  readonly #settings: EventTimeSettings;
  readonly #tracker = new OffsetTracker();
  readonly #boundaries = new Boundaries();
  readonly #chunks: ChunkInFlight[] = [];
  /** Windows closed since the last checkpoint settled (see commitPoint), acknowledged or not. */
  #closedSince: ClosedEntry[] = [];
  /** Closed windows being written, oldest first. */
  readonly #emissions: Emission[] = [];
  #open: ChunkInFlight | undefined;
  #store: WindowStore | undefined;
  #restoring: Promise<void> | undefined;
  /** Records before this offset were settled by the previous owner: they count only in windows ending after the restored watermark. */
  #settledTo = 0;
  #nextOffset: number | undefined;
  /** The boundary after the last merged chunk (or where reading started): where an advance between chunks lands. */
  #mergedUpTo = 0;
  #committedMetadata: string | undefined;
  #discarded = false;

  constructor(topic: string, partition: number, ctx: StreamContext) {
    this.topic = topic;
    this.partition = partition;
    this.#ctx = ctx;
    this.#settings = ctx.eventTime!;
    this.lastRecordAt = ctx.now();
  }

  /**
   * Before the first record after an assignment: read the watermark committed
   * with the offset reading starts from, so the replay judges every record as
   * the first reading did.
   */
  prepare(firstOffset: number): Promise<void> {
    this.#restoring ??= this.#settings.checkpoints.committedMetadata(this.topic, this.partition).then(
      (metadata) => {
        const { watermark, settledTo } = decodeCheckpoint(metadata);
        this.#store = new WindowStore(this.#settings.caps, this.#settings.budget, watermark);
        this.#settledTo = settledTo;
        // Where reading starts or where the previous owner had settled, whichever is later, is settled already.
        this.#mergedUpTo = Math.max(firstOffset, settledTo);
        this.#boundaries.mark(this.#mergedUpTo, watermark);
      },
      (error: unknown) => {
        this.#restoring = undefined;
        throw error;
      },
    );
    return this.#restoring;
  }

  get openChunk(): { readonly lastAppendAt: number } | undefined {
    return this.#open;
  }

  get discarded(): boolean {
    return this.#discarded;
  }

  get watermark(): number {
    return this.#store?.watermark ?? Number.NEGATIVE_INFINITY;
  }

  get store(): WindowStore | undefined {
    return this.#store;
  }

  /** The next offset to read, once a record was read. */
  get nextOffset(): number | undefined {
    return this.#nextOffset;
  }

  /** Chunks not yet merged, dead letters and aggregates not yet acknowledged (the open chunk aside). */
  get pendingWork(): number {
    let unacknowledged = 0;
    for (const entry of this.#closedSince) if (!entry.acknowledged) unacknowledged++;
    return this.#tracker.pending - (this.#open === undefined ? 0 : 1) + unacknowledged;
  }

  open(chunk: Chunk, offset: number): void {
    this.#open = {
      chunk,
      firstOffset: offset,
      lastOffset: offset,
      lastAppendAt: this.#ctx.now(),
      work: this.#tracker.open(offset),
      settledRows: 0,
      result: undefined,
    };
  }

  /** Copies a record into the open chunk; false (nothing copied) when its bytes are full. A full chunk goes to a worker. */
  append(record: SourceRecord, offset: number, now: number): boolean {
    const open = this.#open!;
    if (open.chunk.append(record.key, record.value, record.headers, offset, decimalStringToNumber(record.timestamp)) === 'bytes_full') return false;
    open.lastOffset = offset;
    open.lastAppendAt = now;
    this.lastRecordAt = now;
    this.#seen(offset);
    if (open.chunk.full) this.close();
    return true;
  }

  /** A record dead-lettered before it reaches a chunk (too large to copy). */
  deadLetter(record: SourceRecord, offset: number, reason: DeadLetterReason, detail: string): void {
    this.#seen(offset);
    this.lastRecordAt = this.#ctx.now();
    if (offset < this.#settledTo) {
      // The previous owner dead-lettered it before its checkpoint, and that was acknowledged.
      this.#ctx.metrics.settledSkipped.inc();
      return;
    }
    const work = this.#tracker.open(this.#open?.firstOffset ?? offset);
    void sendDeadLetter(this.#ctx, deadLetterRecord(record, this.topic, this.partition, reason, detail), reason, this).then((acked) => {
      work.done = acked;
    });
  }

  /**
   * Exactly-once, at a commit with nothing in flight: everything read is
   * settled, so the checkpoint passes the last record read (a trailing dead
   * letter included) and a replay writes none of it again.
   */
  settleRead(): void {
    if (this.#nextOffset === undefined || this.#open !== undefined || this.#chunks.length > 0 || this.#tracker.pending > 0) return;
    this.#boundaries.mark(this.#nextOffset, this.watermark);
  }

  #seen(offset: number): void {
    this.#tracker.seen(offset);
    this.#nextOffset = offset + 1;
  }

  /** Sends the open chunk, if any, to a worker (whatever the reason: a chunk is only a unit of work, windows close by the watermark). */
  close(): void {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    this.#chunks.push(open);
    const { aggregator, metrics, maxReadings } = this.#ctx;
    const { chunk } = open;
    let settledRows = 0;
    while (settledRows < chunk.count && chunk.offsetAt(settledRows) < this.#settledTo) settledRows++;
    open.settledRows = settledRows;
    const endTimer = metrics.aggregationSeconds.startTimer();
    aggregator
      .fold({
        kind: 'event',
        buffer: chunk.buffer,
        capacity: chunk.layout.capacity,
        byteCapacity: chunk.layout.byteCapacity,
        count: chunk.count,
        maxReadings,
        window: this.#settings.window,
        keys: { ...this.#settings.keys, partition: this.partition },
        watermark: this.watermark,
        settledRows,
      })
      .then(
        (result) => {
          endTimer();
          open.result = result;
          this.#mergeReady();
        },
        (error: unknown) => {
          endTimer();
          if (!(error instanceof WorkerTaskError)) {
            this.#ctx.fail(error);
            return;
          }
          open.result = error;
          this.#mergeReady();
        },
      );
  }

  /** Merges the folded chunks at the head of the queue, in offset order. */
  #mergeReady(): void {
    while (this.#chunks.length > 0 && this.#chunks[0]!.result !== undefined) {
      const next = this.#chunks.shift()!;
      if (this.#discarded) {
        this.#ctx.pool.release(next.chunk);
        continue;
      }
      const { result } = next;
      if (result instanceof WorkerTaskError) this.#deadLetterChunk(next, result);
      else this.#merge(next, result!);
    }
  }

  /**
   * Step 1: rows late against the watermark of earlier chunks (still in
   * flight when this one was sent) are found from the event times the worker
   * wrote. Step 2: the partials of windows still open are merged. Step 3: the
   * watermark moves to the chunk's largest event time minus the grace and
   * closes the windows it reaches; a cap hit closes the oldest early. Step 4:
   * the bad and late rows are dead-lettered and the chunk is released.
   * Step 5: the closed windows are written.
   */
  #merge(next: ChunkInFlight, result: EventChunkResult): void {
    const store = this.#store!;
    const { chunk } = next;
    const { metrics } = this.#ctx;
    const spec = this.#settings.window;
    const before = store.watermark;
    const late: BadRow[] = [];
    if (result.minLastEnd <= before) {
      const { times } = chunk.views;
      // Settled rows were written by the previous owner: they never count as late twice.
      for (let row = next.settledRows; row < chunk.count; row++) {
        const ts = times[row]!;
        const end = lastWindowEnd(ts, spec);
        if (end <= before) late.push({ row, reason: 'late', detail: `its window ending ${end} had closed at watermark ${before}` });
      }
    }
    const dropped = store.merge(result.partials, (row) => chunk.offsetAt(row)) + result.readingsDropped;
    if (dropped > 0) metrics.readingsDropped.inc(dropped);
    if (result.unzoned > 0) metrics.unzoned.inc(result.unzoned);
    if (result.lateAssignments > 0) metrics.lateAssignments.inc(result.lateAssignments);
    if (result.settledSkipped > 0) metrics.settledSkipped.inc(result.settledSkipped);
    const closed = store.advance(result.maxTs - spec.graceMs, 'watermark');
    closed.push(...this.closeForCaps());
    this.#mergedUpTo = Math.max(this.#mergedUpTo, next.lastOffset + 1);
    this.#boundaries.mark(this.#mergedUpTo, store.watermark);

    const rows: BadRow[] = [];
    for (const bad of result.bad) {
      if (bad.reason === 'late') late.push(bad);
      else rows.push(bad);
    }
    if (late.length > 0) metrics.recordsLate.inc({ partition: String(this.partition) }, late.length);
    if (this.#settings.deadLetterLate) rows.push(...late);
    this.#finishChunk(next, rows);
    this.#emit(closed);
  }

  /** Closes the oldest windows while a per-partition cap is passed; counts each hit. */
  closeForCaps(): ClosedWindow[] {
    const store = this.#store;
    if (store === undefined) return [];
    const closed: ClosedWindow[] = [];
    for (let cap = store.capHit(); cap !== undefined; cap = store.capHit()) {
      this.#ctx.metrics.windowCapHits.inc({ cap });
      closed.push(...store.closeOldest());
    }
    return closed;
  }

  /**
   * Emits early every open window ending at or before `end` (the oldest end
   * of all partitions): the window-state budget is exceeded, or the memory
   * guard sheds. Returns the windows closed.
   */
  closeEarlyUpTo(end: number, cap: 'state_bytes' | 'memory'): number {
    const store = this.#store;
    if (store === undefined) return 0;
    const closed = store.closeUpTo(end);
    if (closed.length === 0) return 0;
    this.#ctx.metrics.windowCapHits.inc({ cap });
    this.#advanceBetweenChunks(closed);
    return closed.length;
  }

  /** Sends the chunk's bad rows to the dead-letter topic; the chunk's work is done once they are acknowledged. */
  #finishChunk(next: ChunkInFlight, rows: readonly BadRow[]): void {
    const sends: Promise<boolean>[] = [];
    for (const { row, reason, detail } of rows) {
      sends.push(sendDeadLetter(this.#ctx, chunkRowDeadLetter(next.chunk, row, this.topic, this.partition, reason, detail), reason, this));
    }
    this.#ctx.pool.release(next.chunk);
    void Promise.all(sends).then((acked) => {
      if (acked.every(Boolean)) next.work.done = true;
    });
  }

  /** The chunk's worker failed twice: every row goes to the dead-letter topic, and the stream goes on. */
  #deadLetterChunk(next: ChunkInFlight, error: WorkerTaskError): void {
    const reason: DeadLetterReason = error.outOfMemory ? 'worker_out_of_memory' : 'aggregation_failed';
    const rows = Array.from({ length: next.chunk.count }, (_, row) => ({ row, reason, detail: error.message }));
    this.#mergedUpTo = Math.max(this.#mergedUpTo, next.lastOffset + 1);
    this.#boundaries.mark(this.#mergedUpTo, this.watermark);
    this.#finishChunk(next, rows);
  }

  /**
   * The partition was read to its end and nothing came for IDLE_PARTITION_MS:
   * the wall clock stands in for event time, so its windows do not hang open.
   * Only between chunks (none open or being folded), so the advance lands on
   * a boundary and is committed with it.
   */
  advanceIdle(now: number): number {
    if (this.#store === undefined || this.#open !== undefined || this.#chunks.length > 0) return 0;
    const closed = this.#store.advance(now - this.#settings.window.graceMs, 'idle');
    this.#advanceBetweenChunks(closed);
    return closed.length;
  }

  get idle(): boolean {
    return this.#store !== undefined && this.#store.openCount > 0 && this.#open === undefined && this.#chunks.length === 0;
  }

  #advanceBetweenChunks(closed: ClosedWindow[]): void {
    if (closed.length === 0) return;
    // After every merged chunk and before any later one: a later chunk is judged against the new watermark when it merges.
    this.#boundaries.mark(this.#mergedUpTo, this.watermark);
    this.#emit(closed);
  }

  /** Queues one aggregate per key of every closed window; the window stops holding commits back once all are acknowledged. */
  #emit(closed: readonly ClosedWindow[]): void {
    for (const { window, closedBy } of closed) {
      const entry: ClosedEntry = { firstOffset: window.firstOffset, end: window.end, closedAt: this.#mergedUpTo, acknowledged: false };
      this.#closedSince.push(entry);
      this.#emissions.push({
        window,
        closedBy,
        entry,
        keys: window.keyStates(),
        emittedAt: this.#ctx.now(),
        closingBytes: window.bytes,
        outstanding: 0,
        sent: 0,
        records: 0,
        allSent: false,
      });
    }
    this.pump();
    this.#ctx.stateChanged();
  }

  /** Closed windows whose aggregates are not all sent yet. */
  get queuedWindows(): number {
    return this.#emissions.length;
  }

  /**
   * Writes the queued aggregates, oldest window first, while the bytes in
   * flight are under the limit: a window of 40,000 keys closing at once would
   * otherwise build and hold all of its records together.
   */
  pump(): void {
    const { sink, outputTopic, fail, inFlight, outputBytesLimit } = this.#ctx;
    const { window: spec, keys: keying, budget } = this.#settings;
    const firstKind = keying.by[0];
    while (this.#emissions.length > 0 && inFlight.outputBytes < outputBytesLimit) {
      const emission = this.#emissions[0]!;
      const next = emission.keys.next();
      if (next.done === true) {
        emission.allSent = true;
        this.#emissions.shift();
        this.#finishEmission(emission);
        continue;
      }
      const key = next.value;
      const record = timeWindowRecord(spec.kind, emission.window, key, emission.closedBy, this.topic, this.partition, emission.emittedAt);
      const value = JSON.stringify(record);
      emission.window.forget(key);
      emission.closingBytes -= key.bytes;
      budget.closingBytes -= key.bytes;
      const bytes = value.length;
      inFlight.outputBytes += bytes;
      emission.outstanding++;
      emission.sent++;
      if (key.by === firstKind) emission.records += record.count;
      sink.send(outputTopic, { key: aggregateV2Key(record), value }, this).then(
        () => {
          inFlight.outputBytes -= bytes;
          emission.outstanding--;
          this.#finishEmission(emission);
          this.#ctx.pumpOutputs();
        },
        (error: unknown) => fail(error),
      );
    }
  }

  #finishEmission(emission: Emission): void {
    if (!emission.allSent || emission.outstanding > 0 || emission.entry.acknowledged) return;
    emission.entry.acknowledged = true;
    const { metrics, now, requestCommit } = this.#ctx;
    const ackedAt = now();
    metrics.windowsEmitted.inc({ closed_by: emission.closedBy }, 1);
    metrics.aggregatesWritten.inc(emission.sent);
    metrics.recordsAggregated.inc(emission.records);
    metrics.windowLatency.observe((ackedAt - emission.emittedAt) / 1000);
    metrics.windowClosingBytes.set(this.#settings.budget.closingBytes);
    metrics.endToEndLatency.observe(Math.max(0, ackedAt - emission.window.end) / 1000);
    requestCommit();
  }

  /**
   * Where this partition may commit, and the checkpoint to commit with it
   * (see windows/checkpoint.ts). The checkpoint settles at the latest
   * boundary P before which every chunk is merged, every dead letter is
   * acknowledged and every window closed by P is acknowledged; its watermark
   * W is the watermark at P. The offset is the first record of any window
   * ending after W (open, or closed after P), else P: a replay from there
   * rebuilds those windows from all of their records.
   */
  commitPoint(): TopicPartitionOffset | undefined {
    const pending = this.#tracker.committable();
    if (pending === undefined || this.#store === undefined) return undefined;
    let settleBefore = pending;
    let inclusive = true;
    for (const entry of this.#closedSince) {
      if (!entry.acknowledged && entry.closedAt <= settleBefore) {
        settleBefore = entry.closedAt;
        inclusive = false;
      }
    }
    const settled = this.#boundaries.latestBefore(settleBefore, inclusive);
    if (settled === undefined) return undefined;
    let offset = Math.min(settled.offset, this.#store.firstOpenOffset);
    for (const entry of this.#closedSince) {
      if (entry.end > settled.watermark && entry.firstOffset < offset) offset = entry.firstOffset;
    }
    this.#boundaries.dropBefore(settled.offset);
    this.#closedSince = this.#closedSince.filter((entry) => !entry.acknowledged || entry.closedAt > settled.offset);
    const metadata = encodeCheckpoint({ watermark: settled.watermark, settledTo: settled.offset });
    if (this.committed === offset && metadata === this.#committedMetadata) return undefined;
    return { topic: this.topic, partition: this.partition, offset, ...(metadata === undefined ? {} : { metadata }) };
  }

  committedUpTo(point: TopicPartitionOffset): void {
    this.committed = point.offset;
    this.#committedMetadata = point.metadata;
  }

  /**
   * Forgets this partition (revoked, or read again after a rebalance): open
   * windows and chunks are dropped unwritten; whoever reads the partition
   * next rebuilds them from the committed offset and its watermark.
   */
  discard(): void {
    this.#discarded = true;
    const open = this.#open;
    this.#open = undefined;
    if (open !== undefined) this.#ctx.pool.release(open.chunk);
    // Windows not yet written are dropped with the rest: the next owner rebuilds and writes them.
    for (const emission of this.#emissions) this.#settings.budget.closingBytes -= emission.closingBytes;
    this.#emissions.length = 0;
    this.#store?.clear();
    this.#mergeReady();
  }
}
