import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { TopicReadError } from '../errors.js';

/**
 * Reads every record of a topic from its start up to the end it had when
 * called, handing each value to `onValue` in offset order per partition;
 * returns how many were read. For developer tools (`geowindow map`): it joins
 * a throwaway consumer group, commits nothing, and deletes the group after.
 * Offsets count, not records, so a compacted topic (gaps in offsets) reads
 * to its end too.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  onValue: (value: Buffer | null, partition: number) => void,
  timeoutMs: number,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `geowindow-reader-${randomUUID()}`;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    // The last offset to read per partition; partitions with nothing to read are done already.
    const last = new Map<number, number>();
    for (const { partition, high, low } of offsets) if (Number(high) > Number(low)) last.set(partition, Number(high) - 1);
    if (last.size === 0) return 0;
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    let read = 0;
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new TopicReadError(topic, `${read} records read in ${timeoutMs} ms, ${last.size} partition(s) not at their end`)),
          timeoutMs,
        );
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const end = last.get(partition);
              const offset = Number(message.offset);
              if (end === undefined) return;
              if (offset <= end) {
                onValue(message.value, partition);
                read++;
              }
              // Written after the call, or past a gap where the last offset was: the partition is read.
              if (offset >= end) last.delete(partition);
              if (last.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch((error: unknown) => {
            clearTimeout(timer);
            reject(new TopicReadError(topic, (error as Error).message, error));
          });
      });
    } finally {
      await consumer.disconnect();
    }
    return read;
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
