import { ChunkPoolError } from '../errors.js';
import { Chunk } from './chunk.js';

/**
 * A fixed set of chunks, all allocated up front: memory for records in
 * flight is bounded by `size`, never by the input. When none is free the
 * caller waits for a release (backpressure); the pool never grows.
 */
export class ChunkPool {
  readonly size: number;
  readonly chunkBytes: number;
  readonly #free: Chunk[];
  readonly #inUse = new Set<Chunk>();
  #released: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(size: number, capacity: number, byteCapacity: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk pool size must be a positive integer, got ${size}`);
    this.size = size;
    this.#free = Array.from({ length: size }, (_, id) => new Chunk(id, capacity, byteCapacity));
    this.chunkBytes = this.#free[0]!.layout.byteLength;
  }

  get free(): number {
    return this.#free.length;
  }

  get inUse(): number {
    return this.#inUse.size;
  }

  /** A free, empty chunk, or undefined when all are in use. */
  acquire(): Chunk | undefined {
    const chunk = this.#free.pop();
    if (chunk !== undefined) this.#inUse.add(chunk);
    return chunk;
  }

  /** Returns a chunk for reuse; its rows are discarded. */
  release(chunk: Chunk): void {
    if (!this.#inUse.delete(chunk)) {
      throw new ChunkPoolError(`chunk ${chunk.id} released but it is not in use from this pool`);
    }
    chunk.reset();
    this.#free.push(chunk);
    const released = this.#released;
    this.#released = undefined;
    released?.resolve();
  }

  /** Resolves at the next release; every waiter wakes and tries `acquire` again. */
  whenReleased(): Promise<void> {
    if (this.#released === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#released = { promise, resolve };
    }
    return this.#released.promise;
  }
}
