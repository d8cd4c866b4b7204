import { describe, expect, it } from 'vitest';
import { Chunk } from '../../src/chunks/chunk.js';
import { ChunkPool } from '../../src/chunks/chunk-pool.js';
import { ChunkPoolError } from '../../src/errors.js';
import { chunkColumns, chunkLayout, type ChunkColumns } from '../../src/protocol/chunk-layout.js';
import { decoded, isSettled } from './helpers.js';

/** Views over a chunk's buffer built from the layout alone, as a worker builds them. */
function viewsOf(chunk: Chunk): ChunkColumns {
  return chunkColumns(chunk.buffer, chunkLayout(chunk.layout.capacity, chunk.layout.readingColumns));
}

/** Reading column `name` of a chunk, rows 0..capacity-1. */
function readingColumn(chunk: Chunk, name: string): number[] {
  const column = chunk.readingNames.indexOf(name);
  expect(column, `column ${name}`).toBeGreaterThanOrEqual(0);
  const { capacity } = chunk.layout;
  return Array.from(viewsOf(chunk).readings.subarray(column * capacity, (column + 1) * capacity));
}

function acquireAll(pool: ChunkPool): Chunk[] {
  const chunks: Chunk[] = [];
  for (let chunk = pool.acquire(); chunk !== undefined; chunk = pool.acquire()) chunks.push(chunk);
  return chunks;
}

function misuse(action: () => void): ChunkPoolError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ChunkPoolError);
    expect((error as ChunkPoolError).code).toBe('GW_CHUNK_POOL_MISUSE');
    return error as ChunkPoolError;
  }
  throw new Error('expected a ChunkPoolError');
}

describe('ChunkPool', () => {
  it('hands out at most `size` distinct chunks, then undefined', () => {
    const pool = new ChunkPool(3, 4, 2);
    expect([pool.free, pool.inUse]).toEqual([3, 0]);
    const chunks = acquireAll(pool);
    expect(chunks).toHaveLength(3);
    expect(new Set(chunks).size).toBe(3);
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(3);
    expect([pool.free, pool.inUse]).toEqual([0, 3]);
    expect(pool.acquire()).toBeUndefined();
    expect(pool.acquire()).toBeUndefined();
    expect([pool.free, pool.inUse]).toEqual([0, 3]);
  });

  it('reuses a chunk only after it is released', () => {
    const pool = new ChunkPool(2, 4, 2);
    const [a, b] = acquireAll(pool) as [Chunk, Chunk];
    expect(pool.acquire()).toBeUndefined();
    pool.release(b);
    expect([pool.free, pool.inUse]).toEqual([1, 1]);
    expect(pool.acquire()).toBe(b);
    expect(pool.acquire()).toBeUndefined();
    pool.release(a);
    pool.release(b);
    expect([pool.free, pool.inUse]).toEqual([2, 0]);
  });

  it('gives a released chunk back empty: no rows, no names, no devices, readings NaN again', () => {
    const pool = new ChunkPool(1, 3, 2);
    const chunk = pool.acquire()!;
    chunk.append(decoded({ deviceId: 'a', lon: 1, lat: 2, readings: { temp: 20, hum: 50 } }), 0);
    chunk.append(decoded({ deviceId: 'b', lon: 3, lat: 4, readings: { temp: 21 } }), 0);
    chunk.append(decoded({ deviceId: 'a', lon: 5, lat: 6, readings: { hum: 55 } }), 0);
    expect(chunk.full).toBe(true);
    pool.release(chunk);

    const again = pool.acquire()!;
    expect(again).toBe(chunk);
    expect(again.count).toBe(0);
    expect(again.full).toBe(false);
    expect(again.readingNames).toEqual([]);
    expect(again.deviceCount).toBe(0);
    expect(Array.from(viewsOf(again).readings).every(Number.isNaN)).toBe(true);

    // Reading names and devices start over: the first new ones get column and index 0.
    again.append(decoded({ deviceId: 'z', lon: 0, lat: 0, readings: { pressure: 1000 } }), 0);
    again.append(decoded({ deviceId: 'z', lon: 0, lat: 0 }), 0);
    again.append(decoded({ deviceId: 'a', lon: 0, lat: 0 }), 0);
    expect(again.readingNames).toEqual(['pressure']);
    expect(Array.from(viewsOf(again).device)).toEqual([0, 0, 1]);
    expect(again.deviceCount).toBe(2);
    expect(readingColumn(again, 'pressure')).toEqual([1000, NaN, NaN]);
  });

  it('throws GW_CHUNK_POOL_MISUSE when a chunk is released twice, and stays consistent', () => {
    const pool = new ChunkPool(2, 4, 2);
    const chunk = pool.acquire()!;
    pool.release(chunk);
    const error = misuse(() => pool.release(chunk));
    expect(error.message).toContain(`chunk ${chunk.id}`);
    // The second release must not have put the chunk in the free list twice.
    expect([pool.free, pool.inUse]).toEqual([2, 0]);
    expect(acquireAll(pool)).toHaveLength(2);
  });

  it('throws GW_CHUNK_POOL_MISUSE for a chunk of another pool or of no pool', () => {
    const pool = new ChunkPool(2, 4, 2);
    const other = new ChunkPool(2, 4, 2);
    const foreign = other.acquire()!;
    misuse(() => pool.release(foreign));
    misuse(() => pool.release(new Chunk(0, 4, 2)));
    expect([pool.free, pool.inUse]).toEqual([2, 0]);
    expect([other.free, other.inUse]).toEqual([1, 1]);
  });

  it('rejects a size that is not a positive integer', () => {
    expect(() => new ChunkPool(0, 4, 2)).toThrow(RangeError);
    expect(() => new ChunkPool(1.5, 4, 2)).toThrow(RangeError);
  });

  it('reports the bytes of one chunk: 20 bytes a row plus 4 per reading cell', () => {
    // ts float64 (8) + lon float32 (4) + lat float32 (4) + device uint32 (4) per row.
    const pool = new ChunkPool(2, 100, 3);
    expect(pool.chunkBytes).toBe(100 * 20 + 3 * 100 * 4);
    expect(pool.acquire()!.buffer.byteLength).toBe(pool.chunkBytes);
  });

  it('whenReleased resolves at the next release, not before', async () => {
    const pool = new ChunkPool(1, 4, 2);
    const chunk = pool.acquire()!;
    const first = pool.whenReleased();
    const second = pool.whenReleased();
    expect(await isSettled(first)).toBe(false);
    pool.release(chunk);
    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toBeUndefined();

    // A wait begun after that release waits for the following one.
    pool.acquire();
    const later = pool.whenReleased();
    expect(await isSettled(later)).toBe(false);
    pool.release(chunk);
    expect(await isSettled(later)).toBe(true);
  });
});

describe('Chunk.append', () => {
  it('packs each reading into its row of the shared columns', () => {
    const chunk = new Chunk(0, 4, 3);
    const rows = [
      decoded({ deviceId: 'north', ts: 1_717_243_200_123, lon: 8.5417, lat: 47.3769 }),
      decoded({ deviceId: 'south', ts: 1_717_243_201_456, lon: -70.6693, lat: -33.4489 }),
      decoded({ deviceId: 'north', ts: 1_717_243_202_789, lon: 179.99999, lat: -89.5 }),
    ];
    for (const row of rows) expect(chunk.append(row, 0)).toBe('appended');
    expect(chunk.count).toBe(3);

    const views = viewsOf(chunk);
    // Coordinates are float32: they read back as the float32 nearest the input.
    expect(Array.from(views.lon.subarray(0, 3))).toEqual(rows.map((r) => Math.fround(r.lon)));
    expect(Array.from(views.lat.subarray(0, 3))).toEqual(rows.map((r) => Math.fround(r.lat)));
    expect(views.lon[0]).not.toBe(8.5417); // proves the column really is float32
    // Times are float64: millisecond epochs survive exactly (float32 would not hold them).
    expect(Array.from(views.ts.subarray(0, 3))).toEqual(rows.map((r) => r.ts));
    // Devices are indexes into a per-chunk dictionary, in order of first appearance.
    expect(Array.from(views.device.subarray(0, 3))).toEqual([0, 1, 0]);
    expect(chunk.deviceCount).toBe(2);
  });

  it('gives reading columns in order of first appearance and leaves absent readings NaN', () => {
    const chunk = new Chunk(0, 4, 3);
    chunk.append(decoded({ lon: 0, lat: 0, readings: { temp: 20.5 } }), 0);
    chunk.append(decoded({ lon: 0, lat: 0, readings: { hum: 40, temp: null } }), 0);
    chunk.append(decoded({ lon: 0, lat: 0 }), 0);
    chunk.append(decoded({ lon: 0, lat: 0, readings: { temp: -3.25, hum: 41 } }), 0);
    expect(chunk.readingNames).toEqual(['temp', 'hum']);
    expect(readingColumn(chunk, 'temp')).toEqual([20.5, NaN, NaN, -3.25]);
    expect(readingColumn(chunk, 'hum')).toEqual([NaN, 40, NaN, 41]);
    // The third column was never used.
    expect(Array.from(viewsOf(chunk).readings.subarray(8, 12)).every(Number.isNaN)).toBe(true);
  });

  it('is full exactly at capacity', () => {
    const chunk = new Chunk(0, 3, 1);
    for (let i = 0; i < 3; i++) {
      expect(chunk.full).toBe(false);
      chunk.append(decoded({ lon: i, lat: i }), 0);
    }
    expect(chunk.full).toBe(true);
    expect(chunk.count).toBe(3);
  });

  it('returns columns_full, packing nothing, when a new reading name has no column left', () => {
    const chunk = new Chunk(0, 4, 2);
    chunk.append(decoded({ deviceId: 'a', lon: 1, lat: 1, readings: { temp: 1, hum: 2 } }), 0);
    const before = { ts: viewsOf(chunk).ts[1], device: viewsOf(chunk).device[1] };

    expect(chunk.append(decoded({ deviceId: 'b', ts: 99, lon: 5, lat: 5, readings: { pressure: 1000 } }), 0)).toBe(
      'columns_full',
    );
    expect(chunk.count).toBe(1);
    expect(chunk.readingNames).toEqual(['temp', 'hum']);
    expect(chunk.deviceCount).toBe(1);
    expect(viewsOf(chunk).ts[1]).toBe(before.ts);
    expect(viewsOf(chunk).device[1]).toBe(before.device);

    // Known names and null-valued new names need no column.
    expect(chunk.append(decoded({ lon: 2, lat: 2, readings: { temp: 3, pressure: null } }), 0)).toBe('appended');
    expect(chunk.count).toBe(2);
    expect(chunk.readingNames).toEqual(['temp', 'hum']);
  });

  it('does not take a column for part of a record that brings more new names than are left', () => {
    const chunk = new Chunk(0, 4, 3);
    chunk.append(decoded({ lon: 1, lat: 1, readings: { temp: 1 } }), 0);
    expect(chunk.append(decoded({ lon: 1, lat: 1, readings: { hum: 2, pressure: 3, co2: 4 } }), 0)).toBe('columns_full');
    expect(chunk.readingNames).toEqual(['temp']);
    // The two free columns are still free for a record that fits.
    expect(chunk.append(decoded({ lon: 1, lat: 1, readings: { hum: 2, pressure: 3 } }), 0)).toBe('appended');
    expect(chunk.readingNames).toEqual(['temp', 'hum', 'pressure']);
  });
});

describe('chunkLayout', () => {
  const WIDTH = { ts: 8, lon: 4, lat: 4, device: 4, readings: 4 } as const;

  it.each([
    [1, 1],
    [3, 5],
    [7, 16],
    [1001, 3],
    [2000, 16],
  ])('places aligned, non-overlapping columns for capacity %d and %d reading columns', (capacity, readingColumns) => {
    const layout = chunkLayout(capacity, readingColumns);
    const spans = [
      { name: 'ts', start: layout.tsOffset, bytes: capacity * WIDTH.ts, width: WIDTH.ts },
      { name: 'lon', start: layout.lonOffset, bytes: capacity * WIDTH.lon, width: WIDTH.lon },
      { name: 'lat', start: layout.latOffset, bytes: capacity * WIDTH.lat, width: WIDTH.lat },
      { name: 'device', start: layout.deviceOffset, bytes: capacity * WIDTH.device, width: WIDTH.device },
      { name: 'readings', start: layout.readingsOffset, bytes: capacity * readingColumns * WIDTH.readings, width: 4 },
    ].sort((a, b) => a.start - b.start);
    expect(spans[0]!.start).toBe(0);
    for (const span of spans) expect(span.start % span.width, `${span.name} alignment`).toBe(0);
    for (let i = 1; i < spans.length; i++) {
      const previous = spans[i - 1]!;
      expect(spans[i]!.start, `${spans[i]!.name} after ${previous.name}`).toBeGreaterThanOrEqual(previous.start + previous.bytes);
    }
    const last = spans[spans.length - 1]!;
    expect(layout.byteLength).toBe(last.start + last.bytes);
    // No padding is needed when the widest column comes first.
    expect(layout.byteLength).toBe(capacity * 20 + capacity * readingColumns * 4);

    // The views can be built (a misaligned offset would throw) and have the right lengths.
    const views = chunkColumns(new SharedArrayBuffer(layout.byteLength), layout);
    expect([views.ts.length, views.lon.length, views.lat.length, views.device.length, views.readings.length]).toEqual([
      capacity,
      capacity,
      capacity,
      capacity,
      capacity * readingColumns,
    ]);
  });

  it('keeps writes through one view out of the others', () => {
    const layout = chunkLayout(5, 2);
    const views = chunkColumns(new SharedArrayBuffer(layout.byteLength), layout);
    views.ts.fill(-1);
    views.lon.fill(2);
    views.lat.fill(3);
    views.device.fill(4);
    views.readings.fill(5);
    expect(Array.from(views.ts)).toEqual([-1, -1, -1, -1, -1]);
    expect(Array.from(views.lon)).toEqual([2, 2, 2, 2, 2]);
    expect(Array.from(views.lat)).toEqual([3, 3, 3, 3, 3]);
    expect(Array.from(views.device)).toEqual([4, 4, 4, 4, 4]);
  });
});
