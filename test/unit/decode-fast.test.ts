import { describe, expect, it } from 'vitest';
import {
  decodeReading,
  decodeReadingSlow,
  emptyReading,
  type DecodedReading,
  type DecodeLimits,
} from '../../src/decode/decode-reading.js';
import { decodeReadingFast } from '../../src/decode/fast-reading.js';
import { nearestDouble } from '../../src/decode/decimal.js';
import { isoTimeFromBytes } from '../../src/decode/iso-time.js';
import { JsonScanner } from '../../src/decode/json-scanner.js';
import { StringTable } from '../../src/decode/string-table.js';
import { Fleet } from '../../src/fleet/messages.js';
import { Random } from '../../src/fleet/random.js';

const LIMITS: DecodeLimits = { maxBytes: 4096, maxReadings: 8 };

/** Everything a decode gives a caller, as a plain value to compare. */
function decoded(out: DecodedReading) {
  return {
    deviceId: out.deviceId,
    ts: out.ts,
    lon: out.lon,
    lat: out.lat,
    readings: Array.from({ length: out.readingCount }, (_, i) => [out.readingNames[i], out.readingValues[i]]),
  };
}

function fast(value: Buffer): ReturnType<typeof decoded> | null {
  const out = emptyReading();
  return decodeReadingFast(value, 0, value.length, LIMITS, out) ? decoded(out) : null;
}

function slow(value: Buffer): { reason: string | null; detail: string; value: ReturnType<typeof decoded> } {
  const out = emptyReading();
  const reason = decodeReadingSlow(value, LIMITS, out);
  return { reason, detail: out.detail, value: decoded(out) };
}

/** The same decoded reading, NaN and -0 told apart (Object.is on every number). */
function sameReading(a: ReturnType<typeof decoded>, b: ReturnType<typeof decoded>): boolean {
  return (
    a.deviceId === b.deviceId &&
    Object.is(a.ts, b.ts) &&
    Object.is(a.lon, b.lon) &&
    Object.is(a.lat, b.lat) &&
    a.readings.length === b.readings.length &&
    a.readings.every(([name, value], i) => name === b.readings[i]![0] && Object.is(value, b.readings[i]![1]))
  );
}

/**
 * Holds the fast path to the slow one: when it accepts, the slow path accepts
 * the same reading, and the decoder's verdict and detail are the slow path's.
 * Returns what disagrees (empty when all agree) and whether the fast path took the record.
 * Loops collect the disagreements and assert once: an expect per record is slow.
 */
function agreement(value: Buffer): { problems: string[]; accepted: boolean } {
  const text = value.toString('latin1');
  const problems: string[] = [];
  const reference = slow(value);
  const accepted = fast(value);
  if (accepted !== null) {
    if (reference.reason !== null) problems.push(`fast path accepted what JSON.parse refuses (${reference.reason}): ${text}`);
    else if (!sameReading(accepted, reference.value)) problems.push(`fast path read another reading: ${text}`);
  }
  const out = emptyReading();
  const reason = decodeReading(value, LIMITS, out);
  if (reason !== reference.reason) problems.push(`verdict ${String(reason)} instead of ${String(reference.reason)}: ${text}`);
  else if (reason === null && !sameReading(decoded(out), reference.value)) problems.push(`decodeReading read another reading: ${text}`);
  else if (reason !== null && out.detail !== reference.detail) problems.push(`detail ${out.detail} instead of ${reference.detail}: ${text}`);
  return { problems, accepted: accepted !== null };
}

function expectAgreement(value: Buffer): boolean {
  const { problems, accepted } = agreement(value);
  expect(problems).toEqual([]);
  return accepted;
}

function fleetRecords(count: number, seed: number): Buffer[] {
  const fleet = new Fleet({ devices: 200, seed, oversizeBytes: 5000 });
  return Array.from({ length: count }, (_, i) => fleet.good(1_700_000_000_000 + i * 1000).value);
}

describe('decodeReadingFast', () => {
  it("reads every record the fleet sends (flat, ISO time, Feature) on the fast path, exactly as JSON.parse does", () => {
    const records = fleetRecords(4000, 3);
    const problems: string[] = [];
    let accepted = 0;
    for (const record of records) {
      const result = agreement(record);
      problems.push(...result.problems);
      if (result.accepted) accepted++;
    }
    expect(problems).toEqual([]);
    expect(accepted).toBe(records.length);
  });

  it('never changes the verdict of a mutated record, good or bad', () => {
    const random = new Random(11);
    const fleet = new Fleet({ devices: 50, seed: 5, oversizeBytes: 5000 });
    const seeds = [...fleetRecords(300, 9), ...Array.from({ length: 24 }, (_, i) => fleet.bad(i).value)];
    const alphabet = Buffer.from(' \t\n"\\{}[]:,.-+eE0123456789nulltruefalse\u00e9');
    const problems: string[] = [];
    let acceptedMutants = 0;
    for (let n = 0; n < 20_000; n++) {
      const source = seeds[Math.floor(random.next() * seeds.length)]!;
      const bytes = Buffer.from(source);
      if (bytes.length === 0) continue;
      const at = Math.floor(random.next() * bytes.length);
      const byte = alphabet[Math.floor(random.next() * alphabet.length)]!;
      const kind = random.next();
      let mutant: Buffer;
      if (kind < 0.4) {
        bytes[at] = byte;
        mutant = bytes;
      } else if (kind < 0.7) {
        mutant = Buffer.concat([bytes.subarray(0, at), Buffer.from([byte]), bytes.subarray(at)]);
      } else {
        mutant = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      }
      const result = agreement(mutant);
      problems.push(...result.problems);
      if (result.accepted) acceptedMutants++;
    }
    expect(problems).toEqual([]);
    // Many mutants (a changed digit, added whitespace) are still valid and must be read fast.
    expect(acceptedMutants).toBeGreaterThan(2000);
  });

  it.each([
    ['an escape in a device id', '{"device_id":"d\\u0031","ts":1,"lat":1,"lon":2}'],
    ['an escaped key', '{"device_id":"d","ts":1,"l\\u0061t":1,"lon":2}'],
    ['a device id past ASCII', '{"device_id":"caf\u00e9","ts":1,"lat":1,"lon":2}'],
    ['a duplicate field (JSON.parse keeps the last)', '{"device_id":"d","ts":1,"lat":1,"lat":2,"lon":2}'],
    ['a duplicate reading name', '{"device_id":"d","ts":1,"lat":1,"lon":2,"readings":{"t":1,"t":null}}'],
    ['an ISO time with an offset', '{"device_id":"d","ts":"2024-06-01T14:00:00+02:00","lat":1,"lon":2}'],
    ['readings on both levels of a Feature', '{"type":"Feature","readings":{"a":1},"geometry":{"type":"Point","coordinates":[1,2]},"properties":{"device_id":"d","ts":1,"readings":{"b":2}}}'],
    ['deep nesting in an unused field', `{"device_id":"d","ts":1,"lat":1,"lon":2,"x":${'['.repeat(40)}${']'.repeat(40)}}`],
  ])('steps aside on %s, and the slow path decides', (_, text) => {
    const value = Buffer.from(text);
    expect(fast(value)).toBeNull();
    expectAgreement(value);
  });

  it.each([
    ['unused fields of every kind', '{"device_id":"d","ts":1,"lat":1,"lon":2,"meta":{"a":[1,true,false,null,"x",{"b":-0.5e3}]},"n":null}'],
    ['whitespace everywhere JSON allows it', ' {\n\t"device_id" : "d" ,\r\n "ts":1 , "lat" :1,"lon":2 } \n'],
    ['a flat record with a "type" other than Feature', '{"type":"reading","device_id":"d","ts":1,"lat":1,"lon":2}'],
    ['a Point with an altitude', '{"type":"Feature","geometry":{"coordinates":[1,2,300.5],"type":"Point"},"properties":{"device_id":"d","ts":0}}'],
    ['null readings', '{"device_id":"d","ts":1,"lat":1,"lon":2,"readings":null}'],
    ['readings that are all null', '{"device_id":"d","ts":1,"lat":1,"lon":2,"readings":{"a":null,"b":null}}'],
    ['a reading named __proto__', '{"device_id":"d","ts":1,"lat":1,"lon":2,"readings":{"__proto__":3}}'],
  ])('reads %s on the fast path', (_, text) => {
    const value = Buffer.from(text);
    expect(fast(value)).not.toBeNull();
    expect(expectAgreement(value)).toBe(true);
  });

  it('keeps to maxReadings and maxBytes: a record past either is left to the slow path, which refuses it', () => {
    const readings = Object.fromEntries(Array.from({ length: LIMITS.maxReadings + 1 }, (_, i) => [`r${i}`, i]));
    const tooMany = Buffer.from(JSON.stringify({ device_id: 'd', ts: 1, lat: 1, lon: 2, readings }));
    expect(fast(tooMany)).toBeNull();
    expect(slow(tooMany).reason).toBe('too_many_readings');
    const big = Buffer.from(JSON.stringify({ device_id: 'd', ts: 1, lat: 1, lon: 2, pad: 'x'.repeat(LIMITS.maxBytes) }));
    expect(fast(big)).toBeNull();
  });
});

describe('JsonScanner.number', () => {
  const scanner = new JsonScanner();
  /** The number read, or undefined when the scanner bailed or did not read all of it. */
  function scan(text: string): number | undefined {
    scanner.reset(Buffer.from(text), 0, text.length);
    const value = scanner.number();
    return scanner.bailed || scanner.pos !== text.length ? undefined : value;
  }

  it('gives exactly what JSON.parse gives for random doubles, integers and short decimals', () => {
    const random = new Random(23);
    const texts: string[] = ['0', '-0', '0.0', '1e22', '1e23', '9007199254740993', '123456789012345678901234', '5e-324', '1.7976931348623157e308', '1e-7', '0.000001'];
    for (let i = 0; i < 20_000; i++) {
      const r = random.next();
      texts.push(
        JSON.stringify((random.next() - 0.5) * 10 ** Math.floor(random.next() * 40 - 20)),
        String(Math.round(r * 1e6) / 100),
        String(Math.floor(r * 2 ** 53)),
        `${Math.floor(r * 1e4)}.${String(Math.floor(random.next() * 1e9)).padStart(9, '0')}e${Math.floor(random.next() * 60 - 30)}`,
      );
    }
    expect(texts.filter((text) => !Object.is(scan(text), JSON.parse(text) as number))).toEqual([]);
  });

  it.each(['-', '01', '1.', '.5', '1e', '1e+', '+1', '-a'])('bails on %s, which is no JSON number', (text) => {
    const scanner = new JsonScanner();
    scanner.reset(Buffer.from(text), 0, text.length);
    scanner.number();
    // "01" reads as 0 and stops before the 1: the caller then finds no comma or brace and bails.
    expect(scanner.bailed || scanner.pos < text.length).toBe(true);
  });
});

describe('nearestDouble', () => {
  /** Splits a decimal of 16-19 significant digits into nearestDouble's arguments. */
  function parts(digits: string, fractionDigits: number): [number, number, number, number] {
    return [Number(digits.slice(0, 15)), Number(digits.slice(15) || '0'), digits.length - 15, fractionDigits];
  }

  it('rounds 16-19 digit decimals as the engine does, and rarely leaves one undecided', () => {
    const random = new Random(41);
    const wrong: string[] = [];
    let undecided = 0;
    const trials = 100_000;
    for (let i = 0; i < trials; i++) {
      const length = 16 + Math.floor(random.next() * 4);
      let digits = String(1 + Math.floor(random.next() * 9));
      while (digits.length < length) digits += String(Math.floor(random.next() * 10));
      const fractionDigits = Math.floor(random.next() * 23);
      const text = `${digits}e-${fractionDigits}`;
      const value = nearestDouble(...parts(digits, fractionDigits));
      if (Number.isNaN(value)) undecided++;
      else if (value !== Number(text)) wrong.push(text);
    }
    expect(wrong).toEqual([]);
    // Undecided: exact ties such as 6252779001468094.5, which no shortest round-trip printer writes.
    expect(undecided).toBeLessThan(trials / 200);
  });

  it('decides every coordinate a JSON writer prints for a double', () => {
    const random = new Random(43);
    const wrong: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const text = String(random.between(-180, 180));
      const [whole, fraction = ''] = text.replace('-', '').split('.');
      const digits = `${whole}${fraction}`.replace(/^0+/, '');
      if (digits.length < 16) continue;
      if (nearestDouble(...parts(digits, fraction.length)) !== Math.abs(Number(text))) wrong.push(text);
    }
    expect(wrong).toEqual([]);
  });

  it('takes exact midpoints to even', () => {
    // 2^53 + 1 lies halfway between two doubles: ties to even gives 2^53.
    expect(nearestDouble(...parts('9007199254740993', 0))).toBe(9007199254740992);
    // 2^53 + 3 lies halfway too: ties to even rounds up.
    expect(nearestDouble(...parts('9007199254740995', 0))).toBe(9007199254740996);
  });
});

describe('isoTimeFromBytes', () => {
  const at = (text: string) => isoTimeFromBytes(Buffer.from(text), 0, text.length);

  it('agrees with Date.parse on random instants from year 1 to 9999, with and without milliseconds', () => {
    const random = new Random(31);
    const wrong: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const iso = new Date(Math.floor(random.next() * 253_402_300_799_999)).toISOString();
      for (const text of [iso, `${iso.slice(0, 19)}Z`]) if (at(text) !== Date.parse(text)) wrong.push(text);
    }
    expect(wrong).toEqual([]);
  });

  it.each([
    '2023-02-29T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-06-01T24:00:00Z',
    '2024-06-01T12:60:00Z',
    '2024-06-01T12:00:00+02:00',
    '2024-06-01T12:00:00.25Z',
    '2024-06-01 12:00:00Z',
    '2024-06-0xT12:00:00Z',
  ])('gives NaN for %s, which it leaves to Date.parse and the calendar check', (text) => {
    expect(at(text)).toBeNaN();
  });
});

describe('StringTable', () => {
  it('gives the same string object for the same bytes, and the right string after it starts over', () => {
    const table = new StringTable(4);
    const bytes = Buffer.from('alpha beta gamma delta epsilon alpha');
    const alpha = table.intern(bytes, 0, 5);
    expect(alpha).toBe('alpha');
    expect(table.intern(bytes, 31, 36)).toBe(alpha);
    for (const [start, end, text] of [[6, 10, 'beta'], [11, 16, 'gamma'], [17, 22, 'delta']] as const) {
      expect(table.intern(bytes, start, end)).toBe(text);
    }
    expect(table.size).toBe(4);
    expect(table.intern(bytes, 23, 30)).toBe('epsilon');
    expect(table.size).toBe(1);
    expect(table.intern(bytes, 0, 5)).toBe('alpha');
  });
});
