/**
 * Every error geowindow raises on purpose, with a stable code callers can
 * match on instead of message text.
 */
export const ERROR_CODES = [
  'GW_CONFIG_INVALID',
  'GW_USAGE',
  'GW_KAFKA_NOT_REACHABLE',
  'GW_PRODUCE_FAILED',
  'GW_COMMIT_FAILED',
  'GW_WORKER_FAILED',
  'GW_CHUNK_POOL_MISUSE',
  'GW_TOPIC_READ_FAILED',
  'GW_MAP_NO_DATA',
  'GW_ZONES_INVALID',
  'GW_TOPIC_NOT_USABLE',
  'GW_TOPIC_LOST',
  'GW_TRANSACTION_ABORTED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class GeowindowError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration value is missing or not one of the accepted values. */
export class ConfigError extends GeowindowError {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super('GW_CONFIG_INVALID', `${variable}: ${message}`);
    this.variable = variable;
  }
}

/** Every bad configuration value found at start-up, reported together, one line each under `heading`. */
export class ConfigErrors extends GeowindowError {
  readonly problems: readonly ConfigError[];

  constructor(problems: readonly ConfigError[], heading = 'invalid configuration') {
    super('GW_CONFIG_INVALID', `${heading}:\n${problems.map((p) => `  ${p.message}`).join('\n')}`);
    this.problems = problems;
  }
}

/** How a topic the service needs fails it: it does not exist, or the configured credentials may not use it. */
export type TopicProblem = 'missing' | 'not_authorized';

/**
 * A configured topic cannot be used at start-up: it does not exist, the
 * credentials may not see it, or CREATE_TOPICS could not create it. The
 * message names the variable, the topic and the fix. A configuration error
 * (exit code 3), with its own code.
 */
export class TopicError extends ConfigError {
  override readonly code = 'GW_TOPIC_NOT_USABLE';
  readonly topic: string;

  constructor(variable: string, topic: string, message: string) {
    super(variable, message);
    this.topic = topic;
  }
}

/**
 * A topic that was usable at start-up is gone (deleted while running) or
 * refuses the credentials now; the service stops. The message names the
 * variable, the topic, what the service does about it and the fix.
 */
export class TopicLostError extends GeowindowError {
  readonly variable: string;
  readonly topic: string;
  readonly problem: TopicProblem;

  constructor(variable: string, topic: string, problem: TopicProblem, message: string) {
    super('GW_TOPIC_LOST', `${variable}: ${message}`);
    this.variable = variable;
    this.topic = topic;
    this.problem = problem;
  }
}

/**
 * A zones file cannot be used: unreadable, not GeoJSON, no polygon, a bad
 * ring, position or id. The message names the file and the first bad
 * feature. A configuration error (exit code 3), with its own code.
 */
export class ZonesFileError extends ConfigError {
  override readonly code = 'GW_ZONES_INVALID';
  /** The file (or other source) the zones came from. */
  readonly source: string;

  constructor(source: string, problem: string) {
    super('ZONES_FILE', `${JSON.stringify(source)} ${problem}`);
    this.source = source;
  }
}

/** The command line asked for something the CLI does not accept. */
export class UsageError extends GeowindowError {
  constructor(message: string) {
    super('GW_USAGE', message);
  }
}

/** An aggregate or dead-letter record could not be written after the client's retries. */
export class ProduceError extends GeowindowError {
  /** The topic of the record that failed (a request may have carried records of other topics too). */
  readonly topic: string;

  constructor(topic: string, cause: unknown) {
    super('GW_PRODUCE_FAILED', `could not produce to ${topic}`, { cause });
    this.topic = topic;
  }
}

/** Offsets could not be committed. */
export class CommitError extends GeowindowError {
  constructor(cause: unknown) {
    super('GW_COMMIT_FAILED', 'could not commit offsets', { cause });
  }
}

/**
 * Exactly-once: a write dropped because its partition's transaction was
 * aborted (the assignment changed). Not a failure: the partition's next
 * owner reads its records again.
 */
export class TransactionAbortedError extends GeowindowError {
  constructor() {
    super('GW_TRANSACTION_ABORTED', 'the write was dropped with its aborted transaction');
  }
}

/** A chunk could not be aggregated: its worker died (out of memory or crashed) or threw. */
export class WorkerTaskError extends GeowindowError {
  /** The worker went past its resourceLimits. */
  readonly outOfMemory: boolean;

  constructor(message: string, cause: unknown, outOfMemory: boolean) {
    super('GW_WORKER_FAILED', message, { cause });
    this.outOfMemory = outOfMemory;
  }
}

/** A chunk was released twice or released to a pool it does not belong to. */
export class ChunkPoolError extends GeowindowError {
  constructor(message: string) {
    super('GW_CHUNK_POOL_MISUSE', message);
  }
}

/** A topic could not be read to its end (a developer tool's reader: `geowindow map`). */
export class TopicReadError extends GeowindowError {
  constructor(topic: string, message: string, cause?: unknown) {
    super('GW_TOPIC_READ_FAILED', `could not read ${topic} to its end: ${message}`, { cause });
  }
}

/** The aggregates given to `geowindow map` hold nothing it can draw. */
export class MapDataError extends GeowindowError {
  constructor(message: string) {
    super('GW_MAP_NO_DATA', message);
  }
}

/** Exit codes of `geowindow`; documented in the README. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  /** Memory stayed above the budget while paused; restart rather than be killed mid-write. */
  memory: 4,
} as const;
