import { setTimeout as sleep } from 'node:timers/promises';
import { loadSecurityConfig, secretValues, type SecurityConfig } from '../config/config.js';
import { brokerList, integer, ratio, topicName } from '../config/parsers.js';
import { ConfigError, UsageError } from '../errors.js';
import { DEFAULT_LATE_BY_MS, FleetRun } from '../fleet/fleet-run.js';
import type { PlacementZones } from '../fleet/zone-placement.js';
import { ensureTopics } from '../kafka/admin.js';
import { createKafka } from '../kafka/client.js';
import { RecordWriter } from '../kafka/record-writer.js';
import { createLogger } from '../logger.js';
import type { OutgoingRecord } from '../pipeline/records.js';
import { Progress } from '../progress.js';
import { loadZones } from '../shared/zones/zone-set.js';
import { flag, stringFlags } from './cli-flags.js';

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

Where devices are:
  --zones FILE       GeoJSON polygons: each device starts at a random point of a
                     home zone (sites of four devices, one of each kind, round-robin
                     over a seeded shuffle of the zones); default: the Alps
  --zone-id-property P  property naming each zone (default id), as ZONE_ID_PROPERTY

Event time (ts):
  --start-ts MS|ISO  record i gets ts = start + floor(i * step) (default: the wall
                     clock when each record is sent)
  --step-ms N        ms of event time between records, may be fractional (default
                     1000 / rate); without --start-ts, start is when produce starts
  --disorder-ms D    move each good record's ts back by a seeded uniform whole
                     number of ms in [0, D] (default 0)
  --late-ratio F     share of all records sent late: good readings with ts moved back
                     --late-by-ms more and header geowindow-fleet-expect: late (default 0)
  --late-by-ms L     how far back late records go (default 3600000)

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
  /** Zones to place the devices in (loaded from --zones); without them the fleet lives in the Alps. */
  readonly zones?: PlacementZones;
  /** Event time of record 0 (epoch ms); undefined: the wall clock at send time, unless `stepMs` is given. */
  readonly startTs?: number;
  /** Event time between two records, in ms; given alone, records count from the time produce starts. */
  readonly stepMs?: number;
  /** Bound of the backward shift of each good record's event time, in ms (default 0). */
  readonly disorderMs?: number;
  /** Share of all records sent late, taken from the good ones (default 0). */
  readonly lateRatio?: number;
  /** How far back late records go, in ms (default DEFAULT_LATE_BY_MS). */
  readonly lateByMs?: number;
}

/** Records per request: large enough for throughput, small enough to follow a low rate closely. */
const MAX_BATCH = 1000;
/** Requests in flight at once when producing as fast as possible. */
const MAX_IN_FLIGHT = 4;
/** Bound of --step-ms, --disorder-ms and --late-by-ms: a day. */
const MAX_EVENT_SHIFT_MS = 86_400_000;
/** Latest --start-ts: the year 9999 (ISO-8601 times past it need six digits). */
const MAX_START_TS = 253_402_300_799_999;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Epoch milliseconds, or an ISO-8601 date-time with a zone. */
function epochOrIso(variable: string, raw: string): number {
  const text = raw.trim();
  const value = ISO_WITH_ZONE.test(text) ? Date.parse(text) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_START_TS) {
    throw new ConfigError(
      variable,
      `expected epoch milliseconds or an ISO-8601 date-time with a zone (2026-11-26T10:00:00Z), got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}


export function parseProduceArgs(args: readonly string[], env: NodeJS.ProcessEnv): ProduceOptions {
  const values = stringFlags(args, ['topic', 'devices', 'rate', 'count', 'duration', 'bad-ratio', 'seed', 'partitions', 'brokers', 'oversize-bytes', 'zones', 'zone-id-property', 'start-ts', 'step-ms', 'disorder-ms', 'late-ratio', 'late-by-ms']);
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
  const lateRatio = flag('late-ratio', values['late-ratio'], ratio(0, 1)) ?? 0;
  lateFits(badRatio, lateRatio, count);
  const rate = flag('rate', values.rate, integer(0, 100_000_000)) ?? 1000;
  const startTs = flag('start-ts', values['start-ts'], epochOrIso);
  const stepMs = flag('step-ms', values['step-ms'], ratio(0, MAX_EVENT_SHIFT_MS));
  if (startTs !== undefined && stepMs === undefined && rate === 0) {
    throw new UsageError('--start-ts with --rate 0 needs --step-ms (the step is 1000 / rate by default)');
  }
  const brokersRaw = values.brokers ?? env.KAFKA_BROKERS;
  if (brokersRaw === undefined) throw new UsageError('no brokers: pass --brokers host:port or set KAFKA_BROKERS');
  return {
    topic,
    count,
    durationSeconds,
    badRatio,
    lateRatio,
    startTs,
    stepMs,
    rate,
    disorderMs: flag('disorder-ms', values['disorder-ms'], integer(0, MAX_EVENT_SHIFT_MS)) ?? 0,
    lateByMs: flag('late-by-ms', values['late-by-ms'], integer(1, MAX_EVENT_SHIFT_MS)) ?? DEFAULT_LATE_BY_MS,
    zones: zonesFlag(values.zones, values['zone-id-property']),
    devices: flag('devices', values.devices, integer(1, 10_000_000)) ?? 100,
    seed: flag('seed', values.seed, integer(0, 2 ** 32 - 1)) ?? 1,
    partitions: flag('partitions', values.partitions, integer(1, 10_000)) ?? 6,
    brokers: flag('brokers', brokersRaw, brokerList)!,
    oversizeBytes: flag('oversize-bytes', values['oversize-bytes'], integer(1, 16_000_000)) ?? 70_000,
    security: loadSecurityConfig(env),
  };
}

/** Late records are good ones, so bad and late records together cannot outnumber the run. */
function lateFits(badRatio: number, lateRatio: number, count: number | undefined): void {
  if (lateRatio === 0) return;
  const over =
    count === undefined ? badRatio + lateRatio > 1 : Math.round(count * badRatio) + Math.round(count * lateRatio) > count;
  if (over) throw new UsageError(`--late-ratio: late records are good ones, so --bad-ratio plus --late-ratio must not exceed 1, got ${badRatio} + ${lateRatio}`);
}

/** The zones of --zones, loaded and checked now, so a bad file is a usage error before anything is sent. */
function zonesFlag(file: string | undefined, idProperty: string | undefined): PlacementZones | undefined {
  if (file === undefined) {
    if (idProperty !== undefined) throw new UsageError('--zone-id-property needs --zones');
    return undefined;
  }
  if (idProperty !== undefined && idProperty.trim() === '') throw new UsageError('--zone-id-property: expected a property name, got ""');
  try {
    return loadZones(file, idProperty?.trim() ?? 'id');
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--zones: ${error.message.slice(error.variable.length + 2)}`);
    throw error;
  }
}

export interface ProduceSummary {
  topic: string;
  sent: number;
  good: number;
  bad: number;
  /** Of the good records, those sent with event times far back (header geowindow-fleet-expect: late). */
  late: number;
  seconds: number;
  recordsPerSecond: number;
}

export async function produce(options: ProduceOptions, signal?: AbortSignal, showProgress = true): Promise<ProduceSummary> {
  const logger = createLogger('warn', 'geowindow-produce', secretValues(options.security));
  // Devices are placed before connecting: a zone they cannot be placed in stops the run before anything is sent.
  const run = new FleetRun({
    devices: options.devices,
    seed: options.seed,
    oversizeBytes: options.oversizeBytes,
    zones: options.zones,
    count: options.count,
    badRatio: options.badRatio,
    lateRatio: options.lateRatio ?? 0,
    // --step-ms alone counts event time from now; --start-ts alone steps at the rate's pace.
    startTs: options.startTs ?? (options.stepMs === undefined ? undefined : Date.now()),
    stepMs: options.stepMs ?? (options.rate > 0 ? 1000 / options.rate : 0),
    disorderMs: options.disorderMs ?? 0,
    lateByMs: options.lateByMs ?? DEFAULT_LATE_BY_MS,
  });
  if (run.fleet.unplaceable.length > 0) {
    logger.warn({ zones: run.fleet.unplaceable }, `--zones: ${run.fleet.unplaceable.length} zone(s) enclose no area and get no device`);
  }
  const kafka = createKafka({ brokers: options.brokers, clientId: 'geowindow-produce', logger, security: options.security });
  await ensureTopics(kafka, [{ topic: options.topic, partitions: options.partitions }]);
  const writer = new RecordWriter(kafka);
  await writer.connect();
  const summary: ProduceSummary = { topic: options.topic, sent: 0, good: 0, bad: 0, late: 0, seconds: 0, recordsPerSecond: 0 };
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
      let late = 0;
      for (let i = 0; i < size; i++, index++) {
        const { message, kind } = run.next(now);
        if (kind === 'bad') bad++;
        else if (kind === 'late') late++;
        batch[i] = message;
      }
      const write = writer.write(options.topic, batch).then(() => {
        summary.sent += size;
        summary.bad += bad;
        summary.late += late;
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
