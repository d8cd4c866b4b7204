import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';

export interface ReadRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
}

export function kafkaFor(brokers: string): Kafka {
  return new Kafka({ brokers: brokers.split(','), clientId: 'geowindow-test', logLevel: logLevel.NOTHING });
}

/** Topic names no other test (or earlier run) uses. */
export function uniqueTopics<const T extends string>(...roles: T[]): Record<T, string> {
  const run = randomUUID().slice(0, 8);
  return Object.fromEntries(roles.map((role) => [role, `gw-test-${run}-${role}`])) as Record<T, string>;
}

export async function createTopics(brokers: string, topics: Record<string, number>): Promise<void> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: Object.entries(topics).map(([topic, numPartitions]) => ({ topic, numPartitions, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** High watermark of every partition of a topic. */
export async function endOffsets(brokers: string, topic: string): Promise<Map<number, number>> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** The group's committed offset per partition (-1 when none). */
export async function committedOffsets(brokers: string, groupId: string, topic: string): Promise<Map<number, number>> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** How long reading a topic back may take. */
const READ_TIMEOUT_MS = 90_000;
/** Larger fetches than the client's default: output topics of tens of thousands of aggregates are read in a few round trips. */
const READ_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Every record of a topic up to its end as of the call, with the given
 * isolation level, in partition and offset order. A partition is read once a
 * batch reaches its end offset (a transaction marker may be that last offset
 * and never reach the reader as a record). kafkajs's read_committed let
 * records of aborted transactions through here: judge exactly-once with
 * read-committed.ts instead.
 */
export async function readAll(brokers: string, topic: string, isolation: 'read_uncommitted' | 'read_committed' = 'read_uncommitted'): Promise<ReadRecord[]> {
  const ends = await endOffsets(brokers, topic);
  const pending = new Set([...ends].filter(([, end]) => end > 0).map(([partition]) => partition));
  const records: ReadRecord[] = [];
  if (pending.size === 0) return records;
  const consumer = kafkaFor(brokers).consumer({
    groupId: `gw-test-reader-${randomUUID()}`,
    readUncommitted: isolation === 'read_uncommitted',
    maxBytes: READ_MAX_BYTES,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${topic}: ${pending.size} partitions not read to their end after ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition) ?? 0;
            for (const message of batch.messages) {
              if (Number(message.offset) >= end) break;
              records.push({ partition: batch.partition, offset: Number(message.offset), key: message.key, value: message.value, headers: message.headers ?? {} });
            }
            if (Number(batch.lastOffset()) + 1 >= end && pending.delete(batch.partition) && pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

export function header(record: ReadRecord, name: string): string | undefined {
  const value = record.headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value[0] : value)?.toString();
}

/**
 * Polls `probe` until it returns a value. Errors from the probe (a broker
 * still electing its group coordinator, say) count as "not yet"; `fatal`
 * ends the wait at once when it names a reason.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  fatal: () => string | undefined = () => undefined,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const reason = fatal();
    if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
