/** One unit of work that covers records from `firstOffset` on: a window or a dead-lettered record. */
export interface PendingWork {
  readonly firstOffset: number;
  done: boolean;
}

/**
 * Per partition: which offset may be committed. Work is tracked in the order
 * its first record arrived, so the committable offset is the first offset of
 * the oldest unfinished work, or one past the last record seen when all work
 * is finished. Nothing is committed that is not in an acked output.
 */
export class OffsetTracker {
  #queue: PendingWork[] = [];
  #head = 0;
  #nextOffset: number | undefined;

  /** Starts tracking work whose first record is at `firstOffset`. */
  open(firstOffset: number): PendingWork {
    const work: PendingWork = { firstOffset, done: false };
    this.#queue.push(work);
    return work;
  }

  /** Every record up to and including `offset` belongs to tracked work. */
  seen(offset: number): void {
    this.#nextOffset = offset + 1;
  }

  /** Work not yet done. */
  get pending(): number {
    // Done work stays queued until committable() passes it, so count, not subtract.
    let pending = 0;
    for (let i = this.#head; i < this.#queue.length; i++) if (!this.#queue[i]!.done) pending++;
    return pending;
  }

  /** The offset to commit (the next record to read), or undefined before any record. */
  committable(): number | undefined {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head]!.done) this.#head++;
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
      return this.#nextOffset;
    }
    if (this.#head > 1024) {
      // Drop finished work from the front now and then instead of shifting on every call.
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    return this.#queue[this.#head]!.firstOffset;
  }
}
