import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { IHeaders, Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { metricValue, type ServiceProcess } from '../support/cli.js';
import { oracleClassify, type OracleVerdict } from '../support/decode-oracle.js';
import { arbMixed, paddedRecord, PROTO_NAMES, type PayloadOptions } from '../support/hostile-payloads.js';
import { header, kafkaFor, readAll, uniqueTopics, type ReadRecord } from '../support/kafka.js';
import { reconcile, type AggregateRecord, type Reconciliation } from '../support/reconcile.js';
import { serviceErrors, startService, waitForCommittedEnd, type ScenarioTopics } from '../support/scenario.js';

/**
 * Hostile input at the running service (issue 11): 100,000 generated
 * records, about 70% valid and 30% hostile (every family of
 * test/support/hostile-payloads.ts), with keys and headers of every odd kind
 * and a few 1 MB messages, through the built CLI on a real broker. Every
 * record's verdict comes from the oracle (test/support/decode-oracle.ts); the
 * dead-letter topic must hold exactly the bad ones with the oracle's reason,
 * the aggregates exactly the good ones, while the service stays up and within
 * its memory budget.
 */

const RECORDS = 100_000;
const PARTITIONS = 6;
const SEED = 20261126;
const MIB = 1024 * 1024;
/** Above 1 MB, so that 1 MB records are read; below the larger ones, so they are oversized. */
const MAX_MESSAGE_BYTES = 1.5 * MIB;
const READING_COLUMNS = 16;
const MEMORY_LIMIT_MB = 512;
/** Topic limits above the largest record produced, and its dead letter with the headers added. */
const TOPIC_MAX_MESSAGE_BYTES = String(8 * MIB);
/** Reading names of valid records: no window can hold more than READING_COLUMNS, so no good record is refused for its window. */
const READING_NAMES = ['temp_c', 'pm25', 'humidity', '0', 'é', '😀', 'a.b', ...PROTO_NAMES] as const;
const OPTIONS: PayloadOptions = { maxReadings: READING_COLUMNS, readingNames: READING_NAMES, maxHugeChars: 20_000 };
const LIMITS = { maxBytes: MAX_MESSAGE_BYTES, maxReadings: READING_COLUMNS };
/** Records per produce request: a few hundred kB, well under the broker's request limits. */
const PRODUCE_BATCH_BYTES = 512 * 1024;
const RSS_SAMPLE_MS = 100;
/** A key of a record at the size limit; small, as a dead letter's key is hashed in quadratic time (see arbKey). */
const KEY_AT_LIMIT = 1000;
const NESTED_DEPTH = 100_000;
/** Extra records sampled, as the valid ones with reading names outside READING_NAMES are left out. */
const OVERSAMPLE = 1.05;

interface Generated {
  readonly family: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, Buffer | string>;
  /** The oracle's verdict on the record, as the service must give it. */
  readonly verdict: OracleVerdict;
}

interface Produced extends Generated {
  readonly partition: number;
  readonly offset: number;
}

/**
 * Keys of every odd kind, large ones rare and at most 20 kB: the dead-letter
 * producer partitions by key with kafkajs 2.2.4's murmur2, whose BigInt
 * arithmetic is never cut back to 64 bits, so hashing takes time quadratic
 * in the key's length on the main thread (20 kB: about 0.1 s; 512 kB:
 * 80 s, long enough to lose the group). Reported with issue 11, not fixed here.
 */
const arbKey: fc.Arbitrary<Buffer | null> = fc.oneof(
  { weight: 800, arbitrary: fc.nat(9999).map((n) => Buffer.from(`dev-${n}`)) },
  { weight: 100, arbitrary: fc.constant(null) },
  { weight: 40, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 40, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 19, arbitrary: fc.constantFrom(...PROTO_NAMES).map((name) => Buffer.from(name)) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => Buffer.alloc(n, 0x6b)) },
);

/** Header names and values of every odd kind; no headers on most records, as sensors send them. */
const arbHeaders: fc.Arbitrary<[string, Buffer | string][]> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<[string, Buffer | string][]>([]) },
  {
    weight: 2,
    arbitrary: fc.uniqueArray(
      fc.tuple(
        fc.constantFrom('', 'trace-id', 'content-type', '😀', 'geowindow-dlq-reason', 'geowindow-source-offset', 'h'.repeat(1000), ...PROTO_NAMES),
        fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.uint8Array({ maxLength: 32 }).map((bytes) => Buffer.from(bytes)),
          fc.constant(Buffer.alloc(0)),
          fc.integer({ min: 10_000, max: 100_000 }).map((n) => Buffer.alloc(n, 0x68)),
        ),
      ),
      { maxLength: 4, selector: ([name]) => name },
    ),
  },
);

/** A few 1 MB messages (and larger), placed through the stream. */
function bigRecords(): { family: string; key: Buffer | null; value: Buffer }[] {
  const oneMb = paddedRecord(MIB, 'big-1');
  return [
    { family: '1MB valid', key: Buffer.from('big-1'), value: oneMb },
    { family: '1MB valid, no key', key: null, value: paddedRecord(MIB + 4096, 'big-2') },
    // The key counts toward MAX_MESSAGE_BYTES: exactly at the limit is read, a byte more is oversized.
    { family: 'key and value at the limit', key: Buffer.alloc(KEY_AT_LIMIT, 0x6b), value: paddedRecord(MAX_MESSAGE_BYTES - KEY_AT_LIMIT, 'big-5') },
    { family: 'key and value a byte over the limit', key: Buffer.alloc(KEY_AT_LIMIT + 1, 0x6b), value: paddedRecord(MAX_MESSAGE_BYTES - KEY_AT_LIMIT, 'big-6') },
    { family: 'oversized', key: null, value: paddedRecord(MAX_MESSAGE_BYTES + 1, 'big-3') },
    { family: 'oversized 2 MB', key: Buffer.from('big-4'), value: paddedRecord(2 * MIB, 'big-4') },
    { family: '1MB invalid UTF-8', key: null, value: Buffer.alloc(MIB, 0xff) },
    { family: '1MB unclosed brackets', key: null, value: Buffer.alloc(MIB, '[') },
    // Deeper, JSON.parse's tree outgrows the worker's 16 MB heap (600 kB of brackets do): the worker dies
    // twice and its whole chunk is dead-lettered as worker_out_of_memory, good records included (see the report).
    { family: 'nested arrays 100,000 deep', key: null, value: Buffer.from(`${'['.repeat(NESTED_DEPTH)}${']'.repeat(NESTED_DEPTH)}`) },
    { family: '1MB NaN readings', key: null, value: Buffer.from(`{"device_id":"d","ts":1,"lat":1,"lon":2,"x":[${'NaN,'.repeat(MIB / 4 - 2)}NaN]}`) },
  ];
}

/** Whether a window can hold every reading a record brings: a valid record's names must all be READING_NAMES. */
function fitsWindows(verdict: OracleVerdict): boolean {
  return !verdict.ok || [...verdict.reading.readings.keys()].every((name) => (READING_NAMES as readonly string[]).includes(name));
}

/**
 * The stream, the same on every run: fast-check's generators replayed from
 * one seed, each record with the oracle's verdict. Hostile families can make
 * a valid record with other reading names (a mutated name, a huge one); more
 * than READING_COLUMNS names in one window would have the service refuse a
 * later good record for its window, which the oracle cannot foresee, so such
 * records are left out.
 */
function generate(): Generated[] {
  const big = bigRecords().map((record) => ({ ...record, headers: {}, verdict: oracleClassify(record.key, record.value, LIMITS) }));
  const sampled = fc.sample(fc.tuple(arbMixed(OPTIONS), arbKey, arbHeaders), { seed: SEED, numRuns: Math.ceil(RECORDS * OVERSAMPLE) });
  const records: Generated[] = [];
  for (const [payload, key, headers] of sampled) {
    const verdict = oracleClassify(key, payload.value, LIMITS);
    if (fitsWindows(verdict)) records.push({ family: payload.family, key, value: payload.value, headers: Object.fromEntries(headers), verdict });
    if (records.length === RECORDS - big.length) break;
  }
  const spacing = Math.floor(records.length / big.length);
  big.forEach((record, i) => records.splice(spacing * i + spacing / 2, 0, record));
  expect(records).toHaveLength(RECORDS);
  return records;
}

/** Headers as kafkajs sends them: own properties of an object without a prototype, so `__proto__` is a name like any other. */
function headersOf(record: Produced): IHeaders {
  const headers = Object.create(null) as IHeaders;
  for (const [name, value] of Object.entries(record.headers)) headers[name] = value;
  return headers;
}

async function createTopics(brokers: string, topics: ScenarioTopics): Promise<void> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    const big = [{ name: 'max.message.bytes', value: TOPIC_MAX_MESSAGE_BYTES }];
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.in, numPartitions: PARTITIONS, replicationFactor: 1, configEntries: big },
        { topic: topics.out, numPartitions: 3, replicationFactor: 1 },
        { topic: topics.dlq, numPartitions: 1, replicationFactor: 1, configEntries: big },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

/** Produces every record to its partition (index modulo PARTITIONS), in order; returns where each landed. */
async function produce(brokers: string, topic: string, records: Generated[]): Promise<Produced[]> {
  const producer = kafkaFor(brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const next = new Array<number>(PARTITIONS).fill(0);
  const produced: Produced[] = [];
  try {
    let batch: Message[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length > 0) await producer.send({ topic, acks: -1, messages: batch });
      batch = [];
      bytes = 0;
    };
    for (const [i, record] of records.entries()) {
      const partition = i % PARTITIONS;
      const placed = { ...record, partition, offset: next[partition]!++ };
      produced.push(placed);
      const size = (record.key?.length ?? 0) + (record.value?.length ?? 0) + Object.values(record.headers).reduce((n, v) => n + v.length, 0);
      if (bytes + size > PRODUCE_BATCH_BYTES) await flush();
      batch.push({ partition, key: record.key, value: record.value, headers: headersOf(placed) });
      bytes += size;
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return produced;
}

/**
 * The values of a header as read back with kafkajs, which mixes the
 * inherited member into headers named like Object.prototype members
 * (`constructor`: [Object, value]): only Buffers were sent.
 */
function sentValues(value: IHeaders[string]): Buffer[] {
  return (Array.isArray(value) ? value : [value]).filter((v): v is Buffer => Buffer.isBuffer(v));
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

describe('a hostile stream of 100,000 records at the running service', () => {
  const brokers = inject('kafkaBrokers');
  let topics: ScenarioTopics | undefined;
  let service: ServiceProcess;
  let produced: Produced[];
  let deadLetters: ReadRecord[];
  let outputs: ReadRecord[];
  let result: Reconciliation;
  let metricsText: string;
  let runningAtEnd: boolean;
  let exitCode: number | null;
  const rss: number[] = [];

  beforeAll(async () => {
    const names = uniqueTopics('in', 'out', 'dlq');
    const scenario = { ...names, group: `${names.in}-group` };
    topics = scenario;
    await createTopics(brokers, scenario);
    produced = await produce(brokers, scenario.in, generate());
    service = await startService(brokers, scenario, {
      MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
      READING_COLUMNS: String(READING_COLUMNS),
      MEMORY_LIMIT_MB: String(MEMORY_LIMIT_MB),
      LOG_LEVEL: 'warn',
    });
    const sampler = setInterval(() => {
      try {
        rss.push(rssMb(service.child.pid!));
      } catch {
        // The process has exited; the checks below say so.
      }
    }, RSS_SAMPLE_MS);
    try {
      await waitForCommittedEnd(brokers, scenario, service, 80_000);
      metricsText = await service.metrics();
    } catch (error) {
      // Where the service got to, and what it said, is the useful part of the failure.
      const progress = service.child.exitCode === null ? (await service.metrics().catch(() => '')).split('\n').filter((line) => /^geowindow_(records|consumer_paused|worker_restarts)/.test(line)) : [];
      throw new Error(`${String(error)}\nservice errors: ${JSON.stringify(serviceErrors(service)).slice(0, 4000)}\nmax RSS ${Math.max(...rss)} MB; metrics:\n${progress.join('\n')}`);
    } finally {
      clearInterval(sampler);
    }
    runningAtEnd = service.child.exitCode === null && service.child.signalCode === null;
    exitCode = await service.stop('SIGTERM');
    [outputs, deadLetters] = await Promise.all([readAll(brokers, scenario.out), readAll(brokers, scenario.dlq)]);
    const inputs: ReadRecord[] = produced.map(({ partition, offset, key, value }) => ({ partition, offset, key, value, headers: {} }));
    result = reconcile(scenario.in, inputs, outputs, deadLetters);
  }, 170_000);

  afterAll(async () => {
    await service?.stop('SIGKILL');
    // A hundred megabytes of topics: not left on the broker for the next run.
    if (topics === undefined) return;
    const admin = kafkaFor(brokers).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topics.in, topics.out, topics.dlq] }).finally(() => admin.disconnect());
  });

  it('stays up through the whole stream, stays within its memory budget, and stops cleanly on SIGTERM', () => {
    expect(runningAtEnd).toBe(true);
    expect(rss.length).toBeGreaterThan(0);
    console.log(`RSS: ${rss.length} samples, max ${Math.max(...rss).toFixed(1)} MB of a ${MEMORY_LIMIT_MB} MB budget`);
    expect(Math.max(...rss)).toBeLessThanOrEqual(MEMORY_LIMIT_MB);
    expect(exitCode).toBe(0);
    expect(serviceErrors(service)).toEqual([]);
  });

  it('dead-letters exactly the records the oracle refuses, each with its reason and its key, value and headers, and aggregates every other one', () => {
    const expectedByReason = new Map<string, number>();
    let good = 0;
    for (const { verdict } of produced) {
      if (verdict.ok) good++;
      else increment(expectedByReason, verdict.reason);
    }
    const index = new Map(produced.map((record) => [`${record.partition}:${record.offset}`, record]));
    /** Disagreements by family, and the first few records of each. */
    const wrong = new Map<string, number>();
    const examples: string[] = [];
    const wrongCopies: string[] = [];
    for (const dead of deadLetters) {
      const source = index.get(`${header(dead, 'geowindow-source-partition')}:${header(dead, 'geowindow-source-offset')}`)!;
      const reason = header(dead, 'geowindow-dlq-reason');
      const { verdict } = source;
      if (verdict.ok || verdict.reason !== reason) {
        const said = `${source.family}: ${reason}, oracle ${verdict.ok ? 'accepts' : verdict.reason}`;
        increment(wrong, said);
        if (examples.length < 5) examples.push(`${said} (${header(dead, 'geowindow-dlq-detail')}): ${JSON.stringify(source.value?.subarray(0, 160).toString('latin1'))}`);
      }
      if (!(dead.value ?? Buffer.alloc(0)).equals(source.value ?? Buffer.alloc(0))) wrongCopies.push(`${source.family}: value`);
      if (!(dead.key ?? Buffer.alloc(0)).equals(source.key ?? Buffer.alloc(0))) wrongCopies.push(`${source.family}: key`);
      for (const [name, value] of Object.entries(source.headers)) {
        // The service's own headers replace any the producer sent under their names.
        if (name.startsWith('geowindow-')) continue;
        const kept = sentValues(dead.headers[name]);
        if (kept.length !== 1 || !kept[0]!.equals(Buffer.from(value))) wrongCopies.push(`${source.family}: header ${JSON.stringify(name.slice(0, 40))}`);
      }
    }
    const families = new Map<string, number>();
    for (const record of produced) increment(families, record.family);
    console.log(
      [
        `produced ${produced.length}: ${[...families].map(([f, n]) => `${f} ${n}`).join(', ')}`,
        `aggregated ${result.aggregated} (oracle: ${good} good) in ${result.aggregates.length} aggregates (${result.duplicates} duplicates)`,
        `dead-lettered ${deadLetters.length} (${result.deadLetterDuplicates} duplicates): ${[...result.deadLettered].sort().map(([r, n]) => `${r} ${n} (oracle ${expectedByReason.get(r) ?? 0})`).join(', ')}`,
      ].join('\n'),
    );
    expect({ disagreements: Object.fromEntries(wrong), examples }).toEqual({ disagreements: {}, examples: [] });
    expect(wrongCopies.slice(0, 10)).toEqual([]);
    expect(Object.fromEntries(result.deadLettered)).toEqual(Object.fromEntries(expectedByReason));
    expect(result.aggregated).toBe(good);
    expect(result.aggregated + deadLetters.length).toBe(RECORDS);
    expect(good / RECORDS).toBeGreaterThan(0.6);
  });

  it('carries every reading name into the aggregates, prototype names included, counted as the oracle counts them', () => {
    const expected = new Map<string, number>();
    for (const { verdict } of produced) {
      if (!verdict.ok) continue;
      for (const [name, value] of verdict.reading.readings) if (value !== null) increment(expected, name);
    }
    const counted = new Map<string, number>();
    for (const record of outputs) {
      const aggregate = JSON.parse(record.value!.toString()) as AggregateRecord;
      for (const [name, stats] of Object.entries(aggregate.readings)) counted.set(name, (counted.get(name) ?? 0) + stats.count);
    }
    expect(Object.fromEntries(counted)).toEqual(Object.fromEntries(expected));
    for (const name of PROTO_NAMES) expect(expected.get(name) ?? 0, name).toBeGreaterThan(0);
  });

  it('reports the same counts in its metrics', () => {
    expect(metricValue(metricsText, 'geowindow_records_in_total')).toBe(RECORDS);
    expect(metricValue(metricsText, 'geowindow_records_aggregated_total')).toBe(result.aggregated);
    for (const [reason, count] of result.deadLettered) {
      expect(metricValue(metricsText, 'geowindow_records_dead_lettered_total', `reason="${reason}"`), reason).toBe(count);
    }
  });
});
