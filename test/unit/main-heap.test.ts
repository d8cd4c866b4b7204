import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { missingHeapFlags } from '../../src/memory/heap-restart.js';
import { MIN_MAIN_OLD_SPACE_MB, oldSpaceFlag, plannedOldSpaceMb } from '../../src/memory/main-heap.js';
import { memoryPlanFor } from '../../src/memory/service-plan.js';
import { youngGeneration } from '../../src/memory/young-generation.js';

const MB = 1024 * 1024;
const BASE = { KAFKA_BROKERS: '127.0.0.1:9092', INPUT_TOPIC: 'in', WORKERS: '2' };

describe('plannedOldSpaceMb', () => {
  it('leaves the main thread what the budget holds beyond worker heaps, chunks and its young generation', () => {
    const plan = memoryPlanFor(loadConfig({ ...BASE, MEMORY_LIMIT_MB: '1024' }));
    const expected = Math.floor((1024 * MB - plan.workerHeapBytes - plan.chunkPool.bytes - plan.youngGenerationBytes) / MB);
    expect(plannedOldSpaceMb(plan)).toBe(expected);
    // Under the budget, and far under the 4 GB V8 picks on a large host.
    expect(expected).toBeLessThan(1024);
    expect(expected).toBeGreaterThan(MIN_MAIN_OLD_SPACE_MB);
  });

  it('never goes under the least limit, where V8 already grows the heap least', () => {
    expect(plannedOldSpaceMb(memoryPlanFor(loadConfig({ ...BASE, WORKERS: '1', MEMORY_LIMIT_MB: '256' })))).toBe(MIN_MAIN_OLD_SPACE_MB);
  });

  it('sets none when the budget is the container limit, which Node sized V8 from', () => {
    const plan = memoryPlanFor(loadConfig({ ...BASE, MEMORY_LIMIT_MB: '1024' }));
    expect(plannedOldSpaceMb({ ...plan, budget: { ...plan.budget, source: 'cgroup v2' } })).toBeUndefined();
    expect(plannedOldSpaceMb({ ...plan, budget: { ...plan.budget, source: 'cgroup v1' } })).toBeUndefined();
  });
});

describe('oldSpaceFlag', () => {
  it('reads --max-old-space-size from the arguments or NODE_OPTIONS, the arguments winning', () => {
    expect(oldSpaceFlag(['--max-old-space-size=600'], undefined)).toBe(600);
    expect(oldSpaceFlag(['--max_old_space_size', '512'], '--max-old-space-size=100')).toBe(512);
    expect(oldSpaceFlag([], '--max-old-space-size=100')).toBe(100);
    expect(oldSpaceFlag(['--max-semi-space-size=16'], undefined)).toBeUndefined();
  });
});

describe('missingHeapFlags', () => {
  const config = loadConfig({ ...BASE, MEMORY_LIMIT_MB: '1024' });

  it('asks for nothing where the process cannot start itself again', () => {
    expect(missingHeapFlags(config, false)).toEqual([]);
  });

  it('asks for the planned old space, and the young generation bound where V8 would outgrow it', () => {
    const flags = missingHeapFlags(config, true);
    expect(flags).toContain(`--max-old-space-size=${plannedOldSpaceMb(memoryPlanFor(config))}`);
    expect(flags.includes('--max-semi-space-size=16')).toBe(youngGeneration().restart);
  });

  it('leaves a budget too small for the configuration to the service, which reports it', () => {
    const tooSmall = loadConfig({ ...BASE, MEMORY_LIMIT_MB: '64' });
    expect(() => memoryPlanFor(tooSmall)).toThrow();
    expect(missingHeapFlags(tooSmall, true).some((flag) => flag.startsWith('--max-old-space-size'))).toBe(false);
  });
});
