/**
 * The columnar layout of one chunk in its SharedArrayBuffer, shared by the
 * main thread (which packs) and the workers (which aggregate). Columns are
 * placed widest first so every typed-array view is naturally aligned.
 *
 *   ts       Float64[capacity]   event time, epoch milliseconds
 *   lon      Float32[capacity]   longitude, degrees
 *   lat      Float32[capacity]   latitude, degrees
 *   device   Uint32[capacity]    index into the chunk's device dictionary
 *   readings Float32[readingColumns * capacity]
 *            column c starts at c * capacity; NaN marks a missing value
 */
export interface ChunkLayout {
  readonly capacity: number;
  readonly readingColumns: number;
  readonly tsOffset: number;
  readonly lonOffset: number;
  readonly latOffset: number;
  readonly deviceOffset: number;
  readonly readingsOffset: number;
  readonly byteLength: number;
}

export interface ChunkColumns {
  readonly ts: Float64Array;
  readonly lon: Float32Array;
  readonly lat: Float32Array;
  readonly device: Uint32Array;
  readonly readings: Float32Array;
}

export function chunkLayout(capacity: number, readingColumns: number): ChunkLayout {
  const tsOffset = 0;
  const lonOffset = tsOffset + capacity * Float64Array.BYTES_PER_ELEMENT;
  const latOffset = lonOffset + capacity * Float32Array.BYTES_PER_ELEMENT;
  const deviceOffset = latOffset + capacity * Float32Array.BYTES_PER_ELEMENT;
  const readingsOffset = deviceOffset + capacity * Uint32Array.BYTES_PER_ELEMENT;
  const byteLength = readingsOffset + readingColumns * capacity * Float32Array.BYTES_PER_ELEMENT;
  return { capacity, readingColumns, tsOffset, lonOffset, latOffset, deviceOffset, readingsOffset, byteLength };
}

export function chunkColumns(buffer: SharedArrayBuffer, layout: ChunkLayout): ChunkColumns {
  const { capacity } = layout;
  return {
    ts: new Float64Array(buffer, layout.tsOffset, capacity),
    lon: new Float32Array(buffer, layout.lonOffset, capacity),
    lat: new Float32Array(buffer, layout.latOffset, capacity),
    device: new Uint32Array(buffer, layout.deviceOffset, capacity),
    readings: new Float32Array(buffer, layout.readingsOffset, capacity * layout.readingColumns),
  };
}
