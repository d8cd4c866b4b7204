/**
 * One measurement per system, each reading the whole data set from a fresh
 * consumer group (kcat: a plain assignment from the beginning), one at a
 * time, with a progress line every few seconds.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BENCH_DIST,
  CLI,
  HwmSampler,
  ROOT,
  freePort,
  histogramBuckets,
  histogramQuantile,
  lastJson,
  metricLabelled,
  metricSum,
  nowMs,
  packageVersion,
  procCpuSeconds,
  procThreadsCpuSeconds,
  V8_BACKGROUND_THREAD,
  round,
  say,
  scrape,
  start,
  until,
  which,
  type Samples,
} from './common.js';
import { benchKafka, cleanUp, committedToEnd, withAdmin, type Dataset } from './dataset.js';
import { withMallocSettings } from '../../src/memory/malloc-settings.js';
import type { Runtime } from './runtimes.js';

export type SystemName = 'geowindow' | 'kafkajs' | 'platformatic' | 'recipe' | 'kcat';
export const SYSTEMS: readonly SystemName[] = ['kcat', 'kafkajs', 'platformatic', 'recipe', 'geowindow'];

export interface Measurement {
  readonly system: SystemName;
  /** What the row of the table says. */
  readonly label: string;
  /** The Node.js version it ran on (the Node.js systems). */
  readonly runtime?: string;
  readonly records: number;
  /** The timed span, in seconds (see `timing`). */
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly peakRssBytes: number;
  /** How the peak was taken. */
  readonly peakRssMethod: string;
  /** How the timed span was taken. */
  readonly timing: string;
  /** CPU seconds (all threads) over the timed span, when known. */
  readonly cpuSeconds: number | undefined;
  /** CPU of the main thread alone over the same span, for the Node.js systems (Linux). */
  readonly mainThreadCpuSeconds?: number | undefined;
  /** CPU of V8's background threads over the same span (garbage collection and compilation, see V8_BACKGROUND_THREAD). */
  readonly backgroundThreadsCpuSeconds?: number | undefined;
  readonly windowLatencyMs?: { readonly p50: number | undefined; readonly p99: number | undefined };
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface RunContext {
  readonly brokers: readonly string[];
  readonly dataset: Dataset;
  /** Where logs and raw output of this run go. */
  readonly outDir: string;
  /** Seconds between progress lines. */
  readonly progressSeconds: number;
}

/** A prerequisite of one system is missing (kcat, the recipe's Python packages): that row is skipped, the rest runs. */
export class MissingTool extends Error {}

const runId = () => `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const mb = (bytes: number) => round(bytes / 1048576, 1);

/** A live process's arguments as the kernel has them: after a restart in place (execve), the new ones. */
function procArgs(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg.length > 0);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// geowindow end to end

export interface GeowindowOptions {
  readonly workers: number;
  /** Extra node flags (e.g. --cpu-prof --cpu-prof-dir=...). */
  readonly nodeArgs?: readonly string[];
  /** The Node.js binary to run it on (default: the harness's own). */
  readonly runtime?: Runtime;
  /** Extra environment for the service (MEMORY_LIMIT_MB, CHUNK_SIZE, ...); the caller's environment is passed on too. */
  readonly env?: NodeJS.ProcessEnv;
  /** A name for the log files, when one run context holds several geowindow runs. */
  readonly tag?: string;
  /**
   * What closes the last windows once every record is read: `sigterm` (count windows close at
   * shutdown; the default) or `idle` (event-time windows close after IDLE_PARTITION_MS, and the
   * clock stops at the last commit, before the harness stops the service).
   */
  readonly endBy?: 'sigterm' | 'idle';
}

/**
 * Proposed instrumentation (not in src/ yet): the wall-clock time (Unix
 * seconds) at which the service received its first batch. When the service
 * exports it, the harness uses it instead of polling for the first record.
 */
const FIRST_BATCH_METRIC = 'geowindow_first_batch_timestamp_seconds';

/**
 * geowindow end to end: `node --expose-gc dist/src/cli.js run` with a fresh
 * group and fresh output and dead-letter topics. The clock runs from the
 * first fetch to the moment the group's committed offsets equal the end
 * offsets. Once /metrics shows every record read, the harness sends SIGTERM:
 * the service closes its last (partial) windows, writes and commits them and
 * exits, instead of waiting WINDOW_IDLE_MS for them.
 */
export async function measureGeowindow(ctx: RunContext, options: GeowindowOptions): Promise<Measurement> {
  const { dataset } = ctx;
  const id = runId();
  const groupId = `bench-geowindow-${id}`;
  const outputTopic = `bench-out-${id}`;
  const dlqTopic = `bench-dlq-${id}`;
  const tag = options.tag ?? 'geowindow';
  await withAdmin(ctx.brokers, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: outputTopic, numPartitions: 3, replicationFactor: -1 },
        { topic: dlqTopic, numPartitions: 1, replicationFactor: -1 },
      ],
    }),
  );
  const port = await freePort();
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  // The malloc settings as the image sets them, and `geowindow run` on Node.js 22.15 and later (src/memory/malloc-settings.ts).
  const env = withMallocSettings({
    ...process.env,
    KAFKA_BROKERS: ctx.brokers.join(','),
    INPUT_TOPIC: dataset.topic,
    OUTPUT_TOPIC: outputTopic,
    DLQ_TOPIC: dlqTopic,
    GROUP_ID: groupId,
    START_FROM: 'earliest',
    WORKERS: String(options.workers),
    METRICS_PORT: String(port),
    METRICS_HOST: '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...options.env,
  });
  const args = ['--expose-gc', ...(options.nodeArgs ?? []), CLI, 'run'];
  const node = options.runtime?.binary ?? process.execPath;
  const version = options.runtime?.version ?? process.version;
  say(`${tag}: node ${args.map((a) => a.replace(`${ROOT}/`, '')).join(' ')} (Node.js ${version}, WORKERS=${options.workers}, group ${groupId})`);
  const logFile = join(ctx.outDir, `${tag}.log`);
  const child = start(node, args, { env, label: tag, stdoutFile: logFile, stderrFile: logFile });
  const memory = new HwmSampler(child.pid);
  let exitCode: number | string | undefined;
  void child.exited.then((code) => (exitCode = code));
  const size = dataset.size;

  try {
    // First fetch: the first /metrics sample showing records in (every 50 ms).
    const first = await until('the first records in', 120_000, 50, async () => {
      if (exitCode !== undefined) throw new Error(`geowindow exited with ${exitCode} before reading (see ${logFile})`);
      const samples = await scrape(metricsUrl);
      // The count is taken when the service answers, which a busy event loop delays: the answer's time is the closer one.
      const at = nowMs();
      const recordsIn = samples === undefined ? 0 : metricSum(samples, 'geowindow_records_in_total');
      return recordsIn > 0
        ? {
            at,
            recordsIn,
            cpu: procCpuSeconds(child.pid) ?? 0,
            mainCpu: procCpuSeconds(child.pid, child.pid) ?? NaN,
            backgroundCpu: procThreadsCpuSeconds(child.pid, V8_BACKGROUND_THREAD) ?? NaN,
          }
        : undefined;
    });
    // On a runtime where the service bounds its young generation by restarting itself, these are the restarted arguments.
    const runningArgs = (procArgs(child.pid) ?? []).slice(1).map((a) => a.replace(`${ROOT}/`, ''));
    say(`${tag}: first records in (${first.recordsIn} already counted); running as node ${runningArgs.join(' ')}`);

    // Until every record is read: a scrape costs the service a few ms of its main thread, so
    // once a second while far from the end, every 100 ms in the last 2 seconds.
    let lastReport = first.at;
    let last = { at: first.at, recordsIn: first.recordsIn };
    let final: Samples | undefined;
    let readAt = 0;
    for (;;) {
      if (exitCode !== undefined) throw new Error(`geowindow exited with ${exitCode} while reading (see ${logFile})`);
      const samples = await scrape(metricsUrl);
      const at = nowMs();
      const recordsIn = samples === undefined ? last.recordsIn : metricSum(samples, 'geowindow_records_in_total');
      if (recordsIn >= size) {
        final = samples;
        readAt = at;
        break;
      }
      const rate = (recordsIn - first.recordsIn) / Math.max(0.001, (at - first.at) / 1000);
      if (at - lastReport >= ctx.progressSeconds * 1000) {
        lastReport = at;
        say(`${tag}: ${recordsIn}/${size} records in, ${Math.round(rate)} rec/s, rss ${mb(memory.rssBytes)} MB (peak ${mb(memory.peakBytes)})`);
      }
      if (recordsIn === last.recordsIn && at - last.at > 60_000) throw new Error(`geowindow read nothing for 60 s at ${recordsIn}/${size}`);
      if (recordsIn !== last.recordsIn) last = { at, recordsIn };
      const secondsLeft = rate > 0 ? (size - recordsIn) / rate : Infinity;
      await sleep(secondsLeft > 2 ? Math.min(1000, (secondsLeft - 2) * 1000) : 100);
    }
    const cpuAtRead = procCpuSeconds(child.pid) ?? NaN;
    const mainCpuAtRead = procCpuSeconds(child.pid, child.pid) ?? NaN;
    const backgroundCpuAtRead = procThreadsCpuSeconds(child.pid, V8_BACKGROUND_THREAD) ?? NaN;
    memory.sample();
    const peakAtRead = memory.peakBytes;
    // Every window closed by count is acknowledged (only the open windows, at most one per
    // partition, still hold chunks) before SIGTERM, so the latency histogram holds them all.
    // The final commit waits for them anyway: this costs the clock at most one 50 ms poll.
    final = await until('the closed windows to be acknowledged', 120_000, 50, async () => {
      if (exitCode !== undefined) throw new Error(`geowindow exited with ${exitCode} (see ${logFile})`);
      const samples = await scrape(metricsUrl);
      if (samples === undefined) return undefined;
      const inUse = samples.get('geowindow_chunk_pool_in_use') ?? Infinity;
      const queued = samples.get('geowindow_worker_pool_queue_depth') ?? Infinity;
      return inUse <= dataset.partitions && queued === 0 ? samples : undefined;
    });

    // Stop it: the last windows are closed, written and committed on SIGTERM. The admin
    // client is connected first, so that the first poll is not late by a connection.
    const admin = benchKafka(ctx.brokers).admin();
    await admin.connect();
    let termAt: number;
    let committedAt: number;
    const lastCommit = () => until('the last commit', 60_000, 50, async () => ((await committedToEnd(admin, groupId, dataset)) ? nowMs() : undefined));
    try {
      await committedToEnd(admin, groupId, dataset);
      // Event-time windows are not closed by SIGTERM: the idle partitions close them, then the service stops.
      const idleCommitAt = options.endBy === 'idle' ? await lastCommit() : undefined;
      termAt = nowMs();
      child.process.kill('SIGTERM');
      committedAt = idleCommitAt ?? (await lastCommit());
    } finally {
      await admin.disconnect();
    }
    const code = await child.exited;
    memory.stop();
    if (code !== 0) throw new Error(`geowindow exited with ${code} (see ${logFile})`);

    const exactFirst = final === undefined ? 0 : (final.get(FIRST_BATCH_METRIC) ?? 0);
    // Without the instrumentation, records counted at the first sample were read before the clock started: leave them out.
    const startAt = exactFirst > 0 ? exactFirst * 1000 : first.at;
    const counted = exactFirst > 0 ? size : size - first.recordsIn;
    const seconds = (committedAt - startAt) / 1000;
    const buckets = final === undefined ? [] : histogramBuckets(final, 'geowindow_window_processing_seconds');
    const quantile = (q: number) => {
      const value = histogramQuantile(buckets, q);
      return value === undefined ? undefined : round(value * 1000, 2);
    };
    const s = final ?? new Map<string, number>();
    const windowsBy = Object.fromEntries(
      ['count', 'columns_full', 'idle', 'shutdown', 'pool_exhausted'].map((reason) => [reason, metricLabelled(s, 'geowindow_windows_emitted_total', 'closed_by', reason)]),
    );
    const result: Measurement = {
      system: 'geowindow',
      label: `geowindow end to end (count windows, ${options.workers} worker${options.workers === 1 ? '' : 's'})`,
      runtime: version,
      records: size,
      seconds: round(seconds, 3),
      recordsPerSecond: Math.round(counted / seconds),
      peakRssBytes: memory.peakBytes,
      peakRssMethod: 'VmHWM of the service process (all threads), read until it exited',
      timing:
        exactFirst > 0
          ? 'first batch (service metric) to the last commit reaching the end offsets (admin poll, 50 ms)'
          : 'first /metrics sample with records in (50 ms poll; records already counted then are left out) to the last commit reaching the end offsets (admin poll, 50 ms; SIGTERM once /metrics shows every record read, polled every 100 ms near the end)',
      cpuSeconds: round(cpuAtRead - first.cpu, 3),
      mainThreadCpuSeconds: round(mainCpuAtRead - first.mainCpu, 3),
      backgroundThreadsCpuSeconds: round(backgroundCpuAtRead - first.backgroundCpu, 3),
      windowLatencyMs: { p50: quantile(0.5), p99: quantile(0.99) },
      detail: {
        groupId,
        outputTopic,
        dlqTopic,
        workers: options.workers,
        nodeArgs: options.nodeArgs ?? [],
        node,
        runningArgs,
        env: options.env ?? {},
        recordsCountedAtFirstSample: first.recordsIn,
        firstBatchMetric: exactFirst > 0,
        secondsToAllRead: round((readAt - startAt) / 1000, 3),
        secondsFromAllReadToLastCommit: round((committedAt - readAt) / 1000, 3),
        secondsFromSigtermToLastCommit: round((committedAt - termAt) / 1000, 3),
        cpuSecondsNote: 'from the first sample to all records read (the shutdown tail is not in it)',
        cpuRecords: counted,
        peakRssAtAllReadBytes: peakAtRead,
        windowLatencyNote:
          'geowindow_window_processing_seconds (window closed to aggregate acknowledged), linear interpolation inside histogram buckets (1, 2.5, 5, 10, 25, 50, 100, 250 ms ...); every window but the last partial one of each partition (closed at SIGTERM)',
        windowsEmitted: windowsBy,
        windowLatencyCount: buckets[buckets.length - 1]?.count ?? 0,
        recordsAggregated: s.get('geowindow_records_aggregated_total') ?? 0,
        deadLettered: metricSum(s, 'geowindow_records_dead_lettered_total'),
        memoryBudgetMb: mb(s.get('geowindow_memory_budget_bytes') ?? 0),
        guardPauses: s.get('geowindow_consumer_pauses_total') ?? 0,
        chunkPoolWaits: s.get('geowindow_chunk_pool_waits_total') ?? 0,
        workerUtilization: s.get('geowindow_worker_pool_utilization') ?? 0,
        rebalances: s.get('geowindow_rebalances_total') ?? 0,
        heapUsedBytesAtEnd: s.get('nodejs_heap_size_used_bytes') ?? 0,
        logFile,
      },
    };
    say(
      `${tag}: ${result.recordsPerSecond} rec/s over ${result.seconds} s, peak RSS ${mb(result.peakRssBytes)} MB, ` +
        `window latency p50 ${result.windowLatencyMs?.p50} ms p99 ${result.windowLatencyMs?.p99} ms`,
    );
    return result;
  } finally {
    memory.stop();
    if (exitCode === undefined && child.process.exitCode === null) {
      child.process.kill('SIGKILL');
      await child.exited;
    }
    await cleanUp(ctx.brokers, [groupId], [outputTopic, dlqTopic]);
  }
}

// ---------------------------------------------------------------------------
// The raw JS clients (children that time themselves and report getrusage's peak)

interface RawSummary {
  records: number;
  bytes: number;
  seconds: number;
  recordsPerSecond: number;
  cpuSeconds: number;
  mainThreadCpuSeconds?: number | null;
  peakRssBytes: number;
}

export async function measureRawClient(
  ctx: RunContext,
  system: 'kafkajs' | 'platformatic',
  nodeArgs: readonly string[] = [],
  runtime?: Runtime,
): Promise<Measurement> {
  const script = join(BENCH_DIST, system === 'kafkajs' ? 'raw-kafkajs.js' : 'raw-platformatic.js');
  const group = `bench-raw-${system}-${runId()}`;
  const label =
    system === 'kafkajs'
      ? `kafkajs ${packageVersion('kafkajs')} raw consume (eachBatch, count only)`
      : `@platformatic/kafka ${packageVersion('@platformatic/kafka')} raw consume (stream, count only)`;
  const tag = runtime === undefined ? system : `${system}-${runtime.tag}`;
  const logFile = join(ctx.outDir, `${tag}.log`);
  const version = runtime?.version ?? process.version;
  say(`${tag}: ${label}, Node.js ${version}, group ${group}`);
  const child = start(
    runtime?.binary ?? process.execPath,
    [...nodeArgs, script, '--brokers', ctx.brokers.join(','), '--topic', ctx.dataset.topic, '--expect', String(ctx.dataset.size), '--group', group, '--progress-seconds', String(ctx.progressSeconds)],
    { label: tag, stderrFile: logFile },
  );
  const code = await child.exited;
  await cleanUp(ctx.brokers, [group], []);
  if (code !== 0) throw new Error(`${system} raw consumer exited with ${code} (see ${logFile})`);
  const summary = lastJson<RawSummary>(child.stdout());
  say(`${tag}: ${summary.recordsPerSecond} rec/s over ${summary.seconds} s, peak RSS ${mb(summary.peakRssBytes)} MB`);
  return {
    system,
    label,
    runtime: version,
    records: summary.records,
    seconds: summary.seconds,
    recordsPerSecond: summary.recordsPerSecond,
    peakRssBytes: summary.peakRssBytes,
    peakRssMethod: 'getrusage ru_maxrss of the process, at its end',
    timing: 'first batch handed to the application to the last record (in-process clock)',
    cpuSeconds: summary.cpuSeconds,
    mainThreadCpuSeconds: summary.mainThreadCpuSeconds ?? undefined,
    detail: { ...summary, group, nodeArgs },
  };
}

// ---------------------------------------------------------------------------
// The recipe's Python consumer

interface RecipeSummary {
  records: number;
  bad: number;
  windows: number;
  throttles: number;
  seconds: number;
  records_per_second: number;
  peak_rss_mb: number;
  maxrss_mb?: number;
  cpu_seconds?: number | null;
}

export function pythonVersions(): string | undefined {
  try {
    return execFileSync(
      'python3',
      ['-c', 'import sys, confluent_kafka, numpy, psutil; print("Python %s, confluent-kafka %s (librdkafka %s), numpy %s" % (sys.version.split()[0], confluent_kafka.__version__, confluent_kafka.libversion()[0], numpy.__version__))'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
  } catch {
    return undefined;
  }
}

export async function measureRecipe(ctx: RunContext): Promise<Measurement> {
  const group = `bench-recipe-${runId()}`;
  const versions = pythonVersions();
  if (versions === undefined) throw new MissingTool('the recipe consumer needs python3 with: pip install confluent-kafka numpy psutil');
  say(`recipe: bench/recipe/recipe_consumer.py (${versions}), group ${group}`);
  const child = start(
    'python3',
    [
      join(ROOT, 'bench', 'recipe', 'recipe_consumer.py'),
      '--brokers', ctx.brokers.join(','),
      '--topic', ctx.dataset.topic,
      '--group', group,
      '--max-records', String(ctx.dataset.size),
      '--idle-exit', '30',
      '--progress-seconds', String(ctx.progressSeconds),
    ],
    { label: 'recipe', stderrFile: join(ctx.outDir, 'recipe.log'), relay: (line) => line.startsWith('recipe:') || /Error|Traceback/.test(line) },
  );
  const code = await child.exited;
  await cleanUp(ctx.brokers, [group], []);
  if (code !== 0) throw new Error(`the recipe consumer exited with ${code} (see ${join(ctx.outDir, 'recipe.log')})`);
  const summary = lastJson<RecipeSummary>(child.stdout());
  if (summary.records !== ctx.dataset.size) throw new Error(`the recipe consumer read ${summary.records} of ${ctx.dataset.size} records`);
  const peak = (summary.maxrss_mb ?? summary.peak_rss_mb) * 1048576;
  say(`recipe: ${summary.records_per_second} rec/s over ${summary.seconds} s, peak RSS ${mb(peak)} MB`);
  return {
    system: 'recipe',
    label: `recipe's Python approach (deque window, float32 numpy, gc/RSS check per window; confluent-kafka)`,
    records: summary.records,
    seconds: summary.seconds,
    recordsPerSecond: summary.records_per_second,
    peakRssBytes: peak,
    peakRssMethod: summary.maxrss_mb === undefined ? 'psutil RSS samples' : 'getrusage ru_maxrss of the process, at its end',
    timing: 'first record polled to the last (in-process monotonic clock)',
    cpuSeconds: summary.cpu_seconds ?? undefined,
    detail: { ...summary, group, versions },
  };
}

// ---------------------------------------------------------------------------
// kcat

export function kcatVersion(): string | undefined {
  if (which('kcat') === undefined) return undefined;
  try {
    const text = execFileSync('kcat', ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const match = /Version ([\d.]+).*?librdkafka ([\d.]+)/s.exec(text);
    return match === null ? 'kcat' : `kcat ${match[1]} (librdkafka ${match[2]})`;
  } catch {
    return undefined;
  }
}

export const KCAT_MISSING = 'kcat is not installed: apt-get install -y kcat (Debian/Ubuntu; the harness was written against kcat 1.7.1)';

/**
 * kcat reading the topic, its output discarded: the machine's consume limit
 * through librdkafka. A balanced consumer in a fresh group (-G) stops after
 * exactly the topic's record count (-c; -e would add a fetch.wait.max.ms wait
 * at the end of each partition). It prints each record's offset (a few bytes)
 * to a pipe, so the harness starts the clock at the first output (kcat's
 * start-up, metadata and group join are not in it) and counts what it read.
 */
export async function measureKcat(ctx: RunContext): Promise<Measurement> {
  const version = kcatVersion();
  if (version === undefined) throw new MissingTool(KCAT_MISSING);
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const rusageFile = join(ctx.outDir, 'kcat.rusage');
  rmSync(rusageFile, { force: true });
  mkdirSync(ctx.outDir, { recursive: true });
  const group = `bench-kcat-${runId()}`;
  const kcatArgs = ['-b', ctx.brokers.join(','), '-G', group, ctx.dataset.topic, '-X', 'auto.offset.reset=earliest', '-c', String(ctx.dataset.size), '-q', '-f', '%o\\n'];
  const [command, args] = timeBin === undefined ? ['kcat', kcatArgs] : [timeBin, ['-f', '%M %U %S %e', '-o', rusageFile, 'kcat', ...kcatArgs]];
  say(`kcat: ${version}: kcat ${kcatArgs.join(' ')}`);
  let firstAt: number | undefined;
  let linesAtFirst = 0;
  let lastAt = 0;
  let lines = 0;
  let lastReport = nowMs();
  const child = start(command, args, {
    label: 'kcat',
    stderrFile: join(ctx.outDir, 'kcat.log'),
    onStdout: (chunk) => {
      const at = nowMs();
      lastAt = at;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      if (firstAt === undefined) {
        firstAt = at;
        linesAtFirst = lines;
      }
      if (at - lastReport > ctx.progressSeconds * 1000) {
        lastReport = at;
        say(`kcat: ${lines}/${ctx.dataset.size} records`);
      }
    },
  });
  const memory = timeBin === undefined ? new HwmSampler(child.pid, 20) : undefined;
  const code = await child.exited;
  const exitAt = nowMs();
  memory?.stop();
  await cleanUp(ctx.brokers, [group], []);
  if (code !== 0) throw new Error(`kcat exited with ${code} (see ${join(ctx.outDir, 'kcat.log')})`);
  if (lines !== ctx.dataset.size || firstAt === undefined) throw new Error(`kcat read ${lines} of ${ctx.dataset.size} records`);
  let peak = memory?.peakBytes ?? 0;
  let cpuSeconds: number | undefined;
  let wallSeconds: number | undefined;
  if (timeBin !== undefined) {
    const [maxKb, user, system, elapsed] = readFileSync(rusageFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    peak = (maxKb ?? 0) * 1024;
    cpuSeconds = (user ?? 0) + (system ?? 0);
    wallSeconds = elapsed;
  }
  // The offsets in the first output block were read before the clock started; the
  // last block arrives when kcat flushes its output on exit (about 10-20 ms after the last record).
  const seconds = (lastAt - firstAt) / 1000;
  const result: Measurement = {
    system: 'kcat',
    label: `${version}, output discarded`,
    records: lines,
    seconds: round(seconds, 3),
    recordsPerSecond: Math.round((lines - linesAtFirst) / seconds),
    peakRssBytes: peak,
    peakRssMethod: timeBin === undefined ? 'VmHWM polled every 20 ms' : '/usr/bin/time %M (getrusage of the child)',
    timing: 'first output block to the last (offsets on a block-buffered pipe; the records of the first block are left out)',
    cpuSeconds,
    detail: { version, args: kcatArgs, group, linesInFirstBlock: linesAtFirst, wallSeconds, secondsToExit: round((exitAt - firstAt) / 1000, 3), cpuSecondsNote: 'whole process, start-up included' },
  };
  say(`kcat: ${result.recordsPerSecond} rec/s over ${result.seconds} s, peak RSS ${mb(peak)} MB`);
  return result;
}
