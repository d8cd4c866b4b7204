/**
 * Plumbing shared by the benchmark entry points: child processes that are
 * always cleaned up, Linux /proc readings (peak RSS, CPU time), Prometheus
 * text parsing, markdown tables, and where results are written.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
export { freePort } from '../../src/net/free-port.js';

/** The repository root: the nearest folder above this file (dist/bench/lib/ or bench/lib/) with a package.json. */
export const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
/** The product's CLI, as built by `npm run build`. */
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');
/** The compiled benchmark scripts. */
export const BENCH_DIST = join(ROOT, 'dist', 'bench');
export const RESULTS_MD = join(ROOT, 'bench', 'RESULTS.md');
export const MiB = 1024 * 1024;

/** Wall-clock time in milliseconds since the epoch, sub-millisecond precise. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

const started = nowMs();
/** A progress line on stderr, stamped with the seconds since the harness started. */
export function say(message: string): void {
  process.stderr.write(`[bench ${((nowMs() - started) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);
}

/** A UTC stamp for directory names: 20261126T212242Z. */
export function stamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function fmtInt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}


// ---------------------------------------------------------------------------
// Child processes

const children = new Set<ChildProcess>();
let cleanupInstalled = false;

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping the children`);
      killAll();
      process.exit(130);
    });
  }
}

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** stdout collected as text (unless it was sent elsewhere). */
  stdout(): string;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Prefix of the stderr lines relayed to our stderr; stderr is also kept in `stderrFile` if given. */
  readonly label: string;
  readonly stderrFile?: string;
  /** Where stdout goes: collected (default) or appended to a file. */
  readonly stdoutFile?: string;
  /** Relay only stderr lines that pass this filter (default: all). */
  readonly relay?: (line: string) => boolean;
  readonly onStdout?: (chunk: Buffer) => void;
}

/** Starts a process whose stderr lines are relayed with a prefix; it is killed if the harness dies. */
export function start(command: string, args: readonly string[], options: StartOptions): Child {
  installCleanup();
  const spawnOptions: SpawnOptions = { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT };
  // The logs go beside the run's results; the folder may not exist yet.
  for (const file of [options.stdoutFile, options.stderrFile]) if (file !== undefined) mkdirSync(dirname(file), { recursive: true });
  const child = spawn(command, [...args], spawnOptions);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  children.add(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    options.onStdout?.(chunk);
    if (options.stdoutFile !== undefined) appendFileSync(options.stdoutFile, chunk);
    else if (options.onStdout === undefined) out += chunk.toString();
  });
  let pending = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (options.stderrFile !== undefined) appendFileSync(options.stderrFile, chunk);
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line.trim() !== '' && (options.relay?.(line) ?? true)) say(`${options.label}: ${line}`);
  });
  const exited = new Promise<number | string>((resolveExit, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      children.delete(child);
      if (pending.trim() !== '' && (options.relay?.(pending) ?? true)) say(`${options.label}: ${pending}`);
      resolveExit(code ?? signal ?? 'unknown');
    });
  });
  return { process: child, pid: child.pid, exited, stdout: () => out };
}

/** Runs a command to completion; throws with its stderr if it fails. */
export async function run(command: string, args: readonly string[], options: StartOptions): Promise<string> {
  const child = start(command, args, options);
  const code = await child.exited;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}`);
  return child.stdout();
}

/** The last JSON object printed on stdout by a child. */
export function lastJson<T>(stdout: string): T {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (line === undefined) throw new Error(`no JSON summary in the output: ${stdout.slice(-500)}`);
  return JSON.parse(line) as T;
}

export function which(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// /proc (Linux)

export interface ProcMemory {
  /** Peak resident set size so far (VmHWM), bytes: exact, kept by the kernel. */
  readonly hwmBytes: number;
  readonly rssBytes: number;
}

/** VmHWM and VmRSS of a live process, or undefined once it is gone. */
export function procMemory(pid: number): ProcMemory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { hwmBytes: kb('VmHWM'), rssBytes: kb('VmRSS') };
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * User + system CPU seconds of a live process, all its threads, or of one of
 * its threads (`tid`; the main thread's is the pid); undefined once it is gone.
 */
export function procCpuSeconds(pid: number, tid?: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces; fields after it are counted from its closing parenthesis.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / ticksPerSecond();
}

/**
 * Node 22 and later name the threads of V8's platform "V8Worker": concurrent
 * and parallel garbage collection (marking, sweeping, scavenging) and
 * background compilation of every isolate, the workers' included, run on them.
 * Node 20 names every thread "node", so there they cannot be told apart.
 */
export const V8_BACKGROUND_THREAD = 'V8Worker';

/** CPU seconds of a process's threads named `name` (Linux /proc); NaN when it has none, undefined when the process is gone. */
export function procThreadsCpuSeconds(pid: number, name: string): number | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let seconds = Number.NaN;
  for (const tid of tids) {
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm === name) seconds = (Number.isNaN(seconds) ? 0 : seconds) + (procCpuSeconds(pid, Number(tid)) ?? 0);
  }
  return seconds;
}

/**
 * Samples a child's VmHWM until it exits. VmHWM only grows, so the last
 * reading is the peak up to that moment; `peak()` is exact as long as the
 * caller reads it just before the process ends (or the process reports its
 * own getrusage peak, which the callers prefer when they have it).
 */
export class HwmSampler {
  #hwm = 0;
  #rss = 0;
  readonly #timer: NodeJS.Timeout;
  constructor(readonly pid: number, intervalMs = 100) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }
  sample(): ProcMemory | undefined {
    const memory = procMemory(this.pid);
    if (memory !== undefined && Number.isFinite(memory.hwmBytes)) {
      this.#hwm = Math.max(this.#hwm, memory.hwmBytes);
      this.#rss = memory.rssBytes;
    }
    return memory;
  }
  get peakBytes(): number {
    return this.#hwm;
  }
  get rssBytes(): number {
    return this.#rss;
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

// ---------------------------------------------------------------------------
// Prometheus text format

export type Samples = Map<string, number>;

/** Every sample of a Prometheus text exposition, keyed by name with labels as written. */
export function parseMetrics(text: string): Samples {
  const values: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** The sum of a metric's samples over all label sets (or the one without labels). */
export function metricSum(samples: Samples, name: string): number {
  let sum = 0;
  for (const [key, value] of samples) if (key === name || key.startsWith(`${name}{`)) sum += value;
  return sum;
}

/** The value of one labelled sample, e.g. metricLabelled(s, 'x_total', 'closed_by', 'idle'). */
export function metricLabelled(samples: Samples, name: string, label: string, value: string): number {
  for (const [key, v] of samples) if (key.startsWith(`${name}{`) && key.includes(`${label}="${value}"`)) return v;
  return 0;
}

export interface Bucket {
  readonly le: number;
  readonly count: number;
}

export function histogramBuckets(samples: Samples, name: string): Bucket[] {
  const buckets: Bucket[] = [];
  for (const [key, count] of samples) {
    if (!key.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(key)?.[1];
    if (le !== undefined) buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count });
  }
  return buckets.sort((a, b) => a.le - b.le);
}

/**
 * A quantile of a cumulative histogram, interpolated linearly inside the
 * bucket that holds it (as Prometheus' histogram_quantile does; the first
 * bucket starts at 0). Past the last finite bound it returns that bound.
 */
export function histogramQuantile(buckets: readonly Bucket[], q: number): number | undefined {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      return inBucket === 0 ? bucket.le : lowerBound + ((bucket.le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}

export async function scrape(url: string): Promise<Samples | undefined> {
  try {
    const response = await fetch(url);
    return response.ok ? parseMetrics(await response.text()) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Output

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Appends a section to bench/RESULTS.md, separated by a blank line. */
export function appendResults(section: string): void {
  const current = existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, 'utf8') : '# Benchmark results\n';
  const separator = current.endsWith('\n\n') ? '' : current.endsWith('\n') ? '\n' : '\n\n';
  appendFileSync(RESULTS_MD, `${separator}${section.trimEnd()}\n`);
}

/** The command line that started this run, as the user typed it (npm script or node). */
export function commandLine(): string {
  const args = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  const script = process.env.npm_lifecycle_event;
  if (script !== undefined && script.startsWith('bench')) return `npm run ${script}${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
  return `node ${process.argv[1] === undefined ? '' : process.argv[1].replace(`${ROOT}/`, '')} ${args.join(' ')}`.trim();
}

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
}

export function machine(): Machine {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: round(totalmem() / 1024 ** 3, 1),
    kernel: release(),
    node: process.version,
  };
}

export function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return manifest.version;
  } catch {
    return 'not installed';
  }
}

/** Polls `check` every `everyMs` until it returns a value, or throws after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, everyMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (nowMs() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}
