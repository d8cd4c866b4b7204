/**
 * `npm run bench:floor`: resident memory before the first record, the floor
 * under every peak RSS in the throughput table. Bare Node.js; Node.js with
 * the service's libraries loaded; geowindow idle on an empty topic with 1, 2
 * and 4 workers (a worker isolate's cost is the difference); and the
 * recipe's Python interpreter with numpy and confluent-kafka imported.
 * With `--runtimes`, each Node.js row once per Node.js binary given, beside
 * the floor the service measured itself at start-up (its memory plan's
 * runtime part).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { appendResults, CLI, freePort, markdownTable, procMemory, say, start, until, writeJson } from './lib/common.js';
import { withAdmin } from './lib/dataset.js';
import { COMMON_USAGE, brokersOf, parseFlags } from './lib/options.js';
import { beginRun, mbText, ratioText, sectionHead } from './lib/report.js';
import { parseRuntimes, runtimesLine, RUNTIMES_USAGE, type Runtime } from './lib/runtimes.js';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const USAGE = `Usage: npm run bench:floor -- [options]

Resident memory of each runtime before any record.

${COMMON_USAGE.split('\n').filter((l) => /--brokers|--no-append/.test(l)).join('\n')}
  --settle-seconds S    seconds a process runs idle before its RSS is read (default 8)
${RUNTIMES_USAGE}`;

const values = parseFlags({ 'settle-seconds': { type: 'string', default: '8' }, runtimes: { type: 'string' } }, USAGE);
const settleMs = Number(values['settle-seconds']) * 1000;
if (!(settleMs > 0)) {
  process.stderr.write('--settle-seconds: expected a number > 0\n');
  process.exit(2);
}
const brokers = brokersOf(values);
const runtimes = parseRuntimes(values.runtimes);
const multi = runtimes.length > 1;
const run = beginRun('floor', 'npm run bench:floor');
const { outDir } = run;
const logFile = join(outDir, 'floor.log');

interface Row {
  readonly what: string;
  /** The Node.js version, for the Node.js rows. */
  readonly runtime: string | undefined;
  readonly command: string;
  readonly rssBytes: number;
  /** The runtime part of the service's memory plan, as it measured it at start-up (its `memory budget` log line). */
  readonly serviceFloorMb: number | undefined;
}
const rows: Row[] = [];

/** `runtimeMb` of the service's `memory budget ...` start-up line, when the runtime part was measured. */
function measuredFloorMb(stdout: string): number | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.includes('"memory budget')) continue;
    try {
      const entry = JSON.parse(line) as { runtimeMb?: unknown; runtime?: unknown };
      if (entry.runtime === 'measured' && typeof entry.runtimeMb === 'number') return entry.runtimeMb;
    } catch {
      // Not a log line of the service's: nothing to read.
    }
  }
  return undefined;
}

/** Starts a process, lets it settle, reads its VmRSS, stops it. */
async function idleRss(
  what: string,
  runtime: Runtime | undefined,
  command: string,
  args: string[],
  envExtra: NodeJS.ProcessEnv = {},
  ready?: () => Promise<boolean>,
): Promise<void> {
  // stdout is collected (and then logged) so that the service's start-up line can be read.
  const child = start(command, args, { label: what, env: { ...process.env, ...envExtra }, stderrFile: logFile });
  const label = runtime === undefined ? what : `${what}, Node.js ${runtime.version}`;
  try {
    if (ready !== undefined) await until(`${label} to be ready`, 60_000, 200, async () => ((await ready()) ? true : undefined));
    await sleep(settleMs);
    const memory = procMemory(child.pid);
    if (memory === undefined) throw new Error(`${label} exited before its RSS was read (log: ${logFile})`);
    child.process.kill('SIGTERM');
    await child.exited;
    appendFileSync(logFile, child.stdout());
    const shown = (a: string) => (a === CLI ? 'dist/src/cli.js' : /\s/.test(a) ? `"${a}"` : a);
    const serviceFloorMb = measuredFloorMb(child.stdout());
    rows.push({ what, runtime: runtime?.version, command: [runtime === undefined ? command : 'node', ...args.map(shown)].join(' '), rssBytes: memory.rssBytes, serviceFloorMb });
    say(`${label}: ${mbText(memory.rssBytes)} MB${serviceFloorMb === undefined ? '' : ` (the service measured ${serviceFloorMb} MB at start-up)`}`);
  } finally {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
    await child.exited;
  }
}

for (const runtime of runtimes) await idleRss('Node.js, nothing loaded', runtime, runtime.binary, ['-e', 'setInterval(() => {}, 1000)']);
for (const runtime of runtimes) {
  await idleRss('Node.js with kafkajs, piscina, turf, prom-client and pino loaded', runtime, runtime.binary, [
    '--input-type=module',
    '-e',
    "await Promise.all(['kafkajs', 'piscina', '@turf/convex', '@turf/area', 'prom-client', 'pino'].map((m) => import(m))); setInterval(() => {}, 1000);",
  ]);
}

const id = `${Date.now().toString(36)}`;
const topics = { input: `floor-in-${id}`, output: `floor-out-${id}`, dlq: `floor-dlq-${id}` };
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
for (const [workers, runtime] of [1, 2, 4].flatMap((n) => runtimes.map((r) => [n, r] as const))) {
  const port = await freePort();
  await idleRss(
    `geowindow idle, ${workers} worker${workers === 1 ? '' : 's'} (empty topic, group joined)`,
    runtime,
    runtime.binary,
    ['--expose-gc', CLI, 'run'],
    {
      KAFKA_BROKERS: brokers.join(','),
      INPUT_TOPIC: topics.input,
      OUTPUT_TOPIC: topics.output,
      DLQ_TOPIC: topics.dlq,
      GROUP_ID: `floor-${id}-${workers}-${runtime.tag}`,
      WORKERS: String(workers),
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      // info: the start-up line with the floor the service measured itself.
      LOG_LEVEL: 'info',
    },
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)),
  );
}
await withAdmin(brokers, (admin) => admin.deleteTopics({ topics: Object.values(topics) }));
try {
  await idleRss('Python with numpy, confluent-kafka and psutil imported (the recipe\'s runtime)', undefined, 'python3', [
    '-c',
    'import numpy, confluent_kafka, psutil, time; time.sleep(3600)',
  ]);
} catch (error) {
  say(`python3: not measured: ${(error as Error).message}`);
}

/** The idle cost of one worker isolate on a runtime: (4 workers - 1 worker) / 3. */
function perWorkerBytes(runtime: Runtime): number | undefined {
  const byWorkers = (n: number) => rows.find((r) => r.runtime === runtime.version && r.what.startsWith(`geowindow idle, ${n} `))?.rssBytes;
  const one = byWorkers(1);
  const four = byWorkers(4);
  return one !== undefined && four !== undefined ? (four - one) / 3 : undefined;
}
const [firstRuntime] = runtimes as [Runtime, ...Runtime[]];
/** The same row on the first runtime: how this runtime compares. */
const baseOf = (row: Row) => (row.runtime === undefined ? undefined : rows.find((r) => r.what === row.what && r.runtime === firstRuntime.version));
const table = markdownTable(
  ['Runtime', ...(multi ? ['Node.js', 'RSS (MB)', `vs ${firstRuntime.version}`] : ['RSS (MB)']), 'Floor the service measured at start-up (MB)', 'Command'],
  rows.map((r) => {
    const base = baseOf(r);
    const runtimeCells = multi ? [r.runtime ?? '-', mbText(r.rssBytes), base === undefined ? '-' : ratioText(r.rssBytes / base.rssBytes)] : [mbText(r.rssBytes)];
    return [r.what, ...runtimeCells, r.serviceFloorMb === undefined ? '-' : String(r.serviceFloorMb), `\`${r.command}\``];
  }),
);
const perWorker = runtimes.map((runtime) => ({ runtime: runtime.version, bytes: perWorkerBytes(runtime) }));
const perWorkerLine = perWorker
  .filter((p) => p.bytes !== undefined)
  .map((p) => `${mbText(p.bytes!)} MB${multi ? ` on ${p.runtime}` : ''}`)
  .join(', ');
const section = [
  ...sectionHead('Memory floor', run),
  `Resident memory (VmRSS) of each runtime after ${settleMs / 1000} s idle, before any record; geowindow once its group is joined (/readyz).`,
  'The service\'s own floor is the runtime part of its memory plan: its RSS once every worker has run a warm-up task, after a collection, just after start-up (`runtimeMb` of its `memory budget` log line).',
  ...(multi || !firstRuntime.current ? ['', runtimesLine(runtimes)] : []),
  '',
  table,
  '',
  perWorkerLine === '' ? '' : `Each worker isolate (turf loaded, idle) adds ${perWorkerLine}: (4 workers - 1 worker) / 3.`,
  '',
  `Raw data: \`results/${outDir.split('/').pop()}/\`.`,
  '',
].join('\n');
writeJson(join(outDir, 'floor.json'), { runtimes, rows, perWorker });
process.stdout.write(`\n${section}`);
if (values['no-append'] !== true) appendResults(section);
