/**
 * What a zone row's output costs alone: every aggregate the row wrote, read
 * back from its output topic and written again, already serialized, through
 * the service's own sink (BatchingSink: acks=all, records of one turn of the
 * event loop in one request) with at most MAX_OUTPUT_IN_FLIGHT_BYTES of
 * values in flight, as the pipeline writes closed windows. No record is
 * read, keyed, aggregated or stringified here, so its CPU is a floor under
 * any run that writes these aggregates. bench:windows runs it as a child on
 * the service's runtime, after the zone row; it prints progress on stderr
 * and one JSON line on stdout.
 *
 *   node dist/bench/write-aggregates.js --brokers 127.0.0.1:9092 --from <topic>
 */
import type { Kafka } from 'kafkajs';
import { BatchingSink } from '../src/kafka/producer.js';
import { MAX_OUTPUT_IN_FLIGHT_BYTES } from '../src/pipeline/pipeline.js';
import { procCpuSeconds, procThreadsCpuSeconds, round, say, V8_BACKGROUND_THREAD } from './lib/common.js';
import { benchKafka, cleanUp, topicRecords, withAdmin } from './lib/dataset.js';
import { brokersOf, parseFlags } from './lib/options.js';

const USAGE = `Usage: node dist/bench/write-aggregates.js --from TOPIC [--brokers B]

Reads every record of TOPIC, then times writing them again through the service's sink into a fresh topic.

  --from TOPIC          the topic whose records are written again (a zone row's output)
  --brokers B           host:port list (default: $KAFKA_BROKERS, else 127.0.0.1:9092)`;

const values = parseFlags({ from: { type: 'string' } }, USAGE);
const from = values.from;
if (from === undefined || from === '') {
  process.stderr.write(`--from is required\n${USAGE}\n`);
  process.exit(2);
}
const brokers = brokersOf(values);

/**
 * The records read, their keys and values back to back in one Buffer: held
 * as strings they would be 110,000 long-lived objects on the heap, whose
 * marking would be charged to the writing. Each record's strings are made
 * just before it is sent, as the pipeline makes them (JSON.stringify).
 */
class Records {
  readonly #bytes: Buffer;
  /** Per record: key start, value start, value end. */
  readonly #bounds: Uint32Array;
  readonly length: number;
  /** UTF-8 bytes of all values. */
  readonly valueBytes: number;

  constructor(bytes: Buffer, bounds: Uint32Array, length: number, valueBytes: number) {
    this.#bytes = bytes;
    this.#bounds = bounds;
    this.length = length;
    this.valueBytes = valueBytes;
  }

  record(i: number): { key: string; value: string } {
    const b = this.#bounds;
    return { key: this.#bytes.toString('utf8', b[3 * i]!, b[3 * i + 1]!), value: this.#bytes.toString('utf8', b[3 * i + 1]!, b[3 * i + 2]!) };
  }
}

async function readAll(kafka: Kafka, topic: string): Promise<Records> {
  const total = await topicRecords(brokers, topic);
  const parts: Buffer[] = [];
  const bounds = new Uint32Array(3 * total);
  let at = 0;
  let n = 0;
  let valueBytes = 0;
  if (total === 0) return new Records(Buffer.alloc(0), bounds, 0, 0);
  const consumer = kafka.consumer({ groupId: `bench-write-aggregates-${Date.now().toString(36)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              if (n === total) break;
              const key = m.key ?? Buffer.alloc(0);
              const value = m.value ?? Buffer.alloc(0);
              parts.push(key, value);
              bounds[3 * n] = at;
              bounds[3 * n + 1] = at + key.length;
              at += key.length + value.length;
              bounds[3 * n + 2] = at;
              valueBytes += value.length;
              n++;
            }
            if (n === total) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return new Records(Buffer.concat(parts, at), bounds, n, valueBytes);
}

/** Writes every record through the sink, at most `limit` value bytes in flight; resolves when all are acknowledged. */
function writeAll(sink: BatchingSink, topic: string, records: Records, limit: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let acknowledged = 0;
    let inFlight = 0;
    const pump = (): void => {
      while (next < records.length && inFlight < limit) {
        const record = records.record(next++);
        const bytes = record.value.length;
        inFlight += bytes;
        sink.send(topic, record).then(() => {
          inFlight -= bytes;
          if (++acknowledged === records.length) resolve();
          else pump();
        }, reject);
      }
    };
    pump();
  });
}

const kafka = benchKafka(brokers, 'geowindow-bench-write-aggregates');
const records = await readAll(kafka, from);
const valueBytes = records.valueBytes;
say(`read ${records.length} records (${round(valueBytes / 1048576, 1)} MB of values) from ${from}`);
const target = `bench-write-aggregates-${Date.now().toString(36)}`;
await withAdmin(brokers, (admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic: target, numPartitions: 3, replicationFactor: -1 }] }));
const sink = new BatchingSink(kafka);
try {
  await sink.connect();
  const cpu = () => ({
    all: procCpuSeconds(process.pid) ?? Number.NaN,
    main: procCpuSeconds(process.pid, process.pid) ?? Number.NaN,
    background: procThreadsCpuSeconds(process.pid, V8_BACKGROUND_THREAD) ?? Number.NaN,
  });
  const before = cpu();
  const begin = performance.now();
  await writeAll(sink, target, records, MAX_OUTPUT_IN_FLIGHT_BYTES);
  const seconds = (performance.now() - begin) / 1000;
  const after = cpu();
  say(`wrote ${records.length} records in ${round(seconds, 2)} s, ${round(after.all - before.all, 2)} s of CPU`);
  process.stdout.write(
    `${JSON.stringify({
      records: records.length,
      valueBytes,
      seconds: round(seconds, 3),
      cpuSeconds: round(after.all - before.all, 3),
      mainThreadCpuSeconds: round(after.main - before.main, 3),
      backgroundThreadsCpuSeconds: Number.isNaN(after.background) ? null : round(after.background - before.background, 3),
    })}\n`,
  );
} finally {
  await sink.disconnect();
  await cleanUp(brokers, [], [target]);
}
