/**
 * `npm run bench:floor`: resident memory before the first record, the floor
 * under every peak RSS in the throughput table. Bare Node.js; Node.js with
 * the service's libraries loaded; geowindow idle on an empty topic with 1, 2
 * and 4 workers (a worker isolate's cost is the difference); and the
 * recipe's Python interpreter with numpy and confluent-kafka imported.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { appendResults, CLI, freePort, markdownTable, procMemory, say, start, until, writeJson } from './lib/common.js';
import { withAdmin } from './lib/dataset.js';
import { COMMON_USAGE, brokersOf, parseFlags } from './lib/options.js';
import { beginRun, mbText, sectionHead } from './lib/report.js';
import { join } from 'node:path';

const USAGE = `Usage: npm run bench:floor -- [options]

Resident memory of each runtime before any record.

${COMMON_USAGE.split('\n').filter((l) => /--brokers|--no-append/.test(l)).join('\n')}
  --settle-seconds S    seconds a process runs idle before its RSS is read (default 8)`;

const values = parseFlags({ 'settle-seconds': { type: 'string', default: '8' } }, USAGE);
const settleMs = Number(values['settle-seconds']) * 1000;
if (!(settleMs > 0)) {
  process.stderr.write('--settle-seconds: expected a number > 0\n');
  process.exit(2);
}
const brokers = brokersOf(values);
const run = beginRun('floor', 'npm run bench:floor');
const { outDir } = run;

interface Row {
  readonly what: string;
  readonly command: string;
  readonly rssBytes: number;
}
const rows: Row[] = [];

/** Starts a process, lets it settle, reads its VmRSS, stops it. */
async function idleRss(what: string, command: string, args: string[], envExtra: NodeJS.ProcessEnv = {}, ready?: () => Promise<boolean>): Promise<void> {
  const child = start(command, args, { label: what, env: { ...process.env, ...envExtra }, stdoutFile: join(outDir, 'floor.log'), stderrFile: join(outDir, 'floor.log') });
  try {
    if (ready !== undefined) await until(`${what} to be ready`, 60_000, 200, async () => ((await ready()) ? true : undefined));
    await sleep(settleMs);
    const memory = procMemory(child.pid);
    if (memory === undefined) throw new Error(`${what} exited before its RSS was read (log: ${join(outDir, 'floor.log')})`);
    rows.push({ what, command: [command === process.execPath ? 'node' : command, ...args.map((a) => (a === CLI ? 'dist/src/cli.js' : /\s/.test(a) ? `"${a}"` : a))].join(' '), rssBytes: memory.rssBytes });
    say(`${what}: ${mbText(memory.rssBytes)} MB`);
  } finally {
    child.process.kill('SIGTERM');
    await child.exited;
  }
}

await idleRss('Node.js, nothing loaded', process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
await idleRss('Node.js with kafkajs, piscina, turf, prom-client and pino loaded', process.execPath, [
  '--input-type=module',
  '-e',
  "await Promise.all(['kafkajs', 'piscina', '@turf/convex', '@turf/area', 'prom-client', 'pino'].map((m) => import(m))); setInterval(() => {}, 1000);",
]);

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
for (const workers of [1, 2, 4]) {
  const port = await freePort();
  await idleRss(
    `geowindow idle, ${workers} worker${workers === 1 ? '' : 's'} (empty topic, group joined)`,
    process.execPath,
    ['--expose-gc', CLI, 'run'],
    {
      KAFKA_BROKERS: brokers.join(','),
      INPUT_TOPIC: topics.input,
      OUTPUT_TOPIC: topics.output,
      DLQ_TOPIC: topics.dlq,
      GROUP_ID: `floor-${id}-${workers}`,
      WORKERS: String(workers),
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)),
  );
}
await withAdmin(brokers, (admin) => admin.deleteTopics({ topics: Object.values(topics) }));
try {
  await idleRss('Python with numpy, confluent-kafka and psutil imported (the recipe\'s runtime)', 'python3', [
    '-c',
    'import numpy, confluent_kafka, psutil, time; time.sleep(3600)',
  ]);
} catch (error) {
  say(`python3: not measured: ${(error as Error).message}`);
}

const byWorkers = (n: number) => rows.find((r) => r.what.startsWith(`geowindow idle, ${n} `))?.rssBytes;
const one = byWorkers(1);
const four = byWorkers(4);
const perWorker = one !== undefined && four !== undefined ? (four - one) / 3 : undefined;
const table = markdownTable(
  ['Runtime', 'RSS (MB)', 'Command'],
  rows.map((r) => [r.what, mbText(r.rssBytes), `\`${r.command}\``]),
);
const section = [
  ...sectionHead('Memory floor', run),
  `Resident memory (VmRSS) of each runtime after ${settleMs / 1000} s idle, before any record; geowindow once its group is joined (/readyz).`,
  '',
  table,
  '',
  perWorker === undefined ? '' : `Each worker isolate (turf loaded, idle) adds ${mbText(perWorker)} MB: (4 workers - 1 worker) / 3.`,
  '',
  `Raw data: \`results/${outDir.split('/').pop()}/\`.`,
  '',
].join('\n');
writeJson(join(outDir, 'floor.json'), { rows, perWorkerBytes: perWorker });
process.stdout.write(`\n${section}`);
if (values['no-append'] !== true) appendResults(section);
