/**
 * kafkajs's produce encoding as scripts/patch-kafkajs.mjs patches it gives
 * the published code's bytes. Both are copies of the installed kafkajs in a
 * temporary folder, put in each state by the script itself. The patched
 * encoders no longer zero-fill their buffers: while they encode here, their
 * buffers come filled with a byte other than zero, so a byte they skip shows.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { publishedAndPatchedKafkajs } from '../support/kafkajs-copies.js';

/** Date.now while requests are encoded: messages without a timestamp take it. */
const NOW = 1_764_000_000_000;
/** What the patched encoders' buffers hold before they are written. */
const DIRT = 0xa5;

afterEach(() => vi.restoreAllMocks());

/** The parts of kafkajs's Encoder the tests call. */
interface Encoder {
  readonly buf: Buffer;
  readonly offset: number;
  readonly buffer: Buffer;
}
interface EncoderClass {
  new (initialSize?: number): Encoder;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: number): number;
}
type Method = (this: Encoder, ...args: unknown[]) => Encoder;
const call = (encoder: Encoder, method: string, ...args: unknown[]) => (encoder as unknown as Record<string, Method>)[method]!.apply(encoder, args);

interface Kafkajs {
  readonly Encoder: EncoderClass;
  readonly crc32C: (buffer: Buffer) => number;
  readonly Record: (record: Record<string, unknown>) => Encoder;
  /** One produce request as kafkajs's connection sends it: the request, then its header. */
  readonly encodeProduce: (request: ProduceRequest) => Promise<Buffer>;
}

function kafkajs(dir: string): Kafkajs {
  const load = createRequire(join(dir, 'index.js'));
  const produce = load('./src/protocol/requests/produce/v3/request.js') as (request: ProduceRequest) => unknown;
  const wrap = load('./src/protocol/request.js') as (options: { correlationId: number; clientId: string; request: unknown }) => Promise<Encoder>;
  return {
    Encoder: load('./src/protocol/encoder.js') as EncoderClass,
    crc32C: load('./src/protocol/recordBatch/crc32C/crc32C.js') as Kafkajs['crc32C'],
    Record: load('./src/protocol/recordBatch/record/v0/index.js') as Kafkajs['Record'],
    encodeProduce: async (request) => (await wrap({ correlationId: 7, clientId: 'geowindow', request: produce(request) })).buffer,
  };
}

const copies = publishedAndPatchedKafkajs('patch-kafkajs-encode');
const published = kafkajs(copies.published);
const patched = kafkajs(copies.patched);

/** Buffer.allocUnsafe hands out buffers full of DIRT (the published encoders use Buffer.alloc, which it does not touch). */
function dirtyAllocations() {
  const alloc = Buffer.alloc.bind(Buffer);
  return vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => alloc(size, DIRT));
}

/** Runs `encode` with published and patched kafkajs (the patched with dirty allocations) and expects the same bytes. */
async function expectSameBytes(encode: (k: Kafkajs) => Buffer | Promise<Buffer>): Promise<void> {
  vi.spyOn(Date, 'now').mockReturnValue(NOW);
  const expected = await encode(published);
  const dirty = dirtyAllocations();
  const actual = await encode(patched);
  dirty.mockRestore();
  expect(actual.equals(expected), `patched ${actual.toString('hex')}\npublished ${expected.toString('hex')}`).toBe(true);
}

// Strings of any code point, lone surrogates too (UTF-8 writes them as U+FFFD).
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const codePoint = fc.oneof({ weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: loneSurrogate });
const text = fc.string({ unit: codePoint, maxLength: 40 });
const bytes = fc.uint8Array({ maxLength: 64 }).map((array) => Buffer.from(array));
const keyOrValue = fc.oneof(fc.constant(null), fc.constant(''), fc.constant(Buffer.alloc(0)), text, bytes);
const headerValue = fc.oneof(text, bytes);
const headers = fc.dictionary(text, fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 })), { maxKeys: 4 });
/** Near NOW (deltas within int32) or up to 2^33 ms away (beyond), as numbers or as strings. */
const timestamp = fc
  .oneof(fc.integer({ min: NOW - 86_400_000, max: NOW + 86_400_000 }), fc.integer({ min: NOW - 2 ** 33, max: NOW + 2 ** 33 }))
  .chain((ms) => fc.constantFrom<number | string>(ms, String(ms)));
const message = fc.record({ key: keyOrValue, value: keyOrValue, headers, timestamp }, { requiredKeys: ['value'] });

interface ProduceRequest {
  readonly acks: number;
  readonly timeout: number;
  readonly transactionalId?: string;
  readonly topicData: readonly { topic: string; partitions: readonly { partition: number; firstSequence?: number; messages: readonly unknown[] }[] }[];
}
const produceRequest: fc.Arbitrary<ProduceRequest> = fc.record(
  {
    acks: fc.constantFrom(-1, 0, 1),
    timeout: fc.nat(),
    transactionalId: fc.string({ minLength: 1, maxLength: 10 }),
    topicData: fc.array(
      fc.record({
        topic: fc.string({ minLength: 1, maxLength: 20 }),
        partitions: fc.array(
          fc.record({ partition: fc.nat(100), firstSequence: fc.nat(), messages: fc.array(message, { minLength: 1, maxLength: 25 }) }, { requiredKeys: ['partition', 'messages'] }),
          { minLength: 1, maxLength: 3 },
        ),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  },
  { requiredKeys: ['acks', 'timeout', 'topicData'] },
);

/** int32 values at and around every power of two (varint byte boundaries), both signs. */
const INT32_EDGES = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)].concat(
  Array.from({ length: 31 }, (_, k) => [2 ** k - 1, 2 ** k, 2 ** k + 1]).flatMap((near) => near.flatMap((v) => [v, -v])),
).filter((v) => v >= -(2 ** 31) && v <= 2 ** 31 - 1);

describe('kafkajs produce encoding, published and patched', () => {
  it('encodes random produce requests to the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(produceRequest, (request) => expectSameBytes((k) => k.encodeProduce(request))),
      { numRuns: 300 },
    );
  });

  it('encodes a request of 3,000 records of ~850 B, strings and Buffers, to the same bytes', async () => {
    const value = (i: number) => `{"zone":"${i}","pm25":${i / 7},"é€😀":"${'x'.repeat(800)}"}`;
    const messages = Array.from({ length: 3000 }, (_, i) => ({
      key: i % 3 === 0 ? null : i % 3 === 1 ? `zone:${i}:${'k'.repeat(90)}` : Buffer.from(`zone:${i}`),
      value: i % 2 === 0 ? value(i) : Buffer.from(value(i)),
      ...(i % 100 === 0 ? { headers: { 'geowindow-reason': 'late', trace: [`${i}`, Buffer.from([i & 0xff])] } } : {}),
      ...(i % 10 === 0 ? { timestamp: NOW + i * 1000 } : {}),
    }));
    await expectSameBytes((k) => k.encodeProduce({ acks: -1, timeout: 30_000, topicData: [{ topic: 'out', partitions: [{ partition: 2, messages }] }] }));
  });

  it('encodes timestamp deltas at the int32 edges and beyond them to the same bytes', async () => {
    const deltas = [...INT32_EDGES, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER - NOW];
    // In a request the deltas count from the timestamp kafkajs takes as the first (it sorts them as strings), some below it.
    const messages = deltas.map((delta, i) => ({ key: `${i}`, value: `${delta}`, timestamp: NOW + delta }));
    await expectSameBytes((k) => k.encodeProduce({ acks: 1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages }] }] }));
    for (const timestampDelta of deltas) {
      await expectSameBytes((k) => k.Record({ offsetDelta: 3, timestampDelta, key: 'k', value: 'v' }).buffer);
    }
  });

  it('takes from a message only its own enumerable properties, as the published spread does', async () => {
    const inherited = Object.create({ key: 'inherited', headers: { h: 'inherited' } }) as Record<string, unknown>;
    inherited.value = 'own';
    Object.defineProperty(inherited, 'headers', { value: { h: 'own, not enumerable' }, enumerable: false });
    const getter = { value: 'v', get key() { return 'from a getter'; } };
    const messages = [inherited, getter, { key: 'k', value: 'v', offsetDelta: 99, timestampDelta: 99 }];
    await expectSameBytes((k) => k.encodeProduce({ acks: -1, timeout: 5, topicData: [{ topic: 't', partitions: [{ partition: 0, messages }] }] }));
  });

  it('writes the same bytes with every Encoder write method, in any order', async () => {
    // Each operation: a write method and its argument (nested encoders are built in the encoder's own copy).
    const int = (bits: number) => fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 });
    const operation = fc.oneof(
      fc.tuple(fc.constantFrom('writeInt8'), int(8)),
      fc.tuple(fc.constantFrom('writeInt16'), int(16)),
      fc.tuple(fc.constantFrom('writeInt32', 'writeVarInt'), int(32)),
      fc.tuple(fc.constantFrom('writeUInt32', 'writeUVarInt'), fc.nat({ max: 2 ** 32 - 1 })),
      fc.tuple(fc.constantFrom('writeInt64', 'writeVarLong'), fc.maxSafeInteger()),
      fc.tuple(fc.constantFrom('writeDouble'), fc.double()),
      fc.tuple(fc.constantFrom('writeBoolean'), fc.boolean()),
      fc.tuple(fc.constantFrom('writeString', 'writeVarIntString', 'writeUVarIntString'), fc.option(text)),
      fc.tuple(fc.constantFrom('writeBytes', 'writeVarIntBytes', 'writeUVarIntBytes'), fc.option(fc.oneof(text, bytes))),
      fc.tuple(fc.constantFrom('writeBuffer'), bytes),
      fc.tuple(fc.constantFrom('writeArray', 'writeNullableArray'), fc.oneof(fc.array(int(32), { maxLength: 5 }), fc.array(text, { maxLength: 5 }))),
      fc.tuple(fc.constantFrom('writeEncoder', 'writeEncoderArray', 'writeVarIntArray', 'writeUVarIntArray'), fc.array(text, { minLength: 1, maxLength: 3 })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 40 }), fc.nat(2000), (operations, initialSize) =>
        expectSameBytes(({ Encoder }) => {
          const encoder = new Encoder(initialSize);
          for (const [method, argument] of operations) {
            if (method === 'writeEncoder') call(encoder, method, call(new Encoder(), 'writeString', (argument as string[])[0]));
            else if (method.endsWith('EncoderArray') || method.endsWith('VarIntArray')) {
              const nested = (argument as string[]).map((s) => call(new Encoder(), 'writeVarIntString', s));
              call(encoder, method, nested, 'object');
            } else call(encoder, method, argument);
          }
          return encoder.buffer;
        }),
      ),
      { numRuns: 500 },
    );
  });

  it('writes unsigned varints of any number the same, odd ones too', async () => {
    const odd = [2 ** 32, 2 ** 32 + 129, 2 ** 40, 2 ** 53, -1, -129, -(2 ** 31), 1.5, -0.5, Number.NaN, Number.POSITIVE_INFINITY];
    for (const value of [...INT32_EDGES.map((v) => v >>> 0), ...odd]) {
      await expectSameBytes(({ Encoder }) => call(new Encoder(1), 'writeUVarInt', value).buffer);
    }
  });

  it('gives an int32 the same zig-zag varint as a varlong: the bytes the patched record writes for such timestamp deltas', () => {
    const check = (value: number) => {
      const varlong = call(new published.Encoder(), 'writeVarLong', value).buffer;
      expect(call(new patched.Encoder(), 'writeVarInt', value).buffer.equals(varlong), String(value)).toBe(true);
      expect(published.Encoder.sizeOfVarInt(value)).toBe(published.Encoder.sizeOfVarLong(value));
    };
    INT32_EDGES.forEach(check);
    fc.assert(fc.property(fc.integer(), (value) => check(value)), { numRuns: 2000 });
  });

  it('makes each record in one buffer of its size, which never grows', () => {
    fc.assert(
      fc.property(keyOrValue, keyOrValue, fc.integer(), fc.nat(), (key, value, timestampDelta, offsetDelta) => {
        const allocations = vi.spyOn(Buffer, 'allocUnsafe');
        const record = patched.Record({ key, value, timestampDelta, offsetDelta });
        const sizes = allocations.mock.calls.map(([size]) => size);
        allocations.mockRestore();
        // One buffer, of the Encoder's power of two above the record's final size.
        expect(sizes).toEqual([2 ** (32 - Math.clz32(record.offset))]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('crc32C, published and patched (slicing-by-8)', () => {
  it('gives the CRC-32C check value for "123456789"', () => {
    expect(patched.crc32C(Buffer.from('123456789')).toString(16)).toBe('e3069283');
    expect(published.crc32C(Buffer.from('123456789')).toString(16)).toBe('e3069283');
  });

  it('agrees on random buffers of every length from 0 to 2,000, at any offset in their memory', () => {
    const random = fc.sample(fc.uint8Array({ minLength: 2003, maxLength: 2003 }), { numRuns: 1, seed: 42 })[0]!;
    const backing = Buffer.from(random);
    for (let length = 0; length <= 2000; length++) {
      for (const offset of [0, 1, 3]) {
        const buffer = backing.subarray(offset, offset + length);
        expect(patched.crc32C(buffer), `length ${length}, offset ${offset}`).toBe(published.crc32C(buffer));
      }
    }
    const fresh = fc.sample(fc.uint8Array({ maxLength: 2000 }), { numRuns: 200, seed: 7 });
    for (const array of fresh) expect(patched.crc32C(Buffer.from(array))).toBe(published.crc32C(Buffer.from(array)));
  });
});
