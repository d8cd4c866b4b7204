import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_MEMORY_LIMIT_MB, MB, resolveBudget, type MemoryBudget } from '../../src/memory/budget.js';
import type { CgroupLimit } from '../../src/memory/cgroup.js';
import { planMemory, type MemoryPlan, type MemoryPlanInput } from '../../src/memory/plan.js';

const KiB = 1024;
const CGROUP_V2: CgroupLimit = { bytes: 768 * MB, source: 'cgroup v2', path: '/sys/fs/cgroup/kubepods/pod1/ctr/memory.max' };

function budgetMb(mb: number): MemoryBudget {
  return { bytes: mb * MB, source: 'MEMORY_LIMIT_MB' };
}

function plan(mb: number, fields: Partial<MemoryPlanInput> = {}): MemoryPlan {
  return planMemory({ budget: budgetMb(mb), workers: 2, chunkSize: 2000, readingColumns: 16, chunkPoolSize: 'auto', ...fields });
}

/** Bytes of one chunk: ts (8) + lon, lat, device (4 each) + one float32 per reading column, per row. */
function chunkBytesOf(chunkSize: number, readingColumns: number): number {
  // ts, lon, lat, device and the readings in the shared buffer, plus the main thread's offset per row.
  return chunkSize * (8 + 4 + 4 + 4 + 4 * readingColumns + 8);
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

  it('takes the cgroup limit, with its source and path, when MEMORY_LIMIT_MB is auto', () => {
    expect(resolveBudget('auto', CGROUP_V2)).toEqual({ bytes: 768 * MB, source: 'cgroup v2', detail: CGROUP_V2.path });
    const v1: CgroupLimit = { bytes: 300 * MB + 5, source: 'cgroup v1', path: '/sys/fs/cgroup/memory/memory.limit_in_bytes' };
    expect(resolveBudget('auto', v1)).toEqual({ bytes: 300 * MB + 5, source: 'cgroup v1', detail: v1.path });
  });

  it('falls back to 1024 MB without either', () => {
    expect(DEFAULT_MEMORY_LIMIT_MB).toBe(1024);
    expect(resolveBudget('auto', undefined)).toEqual({ bytes: 1024 * 1024 * 1024, source: 'default' });
  });
});

describe('planMemory: the split', () => {
  it('splits 1024 MB for 2 workers and 2000-record chunks as designed', () => {
    const chunkBytes = 2000 * 92; // 84 shared bytes per row and an 8-byte offset
    expect(plan(1024)).toEqual({
      budget: budgetMb(1024),
      runtimeBytes: (80 + 2 * 16) * MB,
      worker: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 8 },
      workerHeapBytes: 2 * (16 + 8) * MB,
      // A tenth of the budget is ~639 chunks: capped at 128.
      chunkPool: { chunks: 128, chunkBytes, bytes: 128 * chunkBytes },
      // 2% of the budget (~20 MB) is above both caps.
      fetch: { maxBytes: 8 * MB, maxBytesPerPartition: MB, reserveBytes: 32 * MB },
      deadLetterBytes: 16 * MB,
      headroomBytes: (1024 - 112 - 48 - 32 - 16) * MB - 128 * chunkBytes,
    });
  });

  it.each([
    { mb: 170, workers: 1, chunkSize: 1000, readingColumns: 16, chunkPoolSize: 4 },
    { mb: 256, workers: 2, chunkSize: 20_000, readingColumns: 16, chunkPoolSize: 'auto' as const },
    { mb: 240, workers: 1, chunkSize: 100_000, readingColumns: 16, chunkPoolSize: 'auto' as const },
    { mb: 1024, workers: 4, chunkSize: 2000, readingColumns: 16, chunkPoolSize: 'auto' as const },
    { mb: 3000, workers: 3, chunkSize: 7777, readingColumns: 5, chunkPoolSize: 'auto' as const },
    { mb: 65_536, workers: 16, chunkSize: 50_000, readingColumns: 64, chunkPoolSize: 'auto' as const },
  ])('has every part positive and the parts plus headroom summing to the budget ($mb MB, $workers workers)', ({ mb, ...fields }) => {
    const p = plan(mb, fields);
    const parts = [p.runtimeBytes, p.workerHeapBytes, p.chunkPool.bytes, p.fetch.reserveBytes, p.deadLetterBytes, p.headroomBytes];
    for (const part of parts) expect(part).toBeGreaterThan(0);
    expect(parts.reduce((sum, part) => sum + part, 0)).toBe(mb * MB);
    expect(p.chunkPool.bytes).toBe(p.chunkPool.chunks * chunkBytesOf(fields.chunkSize, fields.readingColumns));
    expect(p.headroomBytes).toBeGreaterThanOrEqual(32 * MB);
  });
});

describe('planMemory: the chunk pool', () => {
  it('grows with the budget (a tenth of it, in whole chunks) and is capped at 128', () => {
    const chunkBytes = chunkBytesOf(20_000, 16); // 1,840,000 bytes
    expect(chunkBytes).toBe(1_840_000);
    const chunks = [256, 512, 1024, 2048, 4096, 16_384].map((mb) => plan(mb, { chunkSize: 20_000 }).chunkPool.chunks);
    // floor(0.1 * mb * 2^20 / 1,840,000): 14.6, 29.2, 58.4, 116.7, then 233.4 and more, capped.
    expect(chunks).toEqual([14, 29, 58, 116, 128, 128]);
  });

  it('holds at least workers + 2 chunks even when a tenth of the budget holds fewer', () => {
    // A tenth of 240 MB is 25,165,824 bytes: 2.7 chunks of 9,200,000 bytes.
    const p = plan(240, { workers: 1, chunkSize: 100_000 });
    expect(p.chunkPool.chunkBytes).toBe(9_200_000);
    expect(p.chunkPool.chunks).toBe(3);
  });

  it('keeps an explicit CHUNK_POOL_SIZE', () => {
    const p = plan(1024, { chunkPoolSize: 7 });
    expect(p.chunkPool).toEqual({ chunks: 7, chunkBytes: 184_000, bytes: 7 * 184_000 });
    // The headroom gains what the auto pool would have taken.
    expect(p.headroomBytes - plan(1024).headroomBytes).toBe((128 - 7) * 184_000);
  });
});

describe('planMemory: fetch bounds', () => {
  const input = { workers: 1, chunkSize: 1000, chunkPoolSize: 4 };

  it('takes 2% of a small budget for a fetch and a quarter of that per partition', () => {
    const { fetch } = plan(170, input);
    // 0.02 * 170 * 2^20 = 3,565,158.4; a quarter of 3,565,158 is 891,289.5.
    expect(fetch).toEqual({ maxBytes: 3_565_158, maxBytesPerPartition: 891_289, reserveBytes: 4 * 3_565_158 });
  });

  it('caps a fetch at 8 MiB and a partition at 1 MiB on a large budget', () => {
    expect(plan(1024, input).fetch).toEqual({ maxBytes: 8 * MB, maxBytesPerPartition: MB, reserveBytes: 32 * MB });
  });

  it('keeps maxBytes within [512 KiB, 8 MiB] and maxBytesPerPartition within [64 KiB, 1 MiB] at any budget', () => {
    for (const mb of [170, 180, 199, 200, 256, 399, 400, 401, 1024, 65_536, 4_194_304]) {
      const { fetch } = plan(mb, input);
      expect(fetch.maxBytes).toBeGreaterThanOrEqual(512 * KiB);
      expect(fetch.maxBytes).toBeLessThanOrEqual(8 * MB);
      expect(fetch.maxBytesPerPartition).toBeGreaterThanOrEqual(64 * KiB);
      expect(fetch.maxBytesPerPartition).toBeLessThanOrEqual(MB);
      expect(fetch.maxBytesPerPartition).toBeLessThanOrEqual(fetch.maxBytes);
      expect(Number.isInteger(fetch.maxBytes) && Number.isInteger(fetch.maxBytesPerPartition)).toBe(true);
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
    expect(p.worker.maxYoungGenerationSizeMb).toBe(8);
    expect(p.workerHeapBytes).toBe(3 * (47 + 8) * MB);
  });
});

describe('planMemory: a budget too small', () => {
  const input = { workers: 2, chunkSize: 2000, readingColumns: 16, chunkPoolSize: 'auto' as const };

  /*
   * Fixed: runtime 80 + 2 * 16 MB and worker heaps 2 * (16 + 8) MB = 160 MB.
   * From about 225 MB on the auto pool is at its cap, 128 * 184,000 bytes.
   * Fetch reserve (4 * 2%) and dead letters (2%) take a tenth of the budget.
   * With 32 MB of headroom: 0.9 * B >= 192 MB + 23,552,000 bytes, so
   * B >= 238.3 MB: 239 MB is the least whole budget that works.
   */
  const NEEDED_MB = 239;

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
    // 8 workers with 100,000-record chunks: runtime 80 + 128 MB, heaps 8 * 55 MB, before any chunk.
    const error = refusal({ budget: budgetMb(512), workers: 8, chunkSize: 100_000, readingColumns: 16, chunkPoolSize: 'auto' });
    const needed = Number(/needs at least (\d+) MB/.exec(error.message)?.[1]);
    expect(needed).toBeGreaterThan(80 + 128 + 8 * 55);
    expect(plan(needed, { workers: 8, chunkSize: 100_000 }).headroomBytes).toBeGreaterThanOrEqual(32 * MB);
    expect(() => plan(needed - 1, { workers: 8, chunkSize: 100_000 })).toThrow(ConfigError);
  });
});
