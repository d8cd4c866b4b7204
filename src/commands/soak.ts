import { spawn } from 'node:child_process';
import { freePort } from '../net/free-port.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSecurityConfig, secretValues, type SecurityConfig } from '../config/config.js';
import { brokerList, integer, topicName } from '../config/parsers.js';
import { ConfigError, UsageError } from '../errors.js';
import { ensureTopics } from '../kafka/admin.js';
import { createKafka } from '../kafka/client.js';
import { createLogger } from '../logger.js';
import { soakChart } from '../soak/chart.js';
import { peakRssBytes, rssSlopeMbPerHour, toCsv, type SoakSample } from '../soak/series.js';
import { produce } from './produce.js';

export const SOAK_USAGE = `Usage: geowindow soak --rate R --duration S [options]

Runs the synthetic fleet against the service for S seconds, samples the
service's memory every second from its /metrics, and writes a CSV and an SVG
chart. Exits 1 when the RSS slope or peak is over the limits.

  --rate R            fleet records per second (required)
  --duration S        seconds of load (required)
  --devices N         devices in the fleet (default 1000)
  --bad-ratio F       share of bad records (default 0.01)
  --seed X            fleet seed (default 1)
  --metrics-url URL   sample a service that is already running (its /metrics URL);
                      it must consume --topic. Without it a service is started
                      with this environment (MEMORY_LIMIT_MB, WORKERS, ...).
  --topic T           input topic (default soak-<time>-in; created if missing)
  --brokers B         host:port list (default: $KAFKA_BROKERS)
  --warmup S          seconds left out of the slope (default: a fifth of the run, at most 120)
  --max-slope MBH     largest acceptable RSS growth in MB/hour (default 20)
  --max-peak-mb MB    largest acceptable RSS peak (default: the service's budget)
  --out DIR           where soak.csv and soak.svg go (default bench/out/soak-<time>)

TLS and SASL come from the same environment variables as the service's
(KAFKA_SSL*, KAFKA_SASL*; see README), for the fleet and the service it starts.`;

interface SoakOptions {
  readonly rate: number;
  readonly durationSeconds: number;
  readonly devices: number;
  readonly badRatio: number;
  readonly seed: number;
  readonly metricsUrl: string | undefined;
  readonly topic: string | undefined;
  readonly brokers: readonly string[];
  readonly warmupSeconds: number;
  readonly maxSlopeMbPerHour: number;
  readonly maxPeakMb: number | undefined;
  readonly outDir: string;
  /** TLS and SASL, from the same variables as the service's. */
  readonly security: SecurityConfig;
}

function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new UsageError(`--${name}: expected a number >= 0, got ${JSON.stringify(raw)}`);
  return value;
}

export function parseSoakArgs(args: readonly string[], env: NodeJS.ProcessEnv, now = new Date()): SoakOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        ['rate', 'duration', 'devices', 'bad-ratio', 'seed', 'metrics-url', 'topic', 'brokers', 'warmup', 'max-slope', 'max-peak-mb', 'out'].map(
          (name) => [name, { type: 'string' as const }],
        ),
      ),
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const get = (name: string) => values[name] as string | undefined;
  if (get('rate') === undefined || get('duration') === undefined) throw new UsageError('--rate and --duration are required');
  const rate = asUsage(() => integer(1, 10_000_000)('--rate', get('rate')!));
  const durationSeconds = asUsage(() => integer(10, 7 * 86_400)('--duration', get('duration')!));
  const badRatio = positiveNumber('bad-ratio', get('bad-ratio'), 0.01);
  if (badRatio > 1) throw new UsageError('--bad-ratio: expected a number from 0 to 1');
  const brokersRaw = get('brokers') ?? env.KAFKA_BROKERS;
  if (brokersRaw === undefined) throw new UsageError('no brokers: pass --brokers host:port or set KAFKA_BROKERS');
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const maxPeak = get('max-peak-mb');
  return {
    rate,
    durationSeconds,
    badRatio,
    devices: asUsage(() => integer(1, 10_000_000)('--devices', get('devices') ?? '1000')),
    seed: asUsage(() => integer(0, 2 ** 32 - 1)('--seed', get('seed') ?? '1')),
    metricsUrl: get('metrics-url'),
    topic: get('topic') === undefined ? undefined : asUsage(() => topicName('--topic', get('topic')!)),
    brokers: asUsage(() => brokerList('--brokers', brokersRaw)),
    warmupSeconds: positiveNumber('warmup', get('warmup'), Math.min(120, Math.floor(durationSeconds / 5))),
    maxSlopeMbPerHour: positiveNumber('max-slope', get('max-slope'), 20),
    maxPeakMb: maxPeak === undefined ? undefined : positiveNumber('max-peak-mb', maxPeak, 0),
    outDir: get('out') ?? join('bench', 'out', `soak-${stamp}`),
    security: loadSecurityConfig(env),
  };
}

/** The values of the named samples in a Prometheus text exposition. */
function scrape(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}


interface StartedService {
  readonly metricsUrl: string;
  stop(): Promise<number | null>;
}

async function startService(options: SoakOptions, topic: string): Promise<StartedService> {
  const port = await freePort();
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', cli, 'run'], {
    env: {
      ...process.env,
      KAFKA_BROKERS: options.brokers.join(','),
      INPUT_TOPIC: topic,
      OUTPUT_TOPIC: `${topic}-aggregates`,
      DLQ_TOPIC: `${topic}-dlq`,
      GROUP_ID: `${topic}-group`,
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

async function metricsNow(url: string): Promise<Map<string, number> | undefined> {
  try {
    const response = await fetch(url);
    return response.ok ? scrape(await response.text()) : undefined;
  } catch {
    return undefined;
  }
}

export interface SoakResult {
  readonly rate: number;
  readonly durationSeconds: number;
  readonly samples: number;
  readonly budgetMb: number;
  readonly peakRssMb: number;
  readonly slopeMbPerHour: number;
  readonly pauses: number;
  readonly pausedSeconds: number;
  readonly recordsIn: number;
  readonly produced: number;
  readonly csv: string;
  readonly svg: string;
  readonly verdict: 'pass' | 'fail';
  readonly reasons: readonly string[];
}

export async function soak(options: SoakOptions): Promise<SoakResult> {
  const topic = options.topic ?? `soak-${Date.now()}-in`;
  const logger = createLogger('warn', 'geowindow-soak', secretValues(options.security));
  const kafka = createKafka({ brokers: options.brokers, clientId: 'geowindow-soak', logger, security: options.security });
  if (options.metricsUrl === undefined) {
    await ensureTopics(kafka, [
      { topic, partitions: 6 },
      { topic: `${topic}-aggregates`, partitions: 3 },
      { topic: `${topic}-dlq`, partitions: 1 },
    ]);
  }
  const service = options.metricsUrl === undefined ? await startService(options, topic) : undefined;
  const metricsUrl = options.metricsUrl ?? service!.metricsUrl;
  let first: Map<string, number> | undefined;
  for (let attempt = 0; attempt < 120 && first === undefined; attempt++) {
    first = await metricsNow(metricsUrl);
    if (first === undefined) await sleep(500);
  }
  if (first === undefined) throw new Error(`no metrics at ${metricsUrl} after 60 s`);
  const budgetBytes = first.get('geowindow_memory_budget_bytes') ?? 0;

  const samples: SoakSample[] = [];
  const startedAt = performance.now();
  const fleet = new AbortController();
  const fleetRun = produce(
    {
      topic,
      devices: options.devices,
      rate: options.rate,
      count: undefined,
      durationSeconds: options.durationSeconds,
      badRatio: options.badRatio,
      seed: options.seed,
      partitions: 6,
      brokers: options.brokers,
      oversizeBytes: 70_000,
      security: options.security,
    },
    fleet.signal,
    false,
  );
  let fleetDone = false;
  const fleetSummary = fleetRun.finally(() => (fleetDone = true));
  let lastReport = 0;
  // Sample through the load, then until the service has read everything (at most a minute more).
  let drainDeadline = Infinity;
  let produced = 0;
  for (;;) {
    const tickStart = performance.now();
    const t = (tickStart - startedAt) / 1000;
    const values = await metricsNow(metricsUrl);
    if (values !== undefined) {
      samples.push({
        t,
        rssBytes: values.get('process_resident_memory_bytes') ?? 0,
        heapUsedBytes: values.get('nodejs_heap_size_used_bytes') ?? 0,
        paused: values.get('geowindow_consumer_paused') === 1,
        recordsIn: values.get('geowindow_records_in_total') ?? 0,
      });
    }
    const last = samples[samples.length - 1];
    if (t - lastReport >= 10 && last !== undefined) {
      lastReport = t;
      process.stderr.write(
        `soak ${Math.round(t)}/${options.durationSeconds}s: rss ${(last.rssBytes / 1048576).toFixed(0)} MB ` +
          `(peak ${(peakRssBytes(samples) / 1048576).toFixed(0)}, budget ${(budgetBytes / 1048576).toFixed(0)}), ` +
          `heap ${(last.heapUsedBytes / 1048576).toFixed(0)} MB, ${last.recordsIn} records in${last.paused ? ', PAUSED' : ''}\n`,
      );
    }
    if (fleetDone && drainDeadline === Infinity) {
      produced = (await fleetSummary).sent;
      drainDeadline = t + 60;
    }
    if (fleetDone && ((last?.recordsIn ?? 0) >= produced || t >= drainDeadline)) break;
    await sleep(Math.max(0, 1000 - (performance.now() - tickStart)));
  }
  const final = (await metricsNow(metricsUrl)) ?? new Map<string, number>();
  if (service !== undefined) {
    const code = await service.stop();
    if (code !== 0) throw new Error(`the service exited with code ${code}`);
  }
  mkdirSync(options.outDir, { recursive: true });
  const csv = join(options.outDir, 'soak.csv');
  const svg = join(options.outDir, 'soak.svg');
  writeFileSync(csv, toCsv(samples));
  const highWater = Number(process.env.MEMORY_HIGH_WATER ?? 0.85);
  const lowWater = Number(process.env.MEMORY_LOW_WATER ?? 0.7);
  writeFileSync(
    svg,
    soakChart(samples, {
      title: `geowindow soak: ${options.rate} rec/s for ${options.durationSeconds} s`,
      budgetBytes,
      highWater,
      lowWater,
    }),
  );
  const peak = peakRssBytes(samples);
  const slope = rssSlopeMbPerHour(samples, options.warmupSeconds);
  const maxPeakBytes = (options.maxPeakMb ?? budgetBytes / 1048576) * 1048576;
  const reasons: string[] = [];
  if (slope > options.maxSlopeMbPerHour) reasons.push(`RSS grows ${slope.toFixed(1)} MB/h > ${options.maxSlopeMbPerHour}`);
  if (peak > maxPeakBytes) reasons.push(`peak RSS ${(peak / 1048576).toFixed(0)} MB > ${(maxPeakBytes / 1048576).toFixed(0)} MB`);
  const recordsIn = samples[samples.length - 1]?.recordsIn ?? 0;
  if (recordsIn < produced) reasons.push(`the service read ${recordsIn} of ${produced} records`);
  return {
    rate: options.rate,
    durationSeconds: options.durationSeconds,
    samples: samples.length,
    budgetMb: Math.round(budgetBytes / 1048576),
    peakRssMb: Math.round((peak / 1048576) * 10) / 10,
    slopeMbPerHour: Math.round(slope * 100) / 100,
    pauses: final.get('geowindow_consumer_pauses_total') ?? 0,
    pausedSeconds: Math.round((final.get('geowindow_consumer_paused_seconds_total') ?? 0) * 10) / 10,
    recordsIn,
    produced,
    csv,
    svg,
    verdict: reasons.length === 0 ? 'pass' : 'fail',
    reasons,
  };
}
