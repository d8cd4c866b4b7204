import { describe, expect, it } from 'vitest';
import { cgroupMemoryLimit, type FileReader } from '../../src/memory/cgroup.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** A 16 GiB host. */
const HOST = 16 * GiB;

const PROC_CGROUP = '/proc/self/cgroup';
const V2_ROOT = '/sys/fs/cgroup/memory.max';
const V1 = '/sys/fs/cgroup/memory/memory.limit_in_bytes';

/** A file system of exactly these files; every other path is unreadable. */
function files(contents: Record<string, string>): FileReader & { readonly reads: string[] } {
  const reads: string[] = [];
  const read = (path: string) => {
    reads.push(path);
    return Object.hasOwn(contents, path) ? contents[path] : undefined;
  };
  return Object.assign(read, { reads });
}

describe('cgroupMemoryLimit: cgroup v2', () => {
  it('reads a number from the root memory.max, trailing newline and all', () => {
    const read = files({ [V2_ROOT]: `${512 * MiB}\n` });
    expect(cgroupMemoryLimit(read, HOST)).toEqual({ bytes: 512 * MiB, source: 'cgroup v2', path: V2_ROOT });
  });

  it('prefers the memory.max of the process\'s own cgroup, from /proc/self/cgroup, over the root', () => {
    const own = '/sys/fs/cgroup/kubepods/pod1/ctr/memory.max';
    const read = files({
      [PROC_CGROUP]: '0::/kubepods/pod1/ctr\n',
      [own]: `${768 * MiB}\n`,
      [V2_ROOT]: `${2 * GiB}\n`,
    });
    expect(cgroupMemoryLimit(read, HOST)).toEqual({ bytes: 768 * MiB, source: 'cgroup v2', path: own });
  });

  it('finds the v2 line among v1 controller lines of a hybrid host', () => {
    const own = '/sys/fs/cgroup/system.slice/app.service/memory.max';
    const read = files({
      [PROC_CGROUP]: '12:memory:/system.slice/app.service\n3:cpu,cpuacct:/system.slice\n0::/system.slice/app.service\n',
      [own]: `${300 * MiB}`,
    });
    expect(cgroupMemoryLimit(read, HOST)).toEqual({ bytes: 300 * MiB, source: 'cgroup v2', path: own });
  });

  it('falls back to the root memory.max when the own cgroup has no limit', () => {
    const read = files({
      [PROC_CGROUP]: '0::/kubepods/pod1/ctr\n',
      '/sys/fs/cgroup/kubepods/pod1/ctr/memory.max': 'max\n',
      [V2_ROOT]: `${GiB}\n`,
    });
    expect(cgroupMemoryLimit(read, HOST)).toEqual({ bytes: GiB, source: 'cgroup v2', path: V2_ROOT });
  });

  it('reads only the root when the process sits at the root of its cgroup namespace ("0::/")', () => {
    const read = files({ [PROC_CGROUP]: '0::/\n', [V2_ROOT]: `${GiB}\n` });
    expect(cgroupMemoryLimit(read, HOST)).toEqual({ bytes: GiB, source: 'cgroup v2', path: V2_ROOT });
    // Not "/sys/fs/cgroup//memory.max".
    expect(read.reads.filter((path) => path.endsWith('memory.max'))).toEqual([V2_ROOT]);
  });

  it('treats "max" as no limit and falls back to cgroup v1 when it has one', () => {
    const read = files({ [V2_ROOT]: 'max\n', [V1]: `${256 * MiB}\n` });
    expect(cgroupMemoryLimit(read, HOST)).toEqual({ bytes: 256 * MiB, source: 'cgroup v1', path: V1 });
  });

  it('treats "max" as no limit: undefined without a v1 file', () => {
    expect(cgroupMemoryLimit(files({ [V2_ROOT]: 'max\n' }), HOST)).toBeUndefined();
  });
});

describe('cgroupMemoryLimit: cgroup v1', () => {
  it('reads memory.limit_in_bytes', () => {
    const read = files({ [V1]: `${GiB}\n` });
    expect(cgroupMemoryLimit(read, HOST)).toEqual({ bytes: GiB, source: 'cgroup v1', path: V1 });
  });

  it('treats the "unlimited" marker 9223372036854771712 as no limit', () => {
    const read = files({ [V1]: '9223372036854771712\n' });
    expect(cgroupMemoryLimit(read, HOST)).toBeUndefined();
    // Even on a host that claims more memory than the marker: the marker is refused for what it is.
    expect(cgroupMemoryLimit(read, 2 ** 64)).toBeUndefined();
  });
});

describe('cgroupMemoryLimit: implausible values', () => {
  it('ignores a limit above the host memory', () => {
    expect(cgroupMemoryLimit(files({ [V2_ROOT]: `${32 * GiB}\n` }), HOST)).toBeUndefined();
    expect(cgroupMemoryLimit(files({ [V1]: `${HOST + 1}\n` }), HOST)).toBeUndefined();
    // The host's exact size is still a limit.
    expect(cgroupMemoryLimit(files({ [V1]: `${HOST}\n` }), HOST)?.bytes).toBe(HOST);
  });

  it('ignores a limit too small to run Node.js at all (below 16 MiB)', () => {
    expect(cgroupMemoryLimit(files({ [V2_ROOT]: `${16 * MiB - 1}` }), HOST)).toBeUndefined();
    expect(cgroupMemoryLimit(files({ [V2_ROOT]: `${16 * MiB}` }), HOST)?.bytes).toBe(16 * MiB);
  });

  it.each(['', '\n', 'garbage', '512M', '-536870912', '5.36870912e8', '0x20000000', '536870912 bytes'])(
    'ignores %j as a limit, in v2 and in v1',
    (text) => {
      expect(cgroupMemoryLimit(files({ [V2_ROOT]: text }), HOST)).toBeUndefined();
      expect(cgroupMemoryLimit(files({ [V1]: text }), HOST)).toBeUndefined();
      // A garbled v2 value does not hide a good v1 one.
      expect(cgroupMemoryLimit(files({ [V2_ROOT]: text, [V1]: `${GiB}` }), HOST)).toEqual({
        bytes: GiB,
        source: 'cgroup v1',
        path: V1,
      });
    },
  );

  it('is undefined when nothing is readable', () => {
    const read = files({});
    expect(cgroupMemoryLimit(read, HOST)).toBeUndefined();
    expect(read.reads).toContain(V2_ROOT);
    expect(read.reads).toContain(V1);
  });
});
