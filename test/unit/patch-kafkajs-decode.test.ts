/**
 * kafkajs's fetch decoding and message grouping as scripts/patch-kafkajs.mjs
 * patches them give what the published code gives. Both are copies of the
 * installed kafkajs in a temporary folder, put in each state by the script.
 * Record batches are written by the published encoder, with offsets and
 * timestamps on both sides of 2^53 and deltas on both sides of 49 bits (where
 * the patched decoder leaves numbers for Long).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { publishedAndPatchedKafkajs } from '../support/kafkajs-copies.js';



interface Long {
  toString(): string;
}
interface DecodedRecord {
  readonly offset: string;
  readonly timestamp: string;
  readonly batchContext?: unknown;
  readonly [field: string]: unknown;
}
interface Message {
  readonly key: string;
  readonly value: string;
}
interface Kafkajs {
  readonly Long: { fromValue(value: number | string): Long };
  readonly RecordBatch: (batch: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
  readonly Record: (record: Record<string, unknown>) => unknown;
  readonly decodeBatch: (buffer: Buffer) => Promise<{ records: DecodedRecord[] }>;
  readonly Batch: new (topic: string, fetchedOffset: string, partitionData: Record<string, unknown>) => { messages: DecodedRecord[] };
  readonly group: (args: { topic: string; partitionMetadata: unknown[]; messages: Message[]; partitioner: (args: { message: Message }) => number }) => Record<string, Message[]>;
}

function kafkajs(dir: string): Kafkajs {
  const load = createRequire(join(dir, 'package.json'));
  const Decoder = load('./src/protocol/decoder.js') as new (buffer: Buffer) => unknown;
  const decode = load('./src/protocol/recordBatch/v0/decoder.js') as (decoder: unknown) => Promise<{ records: DecodedRecord[] }>;
  return {
    Long: load('./src/utils/long.js') as Kafkajs['Long'],
    RecordBatch: (load('./src/protocol/recordBatch/v0/index.js') as { RecordBatch: Kafkajs['RecordBatch'] }).RecordBatch,
    Record: load('./src/protocol/recordBatch/record/v0/index.js') as Kafkajs['Record'],
    decodeBatch: (buffer) => decode(new Decoder(buffer)),
    Batch: load('./src/consumer/batch.js') as Kafkajs['Batch'],
    group: load('./src/producer/groupMessagesPerPartition.js') as Kafkajs['group'],
  };
}

const copies = publishedAndPatchedKafkajs('patch-kafkajs-decode');
const published = kafkajs(copies.published);
const patched = kafkajs(copies.patched);

/** Offsets and times: small, around 2^31 and 2^53, and past 2^53 as decimal strings (as kafkajs holds them). */
const base = fc.oneof(
  fc.integer({ min: -1, max: 2 ** 40 }),
  fc.constantFrom(0, 2 ** 31, 2 ** 53 - 10, 2 ** 53 - 1, 1_764_000_000_000, -1),
  fc.constantFrom('9007199254740993', '9223372036854775000', '-9007199254740993'),
);
/** Timestamp deltas: within int32, around 7 varint bytes (49 bits), and past 2^53. */
const timestampDelta = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.constantFrom(2 ** 48 - 1, -(2 ** 48), 2 ** 48, -(2 ** 48) - 1, 2 ** 52, -(2 ** 53) + 1),
  fc.constantFrom('9007199254740993', '-9223372036854775808', '9223372036854775807'),
);
const record = fc.record({
  offsetDelta: fc.oneof(fc.nat({ max: 5000 }), fc.constantFrom(2 ** 31 - 1)),
  timestampDelta,
  key: fc.option(fc.uint8Array({ maxLength: 24 }), { nil: null }),
  value: fc.uint8Array({ maxLength: 64 }),
  headers: fc.constantFrom({}, { a: 'x' }, { b: ['1', '2'], c: 'y' }),
});

/** The records as the consumer sees them, without the shared batch context. */
const visible = (records: readonly DecodedRecord[]) => records.map(({ batchContext: _context, ...rest }) => rest);

describe('kafkajs fetch decoding, patched', () => {
  it('decodes every record batch to the published offsets, timestamps, keys, values and headers', async () => {
    await fc.assert(
      fc.asyncProperty(base, base, fc.array(record, { minLength: 1, maxLength: 20 }), async (firstOffset, firstTimestamp, specs) => {
        const { Long, RecordBatch, Record } = published;
        const records = specs.map((spec) =>
          Record({
            ...spec,
            timestampDelta: Long.fromValue(spec.timestampDelta),
            key: spec.key === null ? null : Buffer.from(spec.key),
            value: Buffer.from(spec.value),
          }),
        );
        const { buffer } = await RecordBatch({
          firstOffset: Long.fromValue(firstOffset),
          firstTimestamp: Long.fromValue(firstTimestamp),
          maxTimestamp: Long.fromValue(firstTimestamp),
          lastOffsetDelta: specs.length - 1,
          records,
        });
        const expected = await published.decodeBatch(buffer);
        const actual = await patched.decodeBatch(buffer);
        expect(visible(actual.records)).toEqual(visible(expected.records));

        // A fetch's batch keeps the messages at or after the offset fetched.
        const middle = expected.records[Math.floor(expected.records.length / 2)]!.offset;
        for (const fetchedOffset of [String(firstOffset), middle, '0', '9223372036854775807']) {
          const partitionData = { partition: 0, highWatermark: '0', messages: expected.records, abortedTransactions: [] };
          const want = new published.Batch('t', fetchedOffset, partitionData).messages.map((m) => m.offset);
          expect(new patched.Batch('t', fetchedOffset, partitionData).messages.map((m) => m.offset)).toEqual(want);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('groups messages per partition in the published order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 }), { maxLength: 600 }), fc.integer({ min: 1, max: 7 }), (keys, partitions) => {
        const messages = keys.map((k, i) => ({ key: String(k), value: String(i) }));
        const args = { topic: 't', partitionMetadata: [{ partitionId: 0 }], messages, partitioner: ({ message }: { message: Message }) => Number(message.key) % partitions };
        expect(patched.group(args)).toEqual(published.group(args));
      }),
      { numRuns: 200 },
    );
  });
});
