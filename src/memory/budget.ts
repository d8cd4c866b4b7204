import type { CgroupLimit } from './cgroup.js';

/** Without MEMORY_LIMIT_MB and without a container limit (a laptop, a VM), the budget is this. */
export const DEFAULT_MEMORY_LIMIT_MB = 1024;

export const MB = 1024 * 1024;

export interface MemoryBudget {
  readonly bytes: number;
  /** Where the number came from, for the start-up log. */
  readonly source: 'MEMORY_LIMIT_MB' | 'cgroup v2' | 'cgroup v1' | 'default';
  readonly detail?: string;
}

export function resolveBudget(configuredMb: number | 'auto', cgroup: CgroupLimit | undefined): MemoryBudget {
  if (configuredMb !== 'auto') return { bytes: configuredMb * MB, source: 'MEMORY_LIMIT_MB' };
  if (cgroup !== undefined) return { bytes: cgroup.bytes, source: cgroup.source, detail: cgroup.path };
  return { bytes: DEFAULT_MEMORY_LIMIT_MB * MB, source: 'default' };
}
