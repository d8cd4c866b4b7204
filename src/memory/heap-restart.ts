import type { Config } from '../config/config.js';
import { withMallocSettings } from './malloc-settings.js';
import { oldSpaceFlag, plannedOldSpaceMb } from './main-heap.js';
import { memoryPlanFor } from './service-plan.js';
import { MAIN_SEMI_SPACE_MB, runtime, youngGeneration } from './young-generation.js';

/**
 * The node flags `geowindow run` needs and was not started with: the young
 * generation's bound (young-generation.ts) and the plan's old-space limit
 * (main-heap.ts). A flag given to node is kept; so is an error in the plan,
 * which the service reports as it starts.
 */
export function missingHeapFlags(config: Config, canRestart: boolean = typeof runtime.execve === 'function'): string[] {
  if (!canRestart) return [];
  const flags: string[] = [];
  if (youngGeneration().restart) flags.push(`--max-semi-space-size=${MAIN_SEMI_SPACE_MB}`);
  if (oldSpaceFlag() === undefined) {
    let oldSpaceMb: number | undefined;
    try {
      oldSpaceMb = plannedOldSpaceMb(memoryPlanFor(config));
    } catch {
      oldSpaceMb = undefined;
    }
    if (oldSpaceMb !== undefined) flags.push(`--max-old-space-size=${oldSpaceMb}`);
  }
  return flags;
}

/**
 * Where the heap needs flags it was not started with, starts this process
 * again in its place (same pid, arguments and environment) with them, and
 * with the malloc settings not set (malloc-settings.ts). Returns only when no
 * restart is needed, or possible (Node 20, Node 22 before 22.15).
 */
export function restartWithPlannedHeap(config: Config): void {
  const flags = missingHeapFlags(config);
  if (flags.length === 0 || runtime.execve === undefined) return;
  runtime.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], withMallocSettings(process.env));
}
