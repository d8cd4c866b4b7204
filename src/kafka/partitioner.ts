import { randomInt } from 'node:crypto';
import type { ICustomPartitioner } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's murmur2 (the Java client's Utils.murmur2) in 32-bit arithmetic.
 * kafkajs 2.2.4 computes it on BigInts that it never truncates, so its cost
 * grows with the square of the key: 79 s for a 512 kB key, which a dead
 * letter keyed by its record's key can carry. Same hash, linear time.
 */
export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data[whole + 2]! << 16;
    if (tail >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const toPositive = (x: number) => x & 0x7fffffff;

/**
 * kafkajs's DefaultPartitioner (Kafka's: a keyed record goes to
 * murmur2(key) mod partitions, an unkeyed one round-robin over partitions
 * with a leader) on the linear hash above.
 */
export const partitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const key = message.key;
    if (key !== null && key !== undefined) {
      return toPositive(murmur2(Buffer.isBuffer(key) ? key : Buffer.from(String(key)))) % partitionMetadata.length;
    }
    const counter = (counters.get(topic) ?? randomInt(0x7fffffff)) + 1;
    counters.set(topic, counter);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return available[toPositive(counter) % available.length]!.partitionId;
    return toPositive(counter) % partitionMetadata.length;
  };
};
