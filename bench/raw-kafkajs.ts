/**
 * The raw consume ceiling of kafkajs: a fresh consumer group reads the whole
 * topic with eachBatch and only counts the records (and their bytes), with
 * the fetch sizes of the product's default memory plan. Run as a child by
 * the harness; prints one JSON summary on stdout, progress on stderr.
 *
 *   node dist/bench/raw-kafkajs.js --brokers 127.0.0.1:9092 --topic T --expect N [--group G]
 */
import { Kafka, logLevel } from 'kafkajs';
import { parseArgs } from 'node:util';

/** The product's default plan (a 1024 MB budget): maxBytes 8 MiB, a quarter of that per partition at most 1 MiB. */
export const FETCH = { maxBytes: 8 * 1024 * 1024, maxBytesPerPartition: 1024 * 1024, maxWaitTimeInMs: 500 } as const;

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: '127.0.0.1:9092' },
    topic: { type: 'string' },
    expect: { type: 'string' },
    group: { type: 'string', default: `bench-raw-kafkajs-${Date.now()}` },
    'progress-seconds': { type: 'string', default: '5' },
  },
});
if (values.topic === undefined || values.expect === undefined) throw new Error('--topic and --expect are required');
const topic = values.topic;
const expected = Number(values.expect);
const now = () => performance.timeOrigin + performance.now();

const kafka = new Kafka({ clientId: 'bench-raw-kafkajs', brokers: values.brokers.split(','), logLevel: logLevel.ERROR });
const consumer = kafka.consumer({ groupId: values.group, allowAutoTopicCreation: false, ...FETCH });

let records = 0;
let bytes = 0;
let batches = 0;
let firstAt: number | undefined;
let lastAt: number | undefined;
let cpuAtFirst: NodeJS.CpuUsage | undefined;
let cpuAtLast: NodeJS.CpuUsage | undefined;
let finish!: () => void;
const finished = new Promise<void>((resolve) => (finish = resolve));

const progress = setInterval(() => {
  if (firstAt === undefined) return;
  const seconds = (now() - firstAt) / 1000;
  process.stderr.write(`${records}/${expected} records, ${Math.round(records / seconds)} rec/s, rss ${Math.round(process.memoryUsage.rss() / 1048576)} MB\n`);
}, Number(values['progress-seconds']) * 1000);

await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachBatch: async ({ batch }) => {
    if (firstAt === undefined) {
      firstAt = now();
      cpuAtFirst = process.cpuUsage();
    }
    batches++;
    records += batch.messages.length;
    for (const message of batch.messages) bytes += message.value?.length ?? 0;
    if (records >= expected && lastAt === undefined) {
      lastAt = now();
      cpuAtLast = process.cpuUsage(cpuAtFirst);
      finish();
    }
  },
});
await finished;
clearInterval(progress);
const seconds = (lastAt! - firstAt!) / 1000;
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    system: 'kafkajs',
    records,
    bytes,
    batches,
    seconds: Math.round(seconds * 1000) / 1000,
    recordsPerSecond: Math.round(records / seconds),
    cpuSeconds: Math.round(((cpuAtLast!.user + cpuAtLast!.system) / 1e6) * 1000) / 1000,
    peakRssBytes: usage.maxRSS * 1024,
    fetch: FETCH,
    group: values.group,
  })}\n`,
);
await consumer.disconnect();
process.exit(0);
