/**
 * `npm run bench`: geowindow end to end against the raw consume ceilings of
 * kafkajs and @platformatic/kafka, the recipe's Python consumer and kcat, on
 * one pre-produced, seeded data set, one after another on a loopback broker.
 * Prints a table with ratios to geowindow, checks the targets, appends it
 * all to bench/RESULTS.md and keeps the raw JSON in bench/results/bench-<stamp>/.
 */
import { join } from 'node:path';
import { appendResults, commandLine, fmtInt, markdownTable, ROOT, say, stamp, writeJson } from './lib/common.js';
import { ensureDataset } from './lib/dataset.js';
import { COMMON_USAGE, datasetOptions, parseFlags, positiveInteger, progressSeconds } from './lib/options.js';
import { beginRun, datasetLine, mbText, msText, ratioText, sectionHead } from './lib/report.js';
import {
  SYSTEMS,
  measureGeowindow,
  measureKcat,
  measureRawClient,
  measureRecipe,
  MissingTool,
  type Measurement,
  type RunContext,
  type SystemName,
} from './lib/systems.js';

const USAGE = `Usage: npm run bench -- [options]

Measures, each from a fresh consumer group on the same pre-produced topic:
geowindow end to end, the raw consume ceiling of kafkajs and of
@platformatic/kafka, the recipe's Python consumer, and kcat.

${COMMON_USAGE}
  --workers W           geowindow's WORKERS (default 2)
  --node-args "A B"     extra Node.js/V8 flags for geowindow's process (e.g. "--max-semi-space-size=8")
  --only LIST           run only these systems (comma-separated: ${SYSTEMS.join(',')})
  --skip LIST           leave these systems out`;

const values = parseFlags(
  {
    workers: { type: 'string', default: '2' },
    'node-args': { type: 'string', default: '' },
    only: { type: 'string' },
    skip: { type: 'string' },
  },
  USAGE,
);

function systemList(raw: string | undefined): SystemName[] {
  if (raw === undefined) return [];
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(SYSTEMS as readonly string[]).includes(name)) {
      process.stderr.write(`unknown system ${JSON.stringify(name)}; expected some of ${SYSTEMS.join(', ')}\n`);
      process.exit(2);
    }
  }
  return names as SystemName[];
}

const size = positiveInteger('size', values.size, 2_000_000);
const workers = positiveInteger('workers', values.workers, 2);
const nodeArgs = (values['node-args'] ?? '').split(/\s+/).filter(Boolean);
const only = systemList(values.only);
const skip = new Set(systemList(values.skip));
const selected = SYSTEMS.filter((s) => (only.length === 0 || only.includes(s)) && !skip.has(s));

const run = beginRun('bench', 'npm run bench');
const { startedAt, outDir, env } = run;
const dataset = await ensureDataset(datasetOptions(values, size));
const ctx: RunContext = { brokers: datasetOptions(values, size).brokers, dataset, outDir, progressSeconds: progressSeconds(values) };

const measurements = new Map<SystemName, Measurement>();
const failures = new Map<SystemName, string>();
const skipped = new Map<SystemName, string>();
for (const system of selected) {
  try {
    const measurement =
      system === 'geowindow'
        ? await measureGeowindow(ctx, { workers, nodeArgs })
        : system === 'kafkajs' || system === 'platformatic'
          ? await measureRawClient(ctx, system)
          : system === 'recipe'
            ? await measureRecipe(ctx)
            : await measureKcat(ctx);
    measurements.set(system, measurement);
    writeJson(join(outDir, `${system}.json`), measurement);
  } catch (error) {
    const reason = (error as Error).message;
    (error instanceof MissingTool ? skipped : failures).set(system, reason);
    say(`${system}: NOT MEASURED: ${reason}`);
  }
}

// ---------------------------------------------------------------------------
// The table, the targets, and the record

const gw = measurements.get('geowindow');
const ORDER: SystemName[] = ['geowindow', 'kafkajs', 'platformatic', 'recipe', 'kcat'];
const rows: string[][] = [];
for (const system of ORDER) {
  if (!selected.includes(system)) continue;
  const m = measurements.get(system);
  if (m === undefined) {
    rows.push([system, 'not measured', '-', '-', '-', '-', '-', '-']);
    continue;
  }
  const cpuRecords = typeof m.detail.cpuRecords === 'number' ? m.detail.cpuRecords : m.records;
  const perRecord = (seconds: number | undefined) =>
    seconds === undefined || !Number.isFinite(seconds) ? '-' : ((seconds * 1e6) / cpuRecords).toFixed(1);
  const latency = m.windowLatencyMs === undefined ? '-' : `${msText(m.windowLatencyMs.p50)} / ${msText(m.windowLatencyMs.p99)}`;
  rows.push([
    m.label,
    fmtInt(m.recordsPerSecond),
    mbText(m.peakRssBytes),
    latency,
    perRecord(m.cpuSeconds),
    perRecord(m.mainThreadCpuSeconds ?? undefined),
    gw === undefined ? '-' : ratioText(m.recordsPerSecond / gw.recordsPerSecond),
    gw === undefined ? '-' : ratioText(m.peakRssBytes / gw.peakRssBytes),
  ]);
}
const table = markdownTable(
  [
    'System',
    'Records/s',
    'Peak RSS (MB)',
    'Window latency p50 / p99 (ms)',
    'CPU µs/record',
    'of it, main thread',
    'Records/s vs geowindow',
    'Peak RSS vs geowindow',
  ],
  rows,
);

interface Check {
  readonly name: string;
  readonly pass: boolean | undefined;
  readonly detail: string;
}
const checks: Check[] = [];
const recipe = measurements.get('recipe');
const kafkajs = measurements.get('kafkajs');
const kcat = measurements.get('kcat');
const platformatic = measurements.get('platformatic');
const verdict = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? 'PASS' : 'FAIL');
checks.push({
  name: 'geowindow records/s >= 1.5x the recipe',
  pass: gw && recipe ? gw.recordsPerSecond >= 1.5 * recipe.recordsPerSecond : undefined,
  detail: gw && recipe ? `${ratioText(gw.recordsPerSecond / recipe.recordsPerSecond)} (${fmtInt(gw.recordsPerSecond)} vs ${fmtInt(recipe.recordsPerSecond)} rec/s)` : 'not measured',
});
checks.push({
  name: 'geowindow peak RSS < the recipe',
  pass: gw && recipe ? gw.peakRssBytes < recipe.peakRssBytes : undefined,
  detail: gw && recipe ? `${mbText(gw.peakRssBytes)} vs ${mbText(recipe.peakRssBytes)} MB` : 'not measured',
});
checks.push({
  name: 'geowindow records/s >= 0.8x the raw kafkajs ceiling',
  pass: gw && kafkajs ? gw.recordsPerSecond >= 0.8 * kafkajs.recordsPerSecond : undefined,
  detail: gw && kafkajs ? `${ratioText(gw.recordsPerSecond / kafkajs.recordsPerSecond)} (${fmtInt(gw.recordsPerSecond)} vs ${fmtInt(kafkajs.recordsPerSecond)} rec/s)` : 'not measured',
});
const notes: string[] = [];
if (kafkajs && kcat) {
  notes.push(
    `The kafkajs ceiling is ${((kafkajs.recordsPerSecond / kcat.recordsPerSecond) * 100).toFixed(0)}% of kcat's rate ` +
      `(kcat reads ${ratioText(kcat.recordsPerSecond / kafkajs.recordsPerSecond)} as fast); where kafkajs spends its time: \`npm run bench:profile\`.`,
  );
}
if (platformatic && kafkajs) {
  notes.push(`@platformatic/kafka's raw ceiling is ${ratioText(platformatic.recordsPerSecond / kafkajs.recordsPerSecond)} kafkajs's, at ${ratioText(platformatic.peakRssBytes / kafkajs.peakRssBytes)} its peak RSS.`);
}
if (gw !== undefined) {
  const d = gw.detail;
  const windows = d.windowsEmitted as Record<string, number>;
  notes.push(
    `geowindow: ${fmtInt(gw.records)} records, ${fmtInt(Number(d.deadLettered))} dead-lettered; windows by what closed them: ` +
      `${Object.entries(windows).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')} (before SIGTERM; then each partition's last, partial window closes at shutdown); ` +
      `all read after ${d.secondsToAllRead} s, last commit ${d.secondsFromAllReadToLastCommit} s later; ` +
      `memory budget ${d.memoryBudgetMb} MB, guard pauses ${d.guardPauses}, chunk-pool waits ${d.chunkPoolWaits}.`,
  );
}
for (const [system, reason] of [...skipped, ...failures]) notes.push(`${system} not measured: ${reason}`);

const targets = checks.map((c) => `- ${verdict(c.pass)}: ${c.name}: ${c.detail}`).join('\n');
const method = [
  'How it is measured: one system at a time, each reading the whole topic once from a fresh consumer group.',
  `geowindow: \`node --expose-gc ${nodeArgs.map((a) => `${a} `).join('')}dist/src/cli.js run\` with fresh output and dead-letter topics, LOG_LEVEL=warn;`,
  'records/s from the first /metrics sample with records in (polled every 50 ms; records counted by then are left out)',
  'to the group\'s committed offsets equal to the end offsets (admin poll every 50 ms); once every record is read the',
  'harness sends SIGTERM, so the last partial windows are closed, written and committed at once instead of after',
  'WINDOW_IDLE_MS. Peak RSS: VmHWM of the process (worker threads included). Window latency: the histogram',
  '`geowindow_window_processing_seconds` (window closed to aggregate acknowledged), interpolated linearly inside its',
  'buckets. Raw clients and the recipe time themselves from the first record handed to the application to the last,',
  'peak RSS from getrusage at their end; kcat (`-G <fresh group> -c <records>`) is timed from its first block of output to',
  'its last (offsets piped to the harness), peak RSS by /usr/bin/time. CPU µs/record: user+system CPU of the process (all threads) over the timed span; "of it, main thread": the main thread alone (/proc/<pid>/task/<pid>/stat, Node.js systems), the rest being worker threads and V8/libuv helper threads.',
  'MB are MiB (2^20 bytes).',
].join(' ');

const section = [
  ...sectionHead('Throughput', run, ` (${fmtInt(size)} readings)`),
  datasetLine(dataset),
  '',
  table,
  '',
  'Targets (ratios from this run):',
  '',
  targets,
  '',
  ...notes.map((n) => `- ${n}`),
  '',
  method,
  '',
  `Raw data: \`results/bench-${stamp(startedAt)}/\`.`,
].join('\n');

const summary = {
  startedAt: startedAt.toISOString(),
  command: commandLine(),
  environment: env,
  dataset,
  workers,
  measurements: Object.fromEntries(measurements),
  failures: Object.fromEntries(failures),
  skipped: Object.fromEntries(skipped),
  checks,
  markdown: section,
};
writeJson(join(outDir, 'summary.json'), summary);
process.stdout.write(`\n${section}\n`);
if (values['no-append'] !== true) {
  appendResults(section);
  say('appended to bench/RESULTS.md');
}
say(`raw JSON in ${outDir.replace(`${ROOT}/`, '')}`);
process.exit(failures.size > 0 ? 1 : 0);
