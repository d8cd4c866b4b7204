import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeReading, decodeReadingAt, emptyReading, type DecodedReading, type DecodeLimits } from '../../src/decode/decode-reading.js';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../../src/decode/reasons.js';
import { oracleDecode, type OracleVerdict } from '../support/decode-oracle.js';
import { arbHostile, arbValid, hostileFamilies, paddedRecord, PROTO_NAMES, type PayloadOptions } from '../support/hostile-payloads.js';
import { num, obj, str, writeJson } from '../support/json-doc.js';

/**
 * Hostile input (issue 11): generated payloads thrown at the decoder, each
 * held to the oracle (test/support/decode-oracle.ts: a fatal UTF-8 decode,
 * JSON.parse and the README's rules, written apart from src/decode/). The
 * decoder must never throw, never touch a prototype, and give every payload
 * the oracle's verdict: its reason, or the same reading.
 */

const MIB = 1024 * 1024;
/** Generous limits, and tight ones under which many of the same payloads are oversized or carry too many readings. */
const LIMITS: readonly DecodeLimits[] = [
  { maxBytes: 2 * MIB, maxReadings: 8 },
  { maxBytes: 600, maxReadings: 2 },
];
const OPTIONS: PayloadOptions = { maxReadings: 8, maxHugeChars: 20_000 };
const VALID_RUNS = 3000;
const FAMILY_RUNS = 300;
const MIXED_RUNS = 2000;
/** Generating and decoding thousands of payloads, some of them megabytes, takes seconds. */
const PROPERTY_TIMEOUT_MS = 60_000;
/** Reasons only the pipeline gives (event time, failed workers), never the decoder. */
const NOT_DECODER_REASONS = new Set<DeadLetterReason>(['late', 'worker_out_of_memory', 'aggregation_failed']);

/** The decoder's scratch is reused across records, as the workers reuse theirs. */
const scratch = emptyReading();
const DECODED_KEYS = Reflect.ownKeys(emptyReading()).sort();
/** Bytes the worker's chunk holds around a record: digits and brackets that would extend it if read past its end. */
const FRAME = Buffer.from('0]}"9e1,');

/** Own property keys and values of the built-in prototypes, to find any write to them. */
function prototypeSnapshot(): Map<string, unknown> {
  const snapshot = new Map<string, unknown>();
  for (const [name, proto] of Object.entries({ Object: Object.prototype, Array: Array.prototype, String: String.prototype, Number: Number.prototype, Function: Function.prototype })) {
    for (const key of Reflect.ownKeys(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
      snapshot.set(`${name}.${String(key)}`, 'value' in descriptor ? descriptor.value : descriptor.get);
    }
    snapshot.set(`${name}.[[Prototype]]`, Object.getPrototypeOf(proto));
  }
  return snapshot;
}

const PRISTINE = prototypeSnapshot();

function prototypeChanges(): string[] {
  const now = prototypeSnapshot();
  const changes = [...now].filter(([key, value]) => PRISTINE.get(key) !== value || !PRISTINE.has(key)).map(([key]) => `${key} changed`);
  for (const key of PRISTINE.keys()) if (!now.has(key)) changes.push(`${key} removed`);
  // What a polluted prototype would hand every object, the decoder's reads included.
  const probe: Record<string, unknown> = {};
  for (const name of ['device_id', 'ts', 'lat', 'lon', 'readings', 'type', 'geometry', 'properties', 'coordinates', 'polluted']) {
    if (probe[name] !== undefined) changes.push(`every object has ${name}`);
  }
  return changes;
}

/** What the decoder read, as plain values to compare with the oracle's. */
function reading(out: DecodedReading) {
  const readings = new Map<string, number | null>();
  for (let i = 0; i < out.readingCount; i++) {
    const value = out.readingValues[i]!;
    readings.set(out.readingNames[i]!, Number.isNaN(value) ? null : value);
  }
  return { deviceId: out.deviceId, ts: out.ts, lon: out.lon, lat: out.lat, readings, count: out.readingCount };
}

/** The ways the decoder's result differs from the oracle's verdict (empty: none). */
function verdictDifferences(reason: DeadLetterReason | null, out: DecodedReading, expected: OracleVerdict): string[] {
  if (!expected.ok) return reason === expected.reason ? [] : [`reason ${String(reason)}, oracle ${expected.reason}`];
  if (reason !== null) return [`refused as ${reason} (${out.detail}), oracle accepts`];
  const got = reading(out);
  const want = expected.reading;
  const problems: string[] = [];
  if (got.deviceId !== want.deviceId) problems.push(`device ${JSON.stringify(got.deviceId)}, oracle ${JSON.stringify(want.deviceId)}`);
  for (const field of ['ts', 'lon', 'lat'] as const) {
    if (!Object.is(got[field], want[field])) problems.push(`${field} ${got[field]}, oracle ${want[field]}`);
  }
  if (got.count !== want.readings.size || got.readings.size !== want.readings.size) {
    problems.push(`${got.count} readings, oracle ${want.readings.size}`);
  }
  for (const [name, value] of want.readings) {
    if (!got.readings.has(name) || !Object.is(got.readings.get(name), value)) {
      problems.push(`reading ${JSON.stringify(name)} = ${got.readings.get(name)}, oracle ${value}`);
    }
  }
  return problems;
}

/** The decoder's own guarantees on what it hands back, whatever the input. */
function outProblems(out: DecodedReading): string[] {
  const problems: string[] = [];
  if (Object.getPrototypeOf(out) !== Object.prototype) problems.push('out lost its prototype');
  if (JSON.stringify(Reflect.ownKeys(out).sort()) !== JSON.stringify(DECODED_KEYS)) problems.push(`out has keys ${Reflect.ownKeys(out).map(String)}`);
  for (const array of [out.readingNames, out.readingValues]) if (Object.getPrototypeOf(array) !== Array.prototype) problems.push('a readings array lost its prototype');
  for (let i = 0; i < out.readingCount; i++) {
    if (typeof out.readingNames[i] !== 'string' || typeof out.readingValues[i] !== 'number') problems.push(`reading ${i} is not a name and a number`);
  }
  if (typeof out.detail !== 'string' || typeof out.deviceId !== 'string') problems.push('detail or deviceId is not a string');
  return problems;
}

function describePayload(value: Buffer | null): string {
  if (value === null) return 'null';
  const shown = value.subarray(0, 240).toString('latin1');
  return `${value.length} bytes: ${JSON.stringify(shown)}${value.length > 240 ? '...' : ''}`;
}

/** Verdicts seen, by reason ('accepted' for null), over every property: the generators must reach them all. */
const seen = new Map<string, number>();

/**
 * Decodes `value` under `limits` twice, alone (decodeReading) and in the
 * middle of other bytes as in a chunk (decodeReadingAt), and lists every way
 * either differs from the oracle or breaks the decoder's guarantees.
 */
function problemsWith(value: Buffer | null, limits: DecodeLimits): string[] {
  const expected = oracleDecode(value, limits);
  const problems: string[] = [];
  let reason: DeadLetterReason | null;
  try {
    reason = decodeReading(value, limits, scratch);
  } catch (error) {
    return [`decodeReading threw ${String(error)}`];
  }
  seen.set(reason ?? 'accepted', (seen.get(reason ?? 'accepted') ?? 0) + 1);
  problems.push(...verdictDifferences(reason, scratch, expected), ...outProblems(scratch));
  if (value !== null) {
    const framed = Buffer.concat([FRAME, value, FRAME]);
    try {
      const framedReason = decodeReadingAt(framed, FRAME.length, FRAME.length + value.length, limits, scratch);
      problems.push(...verdictDifferences(framedReason, scratch, expected).map((p) => `in a chunk: ${p}`));
    } catch (error) {
      problems.push(`decodeReadingAt threw ${String(error)}`);
    }
  }
  problems.push(...prototypeChanges());
  return problems;
}

function assertAgrees(value: Buffer | null, family: string): void {
  for (const limits of LIMITS) {
    const problems = problemsWith(value, limits);
    if (problems.length > 0) {
      throw new Error(`${family} payload (maxBytes ${limits.maxBytes}, maxReadings ${limits.maxReadings}) ${describePayload(value)}:\n  ${problems.join('\n  ')}`);
    }
  }
}

describe('decodeReading on hostile input: never throws, never pollutes, agrees with JSON.parse and the README', () => {
  afterAll(() => {
    expect(prototypeChanges()).toEqual([]);
  });

  it('accepts every valid record, written every valid way, with the values JSON.parse gives', () => {
    fc.assert(
      fc.property(arbValid(OPTIONS), ({ value }) => {
        // The generator's own check: a valid record is valid by the oracle, so acceptance is exercised.
        const verdict = oracleDecode(value, LIMITS[0]!);
        if (!verdict.ok) throw new Error(`the valid generator made a record the oracle refuses (${verdict.reason}): ${describePayload(value)}`);
        assertAgrees(value, 'valid');
      }),
      { numRuns: VALID_RUNS },
    );
  }, PROPERTY_TIMEOUT_MS);

  it.each(Object.keys(hostileFamilies(OPTIONS)))('gives every %s payload the oracle\'s verdict', (name) => {
    const arbitrary = hostileFamilies(OPTIONS)[name]!;
    fc.assert(
      fc.property(arbitrary, ({ family, value }) => assertAgrees(value, family)),
      { numRuns: FAMILY_RUNS },
    );
  }, PROPERTY_TIMEOUT_MS);

  it('gives a mixed stream of every family the oracle\'s verdicts (other seeds, other sizes)', () => {
    fc.assert(
      fc.property(arbHostile(OPTIONS), ({ family, value }) => assertAgrees(value, family)),
      { numRuns: MIXED_RUNS },
    );
  }, PROPERTY_TIMEOUT_MS);

  it('reaches every reason the decoder can give, and acceptance, across the properties above', () => {
    const decoderReasons = DEAD_LETTER_REASONS.filter((reason) => !NOT_DECODER_REASONS.has(reason));
    expect(decoderReasons.filter((reason) => (seen.get(reason) ?? 0) === 0)).toEqual([]);
    expect(seen.get('accepted') ?? 0).toBeGreaterThan(VALID_RUNS);
  });
});

describe('decodeReading on extreme payloads', () => {
  const DEPTH = 100_000;

  it.each([
    ['a top-level array', '', '', 'not_an_object'],
    ['an ignored member', '{"device_id":"d","ts":1,"lat":1,"lon":2,"deep":', '}', null],
    ['a reading', '{"device_id":"d","ts":1,"lat":1,"lon":2,"readings":{"r":', '}}', 'invalid_field'],
    ['the geometry type', '{"type":"Feature","properties":{"device_id":"d","ts":1},"geometry":{"coordinates":[1,2],"type":', '}}', 'unsupported_geometry'],
    ['the coordinates', '{"type":"Feature","properties":{"device_id":"d","ts":1},"geometry":{"type":"Point","coordinates":', '}}', 'invalid_field'],
  ])('reads %s nested 100,000 deep without throwing', (_, head, tail, reason) => {
    const deep = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
    const value = Buffer.from(head + deep + tail);
    expect(oracleDecode(value, LIMITS[0]!)).toMatchObject(reason === null ? { ok: true } : { ok: false, reason });
    assertAgrees(value, 'deep');
    const unbalanced = Buffer.from(head + deep.slice(0, -1) + tail);
    assertAgrees(unbalanced, 'deep, unbalanced');
  });

  it('reads objects nested 100,000 deep in an ignored member, and refuses them unclosed', () => {
    const deep = `${'{"a":'.repeat(DEPTH)}null${'}'.repeat(DEPTH)}`;
    assertAgrees(Buffer.from(`{"device_id":"d","ts":1,"lat":1,"lon":2,"deep":${deep}}`), 'deep objects');
    assertAgrees(Buffer.from(`{"device_id":"d","ts":1,"lat":1,"lon":2,"deep":${deep.slice(0, -1)}}`), 'deep objects, unclosed');
  });

  it('accepts a valid 1 MB record and refuses 1 MB of anything else, each as the oracle does', () => {
    const oneMb = paddedRecord(MIB, 'gps-1');
    expect(oneMb.length).toBe(MIB);
    expect(decodeReading(oneMb, LIMITS[0]!, scratch)).toBeNull();
    const payloads = [
      oneMb,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), oneMb]),
      Buffer.from(oneMb.toString().replace('"pad":"x', '"pad":"\\u0000\\ud800😀')),
      Buffer.concat([oneMb.subarray(0, MIB - 10), Buffer.from([0xc3])]),
      Buffer.alloc(MIB, 'x'),
      Buffer.alloc(MIB, 0xff),
      Buffer.alloc(MIB, ' '),
      Buffer.from(`[${'1,'.repeat(MIB / 2 - 1)}1]`),
      Buffer.from(writeJson(obj([['device_id', str('é'.repeat(MIB / 4))], ['ts', num(1)], ['lat', num(1)], ['lon', num(2)]]))),
      Buffer.from(writeJson(obj([['device_id', str('d')], ['ts', num(1)], ['lat', num(1)], ['lon', num(2)], ['readings', obj(Array.from({ length: 40_000 }, (_, i) => [`r${i}`, num(i)] as const))]]))),
      paddedRecord(2 * MIB + 1, 'gps-2'),
    ];
    for (const value of payloads) assertAgrees(value, '1 MB');
  });

  it.each([
    ['null (a tombstone)', null],
    ['zero bytes', Buffer.alloc(0)],
    ['a UTF-8 byte order mark alone', Buffer.from([0xef, 0xbb, 0xbf])],
    ['a byte order mark before a valid record', Buffer.from('\ufeff{"device_id":"d","ts":1,"lat":1,"lon":2}')],
    ['a UTF-16 byte order mark', Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00])],
    ['JSON whitespace only', Buffer.from(' \t\r\n')],
    ['a NUL byte', Buffer.from([0])],
  ])('classifies %s as the oracle does', (_, value) => {
    assertAgrees(value, 'edge');
  });

  it.each(PROTO_NAMES)('reads %s as a plain name at every level, never as a prototype', (name) => {
    const bait = `{"lat":1,"lon":2,"device_id":"d","ts":1,"type":"Point","coordinates":[1,2]}`;
    const records = [
      `{"${name}":${bait},"device_id":"d","ts":1,"lon":2}`,
      `{"device_id":"d","ts":1,"lat":1,"lon":2,"readings":{"${name}":7}}`,
      `{"device_id":"d","ts":1,"lat":1,"lon":2,"readings":{"${name}":${bait}}}`,
      `{"type":"Feature","geometry":{"${name}":${bait}},"properties":{"device_id":"d","ts":1}}`,
      `{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"${name}":${bait}}}`,
      `{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"${name}":${bait}}`,
      `{"type":"Feature","geometry":{"type":${bait},"coordinates":[1,2]},"properties":{"device_id":"d","ts":1}}`,
      `{"device_id":"${name}","ts":1,"lat":1,"lon":2,"${name}":{"${name}":{"${name}":null}}}`,
    ];
    for (const record of records) assertAgrees(Buffer.from(record), name);
  });
});
