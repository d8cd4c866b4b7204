import { spawn } from 'node:child_process';
import { freePort } from '../net/free-port.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadSecurityConfig, secretValues, type SecurityConfig } from '../config/config.js';
import { brokerList, integer, topicName } from '../config/parsers.js';
import { ConfigError, UsageError } from '../errors.js';
import type { PlacementZones } from '../fleet/zone-placement.js';
import { ensureTopics } from '../kafka/admin.js';
import { createKafka } from '../kafka/client.js';
import { createLogger } from '../logger.js';
import { loadZones } from '../shared/zones/zone-set.js';
import { soakChart } from '../soak/chart.js';
import { scrape, type MetricValues } from '../soak/scrape.js';
import { peakRssBytes, toCsv, type SoakSample } from '../soak/series.js';
import { sampleOf, summarise, type ServiceExit, type SoakResult } from '../soak/summary.js';
import { produce } from './produce.js';
import { stringFlags } from './cli-flags.js';
import { withMallocSettings } from '../memory/malloc-settings.js';

export const SOAK_USAGE = `Usage: geowindow soak --rate R --duration S [options]

Runs the synthetic fleet against the service for S seconds, samples the
service's memory, records read and windows (emitted, open, state bytes) every
second from its /metrics, and writes a CSV, an SVG chart and soak.json (the
summary also printed on stdout). Exits 1 when the RSS slope or peak is over the
limits, the service did not read every record, emitted no window, or a
worker failed on records (dead-lettered as worker_out_of_memory or aggregation_failed).

  --rate R            fleet records per second (required)
  --duration S        seconds of load (required)
  --devices N         devices in the fleet (default 1000)
  --bad-ratio F       share of bad records (default 0.01)
  --seed X            fleet seed (default 1)
  --zones FILE        place the fleet's devices in these GeoJSON zones, as
                      geowindow produce --zones (ids from $ZONE_ID_PROPERTY, default id);
                      the service still reads ZONES_FILE, KEY_BY, WINDOW... from
                      the environment
  --metrics-url URL   sample a service that is already running (its /metrics URL);
                      it must consume --topic. Without it a service is started
                      with this environment (MEMORY_LIMIT_MB, WORKERS, ...).
  --topic T           input topic (default soak-<time>-in; created if missing)
  --brokers B         host:port list (default: $KAFKA_BROKERS)
  --warmup S          seconds left out of the slope (default: a fifth of the run, at most 120)
  --max-slope MBH     largest acceptable RSS growth in MB/hour (default 20)
  --max-peak-mb MB    largest acceptable RSS peak (default: the service's budget)
  --out DIR           where soak.csv, soak.svg and soak.json go (default bench/out/soak-<time>)

The summary's growthMbPer100MRecords is the RSS slope after the warm-up
converted to MB per 100 million records at the rate read over the same span:
slopeMbPerHour / (3600 x recordsPerSecond) x 10^8.

TLS and SASL come from the same environment variables as the service's
(KAFKA_SSL*, KAFKA_SASL*; see README), for the fleet and the service it starts.`;

interface SoakOptions {
  readonly rate: number;
  readonly durationSeconds: number;
  readonly devices: number;
  readonly badRatio: number;
  readonly seed: number;
  /** Zones the fleet's devices are placed in (--zones); the service's own zones come from its environment. */
  readonly zones: PlacementZones | undefined;
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
  const values = stringFlags(args, ['rate', 'duration', 'devices', 'bad-ratio', 'seed', 'zones', 'metrics-url', 'topic', 'brokers', 'warmup', 'max-slope', 'max-peak-mb', 'out']);
  const get = (name: keyof typeof values) => values[name];
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
    zones: placementZones(get('zones'), env.ZONE_ID_PROPERTY),
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

/**
 * The zones of --zones, loaded and checked before anything starts, with the
 * id property the service is told (ZONE_ID_PROPERTY), so a bad file is a
 * usage error.
 */
function placementZones(file: string | undefined, idProperty: string | undefined): PlacementZones | undefined {
  if (file === undefined) return undefined;
  try {
    return loadZones(file, idProperty?.trim() || 'id');
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--zones: ${error.message.slice(error.variable.length + 2)}`);
    throw error;
  }
}

interface StartedService {
  readonly metricsUrl: string;
  /** Whether it has ended by itself (exit 4 when memory stayed over the budget, say). */
  hasExited(): boolean;
  stop(): Promise<ServiceExit>;
}

async function startService(options: SoakOptions, topic: string): Promise<StartedService> {
  const port = await freePort();
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', cli, 'run'], {
    // With fewer malloc arenas, as the image and `geowindow run` on Node >= 22.15 start the service.
    env: {
      ...withMallocSettings(process.env),
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
  let ended = false;
  const exited = new Promise<ServiceExit>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = true;
      resolve(code ?? signal);
    }),
  );
  return {
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    hasExited: () => ended,
    stop: async () => {
      if (!ended) child.kill('SIGTERM');
      return exited;
    },
  };
}

async function metricsNow(url: string): Promise<MetricValues | undefined> {
  try {
    const response = await fetch(url);
    return response.ok ? scrape(await response.text()) : undefined;
  } catch {
    return undefined;
  }
}

export type { SoakResult } from '../soak/summary.js';

const MB = 1048576;
/** What the started service reads from the soak's environment that shapes its memory: recorded with the result. */
const SERVICE_SETTINGS = [
  'MEMORY_LIMIT_MB',
  'WORKERS',
  'CHUNK_SIZE',
  'WINDOW',
  'WINDOW_SIZE',
  'WINDOW_ADVANCE',
  'WINDOW_GRACE',
  'IDLE_PARTITION_MS',
  'KEY_BY',
  'ZONES_FILE',
  'H3_RESOLUTION',
  'WINDOW_MAX_OPEN',
  'WINDOW_MAX_KEYS',
  'TRACK_MAX_POINTS',
  'MALLOC_ARENA_MAX',
  'MALLOC_MMAP_THRESHOLD_',
] as const;

/** The SERVICE_SETTINGS the service is started with. */
function serviceSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const settings: Record<string, string> = {};
  const started = withMallocSettings(env);
  for (const name of SERVICE_SETTINGS) {
    const value = started[name];
    if (value !== undefined) settings[name] = value;
  }
  return settings;
}

/** The chart's title: the load, and the windows the service was told to keep, when on event time. */
function chartTitle(options: SoakOptions, env: NodeJS.ProcessEnv): string {
  const load = `geowindow soak: ${options.rate} rec/s for ${options.durationSeconds} s`;
  const window = env.WINDOW;
  if (window === undefined || window === 'count') return load;
  return `${load}, ${window} ${env.WINDOW_SIZE ?? ''} windows by ${env.KEY_BY ?? 'partition'}, ${options.devices} devices`;
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
  let first: MetricValues | undefined;
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
      zones: options.zones,
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
  let lastValues: MetricValues = first;
  for (;;) {
    const tickStart = performance.now();
    const t = (tickStart - startedAt) / 1000;
    const values = await metricsNow(metricsUrl);
    if (values !== undefined) {
      samples.push(sampleOf(t, values));
      lastValues = values;
    }
    const last = samples[samples.length - 1];
    if (t - lastReport >= 10 && last !== undefined) {
      lastReport = t;
      process.stderr.write(
        `soak ${Math.round(t)}/${options.durationSeconds}s: rss ${(last.rssBytes / MB).toFixed(0)} MB ` +
          `(peak ${(peakRssBytes(samples) / MB).toFixed(0)}, budget ${(budgetBytes / MB).toFixed(0)}), ` +
          `heap ${(last.heapUsedBytes / MB).toFixed(0)} MB, ${last.recordsIn} records in, ` +
          `${last.windowsEmitted} windows emitted, ${last.windowsOpen} open (${(last.windowStateBytes / MB).toFixed(1)} MB)` +
          `${last.paused ? ', PAUSED' : ''}\n`,
      );
    }
    // A service that ended by itself reads nothing more: stop the load and report what it did.
    const serviceEnded = service?.hasExited() === true;
    if (serviceEnded) fleet.abort();
    if (fleetDone && drainDeadline === Infinity) {
      produced = (await fleetSummary).sent;
      drainDeadline = t + 60;
    }
    if (fleetDone && (serviceEnded || (last?.recordsIn ?? 0) >= produced || t >= drainDeadline)) break;
    await sleep(Math.max(0, 1000 - (performance.now() - tickStart)));
  }
  const final = (await metricsNow(metricsUrl)) ?? lastValues;
  const serviceExit = service === undefined ? null : await service.stop();
  mkdirSync(options.outDir, { recursive: true });
  const csv = join(options.outDir, 'soak.csv');
  const svg = join(options.outDir, 'soak.svg');
  const json = join(options.outDir, 'soak.json');
  writeFileSync(csv, toCsv(samples));
  const highWater = Number(process.env.MEMORY_HIGH_WATER ?? 0.85);
  const lowWater = Number(process.env.MEMORY_LOW_WATER ?? 0.7);
  writeFileSync(
    svg,
    soakChart(samples, {
      title: chartTitle(options, process.env),
      budgetBytes,
      highWater,
      lowWater,
    }),
  );
  const result = summarise({
    samples,
    final,
    budgetBytes,
    produced,
    serviceExit,
    rate: options.rate,
    devices: options.devices,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    maxSlopeMbPerHour: options.maxSlopeMbPerHour,
    maxPeakMb: options.maxPeakMb,
    zones: options.zones?.source ?? null,
    serviceSettings: service === undefined ? null : serviceSettings(process.env),
    files: { csv, svg, json },
  });
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
