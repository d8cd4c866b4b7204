/**
 * `npm run bench:scale`: how geowindow's cost grows with the data set and
 * the workers. The geowindow measurement of `npm run bench` at 0.5, 2 and 8
 * million readings with 2 workers, and at 2 million with 1 worker (each data
 * set produced once and cached). The cost per record should stay flat and
 * peak RSS should not grow with the data set.
 */
import { join } from 'node:path';
import { appendResults, commandLine, fmtInt, markdownTable, ROOT, say, stamp, writeJson } from './lib/common.js';
import { ensureDataset, type Dataset } from './lib/dataset.js';
import { COMMON_USAGE, datasetOptions, parseFlags, progressSeconds } from './lib/options.js';
import { beginRun, mbText, msText, ratioText, sectionHead } from './lib/report.js';
import { measureGeowindow, type Measurement } from './lib/systems.js';

const DEFAULT_RUNS = '500000x2,2000000x2,8000000x2,2000000x1';
const USAGE = `Usage: npm run bench:scale -- [options]

geowindow end to end at several data-set sizes and worker counts.

${COMMON_USAGE.split('\n').filter((l) => !l.includes('--size')).join('\n')}
  --runs LIST           SIZExWORKERS pairs (default ${DEFAULT_RUNS})
  --max-cost-growth F   largest acceptable growth of CPU µs/record from the smallest to the largest
                        size at the same workers (default 0.2: 20%)
  --max-rss-growth F    likewise for peak RSS (default 0.1: 10%)`;

const values = parseFlags(
  {
    runs: { type: 'string', default: DEFAULT_RUNS },
    'max-cost-growth': { type: 'string', default: '0.2' },
    'max-rss-growth': { type: 'string', default: '0.1' },
  },
  USAGE,
);

interface Plan {
  readonly size: number;
  readonly workers: number;
}

const plans: Plan[] = (values.runs ?? DEFAULT_RUNS).split(',').map((spec) => {
  const match = /^\s*([\d_]+)\s*x\s*(\d+)\s*$/.exec(spec);
  if (match === null) {
    process.stderr.write(`--runs: expected SIZExWORKERS pairs like 500000x2, got ${JSON.stringify(spec)}\n`);
    process.exit(2);
  }
  return { size: Number(match[1]!.replace(/_/g, '')), workers: Number(match[2]) };
});
if (values.size !== undefined) {
  process.stderr.write('bench:scale takes its sizes from --runs (e.g. --runs 200000x2,400000x2), not --size\n');
  process.exit(2);
}
const maxCostGrowth = Number(values['max-cost-growth']);
const maxRssGrowth = Number(values['max-rss-growth']);
const run = beginRun('scale', 'npm run bench:scale');
const { startedAt, outDir, env } = run;

// Produce every data set first, so the measurements run back to back.
const datasets = new Map<number, Dataset>();
for (const size of [...new Set(plans.map((p) => p.size))].sort((a, b) => a - b)) {
  datasets.set(size, await ensureDataset(datasetOptions(values, size)));
}

interface Row {
  readonly plan: Plan;
  readonly measurement: Measurement;
}
const rows: Row[] = [];
for (const plan of plans) {
  const dataset = datasets.get(plan.size)!;
  const tag = `geowindow-${plan.size}x${plan.workers}`;
  const measurement = await measureGeowindow(
    { brokers: datasetOptions(values, plan.size).brokers, dataset, outDir, progressSeconds: progressSeconds(values) },
    { workers: plan.workers, tag },
  );
  writeJson(join(outDir, `${tag}.json`), measurement);
  rows.push({ plan, measurement });
}

const cpuUs = (m: Measurement) => (m.cpuSeconds === undefined ? NaN : (m.cpuSeconds * 1e6) / Number(m.detail.cpuRecords ?? m.records));
const table = markdownTable(
  ['Readings', 'Workers', 'Records/s', 'Wall µs/record', 'CPU µs/record (all threads)', 'Peak RSS (MB)', 'Window latency p50 / p99 (ms)'],
  rows.map(({ plan, measurement: m }) => [
    fmtInt(plan.size),
    String(plan.workers),
    fmtInt(m.recordsPerSecond),
    (1e6 / m.recordsPerSecond).toFixed(2),
    cpuUs(m).toFixed(2),
    mbText(m.peakRssBytes),
    m.windowLatencyMs === undefined ? '-' : `${msText(m.windowLatencyMs.p50)} / ${msText(m.windowLatencyMs.p99)}`,
  ]),
);

// Flat cost and flat memory: smallest vs largest size at each worker count measured at two sizes or more.
const checks: string[] = [];
for (const workers of [...new Set(plans.map((p) => p.workers))]) {
  const same = rows.filter((r) => r.plan.workers === workers).sort((a, b) => a.plan.size - b.plan.size);
  if (same.length < 2 || same[0]!.plan.size === same[same.length - 1]!.plan.size) continue;
  const small = same[0]!;
  const large = same[same.length - 1]!;
  const costGrowth = cpuUs(large.measurement) / cpuUs(small.measurement) - 1;
  const rateChange = large.measurement.recordsPerSecond / small.measurement.recordsPerSecond;
  const rssGrowth = large.measurement.peakRssBytes / small.measurement.peakRssBytes - 1;
  const sizes = `${fmtInt(small.plan.size)} -> ${fmtInt(large.plan.size)} readings, ${workers} worker${workers === 1 ? '' : 's'}`;
  checks.push(
    `- ${costGrowth <= maxCostGrowth ? 'PASS' : 'FAIL'}: CPU cost per record flat (${sizes}): ${cpuUs(small.measurement).toFixed(2)} -> ${cpuUs(large.measurement).toFixed(2)} µs/record ` +
      `(${costGrowth >= 0 ? '+' : ''}${(costGrowth * 100).toFixed(0)}%, limit +${(maxCostGrowth * 100).toFixed(0)}%); records/s x${rateChange.toFixed(2)}`,
  );
  checks.push(
    `- ${rssGrowth <= maxRssGrowth ? 'PASS' : 'FAIL'}: peak RSS does not grow with the data set (${sizes}): ${mbText(small.measurement.peakRssBytes)} -> ${mbText(large.measurement.peakRssBytes)} MB ` +
      `(${rssGrowth >= 0 ? '+' : ''}${(rssGrowth * 100).toFixed(0)}%, limit +${(maxRssGrowth * 100).toFixed(0)}%)`,
  );
}
const bySize = new Map<number, Row[]>();
for (const row of rows) bySize.set(row.plan.size, [...(bySize.get(row.plan.size) ?? []), row]);
for (const [size, same] of bySize) {
  const one = same.find((r) => r.plan.workers === 1);
  const two = same.find((r) => r.plan.workers === 2);
  if (one !== undefined && two !== undefined) {
    checks.push(
      `- ${fmtInt(size)} readings: 2 workers read ${ratioText(two.measurement.recordsPerSecond / one.measurement.recordsPerSecond)} as fast as 1, ` +
        `at ${ratioText(two.measurement.peakRssBytes / one.measurement.peakRssBytes)} its peak RSS`,
    );
  }
}

const first = datasets.values().next().value as Dataset;
const section = [
  ...sectionHead('Scaling', run),
  `Data sets: topics \`bench-<size>-s${first.seed}\` from \`geowindow produce\` (${first.devices} devices, ${first.badRatio * 100}% bad records), ` +
    `${first.partitions} partitions. Each row is the geowindow measurement of \`npm run bench\` (fresh group, first fetch to last commit, ` +
    'VmHWM); wall µs/record is 1 / records/s, CPU µs/record the service\'s user+system CPU (all threads) from the first ' +
    'fetch to the last record read, per record.',
  '',
  table,
  '',
  ...checks,
  '',
  `Raw data: \`results/scale-${stamp(startedAt)}/\`.`,
].join('\n');
writeJson(join(outDir, 'summary.json'), {
  startedAt: startedAt.toISOString(),
  command: commandLine(),
  environment: env,
  datasets: Object.fromEntries(datasets),
  runs: rows,
  markdown: section,
});
process.stdout.write(`\n${section}\n`);
if (values['no-append'] !== true) {
  appendResults(section);
  say('appended to bench/RESULTS.md');
}
say(`raw JSON in ${outDir.replace(`${ROOT}/`, '')}`);
process.exit(0);
