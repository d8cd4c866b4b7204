import { createRequire } from 'node:module';
import fc from 'fast-check';
import type { PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitioner } from '../../src/kafka/partitioner.js';

// kafkajs's own murmur2, the reference: the same partition for every key, as Kafka's Java client.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0, offlineReplicas: [] }));

describe('murmur2', () => {
  it('equals kafkajs (and so Kafka) on every key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const key = Buffer.from(bytes);
        expect(murmur2(key)).toBe(kafkajsMurmur2(key));
      }),
      { numRuns: 3000 },
    );
  });

  it('matches Kafka\'s published values', () => {
    // From the Java client's UtilsTest.testMurmur2.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
  });

  it('hashes a 1 MB key in linear time', () => {
    const started = performance.now();
    murmur2(Buffer.alloc(1024 * 1024, 7));
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('partitioner', () => {
  it('sends a keyed record where kafkajs\'s default partitioner would', () => {
    const ours = partitioner();
    for (const key of ['device-1', 'zone:06037|1700000000000|3', '']) {
      const expected = (kafkajsMurmur2(Buffer.from(key)) & 0x7fffffff) % 7;
      expect(ours({ topic: 't', partitionMetadata: metadata(7), message: { key, value: null } })).toBe(expected);
    }
  });

  it('spreads unkeyed records round-robin over partitions with a leader, and keeps an explicit partition', () => {
    const ours = partitioner();
    const partitions = metadata(4).map((p, i) => (i === 2 ? { ...p, leader: -1 } : p));
    const chosen = Array.from({ length: 6 }, () => ours({ topic: 't', partitionMetadata: partitions, message: { key: null, value: null } }));
    expect(new Set(chosen)).toEqual(new Set([0, 1, 3]));
    expect(ours({ topic: 't', partitionMetadata: partitions, message: { key: 'k', value: null, partition: 2 } })).toBe(2);
  });
});
