/**
 * `npm run bench:eos`: what EXACTLY_ONCE=true costs against at-least-once.
 * On one pre-produced data set (bench:windows's readings inside the US
 * counties), geowindow runs with count windows and with 1-minute zone
 * windows, at-least-once and exactly-once (at each COMMIT_INTERVAL_MS
 * given), alternating, for several rounds, each run from a fresh group with
 * fresh output topics. Per run: records/s and peak RSS as `npm run bench`
 * takes them, and the latency of each window from its close to visible, by a
 * read_committed reader running beside the service (see output-observer.ts).
 * Appends a section to bench/RESULTS.md and keeps the raw JSON in
 * bench/results/eos-<stamp>/.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, appendResults, commandLine, fmtInt, machine, markdownTable, round, say, stamp, writeJson } from './lib/common.js';
import { loadCounties, writeCountiesGeoJson } from './lib/counties.js';
import { cleanUp, withAdmin } from './lib/dataset.js';
import { ActivityRecorder, type Activity } from './lib/machine-activity.js';
import { brokersOf, parseFlags, positiveInteger, progressSeconds } from './lib/options.js';
import { LOG_APPEND_TIME_CONFIG, OutputObserver, type Observed } from './lib/output-observer.js';
import { beginRun, dateOnly, machineLine, mbText, ratioText } from './lib/report.js';
import { measureGeowindow, type Measurement, type RunContext } from './lib/systems.js';
import { codeVersion } from './lib/windows-report.js';
import { ensureZoneDataset, type ZoneDatasetOptions } from './lib/zone-dataset.js';

/** bench:windows's data set defaults, so that both benchmarks read the same topic. */
const DATASET_DEFAULTS = { startTs: 1_764_000_000_000, stepMs: 1, disorderMs: 1000 } as const;
/** The zone rows' windows, as bench:windows runs them. */
const ZONE_ENV = { WINDOW: 'tumbling', WINDOW_SIZE: '1m', WINDOW_GRACE: '2000', IDLE_PARTITION_MS: '200', KEY_BY: 'zone', OUTPUT_SCHEMA: 'v2' } as const;
const COUNT_ENV = { WINDOW: 'count', KEY_BY: 'partition' } as const;
/** The service's default COMMIT_INTERVAL_MS (src/config/config.ts): at-least-once runs with it. */
const DEFAULT_COMMIT_INTERVAL_MS = 1000;
/** Output partitions, as `npm run bench` creates them. */
const OUTPUT_PARTITIONS = 3;
const QUANTILES = [0.5, 0.95] as const;
/** Attempts at a run's setup (topics and observer), and the pause between them. */
const SETUP_ATTEMPTS = 3;
const SETUP_RETRY_MS = 2000;

const USAGE = `Usage: npm run bench:eos -- [options]

geowindow with EXACTLY_ONCE=false and =true, alternating, on one data set of
readings inside the 3,231 US counties: records/s, peak RSS, and the latency
of a window from its close (emittedAt) to visible (at-least-once: appended by
the broker; exactly-once: first seen by a read_committed reader).

  --records N           readings in the data set (default 1000000; bench:windows's topic)
  --devices D           stationary devices (default 10000)
  --rounds R            runs of each configuration (default 2), alternating
  --intervals LIST      exactly-once COMMIT_INTERVAL_MS values (default 1000,5000)
  --only LIST           window kinds: count,zone (default both)
  --workers W           geowindow's WORKERS (default 2)
  --cpu-prof            profile each run's service (node --cpu-prof into <raw data>/cpu-<run>/;
                        summarise with node dist/bench/profile-summary.js DIR); slows it: use
                        with --no-append
  --seed S              seed of the devices and readings (default 1)
  --partitions P        partitions of the data set topic (default 6)
  --brokers B           host:port list (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --progress-seconds S  seconds between progress lines (default 5)
  --no-append           do not append to bench/RESULTS.md (raw JSON is still written)`;

const values = parseFlags(
  {
    records: { type: 'string', default: '1000000' },
    devices: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '2' },
    intervals: { type: 'string', default: '1000,5000' },
    only: { type: 'string', default: 'count,zone' },
    workers: { type: 'string', default: '2' },
    'cpu-prof': { type: 'boolean', default: false },
  },
  USAGE,
);

type Kind = 'count' | 'zone';
const KINDS: readonly Kind[] = ['count', 'zone'];

/** One configuration of the service: at-least-once, or exactly-once at a commit interval. */
interface Variant {
  readonly exactlyOnce: boolean;
  readonly commitIntervalMs: number;
  /** Short name for logs and JSON: alo, eos-1000, ... */
  readonly name: string;
}

function usageError(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

if (values.size !== undefined) usageError('bench:eos takes the data set size from --records');
const kinds = (values.only ?? '').split(',').map((s) => s.trim()).filter(Boolean) as Kind[];
for (const kind of kinds) if (!KINDS.includes(kind)) usageError(`--only: unknown window kind ${JSON.stringify(kind)}; expected count and/or zone`);
const intervals = (values.intervals ?? '').split(',').map((s) => positiveInteger('intervals', s.trim(), DEFAULT_COMMIT_INTERVAL_MS));
const variants: Variant[] = [
  { exactlyOnce: false, commitIntervalMs: DEFAULT_COMMIT_INTERVAL_MS, name: 'alo' },
  ...intervals.map((ms) => ({ exactlyOnce: true, commitIntervalMs: ms, name: `eos-${ms}` })),
];
const rounds = positiveInteger('rounds', values.rounds, 2);
const workers = positiveInteger('workers', values.workers, 2);
const brokers = brokersOf(values);
const datasetOptions: ZoneDatasetOptions = {
  brokers,
  records: positiveInteger('records', values.records, 1_000_000),
  seed: positiveInteger('seed', values.seed, 1),
  partitions: positiveInteger('partitions', values.partitions, 6),
  devices: positiveInteger('devices', values.devices, 10_000),
  ...DATASET_DEFAULTS,
  progressSeconds: progressSeconds(values),
};

const started = beginRun('bench', 'npm run bench:eos');
const run = { ...started, outDir: join(ROOT, 'bench', 'results', `eos-${stamp(started.startedAt)}`) };
const counties = loadCounties();
const zonesFile = join(ROOT, 'bench', 'out', 'us-counties.geojson');
writeCountiesGeoJson(counties, zonesFile);
const dataset = await ensureZoneDataset(datasetOptions, counties);
const ctx: RunContext = { brokers, dataset, outDir: run.outDir, progressSeconds: datasetOptions.progressSeconds };

// ---------------------------------------------------------------------------
// One run

interface Latency {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

interface RunResult {
  readonly index: number;
  readonly round: number;
  readonly kind: Kind;
  readonly variant: Variant;
  readonly measurement: Measurement;
  readonly observed: Omit<Observed, 'appendedMs' | 'seenMs'>;
  /** Close (emittedAt) to visible: appended for at-least-once, seen read_committed for exactly-once. */
  readonly visible: Latency;
  readonly appended: Latency;
  readonly seen: Latency;
  readonly activity: Activity;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function latency(samples: Float64Array): Latency {
  const sorted = samples.slice().sort();
  const [p50, p95] = QUANTILES.map((q) => quantile(sorted, q)) as [number, number];
  return { p50, p95, max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]! };
}

/** Latencies of every run of one configuration, pooled for its row. */
const pooled = new Map<string, Float64Array[]>();
const rowKey = (kind: Kind, variant: Variant) => `${kind}/${variant.name}`;

/**
 * Creating the topics and joining the observer to them, tried again after a
 * failure: on the shared broker a topic just created is sometimes not yet
 * known to the partition leader (UNKNOWN_TOPIC_OR_PARTITION) when the
 * observer first fetches. createTopics succeeds again on a topic that exists.
 */
async function withSetupRetries<T>(tag: string, setup: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await setup();
    } catch (error) {
      if (attempt >= SETUP_ATTEMPTS) throw error;
      say(`${tag}: setup failed (${(error as Error).message}); trying again in ${SETUP_RETRY_MS} ms`);
      await sleep(SETUP_RETRY_MS);
    }
  }
}

async function runOnce(index: number, roundNo: number, kind: Kind, variant: Variant): Promise<RunResult> {
  const id = `${kind}-${variant.name}-${Date.now().toString(36)}`;
  const tag = `${kind}-${variant.name}-r${roundNo}`;
  const outputTopic = `bench-eos-out-${id}`;
  const dlqTopic = `bench-eos-dlq-${id}`;
  let observer: OutputObserver | undefined;
  let progress: NodeJS.Timeout | undefined;
  try {
    observer = await withSetupRetries(tag, async () => {
      await withAdmin(brokers, (admin) =>
        admin.createTopics({
          waitForLeaders: true,
          topics: [
            { topic: outputTopic, numPartitions: OUTPUT_PARTITIONS, replicationFactor: -1, configEntries: LOG_APPEND_TIME_CONFIG },
            { topic: dlqTopic, numPartitions: 1, replicationFactor: -1 },
          ],
        }),
      );
      return OutputObserver.start(brokers, outputTopic);
    });
    const watched = observer;
    progress = setInterval(() => say(`${tag}: ${watched.progress()}`), ctx.progressSeconds * 1000);
    progress.unref();
    const env: NodeJS.ProcessEnv = {
      ...(kind === 'zone' ? { ...ZONE_ENV, ZONES_FILE: zonesFile } : COUNT_ENV),
      OUTPUT_TOPIC: outputTopic,
      DLQ_TOPIC: dlqTopic,
      EXACTLY_ONCE: String(variant.exactlyOnce),
      COMMIT_INTERVAL_MS: String(variant.commitIntervalMs),
    };
    say(`run ${index}: ${tag}: EXACTLY_ONCE=${variant.exactlyOnce} COMMIT_INTERVAL_MS=${variant.commitIntervalMs}, ${kind} windows`);
    const recorder = ActivityRecorder.start();
    const nodeArgs = values['cpu-prof'] === true ? ['--cpu-prof', `--cpu-prof-dir=${join(run.outDir, `cpu-${String(index).padStart(2, '0')}-${tag}`)}`] : [];
    const measurement = await measureGeowindow(ctx, { workers, tag, env, nodeArgs, endBy: kind === 'zone' ? 'idle' : 'sigterm' });
    const activity = recorder.stop();
    clearInterval(progress);
    const expected = dataset.size - Number(measurement.detail.deadLettered ?? 0);
    const { appendedMs, seenMs, ...observed } = await observer.finish(expected);
    observer = undefined;
    const visibleMs = variant.exactlyOnce ? seenMs : appendedMs;
    const list = pooled.get(rowKey(kind, variant)) ?? [];
    list.push(visibleMs);
    pooled.set(rowKey(kind, variant), list);
    const result: RunResult = { index, round: roundNo, kind, variant, measurement, observed, visible: latency(visibleMs), appended: latency(appendedMs), seen: latency(seenMs), activity };
    say(
      `run ${index}: ${tag}: ${fmtInt(measurement.recordsPerSecond)} rec/s, peak RSS ${mbText(measurement.peakRssBytes)} MB, ` +
        `close to visible p50 ${ms(result.visible.p50)} p95 ${ms(result.visible.p95)} max ${ms(result.visible.max)} ms; ` +
        `${observed.records} outputs (${observed.distinctKeys} distinct), counts ${observed.countSum}/${expected}; cores: service ${activity.childrenCores.toFixed(2)}, other work ${activity.otherCores.toFixed(2)}`,
    );
    return result;
  } finally {
    clearInterval(progress);
    await observer?.abandon();
    await cleanUp(brokers, [], [outputTopic, dlqTopic]);
  }
}

const ms = (value: number) => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(1) : fmtInt(value));

// ---------------------------------------------------------------------------
// The runs: each round runs every configuration of each kind, in reverse order every other round

const results: RunResult[] = [];
const failures: string[] = [];
let index = 0;
for (let r = 1; r <= rounds; r++) {
  const order = r % 2 === 1 ? variants : [...variants].reverse();
  for (const kind of kinds) {
    for (const variant of order) {
      index++;
      try {
        const result = await runOnce(index, r, kind, variant);
        results.push(result);
        writeJson(join(run.outDir, `run-${String(index).padStart(2, '0')}-${kind}-${variant.name}.json`), result);
      } catch (error) {
        const reason = `run ${index} (${kind}, ${variant.name}, round ${r}): ${(error as Error).message}`;
        failures.push(reason);
        say(`NOT MEASURED: ${reason}`);
        process.stderr.write(`${(error as Error).stack ?? ''}\n`);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The report

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const spread = (xs: readonly number[], text: (x: number) => string) =>
  xs.length < 2 ? text(median(xs)) : `${text(median(xs))} (${text(Math.min(...xs))}-${text(Math.max(...xs))})`;
const cpuPerRecord = (m: Measurement) => ((m.cpuSeconds ?? Number.NaN) * 1e6) / Number(m.detail.cpuRecords ?? m.records);
const latencyText = (l: Latency) => `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.max)}`;
const modeText = (v: Variant) => (v.exactlyOnce ? `exactly-once, commit ${v.commitIntervalMs} ms` : `at-least-once (commit ${v.commitIntervalMs} ms)`);

interface Row {
  readonly kind: Kind;
  readonly variant: Variant;
  readonly runs: readonly RunResult[];
  readonly rate: number;
  readonly rss: number;
  readonly visible: Latency;
}
const rows: Row[] = [];
for (const kind of kinds) {
  for (const variant of variants) {
    const runs = results.filter((x) => x.kind === kind && x.variant === variant);
    if (runs.length === 0) continue;
    const all = pooled.get(rowKey(kind, variant)) ?? [];
    const joined = new Float64Array(all.reduce((n, a) => n + a.length, 0));
    let at = 0;
    for (const a of all) {
      joined.set(a, at);
      at += a.length;
    }
    rows.push({
      kind,
      variant,
      runs,
      rate: median(runs.map((x) => x.measurement.recordsPerSecond)),
      rss: median(runs.map((x) => x.measurement.peakRssBytes)),
      visible: latency(joined),
    });
  }
}
const baseline = (kind: Kind) => rows.find((row) => row.kind === kind && !row.variant.exactlyOnce);
const summaryTable = markdownTable(
  [
    'Windows',
    'Mode',
    'Runs',
    'Records/s, median (range)',
    'EOS / ALO records/s',
    'CPU µs/record, median (range)',
    'EOS / ALO CPU µs/record',
    'Peak RSS MB, median (range)',
    'EOS / ALO peak RSS',
    'Close to visible p50 / p95 / max (ms, all runs)',
    'EOS / ALO latency p50 / p95',
  ],
  rows.map((row) => {
    const base = baseline(row.kind);
    const isBase = base === row || base === undefined;
    return [
      row.kind === 'count' ? 'count (2,000 records)' : '1 min tumbling, KEY_BY=zone',
      modeText(row.variant),
      String(row.runs.length),
      spread(row.runs.map((x) => x.measurement.recordsPerSecond), fmtInt),
      isBase ? '-' : ratioText(row.rate / base.rate),
      spread(row.runs.map((x) => cpuPerRecord(x.measurement)), (v) => v.toFixed(1)),
      isBase ? '-' : ratioText(median(row.runs.map((x) => cpuPerRecord(x.measurement))) / median(base.runs.map((x) => cpuPerRecord(x.measurement)))),
      spread(row.runs.map((x) => x.measurement.peakRssBytes), mbText),
      isBase ? '-' : ratioText(row.rss / base.rss),
      latencyText(row.visible),
      isBase ? '-' : `${ratioText(row.visible.p50 / base.visible.p50)} / ${ratioText(row.visible.p95 / base.visible.p95)}`,
    ];
  }),
);

const runTable = markdownTable(
  [
    'Run',
    'Windows',
    'Mode',
    'Records/s',
    'Read all / then committed (s)',
    'Peak RSS MB',
    'CPU µs/record',
    'Visible p50 / p95 / max (ms)',
    'Appended p50 / p95 (ms)',
    'Seen read_committed p50 / p95 (ms)',
    'Outputs seen (distinct), counts',
    'Cores used: service / harness / other work',
  ],
  results.map((x) => {
    const m = x.measurement;
    return [
      String(x.index),
      x.kind,
      x.variant.name,
      fmtInt(m.recordsPerSecond),
      `${m.detail.secondsToAllRead} / ${m.detail.secondsFromAllReadToLastCommit}`,
      mbText(m.peakRssBytes),
      cpuPerRecord(m).toFixed(1),
      latencyText(x.visible),
      `${ms(x.appended.p50)} / ${ms(x.appended.p95)}`,
      `${ms(x.seen.p50)} / ${ms(x.seen.p95)}`,
      `${fmtInt(x.observed.records)} (${fmtInt(x.observed.distinctKeys)}), ${x.observed.countSum === dataset.size ? 'all' : `${fmtInt(x.observed.countSum)} of ${fmtInt(dataset.size)}`}`,
      `${x.activity.childrenCores.toFixed(2)} / ${x.activity.harnessCores.toFixed(2)} / ${x.activity.otherCores.toFixed(2)}`,
    ];
  }),
);

/** Characters of a command line kept in the report. */
const COMMAND_CHARS = 60;
/** Processes using less than this (cores, on average over a run) are not named. */
const BUSY_CORES = 0.05;
/** Names a busy process briefly: the broker, a geowindow service, a test runner or compiler, else its command line cut short. */
function processName(command: string): string {
  if (command.includes('kafka.Kafka')) return 'the Kafka broker';
  if (command.includes('cli.js run')) return 'another geowindow service';
  if (command.includes('vitest')) return 'vitest';
  if (/\btsc\b/.test(command)) return 'tsc';
  const text = command.replace(`${ROOT}/`, '').replace(/`/g, "'");
  return `\`${text.length > COMMAND_CHARS ? `${text.slice(0, COMMAND_CHARS - 1)}…` : text}\``;
}
const others = results.map((x) => {
  const busy = x.activity.busiest
    .filter((p) => p.cores >= BUSY_CORES)
    .map((p) => `${processName(p.command)} ${p.cores.toFixed(2)}`)
    .join(', ');
  return `run ${x.index} (${round(x.activity.wallSeconds, 0)} s, load ${x.activity.loadAverage.toFixed(1)}): ${busy === '' ? `nothing above ${BUSY_CORES} core` : busy}`;
});

/** (max - min) / median, as a percentage. */
const relativeSpread = (xs: readonly number[]) => (xs.length < 2 ? 0 : ((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 100).toFixed(0);
const spreadNotes = rows.map(
  (row) => `${row.kind} ${row.variant.name} ${relativeSpread(row.runs.map((x) => x.measurement.recordsPerSecond))}% / ${relativeSpread(row.runs.map((x) => cpuPerRecord(x.measurement)))}%`,
);
const incomplete = results.filter((x) => x.observed.countSum !== dataset.size || x.observed.records !== x.observed.distinctKeys || x.observed.unreadable > 0);
const m0 = machine();

const section = [
  `## Exactly-once against at-least-once (${dateOnly(run.startedAt)})`,
  '',
  machineLine(run.env),
  '',
  '```sh',
  commandLine(),
  '```',
  '',
  `Service code: ${codeVersion()}. Data set: topic \`${dataset.topic}\`, ${fmtInt(dataset.size)} readings from ${fmtInt(dataset.devices)} stationary devices in the US counties (bench:windows's), ` +
    `${dataset.partitions} partitions, ${dataset.produced ? `produced in this run (${dataset.produceSeconds} s)` : 'reused from an earlier run'}; no bad records. ` +
    `${rounds} round${rounds === 1 ? '' : 's'}, each running every configuration once, in reverse order every other round; WORKERS=${workers}.`,
  '',
  summaryTable,
  '',
  'Every run:',
  '',
  runTable,
  '',
  `- Spread between runs of one configuration ((max - min) / median), records/s / CPU µs per record: ${spreadNotes.join(', ')}.`,
  `- Output check (the read_committed reader): ${incomplete.length === 0 ? 'every run showed each input record counted once, by aggregates with distinct keys (no duplicate, none missing).' : `runs ${incomplete.map((x) => x.index).join(', ')} did not add up (see the table).`}`,
  `- Cores used (of ${m0.cores}), on average over each run from the service's start to its exit: the service (all its threads), the harness (its metrics polls and the read_committed reader), and other work (the machine's busy time, /proc/stat, less those two: the broker, other engineers' tests and builds). ` +
    `The busiest other processes (every process read each second): ${others.join('; ')}.`,
  ...failures.map((f) => `- NOT MEASURED: ${f}`),
  '',
  'How it is measured: geowindow as in `npm run bench` (`node --expose-gc dist/src/cli.js run`, a fresh group, fresh output and dead-letter topics, LOG_LEVEL=warn): records/s from the first /metrics sample with records in to the group\'s committed offsets reaching the end offsets; peak RSS: VmHWM of the process; CPU µs/record: the process\'s CPU (all threads) up to every record read. ' +
    'Count windows end by SIGTERM once every record is read (the last partial windows close at shutdown); zone windows (WINDOW=tumbling WINDOW_SIZE=1m WINDOW_GRACE=2000 KEY_BY=zone OUTPUT_SCHEMA=v2, the counties as ZONES_FILE) end when the partitions idle for IDLE_PARTITION_MS=200 and the next commit passes them, which is in their clock (up to one COMMIT_INTERVAL_MS). ' +
    'Close to visible: each aggregate\'s `emittedAt` (set by the service when the closed window\'s aggregate is built) to, at-least-once, the broker\'s append time (the output topic has message.timestamp.type=LogAppendTime, so the record timestamp is the append), and, exactly-once, its first receipt by a read_committed kafkajs consumer of the output topic (Date.now() when its batch arrives; fetch wait at most 50 ms) started before the service and running in the harness for every run of both modes; one clock, one machine. ' +
    '"Appended" and "seen read_committed" are both latencies for every run: for exactly-once, appended is when the write reached the broker inside the open transaction. Latency quantiles are exact (nearest rank) over every aggregate of the row\'s runs pooled. MB are MiB.',
  '',
  `Raw data: \`results/eos-${stamp(run.startedAt)}/\`.`,
].join('\n');

writeJson(join(run.outDir, 'summary.json'), {
  startedAt: run.startedAt.toISOString(),
  command: commandLine(),
  environment: run.env,
  dataset: { ...dataset, devicesPlaced: undefined },
  variants,
  rounds,
  workers,
  results,
  failures,
  markdown: section,
});
process.stdout.write(`\n${section}\n`);
if (values['no-append'] !== true) {
  appendResults(section);
  say('appended to bench/RESULTS.md');
}
say(`raw JSON in ${run.outDir.replace(`${ROOT}/`, '')}`);
process.exit(failures.length > 0 ? 1 : 0);
