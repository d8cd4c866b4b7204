import type { CgroupLimit } from './cgroup.js';

/** Without MEMORY_LIMIT_MB and without a container limit (a laptop, a VM), the budget is this. */
export const DEFAULT_MEMORY_LIMIT_MB = 1024;

export const MB = 1024 * 1024;

/**
 * Share of a container's memory limit kept out of the budget when the budget
 * is read from it. The guard holds RSS near the budget, not under it at every
 * instant: work in flight when it pauses keeps allocating for a second or
 * two, and a process stuck above the budget gets MEMORY_STUCK_MS before it
 * exits 4. At the limit the kernel kills instead. The churn soak (20,000
 * devices keyed by zone, H3 cell and device, window state at its cap) peaked
 * 7% over its budget in 20 minutes. Flink keeps 10% of a TaskManager's
 * process memory out of its plan for the same reason (JVM overhead).
 */
export const CONTAINER_RESERVE_SHARE = 0.1;

export interface MemoryBudget {
  readonly bytes: number;
  /** Where the number came from, for the start-up log. */
  readonly source: 'MEMORY_LIMIT_MB' | 'cgroup v2' | 'cgroup v1' | 'default';
  readonly detail?: string;
  /** The container's limit the budget was taken from (budget = limit less CONTAINER_RESERVE_SHARE). */
  readonly containerLimitBytes?: number;
}

export function resolveBudget(configuredMb: number | 'auto', cgroup: CgroupLimit | undefined): MemoryBudget {
  if (configuredMb !== 'auto') return { bytes: configuredMb * MB, source: 'MEMORY_LIMIT_MB' };
  if (cgroup !== undefined) {
    return {
      bytes: Math.floor(cgroup.bytes * (1 - CONTAINER_RESERVE_SHARE)),
      source: cgroup.source,
      detail: cgroup.path,
      containerLimitBytes: cgroup.bytes,
    };
  }
  return { bytes: DEFAULT_MEMORY_LIMIT_MB * MB, source: 'default' };
}
