import {
  chunkLayout,
  chunkViews,
  INDEX_SLOTS,
  KEY_LENGTH,
  KEY_START,
  VALUE_LENGTH,
  VALUE_START,
  type ChunkLayout,
  type ChunkViews,
} from '../protocol/chunk-layout.js';
import { copyHeaders } from '../pipeline/headers.js';
import type { Headers } from '../pipeline/records.js';

/** What happened to a record offered to a chunk. */
export type AppendResult =
  | 'appended'
  /** The chunk's byte region cannot hold this record; close it and retry in an empty one. */
  | 'bytes_full';

/**
 * One preallocated chunk (see protocol/chunk-layout.ts): the fetched records'
 * keys and values copied back to back into shared memory for a worker to
 * decode, plus what only the main thread needs to dead-letter a row (its
 * offset, timestamp and headers). A chunk belongs to its pool for the life of
 * the process.
 */
export class Chunk {
  readonly id: number;
  readonly layout: ChunkLayout;
  readonly buffer: SharedArrayBuffer;
  readonly views: ChunkViews;
  #count = 0;
  #bytesUsed = 0;
  readonly #offsets: Float64Array;
  readonly #timestamps: Float64Array;
  /** Headers by row, only for rows that have any (most sensor records have none). */
  readonly #headers = new Map<number, Headers>();

  constructor(id: number, capacity: number, byteCapacity: number) {
    this.id = id;
    this.layout = chunkLayout(capacity, byteCapacity);
    this.buffer = new SharedArrayBuffer(this.layout.byteLength);
    this.views = chunkViews(this.buffer, this.layout);
    this.#offsets = new Float64Array(capacity);
    this.#timestamps = new Float64Array(capacity);
  }

  get count(): number {
    return this.#count;
  }

  get full(): boolean {
    return this.#count === this.layout.capacity;
  }

  /**
   * Copies one record into the next row. `bytes_full` (nothing copied) when
   * the byte region cannot hold it; the caller sizes the region so that any
   * record it accepts fits in an empty chunk.
   */
  append(key: Buffer | null, value: Buffer | null, headers: Headers | undefined, offset: number, timestamp: number): AppendResult {
    const row = this.#count;
    if (row === this.layout.capacity) throw new RangeError(`chunk ${this.id} is full (${row} rows)`);
    const keyLength = key === null ? 0 : key.length;
    const valueLength = value === null ? 0 : value.length;
    let at = this.#bytesUsed;
    if (at + keyLength + valueLength > this.layout.byteCapacity) return 'bytes_full';
    const { index, bytes } = this.views;
    const slot = row * INDEX_SLOTS;
    index[slot + VALUE_START] = at;
    index[slot + VALUE_LENGTH] = value === null ? -1 : valueLength;
    if (value !== null) {
      bytes.set(value, at);
      at += valueLength;
    }
    index[slot + KEY_START] = at;
    index[slot + KEY_LENGTH] = key === null ? -1 : keyLength;
    if (key !== null) {
      bytes.set(key, at);
      at += keyLength;
    }
    this.#bytesUsed = at;
    this.#offsets[row] = offset;
    this.#timestamps[row] = timestamp;
    if (headers !== undefined) {
      for (const _name in headers) {
        // Copied: header buffers are slices of the fetched batch and would keep it alive.
        this.#headers.set(row, copyHeaders(headers));
        break;
      }
    }
    this.#count = row + 1;
    return 'appended';
  }

  /** Source offset of a row. */
  offsetAt(row: number): number {
    return this.#offsets[row]!;
  }

  /** Source timestamp of a row (epoch milliseconds, as the broker gave it). */
  timestampAt(row: number): number {
    return this.#timestamps[row]!;
  }

  headersAt(row: number): Headers | undefined {
    return this.#headers.get(row);
  }

  /** A copy of a row's value (null for a tombstone). */
  valueAt(row: number): Buffer | null {
    return this.#copy(row * INDEX_SLOTS + VALUE_START);
  }

  /** A copy of a row's key. */
  keyAt(row: number): Buffer | null {
    return this.#copy(row * INDEX_SLOTS + KEY_START);
  }

  #copy(slot: number): Buffer | null {
    const { index, bytes } = this.views;
    const start = index[slot]!;
    const length = index[slot + 1]!;
    return length < 0 ? null : Buffer.from(bytes.subarray(start, start + length));
  }

  /** Whether any row has this key (a linear scan: for the test hook only). */
  hasKey(key: string): boolean {
    const wanted = Buffer.from(key);
    for (let row = 0; row < this.#count; row++) {
      const k = this.keyAt(row);
      if (k !== null && k.equals(wanted)) return true;
    }
    return false;
  }

  /** Empties the chunk for reuse; only its pool calls this. */
  reset(): void {
    this.#headers.clear();
    this.#bytesUsed = 0;
    this.#count = 0;
  }
}
