import type { Chunk } from '../chunks/chunk.js';
import type { PendingWork } from '../pipeline/offset-tracker.js';

/**
 * What closed a window. Only `count` closes a full window; the others emit a
 * partial one.
 */
export const WINDOW_CLOSE_REASONS = [
  /** CHUNK_SIZE records arrived. */
  'count',
  /** No record for WINDOW_IDLE_MS. */
  'idle',
  /** The chunk's byte region could not hold the next record. */
  'bytes_full',
  /** Every chunk was held by an open window; the oldest gave its chunk up. */
  'pool_exhausted',
  /** The service is stopping. */
  'shutdown',
] as const;

export type WindowCloseReason = (typeof WINDOW_CLOSE_REASONS)[number];

/**
 * A count window of one partition: consecutive records packed into one chunk.
 * Its identity (topic, partition, first and last offset) is the same when the
 * records are replayed, so downstream can de-duplicate.
 */
export class CountWindow {
  readonly topic: string;
  readonly partition: number;
  readonly chunk: Chunk;
  readonly firstOffset: number;
  lastOffset: number;
  /** When the last record was packed, for the idle timeout. */
  lastAppendAt: number;
  /** Tracks the window's records until its aggregate is acknowledged. */
  readonly work: PendingWork;

  constructor(topic: string, partition: number, chunk: Chunk, firstOffset: number, work: PendingWork, now: number) {
    this.topic = topic;
    this.partition = partition;
    this.chunk = chunk;
    this.firstOffset = firstOffset;
    this.lastOffset = firstOffset;
    this.lastAppendAt = now;
    this.work = work;
  }
}
