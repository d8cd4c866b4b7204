import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Chunk } from '../../src/chunks/chunk.js';
import { chunkRowDeadLetter, deadLetterRecord } from '../../src/pipeline/dead-letter.js';
import { copyHeaders } from '../../src/pipeline/headers.js';
import type { Headers, SourceRecord } from '../../src/pipeline/records.js';

/**
 * Headers named like Object.prototype members, as kafkajs hands them over:
 * its record decoder (used here as is) tests `headers[name] === undefined`
 * on a plain object, so `constructor`, `toString` or `__proto__` arrive as an
 * array holding the inherited member before the value sent. One such record
 * crashed the consumer (test/integration/hostile-stream.test.ts found it).
 */
const require = createRequire(import.meta.url);
type RecordCodec = (record: { key: Buffer | null; value: Buffer | null; headers: Headers }) => { buffer: Buffer };
type DecoderClass = new (buffer: Buffer) => { readVarInt(): number; readBytes(length: number): Buffer };
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as RecordCodec;
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as (decoder: unknown, context: unknown) => { headers: Headers };
const Decoder = require('kafkajs/src/protocol/decoder') as DecoderClass;

/** The headers a consumer gets for a record produced with `headers`, through kafkajs's own encoder and decoder. */
function fetchedHeaders(headers: Headers): Headers {
  const encoded = new Decoder(encodeRecord({ key: null, value: Buffer.from('v'), headers }).buffer);
  const record = new Decoder(encoded.readBytes(encoded.readVarInt()));
  return decodeRecord(record, { firstOffset: '0', firstTimestamp: '0', magicByte: 2, isControlBatch: false }).headers;
}

/** Headers with names no plain object can hold as its own data (`__proto__`), built without a prototype. */
function sent(): Headers {
  const headers = Object.create(null) as Headers;
  headers['__proto__'] = Buffer.from('p');
  headers['constructor'] = [Buffer.from('c1'), Buffer.from('c2')];
  headers['toString'] = Buffer.from('s');
  headers.plain = Buffer.from('x');
  return headers;
}

/** Header names to their values as text, in the order given; what a producer would send. */
function asText(headers: Headers): [string, string | string[]][] {
  return Object.keys(headers).map((name) => {
    const value = headers[name];
    return [name, Array.isArray(value) ? value.map(String) : String(value)];
  });
}

const EXPECTED: [string, string | string[]][] = [['__proto__', 'p'], ['constructor', ['c1', 'c2']], ['toString', 's'], ['plain', 'x']];

describe('copyHeaders', () => {
  it('gives back exactly the headers sent, kafkajs having mixed inherited members into some', () => {
    const fetched = fetchedHeaders(sent());
    // The shape that crashed the consumer: Buffer.from(Object) throws.
    expect(fetched['constructor']).toEqual([Object, Buffer.from('c1'), Buffer.from('c2')]);
    const copy = copyHeaders(fetched);
    expect(Object.getPrototypeOf(copy)).toBeNull();
    expect(asText(copy)).toEqual(EXPECTED);
    // What the producer would send again round-trips through kafkajs unchanged.
    expect(asText(copyHeaders(fetchedHeaders(copy)))).toEqual(EXPECTED);
  });

  it('copies the bytes, so a kept copy does not pin the fetched batch', () => {
    const value = Buffer.from('abc');
    const copy = copyHeaders({ h: value, many: [value, 'text'] });
    // The batch's memory is reused for the next fetch: the copy must not change with it.
    value.fill(0);
    expect(copy.h).toEqual(Buffer.from('abc'));
    expect(copy.many).toEqual([Buffer.from('abc'), 'text']);
  });

  it('keeps such headers on dead letters, from a chunk row and from a record dead-lettered before one', () => {
    const fetched = fetchedHeaders(sent());
    const record: SourceRecord = { offset: '7', key: null, value: Buffer.from('{'), headers: fetched, timestamp: '1' };
    const chunk = new Chunk(0, 4, 1024);
    expect(chunk.append(record.key, record.value, fetched, 7, 1)).toBe('appended');
    for (const dead of [deadLetterRecord(record, 't', 0, 'oversized', 'x'), chunkRowDeadLetter(chunk, 0, 't', 0, 'invalid_json', 'value')]) {
      const original = asText(dead.headers!).filter(([name]) => !name.startsWith('geowindow-'));
      expect(original).toEqual(EXPECTED);
      expect(Object.getPrototypeOf(dead.headers)).toBe(Object.prototype);
    }
  });
});
