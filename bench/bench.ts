/**
 * `npm run bench`: geowindow end to end against the raw consume ceilings of
 * kafkajs and @platformatic/kafka, the recipe's Python consumer and kcat, on
 * one pre-produced, seeded data set, one after another on a loopback broker.
 * With `--runtimes`, the Node.js systems run once on each Node.js binary
 * given, so releases compare within one run. Prints a table with ratios to
 * geowindow (and to the first runtime), checks the targets, appends it all
 * to bench/RESULTS.md and keeps the raw JSON in bench/results/bench-<stamp>/.
 */
import { join } from 'node:path';
import { appendResults, commandLine, fmtInt, markdownTable, ROOT, say, stamp, writeJson } from './lib/common.js';
import { ensureDataset } from './lib/dataset.js';
import { COMMON_USAGE, datasetOptions, parseFlags, positiveInteger, progressSeconds } from './lib/options.js';
import { beginRun, datasetLine, mbText, msText, ratioText, sectionHead } from './lib/report.js';
import { parseRuntimes, runtimesLine, RUNTIMES_USAGE, type Runtime } from './lib/runtimes.js';
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
  --skip LIST           leave these systems out
${RUNTIMES_USAGE}
                        (geowindow, kafkajs and platformatic run once per runtime; recipe and kcat once)`;

const values = parseFlags(
  {
    workers: { type: 'string', default: '2' },
    'node-args': { type: 'string', default: '' },
    only: { type: 'string' },
    skip: { type: 'string' },
    runtimes: { type: 'string' },
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
const runtimes = parseRuntimes(values.runtimes);
const [firstRuntime] = runtimes as [Runtime, ...Runtime[]];
const multi = runtimes.length > 1;
/** The systems that are Node.js programs, run once per runtime. */
const NODE_SYSTEMS: ReadonlySet<SystemName> = new Set(['geowindow', 'kafkajs', 'platformatic']);

/** One measurement to take: a system, on one runtime when it is a Node.js program. */
interface Planned {
  readonly system: SystemName;
  readonly runtime: Runtime | undefined;
  /** Its name in the raw JSON: the system, with the runtime's tag when several run. */
  readonly key: string;
}
const planned: Planned[] = selected.flatMap((system): Planned[] =>
  NODE_SYSTEMS.has(system)
    ? runtimes.map((runtime) => ({ system, runtime, key: multi ? `${system}-${runtime.tag}` : system }))
    : [{ system, runtime: undefined, key: system }],
);

const run = beginRun('bench', 'npm run bench');
const { startedAt, outDir, env } = run;
const dataset = await ensureDataset(datasetOptions(values, size));
const ctx: RunContext = { brokers: datasetOptions(values, size).brokers, dataset, outDir, progressSeconds: progressSeconds(values) };

const measurements = new Map<string, Measurement>();
const failures = new Map<string, string>();
const skipped = new Map<string, string>();
for (const { system, runtime, key } of planned) {
  try {
    const measurement =
      system === 'geowindow'
        ? await measureGeowindow(ctx, { workers, nodeArgs, ...(runtime === undefined ? {} : { runtime }), ...(multi ? { tag: key } : {}) })
        : system === 'kafkajs' || system === 'platformatic'
          ? await measureRawClient(ctx, system, [], runtime)
          : system === 'recipe'
            ? await measureRecipe(ctx)
            : await measureKcat(ctx);
    measurements.set(key, measurement);
    writeJson(join(outDir, `${key}.json`), measurement);
  } catch (error) {
    const reason = (error as Error).message;
    (error instanceof MissingTool ? skipped : failures).set(key, reason);
    say(`${key}: NOT MEASURED: ${reason}`);
  }
}

// ---------------------------------------------------------------------------
// The table, the targets, and the record

const keyOf = (system: SystemName, runtime: Runtime | undefined) => (multi && runtime !== undefined && NODE_SYSTEMS.has(system) ? `${system}-${runtime.tag}` : system);
/** geowindow on the same runtime (on the first for the systems that are not Node.js programs). */
const geowindowFor = (p: Planned) => measurements.get(keyOf('geowindow', p.runtime ?? firstRuntime));
const runtimeSuffix = (runtime: Runtime) => (multi ? ` (Node.js ${runtime.version})` : '');
const ORDER: SystemName[] = ['geowindow', 'kafkajs', 'platformatic', 'recipe', 'kcat'];
const rows: string[][] = [];
for (const p of ORDER.flatMap((system) => planned.filter((q) => q.system === system))) {
  const m = measurements.get(p.key);
  const runtimeCells = multi ? [p.runtime?.version ?? '-'] : [];
  if (m === undefined) {
    rows.push([p.system, ...runtimeCells, 'not measured', '-', '-', '-', '-', '-', '-', ...(multi ? ['-', '-'] : [])]);
    continue;
  }
  const cpuRecords = typeof m.detail.cpuRecords === 'number' ? m.detail.cpuRecords : m.records;
  const perRecord = (seconds: number | undefined) =>
    seconds === undefined || !Number.isFinite(seconds) ? '-' : ((seconds * 1e6) / cpuRecords).toFixed(1);
  const latency = m.windowLatencyMs === undefined ? '-' : `${msText(m.windowLatencyMs.p50)} / ${msText(m.windowLatencyMs.p99)}`;
  const g = geowindowFor(p);
  // The same system on the first runtime: how this runtime compares.
  const base = p.runtime === undefined ? undefined : measurements.get(keyOf(p.system, firstRuntime));
  rows.push([
    m.label,
    ...runtimeCells,
    fmtInt(m.recordsPerSecond),
    mbText(m.peakRssBytes),
    latency,
    perRecord(m.cpuSeconds),
    perRecord(m.mainThreadCpuSeconds ?? undefined),
    g === undefined ? '-' : ratioText(m.recordsPerSecond / g.recordsPerSecond),
    g === undefined ? '-' : ratioText(m.peakRssBytes / g.peakRssBytes),
    ...(multi
      ? [
          base === undefined ? '-' : ratioText(m.recordsPerSecond / base.recordsPerSecond),
          base === undefined ? '-' : ratioText(m.peakRssBytes / base.peakRssBytes),
        ]
      : []),
  ]);
}
const table = markdownTable(
  [
    'System',
    ...(multi ? ['Node.js'] : []),
    'Records/s',
    'Peak RSS (MB)',
    'Window latency p50 / p99 (ms)',
    'CPU µs/record',
    'of it, main thread',
    multi ? 'Records/s vs geowindow (same runtime)' : 'Records/s vs geowindow',
    multi ? 'Peak RSS vs geowindow (same runtime)' : 'Peak RSS vs geowindow',
    ...(multi ? [`Records/s vs ${firstRuntime.version}`, `Peak RSS vs ${firstRuntime.version}`] : []),
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
const kcat = measurements.get('kcat');
const verdict = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? 'PASS' : 'FAIL');
for (const runtime of runtimes) {
  const g = measurements.get(keyOf('geowindow', runtime));
  const kafkajs = measurements.get(keyOf('kafkajs', runtime));
  const suffix = runtimeSuffix(runtime);
  checks.push({
    name: `geowindow records/s >= 1.5x the recipe${suffix}`,
    pass: g && recipe ? g.recordsPerSecond >= 1.5 * recipe.recordsPerSecond : undefined,
    detail: g && recipe ? `${ratioText(g.recordsPerSecond / recipe.recordsPerSecond)} (${fmtInt(g.recordsPerSecond)} vs ${fmtInt(recipe.recordsPerSecond)} rec/s)` : 'not measured',
  });
  checks.push({
    name: `geowindow peak RSS < the recipe${suffix}`,
    pass: g && recipe ? g.peakRssBytes < recipe.peakRssBytes : undefined,
    detail: g && recipe ? `${mbText(g.peakRssBytes)} vs ${mbText(recipe.peakRssBytes)} MB` : 'not measured',
  });
  checks.push({
    name: `geowindow records/s >= 0.8x the raw kafkajs ceiling${suffix}`,
    pass: g && kafkajs ? g.recordsPerSecond >= 0.8 * kafkajs.recordsPerSecond : undefined,
    detail: g && kafkajs ? `${ratioText(g.recordsPerSecond / kafkajs.recordsPerSecond)} (${fmtInt(g.recordsPerSecond)} vs ${fmtInt(kafkajs.recordsPerSecond)} rec/s)` : 'not measured',
  });
}
const notes: string[] = [];
const kafkajs = measurements.get(keyOf('kafkajs', firstRuntime));
const platformatic = measurements.get(keyOf('platformatic', firstRuntime));
if (kafkajs && kcat) {
  notes.push(
    `The kafkajs ceiling${runtimeSuffix(firstRuntime)} is ${((kafkajs.recordsPerSecond / kcat.recordsPerSecond) * 100).toFixed(0)}% of kcat's rate ` +
      `(kcat reads ${ratioText(kcat.recordsPerSecond / kafkajs.recordsPerSecond)} as fast); where kafkajs spends its time: \`npm run bench:profile\`.`,
  );
}
if (platformatic && kafkajs) {
  notes.push(`@platformatic/kafka's raw ceiling${runtimeSuffix(firstRuntime)} is ${ratioText(platformatic.recordsPerSecond / kafkajs.recordsPerSecond)} kafkajs's, at ${ratioText(platformatic.peakRssBytes / kafkajs.peakRssBytes)} its peak RSS.`);
}
for (const runtime of runtimes) {
  const g = measurements.get(keyOf('geowindow', runtime));
  if (g === undefined) continue;
  const d = g.detail;
  const windows = d.windowsEmitted as Record<string, number>;
  const running = Array.isArray(d.runningArgs) ? (d.runningArgs as string[]).join(' ') : '?';
  notes.push(
    `geowindow${runtimeSuffix(runtime)}: ${fmtInt(g.records)} records, ${fmtInt(Number(d.deadLettered))} dead-lettered; windows by what closed them: ` +
      `${Object.entries(windows).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')} (before SIGTERM; then each partition's last, partial window closes at shutdown); ` +
      `all read after ${d.secondsToAllRead} s, last commit ${d.secondsFromAllReadToLastCommit} s later; ` +
      `memory budget ${d.memoryBudgetMb} MB, guard pauses ${d.guardPauses}, chunk-pool waits ${d.chunkPoolWaits}; ran as \`node ${running}\`.`,
  );
}
for (const [key, reason] of [...skipped, ...failures]) notes.push(`${key} not measured: ${reason}`);

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
  ...(multi
    ? [
        'geowindow, kafkajs and @platformatic/kafka run once on each runtime, one runtime after the other for each system;',
        'geowindow on a runtime whose V8 grows semi-spaces past 16 MB (Node.js 22 and later) starts itself again, same pid,',
        'with `--max-semi-space-size=16` unless one is given ("ran as" above is its command line once reading).',
      ]
    : []),
  'MB are MiB (2^20 bytes).',
].join(' ');

const section = [
  ...sectionHead('Throughput', run, ` (${fmtInt(size)} readings)`),
  datasetLine(dataset),
  ...(multi || !firstRuntime.current ? ['', runtimesLine(runtimes)] : []),
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
  runtimes,
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
