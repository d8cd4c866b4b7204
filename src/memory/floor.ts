import { processMemory, type ProcessMemory } from './probe.js';

/**
 * The process's resident memory with its workers up and no record read: the
 * runtime's floor, which the memory plan is built on. Measured, not assumed,
 * because it moves with every Node.js release (about 97 MB on Node 20 and
 * 113 MB on Node 24 with two workers, `npm run bench:floor`) and with the
 * platform.
 */
export async function measureFloor(
  workersUp: () => Promise<unknown>,
  gc: (() => void) | undefined,
  probe: () => ProcessMemory = processMemory,
): Promise<number> {
  await workersUp();
  // Garbage of the start-up is not floor; without --expose-gc the floor is a little high, never low.
  gc?.();
  return probe().rss;
}
