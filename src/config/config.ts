import { availableParallelism } from 'node:os';
import { ConfigError, ConfigErrors } from '../errors.js';
import {
  autoOr,
  brokerList,
  clientId,
  groupId,
  integer,
  listenHost,
  oneOf,
  optionalText,
  ratio,
  topicName,
  type Parser,
} from './parsers.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const START_FROM = ['earliest', 'latest'] as const;
export type StartFrom = (typeof START_FROM)[number];

interface Option<T> {
  readonly env: string;
  readonly doc: string;
  /** Text of the default as a user would write it; undefined means required. */
  readonly fallback: string | undefined;
  readonly parse: Parser<T>;
}

function option<T>(env: string, fallback: string | undefined, parse: Parser<T>, doc: string): Option<T> {
  return { env, fallback, parse, doc };
}

/** Two workers leave a core for the consumer on small nodes; more only if the machine has them. */
const DEFAULT_WORKERS = String(Math.max(1, Math.min(4, availableParallelism() - 1)));

/**
 * The one schema of geowindow's configuration. The README's table lists the
 * same variables, and a unit test keeps the two in step.
 */
export const OPTIONS = {
  brokers: option('KAFKA_BROKERS', undefined, brokerList, 'Kafka bootstrap servers, comma-separated host:port.'),
  clientId: option('KAFKA_CLIENT_ID', 'geowindow', clientId, 'Client id sent to the brokers.'),
  inputTopic: option('INPUT_TOPIC', 'sensor-readings', topicName, 'Topic of sensor readings to consume.'),
  outputTopic: option('OUTPUT_TOPIC', 'sensor-aggregates', topicName, 'Topic the window aggregates are written to.'),
  dlqTopic: option('DLQ_TOPIC', 'sensor-readings.dlq', topicName, 'Dead-letter topic for records that fail to decode.'),
  groupId: option('GROUP_ID', 'geowindow', groupId, 'Consumer group id; instances with the same id share partitions.'),
  startFrom: option(
    'START_FROM',
    'earliest',
    oneOf(START_FROM),
    'Where a group with no committed offset starts: `earliest` or `latest`.',
  ),
  chunkSize: option(
    'CHUNK_SIZE',
    '2000',
    integer(1, 1_000_000),
    'Records per count window (and capacity of one chunk), per partition.',
  ),
  chunkPoolSize: option(
    'CHUNK_POOL_SIZE',
    'auto',
    autoOr(integer(2, 100_000)),
    'Chunks preallocated at start-up; `auto` takes a tenth of the memory budget (at most 128). Best at least the assigned partitions plus twice WORKERS.',
  ),
  readingColumns: option(
    'READING_COLUMNS',
    '16',
    integer(1, 256),
    'Distinct reading names one window can hold; a record with more readings is dead-lettered.',
  ),
  workers: option('WORKERS', DEFAULT_WORKERS, integer(1, 256), 'Worker threads that aggregate chunks.'),
  windowIdleMs: option(
    'WINDOW_IDLE_MS',
    '5000',
    integer(10, 86_400_000),
    'A window that received no record for this long is emitted as partial.',
  ),
  maxMessageBytes: option(
    'MAX_MESSAGE_BYTES',
    '65536',
    integer(64, 16_777_216),
    'Larger messages are dead-lettered with reason `oversized`.',
  ),
  commitIntervalMs: option(
    'COMMIT_INTERVAL_MS',
    '1000',
    integer(10, 600_000),
    'How often offsets whose records are all emitted and acked are committed.',
  ),
  shutdownGraceMs: option(
    'SHUTDOWN_GRACE_MS',
    '20000',
    integer(0, 3_600_000),
    'On SIGTERM, how long open windows may take to be written before the service exits; keep it below the pod\'s terminationGracePeriodSeconds.',
  ),
  memoryLimitMb: option(
    'MEMORY_LIMIT_MB',
    'auto',
    autoOr(integer(64, 4_194_304)),
    'Memory budget in MB; `auto` reads the container limit (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`), else 1024.',
  ),
  memoryHighWater: option(
    'MEMORY_HIGH_WATER',
    '0.85',
    ratio(0.1, 1),
    'Share of the budget (or of the V8 heap limit) at which the consumer pauses.',
  ),
  memoryLowWater: option('MEMORY_LOW_WATER', '0.70', ratio(0.05, 0.99), 'Share of the budget below which a paused consumer resumes.'),
  memorySampleMs: option('MEMORY_SAMPLE_MS', '250', integer(20, 10_000), 'How often the memory guard samples RSS and heap.'),
  memoryStuckMs: option(
    'MEMORY_STUCK_MS',
    '30000',
    integer(1000, 3_600_000),
    'How long RSS may stay above the budget while paused before the service exits with code 4.',
  ),
  metricsPort: option('METRICS_PORT', '9464', integer(0, 65535), 'Port of the HTTP server for `/metrics` (0: any free port).'),
  metricsHost: option('METRICS_HOST', '0.0.0.0', listenHost, 'Address the HTTP server listens on.'),
  logLevel: option('LOG_LEVEL', 'info', oneOf(LOG_LEVELS), 'Log level of the JSON logs on stdout.'),
  testOomDevice: option(
    'GEOWINDOW_TEST_OOM_DEVICE',
    '',
    optionalText,
    'Testing only: a chunk holding a reading of this device makes its worker run out of memory.',
  ),
} as const;

type Options = typeof OPTIONS;
export type Config = { readonly [K in keyof Options]: Options[K] extends Option<infer T> ? T : never };

/**
 * Reads and validates the whole configuration once. Every bad value is
 * reported, not just the first, so one restart fixes them all.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: ConfigError[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(OPTIONS) as [string, Option<unknown>][]) {
    const raw = env[spec.env] ?? spec.fallback;
    if (raw === undefined || raw.trim() === '') {
      if (spec.fallback === undefined) {
        problems.push(new ConfigError(spec.env, `is required: ${spec.doc}`));
        continue;
      }
      values[key] = spec.parse(spec.env, spec.fallback);
      continue;
    }
    try {
      values[key] = spec.parse(spec.env, raw);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(error);
    }
  }
  if (problems.length === 0) problems.push(...crossChecks(values as Config));
  if (problems.length > 0) throw new ConfigErrors(problems);
  return Object.freeze(values as Config);
}

function crossChecks(config: Config): ConfigError[] {
  const problems: ConfigError[] = [];
  if (config.memoryLowWater >= config.memoryHighWater) {
    problems.push(
      new ConfigError(
        'MEMORY_LOW_WATER',
        `must be below MEMORY_HIGH_WATER (${config.memoryHighWater}) so pausing and resuming do not flap, got ${config.memoryLowWater}`,
      ),
    );
  }
  if (config.chunkPoolSize !== 'auto' && config.chunkPoolSize < config.workers + 1) {
    problems.push(
      new ConfigError(
        'CHUNK_POOL_SIZE',
        `must be at least WORKERS + 1 (${config.workers + 1}) so a chunk can fill while every worker is busy, got ${config.chunkPoolSize}`,
      ),
    );
  }
  const topics = [
    [OPTIONS.inputTopic.env, config.inputTopic],
    [OPTIONS.outputTopic.env, config.outputTopic],
    [OPTIONS.dlqTopic.env, config.dlqTopic],
  ] as const;
  for (let i = 0; i < topics.length; i++) {
    for (let j = i + 1; j < topics.length; j++) {
      const [envA, a] = topics[i]!;
      const [envB, b] = topics[j]!;
      if (a === b) problems.push(new ConfigError(envB, `must differ from ${envA} (both are ${JSON.stringify(a)})`));
    }
  }
  return problems;
}
