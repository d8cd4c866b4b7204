/**
 * `npm run bench:idle`: CPU that geowindow burns doing nothing (joined to its
 * group, subscribed to an empty topic, no traffic), with kafkajs 2.2.4 as
 * published and as scripts/patch-kafkajs.mjs patches it, on the machine's
 * Node.js and on the pinned Node.js 24 (scripts/node24.sh).
 *
 * Both kafkajs variants are copies in a temporary folder, loaded through the
 * same module resolve hook, so the installed node_modules is never changed
 * and both run on equal terms; runs alternate between them. CPU is user +
 * system time of the whole process (main thread, workers, every other
 * thread) from /proc/<pid>/stat over the idle window. Wake-ups are the event
 * loops' epoll waits, counted by `strace -f -c` in a separate window after
 * it (strace slows what it traces, so it never overlaps the CPU window).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { appendResults, CLI, freePort, markdownTable, nowMs, procCpuSeconds, ROOT, round, say, stamp, start, until, which, writeJson } from './lib/common.js';
import { withAdmin } from './lib/dataset.js';
import { brokersOf, parseFlags, positiveInteger } from './lib/options.js';
import { environment, sectionHead, type Run } from './lib/report.js';

const USAGE = `Usage: npm run bench:idle -- [options]

Idle CPU of geowindow with kafkajs as published and as patched, on Node.js 20 and 24.

  --seconds S           length of each idle CPU window (default 60)
  --runs N              runs of each runtime and kafkajs variant, alternating (default 3)
  --settle-seconds S    idle time after the group is joined, before the window (default 10)
  --workers W           WORKERS of the service (default 2)
  --strace-seconds S    window in which strace counts epoll waits, after the CPU window; 0: none (default 10)
  --node24 PATH|none    Node.js 24 binary (default: bash scripts/node24.sh); none: the machine's Node.js only
  --brokers B           host:port list (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --progress-seconds S  seconds between progress lines inside a window (default 20)
  --no-append           do not append to bench/RESULTS.md (raw JSON is still written)`;

const values = parseFlags(
  {
    seconds: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    'settle-seconds': { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    'strace-seconds': { type: 'string', default: '10' },
    node24: { type: 'string' },
    'progress-seconds': { type: 'string', default: '20' },
  },
  USAGE,
);
const windowSeconds = positiveInteger('seconds', values.seconds, 60);
const runs = positiveInteger('runs', values.runs, 3);
const settleSeconds = positiveInteger('settle-seconds', values['settle-seconds'], 10);
const workers = positiveInteger('workers', values.workers, 2);
const progressSeconds = positiveInteger('progress-seconds', values['progress-seconds'], 20);
const straceSeconds = values['strace-seconds'] === '0' ? 0 : positiveInteger('strace-seconds', values['strace-seconds'], 10);
const brokers = brokersOf(values);

/** How long the service may take to join its group. */
const READY_TIMEOUT_MS = 60_000;
const PATCH_SCRIPT = join(ROOT, 'scripts', 'patch-kafkajs.mjs');
/** The syscalls an idle libuv event loop sleeps in: one call is one wake-up of one loop. */
const EPOLL_WAITS = ['epoll_wait', 'epoll_pwait', 'epoll_pwait2'];

interface Runtime {
  readonly name: string;
  readonly node: string;
  readonly version: string;
}

interface Variant {
  readonly name: 'published' | 'patched';
  /** Node options that make `import 'kafkajs'` load this copy. */
  readonly nodeArgs: readonly string[];
}

interface Sample {
  readonly runtime: string;
  readonly nodeVersion: string;
  readonly variant: Variant['name'];
  readonly run: number;
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
  readonly percentOfCore: number;
  readonly epollWaitsPerSecond: number | undefined;
  readonly timeoutNegativeWarning: boolean;
  /** The machine's 1-minute load average at the end of the CPU window: what else ran beside it. */
  readonly loadAverage: number;
}

function runtimes(): Runtime[] {
  const found: Runtime[] = [{ name: `Node.js ${process.versions.node.split('.')[0]}`, node: process.execPath, version: process.version }];
  let node24 = values.node24;
  if (node24 === 'none') return found;
  if (node24 === undefined) {
    try {
      node24 = execFileSync('bash', [join(ROOT, 'scripts', 'node24.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    } catch (error) {
      say(`Node.js 24 not measured: scripts/node24.sh failed (${(error as Error).message.split('\n')[0]})`);
      return found;
    }
  }
  const version = execFileSync(node24, ['--version'], { encoding: 'utf8' }).trim();
  if (version !== process.version) found.push({ name: `Node.js ${version.slice(1).split('.')[0]}`, node: node24, version });
  return found;
}

/**
 * A copy of the installed kafkajs, published or patched by the patch script
 * (which refuses anything but 2.2.4 as published or as it patches it), and
 * the resolve hook that loads it instead of node_modules' copy.
 */
function prepareVariant(name: Variant['name'], into: string): Variant {
  const installed = dirname(createRequire(join(ROOT, 'package.json')).resolve('kafkajs/package.json'));
  const dir = join(into, `kafkajs-${name}`);
  cpSync(installed, dir, { recursive: true });
  execFileSync(process.execPath, [PATCH_SCRIPT, '--dir', dir, ...(name === 'published' ? ['--revert'] : [])], { stdio: ['ignore', 'ignore', 'inherit'] });
  const entry = pathToFileURL(join(dir, 'index.js')).href;
  const hook = `export async function resolve(s, c, next) { return s === 'kafkajs' ? { url: ${JSON.stringify(entry)}, shortCircuit: true } : next(s, c); }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  return { name, nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(register)}`] };
}

/** Epoll waits per second of every thread of `pid` over `seconds`, by strace's syscall summary. */
async function epollWaitsPerSecond(pid: number, seconds: number, outFile: string): Promise<number | undefined> {
  const tracer = start('strace', ['-f', '-c', '-o', outFile, '-e', `trace=${EPOLL_WAITS.join(',')}`, '-p', String(pid)], {
    label: 'strace',
    relay: (line) => !/attached|detached/.test(line),
  });
  await sleep(seconds * 1000);
  tracer.process.kill('SIGINT');
  await tracer.exited;
  let summary: string;
  try {
    summary = readFileSync(outFile, 'utf8');
  } catch {
    return undefined;
  }
  let calls = 0;
  for (const line of summary.split('\n')) {
    const cells = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors,] syscall
    if (EPOLL_WAITS.includes(cells.at(-1) ?? '')) calls += Number(cells[3]);
  }
  return calls / seconds;
}

async function measure(runtime: Runtime, variant: Variant, runIndex: number, topics: Record<'input' | 'output' | 'dlq', string>, outDir: string): Promise<Sample> {
  const tag = `${runtime.name}, kafkajs ${variant.name}, run ${runIndex}`;
  const port = await freePort();
  const fileStem = join(outDir, `${runtime.name.replace(/\W+/g, '')}-${variant.name}-${runIndex}`);
  const stderrFile = `${fileStem}.stderr`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: brokers.join(','),
    INPUT_TOPIC: topics.input,
    OUTPUT_TOPIC: topics.output,
    DLQ_TOPIC: topics.dlq,
    GROUP_ID: `${topics.input}-${runtime.name.replace(/\W+/g, '')}-${variant.name}-${runIndex}`,
    WORKERS: String(workers),
    METRICS_PORT: String(port),
    METRICS_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };
  delete env.NODE_NO_WARNINGS;
  const child = start(runtime.node, [...variant.nodeArgs, CLI, 'run'], { label: tag, env, stderrFile, stdoutFile: join(outDir, 'service.log') });
  try {
    await until(`${tag} to join its group`, READY_TIMEOUT_MS, 200, async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) ? true : undefined));
    say(`${tag}: group joined; idle ${settleSeconds} s, then ${windowSeconds} s measured`);
    await sleep(settleSeconds * 1000);
    const cpu0 = procCpuSeconds(child.pid);
    const t0 = nowMs();
    for (let elapsed = 0; elapsed < windowSeconds; elapsed += progressSeconds) {
      await sleep(Math.min(progressSeconds, windowSeconds - elapsed) * 1000);
      const cpu = procCpuSeconds(child.pid);
      if (cpu === undefined || cpu0 === undefined) throw new Error(`${tag}: the service exited (stderr: ${stderrFile})`);
      say(`${tag}: ${round((nowMs() - t0) / 1000)} s, ${round(((cpu - cpu0) / ((nowMs() - t0) / 1000)) * 100, 2)}% of a core so far`);
    }
    const cpu1 = procCpuSeconds(child.pid)!;
    const loadAverage = round(loadavg()[0]!, 2);
    const wallSeconds = (nowMs() - t0) / 1000;
    const cpuSeconds = cpu1 - cpu0!;
    const waits = straceSeconds > 0 && which('strace') !== undefined ? await epollWaitsPerSecond(child.pid, straceSeconds, `${fileStem}.strace`) : undefined;
    const timeoutNegativeWarning = existsSync(stderrFile) && readFileSync(stderrFile, 'utf8').includes('TimeoutNegativeWarning');
    const sample: Sample = {
      runtime: runtime.name,
      nodeVersion: runtime.version,
      variant: variant.name,
      run: runIndex,
      cpuSeconds: round(cpuSeconds, 2),
      wallSeconds: round(wallSeconds, 1),
      percentOfCore: round((cpuSeconds / wallSeconds) * 100, 2),
      epollWaitsPerSecond: waits === undefined ? undefined : round(waits),
      timeoutNegativeWarning,
      loadAverage,
    };
    say(`${tag}: ${sample.percentOfCore}% of a core (${sample.cpuSeconds} CPU s in ${sample.wallSeconds} s)` +
      `${waits === undefined ? '' : `, ${sample.epollWaitsPerSecond} epoll waits/s`}${timeoutNegativeWarning ? ', TimeoutNegativeWarning printed' : ''}; load average ${loadAverage}`);
    return sample;
  } finally {
    child.process.kill('SIGTERM');
    await child.exited;
  }
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function table(samples: readonly Sample[]): string {
  const rows: string[][] = [];
  for (const runtime of [...new Set(samples.map((s) => s.runtime))]) {
    for (const variant of ['published', 'patched'] as const) {
      const these = samples.filter((s) => s.runtime === runtime && s.variant === variant);
      if (these.length === 0) continue;
      const pct = these.map((s) => s.percentOfCore);
      const waits = these.map((s) => s.epollWaitsPerSecond).filter((w): w is number => w !== undefined);
      rows.push([
        `${runtime} (${these[0]!.nodeVersion})`,
        variant === 'published' ? '2.2.4 as published' : '2.2.4 patched',
        pct.map((p) => p.toFixed(2)).join(', '),
        mean(pct).toFixed(2),
        `${Math.min(...pct).toFixed(2)}-${Math.max(...pct).toFixed(2)}`,
        waits.length === 0 ? '-' : Math.round(mean(waits)).toLocaleString('en-US'),
        these.some((s) => s.timeoutNegativeWarning) ? 'yes' : 'no',
      ]);
    }
  }
  return markdownTable(['Runtime', 'kafkajs', '% of a core, each run', 'Mean', 'Range', 'Epoll waits/s', 'TimeoutNegativeWarning'], rows);
}

const startedAt = new Date();
const run: Run = { startedAt, outDir: join(ROOT, 'bench', 'results', `idle-${stamp(startedAt)}`), env: environment() };
const scratch = mkdtempSync(join(tmpdir(), 'geowindow-idle-'));
const samples: Sample[] = [];
const id = Date.now().toString(36);
const topics = { input: `idle-in-${id}`, output: `idle-out-${id}`, dlq: `idle-dlq-${id}` };
try {
  const found = runtimes();
  const variants = [prepareVariant('published', scratch), prepareVariant('patched', scratch)];
  say(`${found.map((r) => `${r.name} (${r.version})`).join(' and ')}, kafkajs published and patched, ${runs} runs each, ` +
    `${workers} workers, ${windowSeconds} s windows: about ${Math.ceil((found.length * variants.length * runs * (windowSeconds + settleSeconds + straceSeconds + 5)) / 60)} minutes`);
  await withAdmin(brokers, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.input, numPartitions: 6, replicationFactor: -1 },
        { topic: topics.output, numPartitions: 3, replicationFactor: -1 },
        { topic: topics.dlq, numPartitions: 1, replicationFactor: -1 },
      ],
    }),
  );
  for (let i = 1; i <= runs; i++) for (const runtime of found) for (const variant of variants) samples.push(await measure(runtime, variant, i, topics, run.outDir));
} finally {
  rmSync(scratch, { recursive: true, force: true });
  await withAdmin(brokers, (admin) => admin.deleteTopics({ topics: Object.values(topics) })).catch(() => undefined);
}

const section = [
  ...sectionHead('Idle CPU, kafkajs as published and patched', run),
  `geowindow with \`WORKERS=${workers}\`, joined to its group on an empty 6-partition topic, no traffic. CPU is user + system ` +
    `time of the whole process (every thread) from /proc/<pid>/stat over ${windowSeconds} s, after ${settleSeconds} s idle; ` +
    `${runs} runs of each row, alternating. "Published" and "patched" are copies of kafkajs 2.2.4 loaded through the same ` +
    'resolve hook, the patched one changed by `scripts/patch-kafkajs.mjs` (no request-queue timer while no request is pending). ' +
    (straceSeconds > 0 ? `Epoll waits: \`strace -f -c\` over ${straceSeconds} s after the CPU window, all threads; each is one wake-up of an event loop.` : ''),
  '',
  table(samples),
  '',
  samples.length === 0 ? '' : `The machine's 1-minute load average at the end of the windows: ${Math.min(...samples.map((s) => s.loadAverage))}-${Math.max(...samples.map((s) => s.loadAverage))} on ${run.env.machine.cores} cores.`,
  '',
  `Raw data: \`results/idle-${stamp(startedAt)}/idle.json\`.`,
  '',
].join('\n');
writeJson(join(run.outDir, 'idle.json'), { windowSeconds, settleSeconds, straceSeconds, workers, samples });
process.stdout.write(`\n${section}`);
if (values['no-append'] !== true) appendResults(section);
