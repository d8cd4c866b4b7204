import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadSecurityConfig, secretValues, type SecurityConfig } from '../config/config.js';
import { brokerList, integer, topicName } from '../config/parsers.js';
import { ConfigError, UsageError } from '../errors.js';
import { Fleet } from '../fleet/messages.js';
import { ensureTopics } from '../kafka/admin.js';
import { createKafka } from '../kafka/client.js';
import { RecordWriter } from '../kafka/record-writer.js';
import { createLogger } from '../logger.js';
import type { OutgoingRecord } from '../pipeline/records.js';
import { Progress } from '../progress.js';

export const PRODUCE_USAGE = `Usage: geowindow produce --topic T (--count C | --duration S) [options]

Sends synthetic sensor readings from a fleet of devices to a Kafka topic.

  --topic T          topic to write to (created if missing)
  --devices N        devices in the fleet (default 100)
  --rate R           records per second, 0 for as fast as possible (default 1000)
  --count C          stop after C records
  --duration S       stop after S seconds
  --bad-ratio F      share of bad records, 0 to 1 (default 0)
  --seed X           seed of the fleet (default 1)
  --partitions P     partitions when the topic is created (default 6)
  --brokers B        host:port list (default: $KAFKA_BROKERS)
  --oversize-bytes N padding of the oversized bad records (default 70000)

TLS and SASL come from the same environment variables as the service's
(KAFKA_SSL*, KAFKA_SASL*; see README).

Progress goes to stderr every second; a JSON summary goes to stdout.`;

export interface ProduceOptions {
  readonly topic: string;
  readonly devices: number;
  readonly rate: number;
  readonly count: number | undefined;
  readonly durationSeconds: number | undefined;
  readonly badRatio: number;
  readonly seed: number;
  readonly partitions: number;
  readonly brokers: readonly string[];
  readonly oversizeBytes: number;
  /** TLS and SASL, from the same variables as the service's. */
  readonly security: SecurityConfig;
}

/** Records per request: large enough for throughput, small enough to follow a low rate closely. */
const MAX_BATCH = 1000;
/** Requests in flight at once when producing as fast as possible. */
const MAX_IN_FLIGHT = 4;

function flag<T>(name: string, raw: string | undefined, parse: (variable: string, raw: string) => T): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return parse(`--${name}`, raw);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

export function parseProduceArgs(args: readonly string[], env: NodeJS.ProcessEnv): ProduceOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        topic: { type: 'string' },
        devices: { type: 'string' },
        rate: { type: 'string' },
        count: { type: 'string' },
        duration: { type: 'string' },
        'bad-ratio': { type: 'string' },
        seed: { type: 'string' },
        partitions: { type: 'string' },
        brokers: { type: 'string' },
        'oversize-bytes': { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const topic = flag('topic', values.topic, topicName);
  if (topic === undefined) throw new UsageError('--topic is required');
  const count = flag('count', values.count, integer(1, Number.MAX_SAFE_INTEGER));
  const durationSeconds = flag('duration', values.duration, integer(1, 31 * 86_400));
  if ((count === undefined) === (durationSeconds === undefined)) {
    throw new UsageError('give exactly one of --count and --duration');
  }
  const badRatio = values['bad-ratio'] === undefined ? 0 : Number(values['bad-ratio']);
  if (!Number.isFinite(badRatio) || badRatio < 0 || badRatio > 1) {
    throw new UsageError(`--bad-ratio: expected a number from 0 to 1, got ${JSON.stringify(values['bad-ratio'])}`);
  }
  const brokersRaw = values.brokers ?? env.KAFKA_BROKERS;
  if (brokersRaw === undefined) throw new UsageError('no brokers: pass --brokers host:port or set KAFKA_BROKERS');
  return {
    topic,
    count,
    durationSeconds,
    badRatio,
    devices: flag('devices', values.devices, integer(1, 10_000_000)) ?? 100,
    rate: flag('rate', values.rate, integer(0, 100_000_000)) ?? 1000,
    seed: flag('seed', values.seed, integer(0, 2 ** 32 - 1)) ?? 1,
    partitions: flag('partitions', values.partitions, integer(1, 10_000)) ?? 6,
    brokers: flag('brokers', brokersRaw, brokerList)!,
    oversizeBytes: flag('oversize-bytes', values['oversize-bytes'], integer(1, 16_000_000)) ?? 70_000,
    security: loadSecurityConfig(env),
  };
}

export interface ProduceSummary {
  topic: string;
  sent: number;
  good: number;
  bad: number;
  seconds: number;
  recordsPerSecond: number;
}

/**
 * Which records are bad: spread evenly, and exactly round(count * ratio) of
 * them when the count is known, so tests can reconcile to the record.
 */
function badSchedule(options: ProduceOptions): (index: number) => boolean {
  if (options.badRatio === 0) return () => false;
  if (options.count !== undefined) {
    const total = options.count;
    const bad = Math.round(total * options.badRatio);
    return (i) => Math.floor(((i + 1) * bad) / total) > Math.floor((i * bad) / total);
  }
  const ratio = options.badRatio;
  return (i) => Math.floor((i + 1) * ratio) > Math.floor(i * ratio);
}

export async function produce(options: ProduceOptions, signal?: AbortSignal, showProgress = true): Promise<ProduceSummary> {
  const logger = createLogger('warn', 'geowindow-produce', secretValues(options.security));
  const kafka = createKafka({ brokers: options.brokers, clientId: 'geowindow-produce', logger, security: options.security });
  await ensureTopics(kafka, [{ topic: options.topic, partitions: options.partitions }]);
  const writer = new RecordWriter(kafka);
  await writer.connect();
  const fleet = new Fleet({ devices: options.devices, seed: options.seed, oversizeBytes: options.oversizeBytes });
  const isBad = badSchedule(options);
  const summary: ProduceSummary = { topic: options.topic, sent: 0, good: 0, bad: 0, seconds: 0, recordsPerSecond: 0 };
  const target = options.count;
  const progress = new Progress(showProgress, (elapsed) => {
    const done = target === undefined ? `${Math.round(elapsed)}/${options.durationSeconds}s` : `${summary.sent}/${target}`;
    return `produce ${options.topic}: ${done} sent, ${Math.round(summary.sent / elapsed)} rec/s, ${summary.bad} bad`;
  });
  const deadline = options.durationSeconds === undefined ? Infinity : options.durationSeconds;
  // Batches small enough that a low rate is followed closely (about 20 per second).
  const batchSize = options.rate === 0 ? MAX_BATCH : Math.max(1, Math.min(MAX_BATCH, Math.floor(options.rate / 20)));
  const inFlight = new Set<Promise<void>>();
  let index = 0;
  try {
    while ((target === undefined || index < target) && progress.elapsedSeconds < deadline && !signal?.aborted) {
      const size = target === undefined ? batchSize : Math.min(batchSize, target - index);
      const batch: OutgoingRecord[] = new Array<OutgoingRecord>(size);
      const now = Date.now();
      let bad = 0;
      for (let i = 0; i < size; i++, index++) {
        const badOne = isBad(index);
        if (badOne) bad++;
        batch[i] = badOne ? fleet.bad(now) : fleet.good(now);
      }
      const write = writer.write(options.topic, batch).then(() => {
        summary.sent += size;
        summary.bad += bad;
        summary.good += size - bad;
      });
      inFlight.add(write);
      void write.finally(() => inFlight.delete(write)).catch(() => undefined);
      if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      if (options.rate > 0) {
        const aheadMs = (index / options.rate - progress.elapsedSeconds) * 1000;
        if (aheadMs > 0) await sleep(aheadMs);
      }
    }
    await Promise.all(inFlight);
  } finally {
    progress.stop();
    await writer.disconnect();
  }
  summary.seconds = Math.round(progress.elapsedSeconds * 1000) / 1000;
  summary.recordsPerSecond = Math.round(summary.sent / progress.elapsedSeconds);
  return summary;
}
