import { Kafka, logLevel, type KafkaConfig, type LogEntry, type logCreator, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { secretValues, type SecurityConfig } from '../config/config.js';
import { secretMasker, type Masker } from '../redact.js';

export interface ClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  /** TLS and SASL; without it the client connects in plain text, unauthenticated. */
  readonly security?: SecurityConfig;
}

/**
 * Fields of kafkajs log entries that are protocol payloads: decoded responses
 * (a SaslAuthenticate response among them) and raw buffers. They are never
 * passed on, at any level; nor is anything named like a credential or the
 * client's TLS and SASL options (unless it is a mere true/false).
 */
const DROPPED_FIELDS = new Set(['data', 'payload', 'request', 'response', 'authBytes', 'sasl', 'ssl', 'password', 'passphrase', 'key', 'cert']);

/** Depth to which nested log fields are kept (kafkajs nests assignments two deep). */
const MAX_DEPTH = 4;

function sanitize(value: unknown, mask: Masker, depth: number): unknown {
  if (typeof value === 'string') return mask(value);
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  if (depth >= MAX_DEPTH || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return '[omitted]';
  if (Array.isArray(value)) return value.map((item) => sanitize(item, mask, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // A flag cannot carry a credential (kafkajs logs `ssl: true, sasl: true` when connecting).
    if (!DROPPED_FIELDS.has(key) || typeof item === 'boolean') out[key] = sanitize(item, mask, depth + 1);
  }
  return out;
}

/**
 * kafkajs logs at error level what it goes on to handle itself: an error
 * response from the broker (a heartbeat during a rebalance, a metadata
 * request during a leader election), which its caller retries; an attempt
 * it will retry (the entry carries `retryTime`); a member id the coordinator
 * forgot, which it re-joins with; a consumer crash, which it restarts from
 * when the error is retriable (a coordinator still loading) and which,
 * when it does not, the service reports itself at fatal level before it
 * exits. Alerts on error lines should not fire for those: they pass on as
 * warnings, marked `kafkajsLevel: "error"`. Anything else kafkajs logs as an
 * error (a failed listener, a failed disconnect) stays an error.
 */
function retriedByKafkajs(namespace: string, message: string, fields: Record<string, unknown>): boolean {
  return (
    (namespace === 'Connection' && message.startsWith('Response ')) ||
    'retryTime' in fields ||
    message === 'The coordinator is not aware of this member, re-joining the group' ||
    (namespace === 'Consumer' && message.startsWith('Crash: '))
  );
}

/**
 * kafkajs's text for a topic the broker does not have (UNKNOWN_TOPIC_OR_PARTITION,
 * src/protocol/error.js). Its consumer crash lines for it lose their stack:
 * the cause is known, a restart is bounded (see consumer.ts) and the service
 * names the topic and the fix in its own fatal line.
 */
const TOPIC_MISSING_TEXT = 'This server does not host this topic-partition';

/**
 * kafkajs logs through pino, as structured lines in the service's own log.
 * Nothing that could carry a credential goes through: protocol payloads are
 * dropped, and every string (the message, error texts, stacks) has the
 * configured secrets masked.
 */
export function kafkaLogCreator(logger: Logger, secrets: readonly string[] = []): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  const mask = secretMasker(secrets);
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, ...entry } = log;
      const text = mask(String(message));
      const { stack: _stack, ...unstacked } = entry;
      const extra = namespace === 'Consumer' && text.startsWith('Crash: ') && text.endsWith(TOPIC_MISSING_TEXT) ? unstacked : entry;
      const fields = { namespace, ...(sanitize(extra, mask, 0) as Record<string, unknown>) };
      if (level === logLevel.ERROR && retriedByKafkajs(namespace, text, extra)) {
        kafkaLogger.warn({ ...fields, kafkajsLevel: 'error' }, text);
        return;
      }
      if (level === logLevel.ERROR) kafkaLogger.error(fields, text);
      else if (level === logLevel.WARN) kafkaLogger.warn(fields, text);
      else if (level === logLevel.INFO) kafkaLogger.info(fields, text);
      else kafkaLogger.debug(fields, text);
    };
}

/** The TLS and SASL options of the kafkajs client. */
export function kafkaSecurityOptions(security: SecurityConfig | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (security === undefined) return {};
  const options: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.ssl) {
    const passphrase = security.sslKeyPassword ?? security.sslKeyPasswordFile?.text;
    options.ssl = {
      rejectUnauthorized: security.sslRejectUnauthorized,
      ...(security.sslCaFile === undefined ? {} : { ca: [security.sslCaFile.text] }),
      ...(security.sslCertFile === undefined ? {} : { cert: security.sslCertFile.text }),
      ...(security.sslKeyFile === undefined ? {} : { key: security.sslKeyFile.text }),
      ...(passphrase === undefined ? {} : { passphrase }),
    };
  }
  if (security.saslMechanism !== undefined) {
    // Validated at start-up: a mechanism comes with a user name and exactly one password.
    const username = security.saslUsername ?? '';
    const password = security.saslPassword ?? security.saslPasswordFile?.text ?? '';
    const sasl: SASLOptions =
      security.saslMechanism === 'plain'
        ? { mechanism: 'plain', username, password }
        : security.saslMechanism === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
    options.sasl = sasl;
  }
  return options;
}

/** The one place a kafkajs client is created. */
export function createKafka(options: ClientOptions): Kafka {
  const { security, logger } = options;
  if (security?.ssl === true && !security.sslRejectUnauthorized) {
    logger.warn('KAFKA_SSL_REJECT_UNAUTHORIZED is false: broker certificates are not verified');
  }
  if (security?.saslMechanism === 'plain' && !security.ssl) {
    logger.warn('KAFKA_SASL_MECHANISM is plain without KAFKA_SSL: the password crosses the network in clear text');
  }
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...kafkaSecurityOptions(security),
    logLevel: logLevel.INFO,
    logCreator: kafkaLogCreator(logger, security === undefined ? [] : secretValues(security)),
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 10_000 },
  });
}
