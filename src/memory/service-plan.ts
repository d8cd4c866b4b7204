import { totalmem } from 'node:os';
import { chunkRows, type Config } from '../config/config.js';
import { resolveBudget, MB } from './budget.js';
import { cgroupMemoryLimit, readFileOrUndefined } from './cgroup.js';
import { planMemory, type MemoryPlan } from './plan.js';
import { keysLookUpPlaces } from '../shared/keys.js';
import { youngGeneration } from './young-generation.js';

/**
 * The memory plan of this process: the budget from configuration or the
 * container, split. `floorBytes` is the runtime's resident memory measured
 * with the workers up; before they are, the plan estimates it.
 */
export function memoryPlanFor(config: Config, workerExtraBytes = 0, floorBytes?: number): MemoryPlan {
  const cgroup = config.memoryLimitMb === 'auto' ? cgroupMemoryLimit(readFileOrUndefined, totalmem()) : undefined;
  return planMemory({
    budget: resolveBudget(config.memoryLimitMb, cgroup),
    workers: config.workers,
    chunkSize: chunkRows(config),
    maxMessageBytes: config.maxMessageBytes,
    chunkPoolSize: config.chunkPoolSize,
    eventTime: config.window !== 'count',
    keyKinds: config.keyBy.length,
    placeCache: keysLookUpPlaces(config.keyBy),
    workerExtraBytes,
    youngGenerationBytes: youngGeneration().bytes,
    ...(floorBytes === undefined ? {} : { floorBytes }),
  });
}

const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;

/** The split as the start-up log shows it, in MB. */
export function describePlan(plan: MemoryPlan): Record<string, unknown> {
  return {
    budgetMb: mb(plan.budget.bytes),
    source: plan.budget.source,
    ...(plan.budget.detail === undefined ? {} : { sourcePath: plan.budget.detail }),
    ...(plan.budget.containerLimitBytes === undefined ? {} : { containerLimitMb: mb(plan.budget.containerLimitBytes) }),
    runtimeMb: mb(plan.runtimeBytes),
    runtime: plan.runtimeSource,
    mainYoungGenerationMb: mb(plan.youngGenerationBytes),
    workerHeapsMb: mb(plan.workerHeapBytes),
    workerLimits: plan.worker,
    chunkPool: { chunks: plan.chunkPool.chunks, chunkKb: Math.round(plan.chunkPool.chunkBytes / 1024), totalMb: mb(plan.chunkPool.bytes) },
    fetch: {
      maxBytes: plan.fetch.maxBytes,
      maxBytesPerPartition: plan.fetch.maxBytesPerPartition,
      reserveMb: mb(plan.fetch.reserveBytes),
    },
    deadLettersMb: mb(plan.deadLetterBytes),
    ...(plan.windowStateBytes > 0 ? { windowStateMb: mb(plan.windowStateBytes), windowClosingMb: mb(plan.windowClosingBytes) } : {}),
    headroomMb: mb(plan.headroomBytes),
  };
}
