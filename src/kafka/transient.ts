import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaErrorType, TOPIC_MISSING } from './protocol-errors.js';

/**
 * How long a request is made again after kafkajs gave up on it for a reason
 * that passes, as Kafka's own producer keeps trying a record for
 * delivery.timeout.ms (120 s by default); then it fails for good. kafkajs
 * alone gives up within about half a minute: its connection retries run out
 * while a broker restarts, and requests queued behind one refreshing metadata
 * time out on its lock.
 */
const TRANSIENT_TIMEOUT_MS = 120_000;
/** Pause before a request is made again. */
const TRANSIENT_BACKOFF_MS = 1_000;
/** kafkajs wraps errors a few levels deep at most. */
const MAX_CAUSE_DEPTH = 8;
/**
 * Non-retriable in kafkajs's eyes, yet what a restarting broker answers: no
 * group coordinator until the broker has loaded the offsets topic again.
 */
const PASSING_ERROR_NAMES: ReadonlySet<string> = new Set(['KafkaJSLockTimeout', 'KafkaJSGroupCoordinatorNotFound']);

/**
 * Whether kafkajs gave up for a reason that passes: no broker answered, no
 * group coordinator yet, a lock on the client's metadata timed out behind
 * such a request, or the broker's own answer is retriable
 * (NOT_ENOUGH_REPLICAS, a leader or coordinator moving). A missing topic is
 * not: the service reports it (see topic-check.ts).
 */
export function passes(error: unknown): boolean {
  if (kafkaErrorType(error) === TOPIC_MISSING) return false;
  let root: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && root instanceof Error && root.cause instanceof Error; depth++) root = root.cause;
  return root instanceof Error && (PASSING_ERROR_NAMES.has(root.name) || (root as Error & { retriable?: unknown }).retriable === true);
}

export interface RetryOptions {
  /** Checked after each failure: true gives up at once (the client is being closed). */
  readonly stop?: () => boolean;
  readonly timeoutMs?: number;
  readonly backoffMs?: number;
}

/** Makes the request again while it fails for a reason that passes, for at most TRANSIENT_TIMEOUT_MS; then its last error is thrown. */
export async function whilePassing<T>(request: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { stop = () => false, timeoutMs = TRANSIENT_TIMEOUT_MS, backoffMs = TRANSIENT_BACKOFF_MS } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await request();
    } catch (error) {
      if (stop() || !passes(error) || Date.now() >= deadline) throw error;
      await sleep(backoffMs);
    }
  }
}
