/**
 * The benchmark's data set: a topic of `size` readings from the product's
 * own synthetic fleet (`geowindow produce`, fixed seed), produced once and
 * reused while it holds exactly that many records.
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, lastJson, nowMs, round, run, say } from './common.js';

export interface DatasetOptions {
  readonly brokers: readonly string[];
  readonly size: number;
  readonly seed: number;
  readonly partitions: number;
  readonly badRatio: number;
  readonly devices: number;
}

export interface Dataset {
  readonly topic: string;
  readonly size: number;
  readonly seed: number;
  readonly partitions: number;
  readonly badRatio: number;
  readonly devices: number;
  /** End offset (high watermark) of each partition: the offsets a finished consumer has committed. */
  readonly endOffsets: Readonly<Record<number, number>>;
  /** True when this run produced it; false when an existing topic was reused. */
  readonly produced: boolean;
  readonly produceSeconds: number | undefined;
}

export function datasetTopic(size: number, seed: number): string {
  return `bench-${size}-s${seed}`;
}

export function benchKafka(brokers: readonly string[], clientId = 'geowindow-bench'): Kafka {
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING, retry: { retries: 5 } });
}

/** Records a topic holds now: the end offsets less the start offsets, over its partitions. */
export async function topicRecords(brokers: readonly string[], topic: string): Promise<number> {
  return withAdmin(brokers, async (admin) => (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0));
}

export async function withAdmin<T>(brokers: readonly string[], work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = benchKafka(brokers).admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

interface Watermarks {
  readonly low: Record<number, number>;
  readonly high: Record<number, number>;
}

async function watermarks(admin: Admin, topic: string): Promise<Watermarks | undefined> {
  if (!(await admin.listTopics()).includes(topic)) return undefined;
  const offsets = await admin.fetchTopicOffsets(topic);
  const low: Record<number, number> = {};
  const high: Record<number, number> = {};
  for (const p of offsets) {
    low[p.partition] = Number(p.low);
    high[p.partition] = Number(p.high);
  }
  return { low, high };
}

function count(marks: Watermarks): number {
  let total = 0;
  for (const [partition, high] of Object.entries(marks.high)) total += high - (marks.low[Number(partition)] ?? 0);
  return total;
}

/** The topic holds exactly `size` records from offset 0 in `partitions` partitions. */
function complete(marks: Watermarks | undefined, options: DatasetOptions): marks is Watermarks {
  return (
    marks !== undefined &&
    Object.keys(marks.high).length === options.partitions &&
    Object.values(marks.low).every((low) => low === 0) &&
    count(marks) === options.size
  );
}

/**
 * The topic of this size and seed, produced by `geowindow produce` unless it
 * already holds exactly `size` records. It is created with unlimited
 * retention so that the local broker's 24 h / 256 MiB defaults do not trim it.
 */
export async function ensureDataset(options: DatasetOptions): Promise<Dataset> {
  const topic = datasetTopic(options.size, options.seed);
  const base = { topic, size: options.size, seed: options.seed, partitions: options.partitions, badRatio: options.badRatio, devices: options.devices };
  const existing = await withAdmin(options.brokers, (admin) => watermarks(admin, topic));
  if (complete(existing, options)) {
    say(`data set: reusing ${topic} (${options.size} records in ${options.partitions} partitions)`);
    return { ...base, endOffsets: existing.high, produced: false, produceSeconds: undefined };
  }
  await withAdmin(options.brokers, async (admin) => {
    if (existing !== undefined) {
      say(`data set: ${topic} holds ${count(existing)} records, not ${options.size}: deleting and producing it again`);
      await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
      for (let i = 0; i < 100 && (await admin.listTopics()).includes(topic); i++) await sleep(200);
      await sleep(1000);
    }
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: options.partitions,
          replicationFactor: -1,
          configEntries: [
            { name: 'retention.ms', value: '-1' },
            { name: 'retention.bytes', value: '-1' },
          ],
        },
      ],
    });
  });
  say(`data set: producing ${options.size} readings to ${topic} (seed ${options.seed}, ${options.devices} devices, ${options.badRatio * 100}% bad) with geowindow produce`);
  const begin = nowMs();
  let line = 0;
  const stdout = await run(
    process.execPath,
    [
      CLI,
      'produce',
      '--topic', topic,
      '--count', String(options.size),
      '--rate', '0',
      '--seed', String(options.seed),
      '--devices', String(options.devices),
      '--bad-ratio', String(options.badRatio),
      '--partitions', String(options.partitions),
      '--brokers', options.brokers.join(','),
    ],
    // geowindow produce reports every second; every fifth line is enough here.
    { label: 'produce', relay: () => line++ % 5 === 4 },
  );
  const summary = lastJson<{ sent: number; recordsPerSecond: number }>(stdout);
  const produceSeconds = round((nowMs() - begin) / 1000, 1);
  say(`data set: produced ${summary.sent} records in ${produceSeconds} s (${summary.recordsPerSecond} rec/s)`);
  const marks = await withAdmin(options.brokers, (admin) => watermarks(admin, topic));
  if (!complete(marks, options)) {
    throw new Error(`${topic} holds ${marks === undefined ? 0 : count(marks)} records after producing ${options.size}`);
  }
  return { ...base, endOffsets: marks.high, produced: true, produceSeconds };
}

/** Committed offsets of a group on a topic equal the end offsets. */
export async function committedToEnd(admin: Admin, groupId: string, dataset: Dataset): Promise<boolean> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [dataset.topic] });
  if (entry === undefined) return false;
  return entry.partitions.every((p) => Number(p.offset) === dataset.endOffsets[p.partition]) && entry.partitions.length === dataset.partitions;
}

/** Removes a consumer group and topics a measurement created; failures are only reported. */
export async function cleanUp(brokers: readonly string[], groups: readonly string[], topics: readonly string[]): Promise<void> {
  try {
    await withAdmin(brokers, async (admin) => {
      if (groups.length > 0) await admin.deleteGroups([...groups]).catch(() => undefined);
      if (topics.length > 0) await admin.deleteTopics({ topics: [...topics], timeout: 30_000 });
    });
  } catch (error) {
    say(`clean-up of ${[...groups, ...topics].join(', ')} failed: ${(error as Error).message}`);
  }
}
