/**
 * The layout of one chunk in its SharedArrayBuffer, shared by the main
 * thread (which copies fetched records in) and the workers (which decode and
 * aggregate them). The main thread never parses a record: it copies bytes,
 * and the workers, in parallel, do the rest.
 *
 *   times  Float64[capacity]     per row: the event time the worker read
 *                                (event-time windows; NaN for a row it did
 *                                not fold), for the main thread's late check
 *   index  Int32[capacity * 4]   per row: value start, value length,
 *                                key start, key length (-1: no key)
 *   bytes  Uint8[byteCapacity]   the rows' values and keys, back to back
 */
export interface ChunkLayout {
  readonly capacity: number;
  readonly byteCapacity: number;
  readonly timesOffset: number;
  readonly indexOffset: number;
  readonly bytesOffset: number;
  readonly byteLength: number;
}

/** Int32 slots per row in the index. */
export const INDEX_SLOTS = 4;
export const VALUE_START = 0;
export const VALUE_LENGTH = 1;
export const KEY_START = 2;
export const KEY_LENGTH = 3;

export interface ChunkViews {
  readonly times: Float64Array;
  readonly index: Int32Array;
  readonly bytes: Uint8Array;
}

export function chunkLayout(capacity: number, byteCapacity: number): ChunkLayout {
  // Float64 first keeps it 8-byte aligned.
  const timesOffset = 0;
  const indexOffset = timesOffset + capacity * Float64Array.BYTES_PER_ELEMENT;
  const bytesOffset = indexOffset + capacity * INDEX_SLOTS * Int32Array.BYTES_PER_ELEMENT;
  return { capacity, byteCapacity, timesOffset, indexOffset, bytesOffset, byteLength: bytesOffset + byteCapacity };
}

export function chunkViews(buffer: SharedArrayBuffer, layout: ChunkLayout): ChunkViews {
  return {
    times: new Float64Array(buffer, layout.timesOffset, layout.capacity),
    index: new Int32Array(buffer, layout.indexOffset, layout.capacity * INDEX_SLOTS),
    bytes: new Uint8Array(buffer, layout.bytesOffset, layout.byteCapacity),
  };
}
