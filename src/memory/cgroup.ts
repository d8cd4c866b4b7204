import { readFileSync } from 'node:fs';

/** Reads a file, or undefined when it does not exist or cannot be read. */
export type FileReader = (path: string) => string | undefined;

export const readFileOrUndefined: FileReader = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

export interface CgroupLimit {
  readonly bytes: number;
  readonly source: 'cgroup v2' | 'cgroup v1';
  readonly path: string;
}

/**
 * No container is smaller than this and still runs Node.js; anything at or
 * above 2^50 bytes (1 PiB) is a kernel "unlimited" marker, such as cgroup v1's
 * 9223372036854771712.
 */
const MIN_PLAUSIBLE_BYTES = 16 * 1024 * 1024;
const MAX_PLAUSIBLE_BYTES = 2 ** 50;

function parseLimit(text: string | undefined, hostBytes: number): number | undefined {
  if (text === undefined) return undefined;
  const value = text.trim();
  if (value === 'max' || !/^\d+$/.test(value)) return undefined;
  const bytes = Number(value);
  if (bytes < MIN_PLAUSIBLE_BYTES || bytes >= MAX_PLAUSIBLE_BYTES || bytes > hostBytes) return undefined;
  return bytes;
}

/** This process's cgroup v2 path, from /proc/self/cgroup ("0::/kubepods/..."). */
function cgroupV2Path(read: FileReader): string | undefined {
  const line = read('/proc/self/cgroup')
    ?.split('\n')
    .find((entry) => entry.startsWith('0::'));
  return line?.slice(3).trim();
}

/**
 * The memory limit of the container this process runs in: cgroup v2
 * `memory.max` (of the process's own cgroup, then the root of the
 * namespace), else cgroup v1 `memory.limit_in_bytes`. "max", unreadable
 * files and absurd values (unlimited markers, more than the host has) count
 * as no limit.
 */
export function cgroupMemoryLimit(read: FileReader, hostBytes: number): CgroupLimit | undefined {
  const own = cgroupV2Path(read);
  const v2Paths = [own && own !== '/' ? `/sys/fs/cgroup${own}/memory.max` : undefined, '/sys/fs/cgroup/memory.max'];
  for (const path of v2Paths) {
    if (path === undefined) continue;
    const bytes = parseLimit(read(path), hostBytes);
    if (bytes !== undefined) return { bytes, source: 'cgroup v2', path };
  }
  const v1Path = '/sys/fs/cgroup/memory/memory.limit_in_bytes';
  const bytes = parseLimit(read(v1Path), hostBytes);
  return bytes === undefined ? undefined : { bytes, source: 'cgroup v1', path: v1Path };
}
