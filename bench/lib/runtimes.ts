/**
 * The Node.js binaries a benchmark runs its Node.js systems on
 * (`--runtimes`), so that two releases are compared in one run, on the same
 * data set and the same machine state, instead of across days.
 */
import { execFileSync } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { which } from './common.js';

/** One Node.js binary and the version it reports. */
export interface Runtime {
  /** Absolute path of the binary. */
  readonly binary: string;
  /** `process.version` of that binary, e.g. v24.22.3. */
  readonly version: string;
  /** Short and unique within a run, for file names and progress lines: node20, node24. */
  readonly tag: string;
  /** The harness's own binary. */
  readonly current: boolean;
}

/** The name that stands for the binary the harness runs on. */
const CURRENT = 'node';

export const RUNTIMES_USAGE = `  --runtimes "A,B"      Node.js binaries to run the Node.js systems on, in order, the first being the one
                        ratios are taken to ("node" is the harness's own; default: node only)`;

function versionOf(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    throw new Error(`--runtimes: ${binary} does not run as node --version (${(error as Error).message.split('\n')[0]})`);
  }
}

function resolveBinary(name: string): string {
  if (name === CURRENT) return process.execPath;
  if (name.includes('/')) return isAbsolute(name) ? name : resolve(name);
  const found = which(name);
  if (found === undefined) throw new Error(`--runtimes: ${name} is not on PATH; give its path`);
  return found;
}

/**
 * The runtimes named by `--runtimes` (comma-separated), each asked for its
 * version; exits 2 with the reason when one does not run.
 */
export function parseRuntimes(raw: string | undefined): Runtime[] {
  const names = (raw ?? CURRENT).split(',').map((s) => s.trim()).filter(Boolean);
  const runtimes: Runtime[] = [];
  try {
    for (const name of names.length > 0 ? names : [CURRENT]) {
      const binary = resolveBinary(name);
      const version = versionOf(binary);
      const base = `node${version.replace(/^v/, '').split('.')[0]}`;
      const taken = runtimes.filter((r) => r.tag === base || r.tag.startsWith(`${base}-`)).length;
      runtimes.push({ binary, version, tag: taken === 0 ? base : `${base}-${taken + 1}`, current: binary === process.execPath });
    }
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  return runtimes;
}

/** The run's runtimes for a RESULTS.md section: `Node.js v20.20.2 (this harness's), v24.22.3 (/path/node)`. */
export function runtimesLine(runtimes: readonly Runtime[]): string {
  return `Node.js runtimes, in this order: ${runtimes.map((r) => `${r.version} (\`${r.current ? 'node, the harness\'s own' : r.binary}\`)`).join(', ')}.`;
}
