/**
 * The raw consume ceiling of @platformatic/kafka (a maintained pure-JS
 * client), measured the way raw-kafkajs.ts measures kafkajs: a fresh consumer
 * group reads the whole topic from the earliest offset, counting records and
 * their bytes, with the same fetch sizes (8 MiB, 1 MiB per partition, 500 ms
 * wait). Values stay Buffers (no deserialiser). One JSON summary on stdout.
 *
 *   node dist/bench/raw-platformatic.js --brokers 127.0.0.1:9092 --topic T --expect N [--group G]
 */
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes } from '@platformatic/kafka';
import { parseArgs } from 'node:util';

const FETCH = { maxBytes: 8 * 1024 * 1024, maxBytesPerPartition: 1024 * 1024, maxWaitTime: 500 } as const;

const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: '127.0.0.1:9092' },
    topic: { type: 'string' },
    expect: { type: 'string' },
    group: { type: 'string', default: `bench-raw-platformatic-${Date.now()}` },
    'progress-seconds': { type: 'string', default: '5' },
  },
});
if (values.topic === undefined || values.expect === undefined) throw new Error('--topic and --expect are required');
const expected = Number(values.expect);
const now = () => performance.timeOrigin + performance.now();

const consumer = new Consumer({
  clientId: 'bench-raw-platformatic',
  groupId: values.group,
  bootstrapBrokers: values.brokers.split(','),
});
const stream = await consumer.consume({
  topics: [values.topic],
  mode: MessagesStreamModes.COMMITTED,
  fallbackMode: MessagesStreamFallbackModes.EARLIEST,
  autocommit: false,
  ...FETCH,
});

let records = 0;
let bytes = 0;
let firstAt: number | undefined;
let lastAt: number | undefined;
let cpuAtFirst: NodeJS.CpuUsage | undefined;
let cpuAtLast: NodeJS.CpuUsage | undefined;

const progress = setInterval(() => {
  if (firstAt === undefined) return;
  const seconds = (now() - firstAt) / 1000;
  process.stderr.write(`${records}/${expected} records, ${Math.round(records / seconds)} rec/s, rss ${Math.round(process.memoryUsage.rss() / 1048576)} MB\n`);
}, Number(values['progress-seconds']) * 1000);

await new Promise<void>((resolve, reject) => {
  stream.on('error', reject);
  stream.on('data', (message) => {
    if (firstAt === undefined) {
      firstAt = now();
      cpuAtFirst = process.cpuUsage();
    }
    records++;
    bytes += message.value?.length ?? 0;
    if (records >= expected && lastAt === undefined) {
      lastAt = now();
      cpuAtLast = process.cpuUsage(cpuAtFirst);
      resolve();
    }
  });
});
clearInterval(progress);
const seconds = (lastAt! - firstAt!) / 1000;
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    system: 'platformatic',
    records,
    bytes,
    seconds: Math.round(seconds * 1000) / 1000,
    recordsPerSecond: Math.round(records / seconds),
    cpuSeconds: Math.round(((cpuAtLast!.user + cpuAtLast!.system) / 1e6) * 1000) / 1000,
    peakRssBytes: usage.maxRSS * 1024,
    fetch: FETCH,
    group: values.group,
  })}\n`,
);
await stream.close();
await consumer.close(true);
process.exit(0);
