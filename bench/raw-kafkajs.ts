/**
 * The raw consume ceiling of kafkajs: a fresh consumer group reads the whole
 * topic with eachBatch and only counts the records (and their bytes), with
 * the fetch sizes of the product's default memory plan. Run as a child by
 * the harness; prints one JSON summary on stdout, progress on stderr.
 *
 *   node dist/bench/raw-kafkajs.js --brokers 127.0.0.1:9092 --topic T --expect N [--group G]
 */
import { Kafka, logLevel } from 'kafkajs';
import { FETCH_MAX_BYTES, FETCH_MAX_BYTES_PER_PARTITION } from '../src/memory/plan.js';
import { RawCounter, rawArgs } from './lib/raw-count.js';

/** The product's fetch sizes (2 MiB, 512 KiB per partition); 8 MiB ones read no faster here, at more RSS. */
export const FETCH = { maxBytes: FETCH_MAX_BYTES, maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION, maxWaitTimeInMs: 500 } as const;

const args = rawArgs('kafkajs');
const kafka = new Kafka({ clientId: 'bench-raw-kafkajs', brokers: args.brokers, logLevel: logLevel.ERROR });
const consumer = kafka.consumer({ groupId: args.group, allowAutoTopicCreation: false, ...FETCH });
const counter = new RawCounter(args.expected, args.progressSeconds);
let batches = 0;

await consumer.connect();
await consumer.subscribe({ topics: [args.topic], fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachBatch: async ({ batch }) => {
    batches++;
    let bytes = 0;
    for (const message of batch.messages) bytes += message.value?.length ?? 0;
    counter.add(batch.messages.length, bytes);
  },
});
await counter.done;
process.stdout.write(counter.summary('kafkajs', { batches, fetch: FETCH, group: args.group }));
await consumer.disconnect();
process.exit(0);
