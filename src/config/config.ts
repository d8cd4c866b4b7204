import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { ConfigError, ConfigErrors } from '../errors.js';
import {
  autoOr,
  booleanFlag,
  brokerList,
  clientId,
  ConfigFile,
  duration,
  groupId,
  integer,
  listenHost,
  listOf,
  oneOf,
  optional,
  optionalOneOfIgnoringCase,
  optionalText,
  pemFile,
  ratio,
  secretFile,
  secretText,
  text,
  topicName,
  type Parser,
} from './parsers.js';
import { KEY_KINDS } from '../shared/keys.js';
import { WINDOW_KINDS } from '../shared/windows/assign.js';

export { ConfigFile } from './parsers.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const START_FROM = ['earliest', 'latest'] as const;
export type StartFrom = (typeof START_FROM)[number];

export const LATE_RECORDS = ['dead-letter', 'drop'] as const;
export const OUTPUT_SCHEMAS = ['v1', 'v2'] as const;
/** The longest window, grace and idle time accepted: a month, far past any sensor use, well inside float64 ms. */
const MAX_DURATION_MS = 31 * 86_400_000;

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

interface Option<T> {
  readonly env: string;
  readonly doc: string;
  /** Text of the default as a user would write it; undefined means required. */
  readonly fallback: string | undefined;
  readonly parse: Parser<T>;
  /**
   * The value is a credential: `geowindow config` shows it as "***", and the
   * logs mask it wherever it appears. For a file option the credential is the
   * file's contents (a file is only ever shown as its path).
   */
  readonly secret: boolean;
}

function option<T>(env: string, fallback: string | undefined, parse: Parser<T>, doc: string, flags: { secret?: boolean } = {}): Option<T> {
  return { env, fallback, parse, doc, secret: flags.secret ?? false };
}

/**
 * How geowindow authenticates to the brokers. `produce` and `soak` read these
 * as well (and only these), so every client connects the same way.
 */
export const SECURITY_OPTIONS = {
  ssl: option('KAFKA_SSL', 'false', booleanFlag, 'Connect to the brokers over TLS: `true` or `false`.'),
  sslCaFile: option(
    'KAFKA_SSL_CA_FILE',
    '',
    pemFile('certificate'),
    'PEM file of the CA certificates that sign the brokers\' certificates; unset: the system\'s trusted CAs.',
  ),
  sslCertFile: option('KAFKA_SSL_CERT_FILE', '', pemFile('certificate'), 'PEM file of the client certificate for mutual TLS; needs KAFKA_SSL_KEY_FILE.'),
  sslKeyFile: option('KAFKA_SSL_KEY_FILE', '', pemFile('private key'), 'PEM file of the client certificate\'s private key; needs KAFKA_SSL_CERT_FILE.', {
    secret: true,
  }),
  sslKeyPassword: option('KAFKA_SSL_KEY_PASSWORD', '', secretText, 'Password of an encrypted KAFKA_SSL_KEY_FILE.', { secret: true }),
  sslKeyPasswordFile: option(
    'KAFKA_SSL_KEY_PASSWORD_FILE',
    '',
    secretFile,
    'File holding the password of an encrypted KAFKA_SSL_KEY_FILE (instead of KAFKA_SSL_KEY_PASSWORD).',
    { secret: true },
  ),
  sslRejectUnauthorized: option(
    'KAFKA_SSL_REJECT_UNAUTHORIZED',
    'true',
    booleanFlag,
    'Refuse brokers whose certificate is not signed by a trusted CA or does not name the host; `false` only for testing.',
  ),
  saslMechanism: option(
    'KAFKA_SASL_MECHANISM',
    '',
    optionalOneOfIgnoringCase(SASL_MECHANISMS),
    'SASL mechanism: `plain`, `scram-sha-256` or `scram-sha-512`; unset: no SASL.',
  ),
  saslUsername: option('KAFKA_SASL_USERNAME', '', optionalText, 'SASL user name; required with KAFKA_SASL_MECHANISM.'),
  saslPassword: option('KAFKA_SASL_PASSWORD', '', secretText, 'SASL password; give this or KAFKA_SASL_PASSWORD_FILE.', { secret: true }),
  saslPasswordFile: option(
    'KAFKA_SASL_PASSWORD_FILE',
    '',
    secretFile,
    'File holding the SASL password (a trailing newline is dropped); give this or KAFKA_SASL_PASSWORD.',
    { secret: true },
  ),
} as const;

/**
 * Rows of a chunk with CHUNK_SIZE=auto. Count windows keep the recipe's 2000.
 * Event time: a chunk is only a unit of work, and every (window, key) in it
 * costs a partial aggregate to send and merge, so larger chunks carry fewer
 * partials per record (measured on the zone benchmark: 10000 rows took 40%
 * less main-thread time per record than 2000; 20000 only 7% less again).
 */
const AUTO_CHUNK_ROWS = { count: 2000, eventTime: 10_000 } as const;

/**
 * The rows of one chunk this configuration uses. Event time: shared among the
 * KEY_BY kinds, since a worker may hold a partial per row and kind (every
 * record its own H3 cell or device), so a chunk's worst case stays the same.
 */
export function chunkRows(config: Pick<Config, 'chunkSize' | 'window' | 'keyBy'>): number {
  if (config.chunkSize !== 'auto') return config.chunkSize;
  return config.window === 'count' ? AUTO_CHUNK_ROWS.count : Math.floor(AUTO_CHUNK_ROWS.eventTime / config.keyBy.length);
}

/** A hopping window spec putting one record in more windows than this is refused: each is a fold per record. */
const MAX_WINDOWS_PER_RECORD = 100;

/** Most partitions CREATE_TOPICS_PARTITIONS accepts: far past what one consumer group uses, well inside the broker's limits. */
const MAX_CREATED_PARTITIONS = 10_000;
/** The largest replication factor the Kafka protocol can carry (an int16); the broker refuses more than its brokers. */
const MAX_REPLICATION_FACTOR = 32_767;

/** WORKERS' default: a core is left for the main thread, which consumes, packs, merges and writes; at most 4. */
export const DEFAULT_WORKERS = Math.max(1, Math.min(4, availableParallelism() - 1));

/**
 * The one schema of geowindow's configuration. The README's table lists the
 * same variables, and a unit test keeps the two in step.
 */
export const OPTIONS = {
  brokers: option('KAFKA_BROKERS', undefined, brokerList, 'Kafka bootstrap servers, comma-separated host:port.'),
  clientId: option('KAFKA_CLIENT_ID', 'geowindow', clientId, 'Client id sent to the brokers.'),
  ...SECURITY_OPTIONS,
  inputTopic: option('INPUT_TOPIC', 'sensor-readings', topicName, 'Topic of sensor readings to consume.'),
  outputTopic: option('OUTPUT_TOPIC', 'sensor-aggregates', topicName, 'Topic the window aggregates are written to.'),
  dlqTopic: option('DLQ_TOPIC', 'sensor-readings.dlq', topicName, 'Dead-letter topic for records that fail to decode.'),
  createTopics: option(
    'CREATE_TOPICS',
    'false',
    booleanFlag,
    'Development only: create INPUT_TOPIC, OUTPUT_TOPIC and DLQ_TOPIC at start-up when they do not exist; `true` or `false`.',
  ),
  createTopicsPartitions: option(
    'CREATE_TOPICS_PARTITIONS',
    '6',
    integer(1, MAX_CREATED_PARTITIONS),
    'Partitions of each topic CREATE_TOPICS creates (and the count the start-up error for a missing topic suggests).',
  ),
  createTopicsReplication: option(
    'CREATE_TOPICS_REPLICATION',
    'auto',
    autoOr(integer(1, MAX_REPLICATION_FACTOR)),
    'Replication factor of each topic CREATE_TOPICS creates; `auto`: the broker\'s default.replication.factor.',
  ),
  groupId: option('GROUP_ID', 'geowindow', groupId, 'Consumer group id; instances with the same id share partitions.'),
  exactlyOnce: option(
    'EXACTLY_ONCE',
    'false',
    booleanFlag,
    'Write each partition\'s aggregates, dead letters and offsets in one Kafka transaction, so read_committed readers see each once; `true` or `false`.',
  ),
  transactionalIdPrefix: option(
    'TRANSACTIONAL_ID_PREFIX',
    'auto',
    autoOr(groupId),
    'EXACTLY_ONCE: transactional ids are `<prefix>-<input topic>-<partition>`; `auto`: GROUP_ID. Give every deployment its own.',
  ),
  startFrom: option(
    'START_FROM',
    'earliest',
    oneOf(START_FROM),
    'Where a group with no committed offset starts: `earliest` or `latest`.',
  ),
  chunkSize: option(
    'CHUNK_SIZE',
    'auto',
    autoOr(integer(1, 1_000_000)),
    'Records per chunk (and per count window), per partition; `auto`: 2000 for count windows, 10000 for event time.',
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
  workers: option('WORKERS', String(DEFAULT_WORKERS), integer(1, 256), 'Worker threads that aggregate chunks.'),
  windowIdleMs: option(
    'WINDOW_IDLE_MS',
    '5000',
    integer(10, 86_400_000),
    'A window that received no record for this long is emitted as partial.',
  ),
  window: option(
    'WINDOW',
    'count',
    oneOf(WINDOW_KINDS),
    'Window kind: `count` (CHUNK_SIZE records of one partition), `tumbling` or `hopping` (event time, epoch-aligned).',
  ),
  windowSize: option('WINDOW_SIZE', '1m', duration(1, MAX_DURATION_MS), 'Length of an event-time window.'),
  windowAdvance: option(
    'WINDOW_ADVANCE',
    '',
    optional(duration(1, MAX_DURATION_MS)),
    'How far apart hopping windows start; at most WINDOW_SIZE. Unset: WINDOW_SIZE (tumbling).',
  ),
  windowGrace: option(
    'WINDOW_GRACE',
    '0',
    duration(0, MAX_DURATION_MS),
    'How far behind the latest event time of its partition a record may be and still count: the watermark is that time minus the grace.',
  ),
  idlePartitionMs: option(
    'IDLE_PARTITION_MS',
    '30s',
    duration(100, MAX_DURATION_MS),
    'A partition read to its end that receives nothing for this long closes its windows by the wall clock.',
  ),
  keyBy: option('KEY_BY', 'partition', listOf(KEY_KINDS), 'What windows are keyed by, comma-separated: `partition`, `zone`, `h3`, `device`.'),
  zonesFile: option('ZONES_FILE', '', optionalText, 'GeoJSON file of Polygon/MultiPolygon zones; required with KEY_BY=zone.'),
  zoneIdProperty: option('ZONE_ID_PROPERTY', 'id', text, 'Property of each zone feature holding its id.'),
  zoneUnmatched: option(
    'ZONE_UNMATCHED',
    'drop',
    text,
    'Points in no zone: `drop` (counted in a metric), or the key id to group them under.',
  ),
  h3Resolution: option('H3_RESOLUTION', '7', integer(0, 15), 'H3 resolution of KEY_BY=h3 cells, 0 (coarsest) to 15.'),
  lateRecords: option(
    'LATE_RECORDS',
    'dead-letter',
    oneOf(LATE_RECORDS),
    'Records whose window already closed: `dead-letter` (reason `late`) or `drop` (counted in a metric).',
  ),
  outputSchema: option(
    'OUTPUT_SCHEMA',
    '',
    optional(oneOf(OUTPUT_SCHEMAS)),
    'Output schema: `v1` or `v2`. Unset: v1 for count windows, v2 for event-time windows (which only v2 can express).',
  ),
  windowMaxOpen: option(
    'WINDOW_MAX_OPEN',
    '64',
    integer(1, 100_000),
    'Most open event-time windows per partition; past it the oldest is emitted early (`closedBy: cap`).',
  ),
  windowMaxKeys: option(
    'WINDOW_MAX_KEYS',
    '50000',
    integer(1, 10_000_000),
    'Most keys one open window holds; past it the oldest window is emitted early.',
  ),
  trackMaxPoints: option(
    'TRACK_MAX_POINTS',
    '5000',
    integer(2, 10_000_000),
    'Most track points one device keeps per window; past it the oldest window is emitted early.',
  ),
  maxMessageBytes: option(
    'MAX_MESSAGE_BYTES',
    '65536',
    integer(64, 16_777_216),
    'Larger messages are dead-lettered with reason `oversized`.',
  ),
  sessionTimeoutMs: option(
    'SESSION_TIMEOUT_MS',
    '30000',
    integer(6000, 1_800_000),
    'How long the consumer group waits for a silent instance (killed, frozen) before its partitions go to the others; within the broker\'s group.min/max.session.timeout.ms.',
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
    'Memory budget in MB; `auto`: 90% of the container limit (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`), else 1024.',
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
  testHoldMb: option(
    'GEOWINDOW_TEST_HOLD_MB',
    '0',
    integer(0, 65_536),
    'Testing only: from the first batch on, the main thread holds this many MB, as a leak would.',
  ),
} as const;

type Options = typeof OPTIONS;
type ValuesOf<O> = { readonly [K in keyof O]: O[K] extends Option<infer T> ? T : never };
export type Config = ValuesOf<Options>;
/** The settings that say how to connect to the brokers securely. */
export type SecurityConfig = ValuesOf<typeof SECURITY_OPTIONS>;

/** Parses every option of `specs` from `env`, collecting the problems. */
function readOptions(specs: Record<string, Option<unknown>>, env: NodeJS.ProcessEnv): { values: Record<string, unknown>; problems: ConfigError[] } {
  const problems: ConfigError[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
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
  return { values, problems };
}

/**
 * Reads and validates the whole configuration once. Every bad value is
 * reported, not just the first, so one restart fixes them all. Files the
 * configuration names (certificates, keys, password files) are read now.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const { values, problems } = readOptions(OPTIONS, env);
  if (problems.length === 0) problems.push(...crossChecks(values as Config), ...securityChecks(values as SecurityConfig));
  if (problems.length > 0) throw new ConfigErrors(problems);
  return Object.freeze(values as Config);
}

/** Only the security settings, validated as `loadConfig` does: for `produce` and `soak`. */
export function loadSecurityConfig(env: NodeJS.ProcessEnv = process.env): SecurityConfig {
  const { values, problems } = readOptions(SECURITY_OPTIONS, env);
  if (problems.length === 0) problems.push(...securityChecks(values as SecurityConfig));
  if (problems.length > 0) throw new ConfigErrors(problems);
  return Object.freeze(values as SecurityConfig);
}

/**
 * The effective configuration as `geowindow config` prints it: by variable
 * name, every secret option as "***" when set, files as their path (never
 * their contents), unset options as null.
 */
export function renderConfig(config: Config): Record<string, unknown> {
  const rendered: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(OPTIONS) as [keyof Config, Option<unknown>][]) {
    const value: unknown = config[key];
    if (value === undefined) rendered[spec.env] = null;
    else if (value instanceof ConfigFile) rendered[spec.env] = value.path;
    else rendered[spec.env] = spec.secret ? '***' : value;
  }
  return rendered;
}

/**
 * Every credential the configuration holds (secret values, and the contents
 * of secret files), for the logs to mask. Driven by the schema's `secret` flag.
 */
export function secretValues(config: Partial<Config>): string[] {
  const secrets: string[] = [];
  for (const [key, spec] of Object.entries(OPTIONS) as [keyof Config, Option<unknown>][]) {
    if (!spec.secret) continue;
    const value: unknown = config[key];
    if (typeof value === 'string') secrets.push(value);
    else if (value instanceof ConfigFile) secrets.push(value.text);
  }
  return secrets;
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
  problems.push(...windowChecks(config));
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

/** Window and key options that only make sense together. */
function windowChecks(config: Config): ConfigError[] {
  const problems: ConfigError[] = [];
  const timed = config.window !== 'count';
  if (!timed && config.keyBy.some((kind) => kind !== 'partition')) {
    problems.push(new ConfigError('KEY_BY', `keys other than partition need event-time windows: set WINDOW=tumbling or hopping (WINDOW is count)`));
  }
  if (timed && config.outputSchema === 'v1') {
    problems.push(new ConfigError('OUTPUT_SCHEMA', `v1 describes count windows only; WINDOW=${config.window} writes v2 (unset OUTPUT_SCHEMA or set v2)`));
  }
  if (config.window === 'tumbling' && config.windowAdvance !== undefined && config.windowAdvance !== config.windowSize) {
    problems.push(new ConfigError('WINDOW_ADVANCE', `tumbling windows advance by their size (${config.windowSize} ms): unset WINDOW_ADVANCE or use WINDOW=hopping`));
  }
  if (config.window === 'hopping') {
    if (config.windowAdvance === undefined) {
      problems.push(new ConfigError('WINDOW_ADVANCE', 'is required with WINDOW=hopping: how far apart windows start, at most WINDOW_SIZE'));
    } else if (config.windowAdvance > config.windowSize) {
      problems.push(new ConfigError('WINDOW_ADVANCE', `must be at most WINDOW_SIZE (${config.windowSize} ms), got ${config.windowAdvance} ms`));
    } else if (config.windowSize / config.windowAdvance > MAX_WINDOWS_PER_RECORD) {
      problems.push(
        new ConfigError(
          'WINDOW_ADVANCE',
          `puts each record in ${Math.ceil(config.windowSize / config.windowAdvance)} windows; at most ${MAX_WINDOWS_PER_RECORD} are allowed (raise WINDOW_ADVANCE)`,
        ),
      );
    }
  }
  if (config.keyBy.includes('zone') && config.zonesFile === undefined) {
    problems.push(new ConfigError('ZONES_FILE', 'is required with KEY_BY=zone: a GeoJSON file of Polygon/MultiPolygon features'));
  }
  if (!config.keyBy.includes('zone') && config.zonesFile !== undefined) {
    problems.push(new ConfigError('ZONES_FILE', 'is set but KEY_BY does not include zone: add zone to KEY_BY, or unset ZONES_FILE'));
  }
  return problems;
}

const quote = (path: string) => JSON.stringify(path);

/** TLS and SASL settings that only make sense together, and key material that must be usable. */
function securityChecks(config: SecurityConfig): ConfigError[] {
  return [...tlsChecks(config), ...saslChecks(config)];
}

function tlsChecks(config: SecurityConfig): ConfigError[] {
  const problems: ConfigError[] = [];
  if (!config.ssl) {
    for (const key of ['sslCaFile', 'sslCertFile', 'sslKeyFile', 'sslKeyPassword', 'sslKeyPasswordFile'] as const) {
      if (config[key] !== undefined) {
        problems.push(new ConfigError(SECURITY_OPTIONS[key].env, 'is set but KAFKA_SSL is false: set KAFKA_SSL=true to connect over TLS, or unset it'));
      }
    }
    return problems;
  }
  if (config.sslCertFile !== undefined && config.sslKeyFile === undefined) {
    problems.push(new ConfigError('KAFKA_SSL_KEY_FILE', 'is required when KAFKA_SSL_CERT_FILE is set: a client certificate needs its private key'));
  }
  if (config.sslKeyFile !== undefined && config.sslCertFile === undefined) {
    problems.push(new ConfigError('KAFKA_SSL_CERT_FILE', 'is required when KAFKA_SSL_KEY_FILE is set: a private key needs its client certificate'));
  }
  if (config.sslKeyPassword !== undefined && config.sslKeyPasswordFile !== undefined) {
    problems.push(new ConfigError('KAFKA_SSL_KEY_PASSWORD_FILE', 'set only one of KAFKA_SSL_KEY_PASSWORD and KAFKA_SSL_KEY_PASSWORD_FILE'));
  }
  const keyPassword = config.sslKeyPassword ?? config.sslKeyPasswordFile?.text;
  const passwordVariable = config.sslKeyPassword !== undefined ? 'KAFKA_SSL_KEY_PASSWORD' : 'KAFKA_SSL_KEY_PASSWORD_FILE';
  if (keyPassword !== undefined && config.sslKeyFile === undefined) {
    problems.push(new ConfigError(passwordVariable, 'is set but KAFKA_SSL_KEY_FILE is not: a key password only decrypts that key'));
  }
  if (config.sslCaFile !== undefined) {
    const problem = certificateProblem('KAFKA_SSL_CA_FILE', config.sslCaFile);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0 || config.sslCertFile === undefined || config.sslKeyFile === undefined) return problems;
  const certProblem = certificateProblem('KAFKA_SSL_CERT_FILE', config.sslCertFile);
  if (certProblem !== undefined) problems.push(certProblem);
  const key = privateKey(config.sslKeyFile, keyPassword, passwordVariable);
  if (key instanceof ConfigError) problems.push(key);
  else if (certProblem === undefined && !new X509Certificate(config.sslCertFile.text).checkPrivateKey(key)) {
    problems.push(
      new ConfigError(
        'KAFKA_SSL_KEY_FILE',
        `the key in ${quote(config.sslKeyFile.path)} does not belong to the certificate in ${quote(config.sslCertFile.path)} (KAFKA_SSL_CERT_FILE)`,
      ),
    );
  }
  return problems;
}

function saslChecks(config: SecurityConfig): ConfigError[] {
  const problems: ConfigError[] = [];
  if (config.saslMechanism === undefined) {
    for (const key of ['saslUsername', 'saslPassword', 'saslPasswordFile'] as const) {
      if (config[key] !== undefined) {
        problems.push(
          new ConfigError(SECURITY_OPTIONS[key].env, `is set but KAFKA_SASL_MECHANISM is not: set it to one of ${SASL_MECHANISMS.join(', ')}, or unset this`),
        );
      }
    }
    return problems;
  }
  const using = `KAFKA_SASL_MECHANISM is ${config.saslMechanism}`;
  if (config.saslUsername === undefined) problems.push(new ConfigError('KAFKA_SASL_USERNAME', `is required when ${using}`));
  if (config.saslPassword === undefined && config.saslPasswordFile === undefined) {
    problems.push(new ConfigError('KAFKA_SASL_PASSWORD', `is required when ${using}: set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE`));
  }
  if (config.saslPassword !== undefined && config.saslPasswordFile !== undefined) {
    problems.push(new ConfigError('KAFKA_SASL_PASSWORD_FILE', 'set only one of KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE'));
  }
  return problems;
}

function certificateProblem(variable: string, file: ConfigFile): ConfigError | undefined {
  try {
    new X509Certificate(file.text);
    return undefined;
  } catch {
    return new ConfigError(variable, `${quote(file.path)} does not hold a PEM certificate Node.js can read`);
  }
}

/** The private key, decrypted; errors name the variable to fix and never quote the password. */
function privateKey(file: ConfigFile, password: string | undefined, passwordVariable: string): KeyObject | ConfigError {
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(file.text);
  if (encrypted && password === undefined) {
    return new ConfigError(
      'KAFKA_SSL_KEY_PASSWORD',
      `is required: the key in ${quote(file.path)} (KAFKA_SSL_KEY_FILE) is encrypted; set KAFKA_SSL_KEY_PASSWORD or KAFKA_SSL_KEY_PASSWORD_FILE`,
    );
  }
  try {
    return createPrivateKey({ key: file.text, format: 'pem', ...(password === undefined ? {} : { passphrase: password }) });
  } catch (error) {
    if (encrypted) return new ConfigError(passwordVariable, `does not decrypt the key in ${quote(file.path)} (KAFKA_SSL_KEY_FILE)`);
    const code = (error as NodeJS.ErrnoException).code;
    return new ConfigError('KAFKA_SSL_KEY_FILE', `${quote(file.path)} does not hold a PEM private key Node.js can read${code === undefined ? '' : ` (${code})`}`);
  }
}
