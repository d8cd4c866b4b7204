import { getHeapStatistics } from 'node:v8';
import { MB } from './budget.js';
import type { MemoryPlan } from './plan.js';
import { nodeSizeFlag } from './young-generation.js';

/**
 * The main thread's old generation, bounded by the memory plan. V8 sizes its
 * heap limit from the memory it can see (Node gives it a container's cgroup
 * limit), and the limit sets how far the heap grows past what is live before
 * a full collection: up to 4x from a 2 GB limit, down to 1.3x at 256 MB. On a
 * host without a cgroup limit V8 sees the whole machine (a 4 GB limit on 24
 * GB), whatever MEMORY_LIMIT_MB says: on the zone-window benchmark the main
 * heap held about 35 MB live and grew to 150 MB between collections.
 * `geowindow run` starts itself again (heap-restart.ts) with the plan's limit
 * where V8 would not see the budget.
 */

/** The least limit set: below it V8's growing factor is already its least. */
export const MIN_MAIN_OLD_SPACE_MB = 256;

/**
 * `--max-old-space-size` for the plan: what the budget leaves the main thread
 * once the workers' heaps, the chunk pool and its young generation are
 * counted. Undefined when the budget is the container's limit, which Node
 * already sized V8 from.
 */
export function plannedOldSpaceMb(plan: MemoryPlan): number | undefined {
  if (plan.budget.source === 'cgroup v1' || plan.budget.source === 'cgroup v2') return undefined;
  const rest = plan.budget.bytes - plan.workerHeapBytes - plan.chunkPool.bytes - plan.youngGenerationBytes;
  return Math.max(MIN_MAIN_OLD_SPACE_MB, Math.floor(rest / MB));
}

/** `--max-old-space-size` as given in node's arguments or NODE_OPTIONS, else undefined. */
export function oldSpaceFlag(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env.NODE_OPTIONS): number | undefined {
  return nodeSizeFlag('max-old-space-size', execArgv, nodeOptions);
}

/** For the start-up line: the flag the main thread runs with (null: V8 chose) and V8's resulting heap limit. */
export function describeMainHeap(): { mainOldSpaceMb: number | null; mainHeapLimitMb: number } {
  return { mainOldSpaceMb: oldSpaceFlag() ?? null, mainHeapLimitMb: Math.round(getHeapStatistics().heap_size_limit / MB) };
}
