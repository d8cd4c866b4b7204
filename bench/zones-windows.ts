/**
 * `npm run bench:windows`: what keying windows by zone costs. On one data set
 * of readings from devices inside the 3,231 US counties, one after another,
 * each from a fresh consumer group: geowindow with count windows (KEY_BY=
 * partition), with 1-minute tumbling windows keyed by partition (event time
 * without zones: what is left of the gap is the zone keying), and keyed by
 * county (KEY_BY=zone; and zone,h3), and the same job in Quix Streams. Every
 * event-time window written is checked against the benchmark's own count.
 * The zone row's aggregates are then written once more, alone
 * (write-aggregates.ts): what its output costs, a floor under any zone row.
 */
import { loadavg } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_WORKERS } from '../src/config/config.js';
import { profileMarkdown, summarizeDir } from './profile-summary.js';
import { ROOT, appendResults, lastJson, run as runCommand, say, writeJson } from './lib/common.js';
import { loadCounties, writeCountiesGeoJson } from './lib/counties.js';
import { cleanUp, topicRecords, withAdmin } from './lib/dataset.js';
import { brokersOf, parseFlags, positiveInteger, progressSeconds } from './lib/options.js';
import { ensureQuixVenv, measureQuix } from './lib/quix.js';
import { parseRuntimes, type Runtime } from './lib/runtimes.js';
import { beginRun } from './lib/report.js';
import { MissingTool, measureGeowindow, type RunContext } from './lib/systems.js';
import {
  OUTPUT_TOPIC_CONFIG,
  compareWindows,
  expectedWindows,
  geowindowV2Windows,
  parseQuix,
  quixOpenAtEnd,
  readEmitted,
  type Expected,
  type WindowKeyBy,
} from './lib/window-check.js';
import { DEFAULT_WINDOW_ROWS, WINDOW_ROWS, windowsSection, type MachineLoad, type OutputAlone, type RowResult, type WindowRow } from './lib/windows-report.js';
import { ensureZoneDataset, type ZoneDatasetOptions } from './lib/zone-dataset.js';

/** The zone-5m row's windows: the issue's "mean PM2.5 per district every 5 minutes". */
const FIVE_MINUTES_MS = 300_000;
/** 2025-11-24T16:00:00Z: a minute boundary, in the past, so that idle partitions close every window by the wall clock. */
const DEFAULT_START_TS = 1_764_000_000_000;

const USAGE = `Usage: npm run bench:windows -- [options]

Zone windows against count windows in geowindow, and the same zone job in
Quix Streams, on one data set of readings inside the 3,231 US counties.

  --records N           readings in the data set (default 1000000)
  --devices D           stationary devices, spread over the counties (default 10000)
  --partitions P        partitions of the data set topic (default 6)
  --seed S              seed of the devices and readings (default 1)
  --start-ts MS         event time of the first reading (default ${DEFAULT_START_TS})
  --step-ms N           event time between two readings (default 1)
  --disorder-ms D       each reading's ts moves back by up to D ms (default 1000)
  --window-ms W         tumbling window size (default 60000)
  --grace-ms G          geowindow's WINDOW_GRACE (default 2000)
  --quix-grace-ms G     the Quix job's grace_ms (default 180000: its repartition topic
                        interleaves the input partitions by whole fetches, which put
                        records up to 80 s behind their zone's time on this machine)
  --idle-partition-ms I geowindow's IDLE_PARTITION_MS for the event-time rows (default 200):
                        what closes the last windows once every record is read
  --h3-resolution R     H3_RESOLUTION of the zone,h3 row (default 7)
  --workers W           geowindow's WORKERS (default: the service's own default on this
                        machine, cores - 1 from 1 to 4)
  --only LIST           run these rows (comma-separated, of ${WINDOW_ROWS.join(',')};
                        default ${DEFAULT_WINDOW_ROWS.join(',')})
  --skip LIST           leave these rows out
  --brokers B           host:port list (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --progress-seconds S  seconds between progress lines (default 5)
  --cpu-prof            run the geowindow rows under node --cpu-prof (main thread and
                        workers) and print where their time goes; profiles are slower,
                        so the rows' figures are not appended to bench/RESULTS.md
  --runtime NODE        the Node.js binary the geowindow rows run on ("node", the
                        harness's own, by default; e.g. "$(bash scripts/node24.sh)")
  --node-args ARGS      extra node flags for the geowindow rows (space-separated), for
                        experiments such as V8 heap flags
  --no-append           do not append to bench/RESULTS.md (raw JSON is still written)`;

const values = parseFlags(
  {
    records: { type: 'string', default: '1000000' },
    devices: { type: 'string', default: '10000' },
    'start-ts': { type: 'string', default: String(DEFAULT_START_TS) },
    'step-ms': { type: 'string', default: '1' },
    'disorder-ms': { type: 'string', default: '1000' },
    'window-ms': { type: 'string', default: '60000' },
    'grace-ms': { type: 'string', default: '2000' },
    'quix-grace-ms': { type: 'string', default: '180000' },
    'idle-partition-ms': { type: 'string', default: '200' },
    'h3-resolution': { type: 'string', default: '7' },
    workers: { type: 'string' },
    only: { type: 'string' },
    skip: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
    runtime: { type: 'string', default: 'node' },
  },
  USAGE,
);

function nonNegative(name: string, raw: string | undefined): number {
  const value = Number((raw ?? '').replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 0) {
    process.stderr.write(`--${name}: expected a whole number >= 0, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return value;
}

function rowList(raw: string | undefined): WindowRow[] {
  const names = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(WINDOW_ROWS as readonly string[]).includes(name)) {
      process.stderr.write(`unknown row ${JSON.stringify(name)}; expected some of ${WINDOW_ROWS.join(', ')}\n`);
      process.exit(2);
    }
  }
  return names as WindowRow[];
}

if (values.size !== undefined) {
  process.stderr.write('bench:windows takes the data set size from --records\n');
  process.exit(2);
}
const brokers = brokersOf(values);
const datasetOptions: ZoneDatasetOptions = {
  brokers,
  records: positiveInteger('records', values.records, 1_000_000),
  seed: positiveInteger('seed', values.seed, 1),
  partitions: positiveInteger('partitions', values.partitions, 6),
  devices: positiveInteger('devices', values.devices, 10_000),
  startTs: nonNegative('start-ts', values['start-ts']),
  stepMs: positiveInteger('step-ms', values['step-ms'], 1),
  disorderMs: nonNegative('disorder-ms', values['disorder-ms']),
  progressSeconds: progressSeconds(values),
};
const windowMs = positiveInteger('window-ms', values['window-ms'], 60_000);
const graceMs = nonNegative('grace-ms', values['grace-ms']);
const quixGraceMs = nonNegative('quix-grace-ms', values['quix-grace-ms']);
const idlePartitionMs = positiveInteger('idle-partition-ms', values['idle-partition-ms'], 200);
const h3Resolution = nonNegative('h3-resolution', values['h3-resolution']);
const workers = positiveInteger('workers', values.workers, DEFAULT_WORKERS);
const only = rowList(values.only);
const skip = new Set(rowList(values.skip));
const cpuProf = values['cpu-prof'] === true;
const extraNodeArgs = (values['node-args'] ?? '').split(' ').filter(Boolean);
const [geowindowRuntime] = parseRuntimes(values.runtime) as [Runtime];
/** Row labels name the runtime when it is not the harness's own. */
const onRuntime = geowindowRuntime.current ? '' : ` on Node.js ${geowindowRuntime.version}`;
const selected = WINDOW_ROWS.filter((r) => (only.length === 0 ? DEFAULT_WINDOW_ROWS.includes(r) : only.includes(r)) && !skip.has(r));

const run = beginRun('windows', 'npm run bench:windows');
const counties = loadCounties();
const zonesFile = join(ROOT, 'bench', 'out', 'us-counties.geojson');
writeCountiesGeoJson(counties, zonesFile);
say(`zones: ${counties.ids.length} US counties (us-atlas counties-10m, ${counties.vertices} vertices) in ${zonesFile.replace(`${ROOT}/`, '')}`);
const dataset = await ensureZoneDataset(datasetOptions, counties);
const ctx: RunContext = { brokers, dataset, outDir: run.outDir, progressSeconds: progressSeconds(values) };

/** The windows by geowindow's lateness rule and grace, per key kind and window size, each computed once. */
const expectedByGrace = new Map<string, Expected>();
let expectedAll: Expected | undefined;
function expectedForGeowindow(by: WindowKeyBy, size: number): Expected {
  const key = `${by}/${size}`;
  let expected = expectedByGrace.get(key);
  if (expected === undefined) {
    expected = timed(`expected ${by} windows of ${size / 1000} s (geowindow grace)`, () => expectedWindows(dataset, counties, by, size, graceMs));
    expectedByGrace.set(key, expected);
  }
  return expected;
}
/** Every record counts: Quix's lateness depends on its repartition order, so its late drops show as wrong windows. */
const expectedForQuix = () => (expectedAll ??= timed('expected windows (every record)', () => expectedWindows(dataset, counties, 'zone', windowMs, Number.POSITIVE_INFINITY)));

function timed<T>(what: string, work: () => T): T {
  const begin = performance.now();
  const value = work();
  say(`check: ${what} in ${((performance.now() - begin) / 1000).toFixed(1)} s`);
  return value;
}

/** --node-args, and with --cpu-prof node's flags to profile a row into its own directory of the run. */
function nodeArgsFor(row: WindowRow): string[] {
  if (!cpuProf) return extraNodeArgs;
  const dir = join(run.outDir, `profile-${row}`);
  mkdirSync(dir, { recursive: true });
  return [...extraNodeArgs, '--cpu-prof', `--cpu-prof-dir=${dir}`];
}

function reportProfile(row: WindowRow): void {
  if (!cpuProf) return;
  const dir = join(run.outDir, `profile-${row}`);
  const markdown = profileMarkdown(`geowindow, row ${row}`, summarizeDir(dir), dataset.size);
  writeFileSync(join(dir, 'summary.md'), markdown);
  process.stdout.write(`${markdown}\n`);
}

/** geowindow with event-time windows of `size` ms keyed by `keyBy`, its output and dead letters kept for the check of its `checkBy` windows. */
async function eventTimeRow(row: WindowRow, keyBy: string, checkBy: WindowKeyBy, size = windowMs): Promise<RowResult> {
  const id = `${row}-${Date.now().toString(36)}`;
  const outputTopic = `bench-windows-out-${id}`;
  const dlqTopic = `bench-windows-dlq-${id}`;
  await withAdmin(brokers, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: outputTopic, numPartitions: 3, replicationFactor: -1, configEntries: OUTPUT_TOPIC_CONFIG },
        { topic: dlqTopic, numPartitions: 1, replicationFactor: -1 },
      ],
    }),
  );
  try {
    const env = {
      WINDOW: 'tumbling',
      WINDOW_SIZE: String(size),
      WINDOW_GRACE: String(graceMs),
      IDLE_PARTITION_MS: String(idlePartitionMs),
      KEY_BY: keyBy,
      // The service refuses a zones file that no kind uses.
      ...(checkBy === 'zone' ? { ZONES_FILE: zonesFile } : {}),
      H3_RESOLUTION: String(h3Resolution),
      OUTPUT_SCHEMA: 'v2',
      OUTPUT_TOPIC: outputTopic,
      DLQ_TOPIC: dlqTopic,
    };
    const m = await measureGeowindow(ctx, { workers, tag: `geowindow-${row}`, env, endBy: 'idle', nodeArgs: nodeArgsFor(row), runtime: geowindowRuntime });
    reportProfile(row);
    const measurement = { ...m, label: `geowindow, ${size / 1000} s tumbling windows, KEY_BY=${keyBy}${keyBy.includes('h3') ? ` (H3 resolution ${h3Resolution})` : ''}${onRuntime}` };
    const emitted = await readEmitted(brokers, outputTopic, size, geowindowV2Windows(checkBy), ctx.progressSeconds);
    const check = compareWindows(expectedForGeowindow(checkBy, size), emitted);
    const outputAlone = row === 'zone' ? await writeAggregatesAlone(outputTopic) : undefined;
    return {
      row,
      measurement,
      emitted: { messages: emitted.messages, windowMessages: emitted.windowMessages, closedBy: emitted.closedBy },
      check,
      deadLettered: await topicRecords(brokers, dlqTopic),
      ...(outputAlone === undefined ? {} : { outputAlone }),
    };
  } finally {
    await cleanUp(brokers, [], [outputTopic, dlqTopic]);
  }
}

/** The row's output topic written again, alone, on the service's runtime (write-aggregates.ts). */
async function writeAggregatesAlone(topic: string): Promise<OutputAlone> {
  const script = join(ROOT, 'dist', 'bench', 'write-aggregates.js');
  const stdout = await runCommand(geowindowRuntime.binary, [script, '--from', topic, '--brokers', brokers.join(',')], { label: 'write-aggregates' });
  return lastJson<OutputAlone>(stdout);
}

async function measureRow(row: WindowRow): Promise<RowResult> {
  switch (row) {
    case 'count': {
      const m = await measureGeowindow(ctx, { workers, tag: 'geowindow-count', env: { WINDOW: 'count', KEY_BY: 'partition' }, nodeArgs: nodeArgsFor(row), runtime: geowindowRuntime });
      reportProfile(row);
      return { row, measurement: { ...m, label: `geowindow, count windows (KEY_BY=partition)${onRuntime}` } };
    }
    case 'partition':
      return eventTimeRow(row, 'partition', 'partition');
    case 'zone':
      return eventTimeRow(row, 'zone', 'zone');
    case 'zone-5m':
      return eventTimeRow(row, 'zone', 'zone', FIVE_MINUTES_MS);
    case 'zone-h3':
      return eventTimeRow(row, 'zone,h3', 'zone');
    case 'quix': {
      const python = await ensureQuixVenv(run.outDir);
      const m = await measureQuix(ctx, python, { zonesFile, windowMs, graceMs: quixGraceMs });
      try {
        const emitted = await readEmitted(brokers, m.outputTopic, windowMs, parseQuix, ctx.progressSeconds);
        const expected = expectedForQuix();
        const check = compareWindows(expected, emitted, quixOpenAtEnd(expected, quixGraceMs));
        return { row, measurement: m, emitted: { messages: emitted.messages, windowMessages: emitted.windowMessages, closedBy: emitted.closedBy }, check };
      } finally {
        await cleanUp(brokers, [], [m.outputTopic]);
      }
    }
  }
}

const results: RowResult[] = [];
const failures = new Map<WindowRow, string>();
const skipped = new Map<WindowRow, string>();
/** CPU seconds the whole machine spent busy so far (all cores, all processes; /proc/stat counts in USER_HZ, 100 on Linux). */
function machineBusySeconds(): number {
  const USER_HZ = 100;
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return (fields.reduce((a, b) => a + b, 0) - idle) / USER_HZ;
  } catch {
    return Number.NaN;
  }
}

const machineLoad = new Map<WindowRow, MachineLoad>();
for (const row of selected) {
  const busyBefore = machineBusySeconds();
  const begin = performance.now();
  try {
    const result = await measureRow(row);
    machineLoad.set(row, { wallSeconds: (performance.now() - begin) / 1000, busySeconds: machineBusySeconds() - busyBefore, loadAverage: loadavg()[0]! });
    results.push(result);
    writeJson(join(run.outDir, `${row}.json`), result);
    if (result.check !== undefined) {
      const c = result.check;
      say(`${row}: windows ${c.right}/${c.checked} right (${c.countWrong} wrong count, ${c.statsWrong} wrong pm25, ${c.missing} missing, ${c.extra} extra, ${c.openAtEnd} open at the end)`);
    }
  } catch (error) {
    const reason = (error as Error).message;
    (error instanceof MissingTool ? skipped : failures).set(row, reason);
    say(`${row}: NOT MEASURED: ${reason}`);
  }
}

const report = windowsSection({
  run,
  dataset,
  counties: counties.ids.length,
  selected,
  results,
  failures,
  skipped,
  windowMs,
  graceMs,
  quixGraceMs,
  idlePartitionMs,
  workers,
  defaultWorkers: DEFAULT_WORKERS,
  machineLoad,
  expected: expectedByGrace.get(`zone/${windowMs}`) ?? expectedAll,
});
writeJson(join(run.outDir, 'summary.json'), { ...report.summary, results, failures: Object.fromEntries(failures), skipped: Object.fromEntries(skipped) });
process.stdout.write(`\n${report.markdown}\n`);
if (values['no-append'] !== true && !cpuProf) {
  appendResults(report.markdown);
  say('appended to bench/RESULTS.md');
}
say(`raw JSON in ${run.outDir.replace(`${ROOT}/`, '')}`);
process.exit(failures.size > 0 ? 1 : 0);
