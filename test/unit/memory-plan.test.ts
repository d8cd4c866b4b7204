import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChunkPool } from '../../src/chunks/chunk-pool.js';
import { ConfigError } from '../../src/errors.js';
import { CONTAINER_RESERVE_SHARE, DEFAULT_MEMORY_LIMIT_MB, MB, resolveBudget, type MemoryBudget } from '../../src/memory/budget.js';
import type { CgroupLimit } from '../../src/memory/cgroup.js';
import { planMemory, type MemoryPlan, type MemoryPlanInput } from '../../src/memory/plan.js';
import { PLACE_CACHE_BYTES_PER_DEVICE, PLACE_CACHE_DEVICES } from '../../src/shared/keys.js';

const KiB = 1024;
const CGROUP_V2: CgroupLimit = { bytes: 768 * MB, source: 'cgroup v2', path: '/sys/fs/cgroup/kubepods/pod1/ctr/memory.max' };

function budgetMb(mb: number): MemoryBudget {
  return { bytes: mb * MB, source: 'MEMORY_LIMIT_MB' };
}

/** MAX_MESSAGE_BYTES by default. */
const MAX_MESSAGE_BYTES = 65_536;
/** The main thread's young generation as `geowindow run` bounds it: 2 semi-spaces of 16 MB. */
const YOUNG = 32 * MB;

function plan(mb: number, fields: Partial<MemoryPlanInput> = {}): MemoryPlan {
  return planMemory({
    budget: budgetMb(mb),
    workers: 2,
    chunkSize: 2000,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    chunkPoolSize: 'auto',
    youngGenerationBytes: YOUNG,
    ...fields,
  });
}

/**
 * The cap of the auto chunk pool, read from the plan's source: it is a tuning
 * figure, and these tests follow it instead of repeating it.
 */
const MAX_AUTO_CHUNKS = Number(
  /const MAX_AUTO_CHUNKS = (\d+);/.exec(readFileSync(new URL('../../src/memory/plan.ts', import.meta.url), 'utf8'))?.[1],
);

/** Bytes of record a chunk holds: 384 a record, and never less than one record of the largest size accepted. */
function byteCapacityOf(chunkSize: number, maxMessageBytes: number): number {
  return Math.max(chunkSize * 384, maxMessageBytes);
}

/**
 * Bytes of one chunk: per row, a float64 event time and an index of four
 * int32 (value start and length, key start and length), shared with the
 * workers, and, on the main thread, a float64 offset and timestamp; plus the
 * byte region.
 */
function chunkBytesOf(chunkSize: number, maxMessageBytes: number): number {
  return chunkSize * (8 + 4 * 4 + 8 + 8) + byteCapacityOf(chunkSize, maxMessageBytes);
}

/** The ConfigError planMemory throws for `input`. */
function refusal(input: MemoryPlanInput): ConfigError {
  try {
    planMemory(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a budget of ${input.budget.bytes / MB} MB to be refused`);
}

describe('resolveBudget', () => {
  it('takes MEMORY_LIMIT_MB over the cgroup limit', () => {
    expect(resolveBudget(512, CGROUP_V2)).toEqual({ bytes: 512 * MB, source: 'MEMORY_LIMIT_MB' });
  });

  it('takes 90% of the cgroup limit, with its source and path, when MEMORY_LIMIT_MB is auto', () => {
    expect(CONTAINER_RESERVE_SHARE).toBe(0.1);
    expect(resolveBudget('auto', CGROUP_V2)).toEqual({
      bytes: Math.floor(768 * MB * 0.9),
      source: 'cgroup v2',
      detail: CGROUP_V2.path,
      containerLimitBytes: 768 * MB,
    });
    const v1: CgroupLimit = { bytes: 300 * MB + 5, source: 'cgroup v1', path: '/sys/fs/cgroup/memory/memory.limit_in_bytes' };
    expect(resolveBudget('auto', v1)).toEqual({ bytes: 283_115_524, source: 'cgroup v1', detail: v1.path, containerLimitBytes: 300 * MB + 5 });
  });

  it('falls back to 1024 MB without either', () => {
    expect(DEFAULT_MEMORY_LIMIT_MB).toBe(1024);
    expect(resolveBudget('auto', undefined)).toEqual({ bytes: 1024 * 1024 * 1024, source: 'default' });
  });
});

describe('planMemory: the split', () => {
  it('reads a positive auto pool cap from the plan', () => {
    expect(Number.isInteger(MAX_AUTO_CHUNKS) && MAX_AUTO_CHUNKS > 0).toBe(true);
  });

  it('splits 1024 MB for 2 workers and 2000-record chunks as designed', () => {
    // 2000 * 384 = 768,000 bytes of records (more than one 64 KiB record); 2000 * 40 bytes of event times, index, offsets and timestamps.
    const byteCapacity = 768_000;
    const chunkBytes = 768_000 + 80_000;
    // A tenth of the budget is 107,374,182 bytes: 126 chunks, more than the cap.
    const chunks = Math.min(126, MAX_AUTO_CHUNKS);
    expect(plan(1024)).toEqual({
      budget: budgetMb(1024),
      runtimeBytes: (80 + 2 * 16) * MB,
      runtimeSource: 'estimate',
      youngGenerationBytes: YOUNG,
      worker: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      workerHeapBytes: 2 * (16 + 4) * MB,
      chunkPool: { chunks, byteCapacity, chunkBytes, bytes: chunks * chunkBytes },
      fetch: { maxBytes: 2 * MB, maxBytesPerPartition: 512 * KiB, reserveBytes: 8 * MB },
      deadLetterBytes: 16 * MB,
      windowStateBytes: 0,
      windowClosingBytes: 0,
      headroomBytes: (1024 - 112 - 32 - 40 - 8 - 16) * MB - chunks * chunkBytes,
    });
  });

  it('sets 15% of the budget aside for the state of open event-time windows and as much for closed ones being written, taken from the headroom', () => {
    // Chunks small enough that both kinds' workers get the least old generation: only the window state differs.
    const count = plan(1024, { chunkSize: 1000 });
    const eventTime = plan(1024, { chunkSize: 1000, eventTime: true });
    // 0.15 * 1024 MiB = 161,061,273.6 bytes.
    expect(eventTime.windowStateBytes).toBe(161_061_273);
    // Event time also holds at most 16 auto chunks (count windows 32): chunks only fill and fold, they hold no window.
    expect(count.chunkPool.chunks).toBe(32);
    const chunkBytes = count.chunkPool.chunkBytes;
    expect(eventTime).toEqual({
      ...count,
      chunkPool: { ...count.chunkPool, chunks: 16, bytes: 16 * chunkBytes },
      windowStateBytes: 161_061_273,
      windowClosingBytes: 161_061_273,
      headroomBytes: count.headroomBytes - 2 * 161_061_273 + 16 * chunkBytes,
    });
  });

  it('gives each worker 4 KB of old generation per row and key kind, and its place cache when keys look places up', () => {
    const rows = 3333;
    const byDevice = plan(1024, { chunkSize: rows, eventTime: true, keyKinds: 3 });
    expect(byDevice.worker.maxOldGenerationSizeMb).toBe(Math.ceil((rows * (400 + 3 * 4096)) / MB) + 8);
    const byPlace = plan(1024, { chunkSize: rows, eventTime: true, keyKinds: 3, placeCache: true });
    expect(byPlace.worker.maxOldGenerationSizeMb).toBe(Math.ceil((rows * (400 + 3 * 4096) + PLACE_CACHE_DEVICES * PLACE_CACHE_BYTES_PER_DEVICE) / MB) + 8);
    expect(byPlace.workerHeapBytes - byDevice.workerHeapBytes).toBe(2 * 6 * MB);
    // Count windows hold no place cache.
    expect(plan(1024, { chunkSize: rows, placeCache: true }).worker).toEqual(plan(1024, { chunkSize: rows }).worker);
  });

  it('keeps an explicit CHUNK_POOL_SIZE for event time too', () => {
    expect(plan(1024, { eventTime: true, chunkPoolSize: 40 }).chunkPool.chunks).toBe(40);
  });

  it.each([
    { mb: 200, workers: 1, chunkSize: 1000, maxMessageBytes: 65_536, chunkPoolSize: 4 },
    { mb: 288, workers: 2, chunkSize: 20_000, maxMessageBytes: 65_536, chunkPoolSize: 'auto' as const },
    { mb: 512, workers: 1, chunkSize: 100_000, maxMessageBytes: 65_536, chunkPoolSize: 'auto' as const },
    { mb: 1024, workers: 4, chunkSize: 2000, maxMessageBytes: 65_536, chunkPoolSize: 'auto' as const },
    { mb: 1024, workers: 2, chunkSize: 100, maxMessageBytes: MB, chunkPoolSize: 'auto' as const },
    { mb: 3000, workers: 3, chunkSize: 7777, maxMessageBytes: 10_000, chunkPoolSize: 'auto' as const },
    { mb: 65_536, workers: 16, chunkSize: 50_000, maxMessageBytes: 65_536, chunkPoolSize: 'auto' as const },
  ])('has every part positive and the parts plus headroom summing to the budget ($mb MB, $workers workers)', ({ mb, ...fields }) => {
    const p = plan(mb, fields);
    const parts = [p.runtimeBytes, p.youngGenerationBytes, p.workerHeapBytes, p.chunkPool.bytes, p.fetch.reserveBytes, p.deadLetterBytes, p.headroomBytes];
    for (const part of parts) expect(part).toBeGreaterThan(0);
    // Count windows keep no window state.
    expect(p.windowStateBytes).toBe(0);
    expect(parts.reduce((sum, part) => sum + part, 0)).toBe(mb * MB);
    expect(p.chunkPool.byteCapacity).toBe(byteCapacityOf(fields.chunkSize, fields.maxMessageBytes));
    expect(p.chunkPool.chunkBytes).toBe(chunkBytesOf(fields.chunkSize, fields.maxMessageBytes));
    expect(p.chunkPool.bytes).toBe(p.chunkPool.chunks * p.chunkPool.chunkBytes);
    expect(p.headroomBytes).toBeGreaterThanOrEqual(32 * MB);
  });
});

describe('planMemory: the chunk pool', () => {
  it('sizes a chunk for 384 bytes a record, or one record of MAX_MESSAGE_BYTES if that is more', () => {
    // 2000 records: 768,000 bytes, whatever MAX_MESSAGE_BYTES up to that.
    expect(plan(1024, { maxMessageBytes: 65_536 }).chunkPool).toMatchObject({ byteCapacity: 768_000, chunkBytes: 848_000 });
    expect(plan(1024, { maxMessageBytes: 768_000 }).chunkPool).toMatchObject({ byteCapacity: 768_000, chunkBytes: 848_000 });
    expect(plan(1024, { maxMessageBytes: 768_001 }).chunkPool).toMatchObject({ byteCapacity: 768_001, chunkBytes: 848_001 });
    // 100 records hold 38,400 bytes: a 1 MiB record needs the whole MiB.
    expect(plan(1024, { chunkSize: 100, maxMessageBytes: MB }).chunkPool).toMatchObject({
      byteCapacity: MB,
      chunkBytes: MB + 100 * 40,
    });
  });

  it('counts what a ChunkPool of that size allocates, plus an offset and a timestamp a row on the main thread', () => {
    for (const [chunkSize, maxMessageBytes] of [
      [2000, 65_536],
      [100, MB],
      [7777, 10_000],
    ] as const) {
      const { chunkPool } = plan(1024, { chunkSize, maxMessageBytes, chunkPoolSize: 4 });
      const shared = new ChunkPool(1, chunkSize, chunkPool.byteCapacity).chunkBytes;
      expect(chunkPool.chunkBytes).toBe(shared + chunkSize * 16);
    }
  });

  it('grows with the budget (a tenth of it, in whole chunks) up to its cap', () => {
    const chunkBytes = chunkBytesOf(20_000, MAX_MESSAGE_BYTES); // 7,680,000 + 800,000 bytes
    expect(chunkBytes).toBe(8_480_000);
    const chunks = [512, 1024, 2048, 4096, 16_384].map((mb) => plan(mb, { chunkSize: 20_000 }).chunkPool.chunks);
    // floor(0.1 * mb * 2^20 / 8,480,000): 6.3, 12.7, 25.3, 50.6, 202.6.
    expect(chunks).toEqual([6, 12, 25, 50, 202].map((n) => Math.min(n, MAX_AUTO_CHUNKS)));
    // However large the budget, no more than the cap.
    expect(plan(4_194_304, { chunkSize: 20_000 }).chunkPool.chunks).toBe(MAX_AUTO_CHUNKS);
  });

  it('holds at least workers + 2 chunks even when a tenth of the budget holds fewer', () => {
    // A tenth of 512 MB is 53,687,091 bytes: 1.3 chunks of 38,400,000 + 4,000,000 bytes.
    const p = plan(512, { workers: 1, chunkSize: 100_000 });
    expect(p.chunkPool.chunkBytes).toBe(42_400_000);
    expect(p.chunkPool.chunks).toBe(3);
  });

  it('keeps an explicit CHUNK_POOL_SIZE', () => {
    const p = plan(1024, { chunkPoolSize: 7 });
    expect(p.chunkPool).toEqual({ chunks: 7, byteCapacity: 768_000, chunkBytes: 848_000, bytes: 7 * 848_000 });
    // The headroom gains what the auto pool would have taken (a tenth of 1024 MB is 126 chunks, or the cap).
    expect(p.headroomBytes - plan(1024).headroomBytes).toBe((Math.min(126, MAX_AUTO_CHUNKS) - 7) * 848_000);
  });
});

describe('planMemory: fetch sizes', () => {
  // Small chunks (4 of 69,536 bytes), so that 200 MB holds the rest.
  const input = { workers: 1, chunkSize: 100, chunkPoolSize: 4 };

  it('fetches 2 MiB, 512 KiB per partition, at any budget, and reserves 4x that for the decoded batch', () => {
    for (const mb of [200, 256, 1024, 65_536, 4_194_304]) {
      expect(plan(mb, input).fetch).toEqual({ maxBytes: 2 * MB, maxBytesPerPartition: 512 * KiB, reserveBytes: 8 * MB });
    }
  });
});

describe('planMemory: worker heaps', () => {
  it('gives a worker at least 16 MB of old generation, more as chunks grow (400 bytes a point, plus 8 MB)', () => {
    const oldMb = (chunkSize: number) => plan(4096, { chunkSize, chunkPoolSize: 4 }).worker.maxOldGenerationSizeMb;
    expect(oldMb(2000)).toBe(16);
    expect(oldMb(20_000)).toBe(16); // ceil(7.6) + 8
    expect(oldMb(50_000)).toBe(28); // ceil(19.07) + 8
    expect(oldMb(100_000)).toBe(47); // ceil(38.1) + 8
    const p = plan(4096, { workers: 3, chunkSize: 100_000, chunkPoolSize: 4 });
    expect(p.worker.maxYoungGenerationSizeMb).toBe(4);
    expect(p.workerHeapBytes).toBe(3 * (47 + 4) * MB);
  });

  it('adds the heap a worker needs beyond its chunk (the zone index) to its old generation', () => {
    // ceil((2000 * 400 + 20 MiB) / 1 MiB) + 8 = ceil(20.76) + 8.
    const p = plan(4096, { workers: 3, chunkSize: 2000, chunkPoolSize: 4, workerExtraBytes: 20 * MB });
    expect(p.worker.maxOldGenerationSizeMb).toBe(29);
    expect(p.workerHeapBytes).toBe(3 * (29 + 4) * MB);
  });
});

describe('planMemory: a budget too small', () => {
  const input = { workers: 2, chunkSize: 2000, maxMessageBytes: MAX_MESSAGE_BYTES, chunkPoolSize: 'auto' as const, youngGenerationBytes: YOUNG };

  /*
   * Fixed: runtime 80 + 2 * 16 MB (estimated), the main young generation
   * 32 MB and worker heaps 2 * (16 + 4) MB = 184 MB. The auto pool takes a
   * tenth of the budget in whole chunks of 848,000 bytes, the dead letters 2%,
   * the fetch reserve a fixed 4 * 2 MiB. With 32 MiB of headroom, exactly,
   * with the roundings:
   *   255 MB: 31 chunks (26,288,000), fetch 8,388,608, dead letters
   *           5,347,737: committed 232,962,329, headroom 34,424,551 >= 32 MiB;
   *   254 MB: 31 chunks, fetch 8,388,608, dead letters 5,326,766:
   *           committed 232,941,358, headroom 33,396,946 < 32 MiB.
   */
  const NEEDED_MB = 255;

  it('works out the least budget, the pool a tenth of it', () => {
    expect(plan(NEEDED_MB, input).chunkPool.chunks).toBe(31);
  });

  it('refuses 128 MB, naming MEMORY_LIMIT_MB, the budget and the MB it needs', () => {
    const error = refusal({ budget: budgetMb(128), ...input });
    expect(error.code).toBe('GW_CONFIG_INVALID');
    expect(error.variable).toBe('MEMORY_LIMIT_MB');
    expect(error.message).toMatch(/^MEMORY_LIMIT_MB: a budget of 128 MB is too small/);
    expect(error.message).toContain(`needs at least ${NEEDED_MB} MB`);
  });

  it('asks for a budget that then works, and not a megabyte more', () => {
    expect(() => plan(NEEDED_MB - 1, input)).toThrow(ConfigError);
    const p = plan(NEEDED_MB, input);
    expect(p.headroomBytes).toBeGreaterThanOrEqual(32 * MB);
    // Whatever the budget that failed, the advice is the same.
    for (const mb of [64, 128, 200, NEEDED_MB - 1]) {
      expect(refusal({ budget: budgetMb(mb), ...input }).message).toContain(`needs at least ${NEEDED_MB} MB`);
    }
  });

  it('names the cgroup as the source when the budget came from it', () => {
    const budget: MemoryBudget = { bytes: 200 * MB, source: 'cgroup v2', detail: '/sys/fs/cgroup/memory.max' };
    const error = refusal({ budget, ...input });
    expect(error.variable).toBe('MEMORY_LIMIT_MB (from cgroup v2)');
    expect(error.message).toMatch(/^MEMORY_LIMIT_MB \(from cgroup v2\): a budget of 200 MB is too small/);
    expect(error.message).toContain(`needs at least ${NEEDED_MB} MB`);
  });

  it('refuses a configuration whose fixed costs alone exceed the budget', () => {
    // 8 workers with 100,000-record chunks: runtime 80 + 128 MB, young generation 32 MB, heaps 8 * 55 MB, before any chunk.
    const error = refusal({ budget: budgetMb(512), workers: 8, chunkSize: 100_000, maxMessageBytes: MAX_MESSAGE_BYTES, chunkPoolSize: 'auto', youngGenerationBytes: YOUNG });
    const needed = Number(/needs at least (\d+) MB/.exec(error.message)?.[1]);
    expect(needed).toBeGreaterThan(80 + 128 + 32 + 8 * 55);
    expect(plan(needed, { workers: 8, chunkSize: 100_000 }).headroomBytes).toBeGreaterThanOrEqual(32 * MB);
    expect(() => plan(needed - 1, { workers: 8, chunkSize: 100_000 })).toThrow(ConfigError);
  });
});

describe('planMemory: the measured floor', () => {
  it('plans the runtime from the floor measured at start-up instead of the estimate', () => {
    const estimated = plan(512);
    const measured = plan(512, { floorBytes: 61 * MB });
    expect(estimated.runtimeSource).toBe('estimate');
    expect(measured).toMatchObject({ runtimeBytes: 61 * MB, runtimeSource: 'measured' });
    // Everything else is the same; the headroom gains what the estimate over-counted.
    expect(measured.headroomBytes - estimated.headroomBytes).toBe((112 - 61) * MB);
    expect(measured.chunkPool).toEqual(estimated.chunkPool);
    expect(measured.worker).toEqual(estimated.worker);
  });

  it('refuses a budget that the measured floor leaves too little of, saying it was measured', () => {
    const error = refusal({
      budget: budgetMb(300),
      workers: 2,
      chunkSize: 2000,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      chunkPoolSize: 'auto',
      youngGenerationBytes: YOUNG,
      floorBytes: 200 * MB,
    });
    expect(error.message).toContain('runtime 200 MB measured, main young generation 32 MB');
  });

  it('counts the young generation it is given', () => {
    expect(plan(1024, { youngGenerationBytes: 128 * MB }).headroomBytes).toBe(plan(1024).headroomBytes - 96 * MB);
  });
});
