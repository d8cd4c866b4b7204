/**
 * The raw consume ceiling of @platformatic/kafka (a maintained pure-JS
 * client), measured the way raw-kafkajs.ts measures kafkajs: a fresh consumer
 * group reads the whole topic from the earliest offset, counting records and
 * their bytes, with the same fetch sizes (2 MiB, 512 KiB per partition, 500 ms
 * wait). Values stay Buffers (no deserialiser). One JSON summary on stdout.
 *
 *   node dist/bench/raw-platformatic.js --brokers 127.0.0.1:9092 --topic T --expect N [--group G]
 */
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes } from '@platformatic/kafka';
import { FETCH_MAX_BYTES, FETCH_MAX_BYTES_PER_PARTITION } from '../src/memory/plan.js';
import { RawCounter, rawArgs } from './lib/raw-count.js';

const FETCH = { maxBytes: FETCH_MAX_BYTES, maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION, maxWaitTime: 500 } as const;

const args = rawArgs('platformatic');
const consumer = new Consumer({ clientId: 'bench-raw-platformatic', groupId: args.group, bootstrapBrokers: args.brokers });
const stream = await consumer.consume({
  topics: [args.topic],
  mode: MessagesStreamModes.COMMITTED,
  fallbackMode: MessagesStreamFallbackModes.EARLIEST,
  autocommit: false,
  ...FETCH,
});
const counter = new RawCounter(args.expected, args.progressSeconds);

await new Promise<void>((resolve, reject) => {
  stream.on('error', reject);
  stream.on('data', (message) => counter.add(1, message.value?.length ?? 0));
  void counter.done.then(resolve);
});
process.stdout.write(counter.summary('platformatic', { fetch: FETCH, group: args.group }));
await stream.close();
await consumer.close(true);
process.exit(0);
