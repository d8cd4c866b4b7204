/** The broker's answer for a topic that does not exist (kafkajs's name for error code 3). */
export const TOPIC_MISSING = 'UNKNOWN_TOPIC_OR_PARTITION';
/** The broker's answer when the credentials may not use a topic (error code 29). */
export const TOPIC_NOT_AUTHORIZED = 'TOPIC_AUTHORIZATION_FAILED';

/** kafkajs and geowindow wrap errors a few levels deep at most; the walk stops here whatever it finds. */
const MAX_CAUSE_DEPTH = 8;

/**
 * The broker's error type behind an error (`UNKNOWN_TOPIC_OR_PARTITION`...),
 * or undefined when no broker error is behind it (a connection failure, a
 * bug). kafkajs names broker errors by `type` on a KafkaJSProtocolError and
 * wraps them (retries exceeded, a crash) through `cause`, as geowindow's
 * own errors do; so the chain is walked, not the error's class tested.
 */
export function kafkaErrorType(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current instanceof Error; depth++) {
    const type = (current as Error & { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = current.cause;
  }
  return undefined;
}
