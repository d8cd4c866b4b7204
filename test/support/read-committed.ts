import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaFor, type ReadRecord } from './kafka.js';

/** How long a read waits without a new record before it takes the topic as read to its end. */
const QUIET_MS = 3000;
const READ_LIMIT_MS = 90_000;

/**
 * Every record of `topic` a read_committed consumer sees (kafkajs's
 * default isolation), or, with `uncommitted`, every record written, aborted
 * transactions included. A transactional topic's end offset also counts
 * commit markers and aborted records, so the read ends once the consumer has
 * reached the end offsets and nothing new came for a while.
 */
export async function readIsolated(brokers: string, topic: string, uncommitted = false): Promise<ReadRecord[]> {
  const kafka = kafkaFor(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  await admin.disconnect();
  const records: ReadRecord[] = [];
  const consumer = kafka.consumer({ groupId: `gw-test-isolated-${randomUUID()}`, readUncommitted: uncommitted });
  await consumer.connect();
  let lastRecordAt = Date.now();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        lastRecordAt = Date.now();
        if (Number(message.offset) >= (ends.get(partition) ?? 0)) return;
        records.push({ partition, offset: Number(message.offset), key: message.key, value: message.value, headers: message.headers ?? {} });
      },
    });
    const started = Date.now();
    while (Date.now() - lastRecordAt < QUIET_MS || Date.now() - started < QUIET_MS) {
      if (Date.now() - started > READ_LIMIT_MS) throw new Error(`reading ${topic} took over ${READ_LIMIT_MS} ms`);
      await sleep(200);
    }
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
