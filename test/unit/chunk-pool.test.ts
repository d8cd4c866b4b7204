import { describe, expect, it } from 'vitest';
import { Chunk } from '../../src/chunks/chunk.js';
import { ChunkPool } from '../../src/chunks/chunk-pool.js';
import { ChunkPoolError } from '../../src/errors.js';
import type { Headers } from '../../src/pipeline/records.js';
import { chunkLayout, chunkViews, INDEX_SLOTS, type ChunkViews } from '../../src/protocol/chunk-layout.js';
import { isSettled } from './helpers.js';

/** Views over a chunk's buffer built from the layout alone, as a worker builds them. */
function viewsOf(chunk: Chunk): ChunkViews {
  return chunkViews(chunk.buffer, chunkLayout(chunk.layout.capacity, chunk.layout.byteCapacity));
}

/** Row `row` of the index: [value start, value length, key start, key length]. */
function indexRow(chunk: Chunk, row: number): number[] {
  return Array.from(viewsOf(chunk).index.subarray(row * 4, row * 4 + 4));
}

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

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
    const pool = new ChunkPool(3, 4, 64);
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
    const pool = new ChunkPool(2, 4, 64);
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

  it('never grows: however often chunks go round, they are the ones it started with', () => {
    const pool = new ChunkPool(3, 2, 16);
    const original = new Set(acquireAll(pool));
    for (const chunk of original) pool.release(chunk);
    const seen = new Set<Chunk>();
    for (let round = 0; round < 20; round++) {
      const taken = acquireAll(pool);
      expect(taken).toHaveLength(3);
      for (const chunk of taken) seen.add(chunk);
      expect(pool.free + pool.inUse).toBe(3);
      // Give some back in a different order each round.
      for (const chunk of round % 2 === 0 ? taken : taken.reverse()) pool.release(chunk);
    }
    expect([...seen].every((chunk) => original.has(chunk))).toBe(true);
    expect(seen.size).toBe(3);
  });

  it('gives a released chunk back empty: no rows, no headers, its whole byte region free again', () => {
    const pool = new ChunkPool(1, 3, 12);
    const chunk = pool.acquire()!;
    // Three rows of 4 bytes each: the rows and the 12 bytes are all used.
    expect(chunk.append(text('k0'), text('v0'), { h: 'x' }, 10, 1_000)).toBe('appended');
    expect(chunk.append(text('k1'), text('v1'), undefined, 11, 1_001)).toBe('appended');
    expect(chunk.append(text('k2'), text('v2'), { h: 'y' }, 12, 1_002)).toBe('appended');
    expect(chunk.full).toBe(true);
    pool.release(chunk);

    const again = pool.acquire()!;
    expect(again).toBe(chunk);
    expect(again.count).toBe(0);
    expect(again.full).toBe(false);
    expect([again.headersAt(0), again.headersAt(1), again.headersAt(2)]).toEqual([undefined, undefined, undefined]);
    expect(again.hasKey('k0')).toBe(false);

    // A record as large as the whole region fits: the byte cursor started over at 0.
    const big = text('value-10b!'); // 10 bytes, plus a 2-byte key
    expect(again.append(text('kz'), big, undefined, 20, 2_000)).toBe('appended');
    expect(indexRow(again, 0)).toEqual([0, 10, 10, 2]);
    expect(again.valueAt(0)).toEqual(big);
    expect(again.keyAt(0)).toEqual(text('kz'));
    expect(again.headersAt(0)).toBeUndefined();
    expect([again.offsetAt(0), again.timestampAt(0)]).toEqual([20, 2_000]);
    expect(again.count).toBe(1);
  });

  it('throws GW_CHUNK_POOL_MISUSE when a chunk is released twice, and stays consistent', () => {
    const pool = new ChunkPool(2, 4, 64);
    const chunk = pool.acquire()!;
    pool.release(chunk);
    const error = misuse(() => pool.release(chunk));
    expect(error.message).toContain(`chunk ${chunk.id}`);
    // The second release must not have put the chunk in the free list twice.
    expect([pool.free, pool.inUse]).toEqual([2, 0]);
    expect(acquireAll(pool)).toHaveLength(2);
  });

  it('throws GW_CHUNK_POOL_MISUSE for a chunk of another pool or of no pool', () => {
    const pool = new ChunkPool(2, 4, 64);
    const other = new ChunkPool(2, 4, 64);
    const foreign = other.acquire()!;
    misuse(() => pool.release(foreign));
    misuse(() => pool.release(new Chunk(0, 4, 64)));
    expect([pool.free, pool.inUse]).toEqual([2, 0]);
    expect([other.free, other.inUse]).toEqual([1, 1]);
  });

  it('rejects a size that is not a positive integer', () => {
    expect(() => new ChunkPool(0, 4, 64)).toThrow(RangeError);
    expect(() => new ChunkPool(1.5, 4, 64)).toThrow(RangeError);
  });

  it('reports the shared bytes of one chunk: 24 bytes a row (event time and index) plus the byte region', () => {
    // A float64 event time and four int32 slots per row (value start and length, key start and length).
    const pool = new ChunkPool(2, 100, 1000);
    expect(pool.chunkBytes).toBe(100 * (8 + 16) + 1000);
    expect(pool.acquire()!.buffer.byteLength).toBe(pool.chunkBytes);
  });

  it('whenReleased resolves at the next release, not before', async () => {
    const pool = new ChunkPool(1, 4, 64);
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
  it('copies each value then key into the byte region, back to back, and points the index at them', () => {
    const chunk = new Chunk(0, 5, 64);
    expect(chunk.append(text('dev-a'), text('{"x":1}'), undefined, 100, 1)).toBe('appended');
    expect(chunk.append(null, text('abc'), undefined, 101, 2)).toBe('appended');
    expect(chunk.append(text('k'), null, undefined, 102, 3)).toBe('appended');
    expect(chunk.append(Buffer.alloc(0), Buffer.alloc(0), undefined, 103, 4)).toBe('appended');
    expect(chunk.append(text('kk'), text('é'), undefined, 104, 5)).toBe('appended'); // 'é' is 2 bytes of UTF-8
    expect(chunk.count).toBe(5);

    // Bytes: {"x":1} (0-6) dev-a (7-11) | abc (12-14) | k (15) | nothing | é (16-17) kk (18-19).
    const anyStart = expect.any(Number) as number;
    expect([0, 1, 2, 3, 4].map((row) => indexRow(chunk, row))).toEqual([
      [0, 7, 7, 5],
      [12, 3, anyStart, -1], // no key: length -1, whatever the start
      [anyStart, -1, 15, 1], // tombstone: value length -1
      [16, 0, 16, 0], // empty key and value are not null
      [16, 2, 18, 2],
    ]);
    const { bytes } = viewsOf(chunk);
    expect(Buffer.from(bytes.subarray(0, 20))).toEqual(Buffer.concat([text('{"x":1}dev-aabck'), text('é'), text('kk')]));
    // Nothing written past the last record.
    expect(bytes.subarray(20).every((b) => b === 0)).toBe(true);
  });

  it('reads rows back as copies: valueAt and keyAt give null for a missing value or key, empty for an empty one', () => {
    const chunk = new Chunk(0, 4, 64);
    chunk.append(text('dev-a'), text('{"x":1}'), undefined, 0, 0);
    chunk.append(null, text('abc'), undefined, 1, 0);
    chunk.append(text('k'), null, undefined, 2, 0);
    chunk.append(Buffer.alloc(0), Buffer.alloc(0), undefined, 3, 0);
    expect([chunk.valueAt(0), chunk.keyAt(0)]).toEqual([text('{"x":1}'), text('dev-a')]);
    expect([chunk.valueAt(1), chunk.keyAt(1)]).toEqual([text('abc'), null]);
    expect([chunk.valueAt(2), chunk.keyAt(2)]).toEqual([null, text('k')]);
    expect([chunk.valueAt(3), chunk.keyAt(3)]).toEqual([Buffer.alloc(0), Buffer.alloc(0)]);

    // A copy: writing to it changes nothing in the chunk, and it does not share the chunk's memory.
    const value = chunk.valueAt(0)!;
    const key = chunk.keyAt(0)!;
    expect(value.buffer).not.toBe(chunk.buffer);
    expect(key.buffer).not.toBe(chunk.buffer);
    value.fill(0x21);
    key.fill(0x21);
    expect(chunk.valueAt(0)).toEqual(text('{"x":1}'));
    expect(chunk.keyAt(0)).toEqual(text('dev-a'));
  });

  it('copies the key and value bytes in: changing the source buffers afterwards changes nothing', () => {
    const chunk = new Chunk(0, 2, 64);
    const key = text('dev-a');
    const value = text('{"lon":1}');
    chunk.append(key, value, undefined, 0, 0);
    key.fill(0);
    value.fill(0);
    expect(chunk.keyAt(0)).toEqual(text('dev-a'));
    expect(chunk.valueAt(0)).toEqual(text('{"lon":1}'));
  });

  it('keeps each row its offset and timestamp, and headers only for rows that have some', () => {
    const chunk = new Chunk(0, 4, 64);
    // Offsets are int64 on the wire; 2^40 + 5 needs more than 32 bits.
    chunk.append(null, text('a'), { 'trace-id': text('abc'), plain: 'p' }, 2 ** 40 + 5, 1_717_243_200_123);
    chunk.append(null, text('b'), undefined, 2 ** 40 + 6, 1_717_243_200_456);
    chunk.append(null, text('c'), {}, 2 ** 40 + 9, 1_717_243_200_789);
    chunk.append(null, text('d'), { many: ['x', text('y')] }, 2 ** 40 + 10, 0);
    expect([0, 1, 2, 3].map((row) => chunk.offsetAt(row))).toEqual([2 ** 40 + 5, 2 ** 40 + 6, 2 ** 40 + 9, 2 ** 40 + 10]);
    expect([0, 1, 2, 3].map((row) => chunk.timestampAt(row))).toEqual([1_717_243_200_123, 1_717_243_200_456, 1_717_243_200_789, 0]);
    expect(chunk.headersAt(0)).toEqual({ 'trace-id': text('abc'), plain: 'p' });
    expect(chunk.headersAt(1)).toBeUndefined();
    expect(chunk.headersAt(2)).toBeUndefined(); // no header at all: nothing kept
    expect(chunk.headersAt(3)).toEqual({ many: ['x', text('y')] });
  });

  it('copies headers, so they survive the fetched batch buffers changing under them', () => {
    const chunk = new Chunk(0, 2, 64);
    const trace = text('abc');
    const listed = text('y');
    const headers: Headers = { 'trace-id': trace, many: ['x', listed] };
    chunk.append(null, text('a'), headers, 0, 0);
    trace.fill(0);
    listed.fill(0);
    headers.added = 'later';
    headers.many = 'replaced';
    expect(chunk.headersAt(0)).toEqual({ 'trace-id': text('abc'), many: ['x', text('y')] });
    expect(chunk.headersAt(0)!['trace-id']).not.toBe(trace);
  });

  it('returns bytes_full, copying nothing, when the byte region cannot hold the next record', () => {
    const chunk = new Chunk(0, 4, 10);
    expect(chunk.append(text('ab'), text('abcdef'), undefined, 7, 70)).toBe('appended'); // 8 of 10 bytes
    const before = { index: indexRow(chunk, 1), bytes: Array.from(viewsOf(chunk).bytes) };

    // 2 + 1 = 3 bytes: one too many.
    expect(chunk.append(text('k'), text('xy'), { h: 'v' }, 8, 80)).toBe('bytes_full');
    expect(chunk.count).toBe(1);
    expect(indexRow(chunk, 1)).toEqual(before.index);
    expect(Array.from(viewsOf(chunk).bytes)).toEqual(before.bytes);
    expect(chunk.headersAt(1)).toBeUndefined();
    expect(chunk.hasKey('k')).toBe(false);

    // Exactly the 2 bytes left fit, and a record with no bytes still fits a full region.
    expect(chunk.append(null, text('xy'), undefined, 8, 80)).toBe('appended');
    expect(chunk.append(null, null, undefined, 9, 90)).toBe('appended');
    expect(chunk.count).toBe(3);
    expect(chunk.valueAt(1)).toEqual(text('xy'));
    expect([chunk.offsetAt(1), chunk.timestampAt(1)]).toEqual([8, 80]);
    expect(chunk.append(null, text('z'), undefined, 10, 100)).toBe('bytes_full');
    expect(chunk.count).toBe(3);
  });

  it('refuses, even when empty, a record larger than the whole byte region', () => {
    const chunk = new Chunk(0, 2, 4);
    expect(chunk.append(text('k'), text('abcd'), undefined, 0, 0)).toBe('bytes_full');
    expect(chunk.count).toBe(0);
    expect(chunk.append(null, text('abcd'), undefined, 0, 0)).toBe('appended');
  });

  it('is full exactly at capacity, and throws rather than write past it', () => {
    const chunk = new Chunk(0, 3, 64);
    for (let i = 0; i < 3; i++) {
      expect(chunk.full).toBe(false);
      chunk.append(null, text(`v${i}`), undefined, i, 0);
    }
    expect(chunk.full).toBe(true);
    expect(chunk.count).toBe(3);
    expect(() => chunk.append(null, text('v3'), undefined, 3, 0)).toThrow(RangeError);
    expect(chunk.count).toBe(3);
  });

  it('finds a row by its key (the test hook), never a row without one', () => {
    const chunk = new Chunk(0, 3, 64);
    chunk.append(text('sensor-1'), text('a'), undefined, 0, 0);
    chunk.append(null, text('sensor-2'), undefined, 1, 0); // the name as a value, not a key
    expect(chunk.hasKey('sensor-1')).toBe(true);
    expect(chunk.hasKey('sensor-2')).toBe(false);
    expect(chunk.hasKey('sensor')).toBe(false);
  });
});

describe('chunkLayout', () => {
  it.each([
    [1, 1],
    [3, 5],
    [7, 1001],
    [1001, 3],
    [2000, 768_000],
  ])('places the event times, the index and the byte region without overlap for capacity %d and %d bytes', (capacity, byteCapacity) => {
    const layout = chunkLayout(capacity, byteCapacity);
    expect(INDEX_SLOTS).toBe(4);
    const times = { start: layout.timesOffset, bytes: capacity * 8 };
    const index = { start: layout.indexOffset, bytes: capacity * 4 * 4 };
    const region = { start: layout.bytesOffset, bytes: byteCapacity };
    const [first, second, third] = [times, index, region].sort((a, b) => a.start - b.start) as [typeof index, typeof index, typeof index];
    expect(first.start).toBe(0);
    expect(second.start).toBeGreaterThanOrEqual(first.start + first.bytes);
    expect(third.start).toBeGreaterThanOrEqual(second.start + second.bytes);
    expect(layout.timesOffset % 8).toBe(0); // Float64Array alignment
    expect(layout.indexOffset % 4).toBe(0); // Int32Array alignment
    expect(layout.byteLength).toBe(third.start + third.bytes);
    // No padding is needed: times at 0, the index right after (a multiple of 8), the bytes need none.
    expect(layout.byteLength).toBe(capacity * 24 + byteCapacity);

    // The views can be built (a misaligned offset would throw) and have the right lengths.
    const views = chunkViews(new SharedArrayBuffer(layout.byteLength), layout);
    expect([views.times.length, views.index.length, views.bytes.length]).toEqual([capacity, capacity * 4, byteCapacity]);
  });

  it('keeps writes through one view out of the other', () => {
    const layout = chunkLayout(5, 7);
    const views = chunkViews(new SharedArrayBuffer(layout.byteLength), layout);
    views.index.fill(-1);
    views.times.fill(Number.NaN);
    expect(Array.from(views.bytes)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    views.bytes.fill(0xab);
    expect(Array.from(views.index).every((slot) => slot === -1)).toBe(true);
    expect(Array.from(views.times).every((t) => Number.isNaN(t))).toBe(true);
    expect(views.index).toHaveLength(20);
  });
});
