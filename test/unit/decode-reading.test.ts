import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { decodeReading, emptyReading, type DecodedReading, type DecodeLimits } from '../../src/decode/decode-reading.js';
import type { DeadLetterReason } from '../../src/decode/reasons.js';
import { jsonBytes } from './helpers.js';

const LIMITS: DecodeLimits = { maxBytes: 1024, maxReadings: 4 };

/** 2024-06-01T12:00:00Z, the time of the flat test record. */
const JUNE_FIRST_NOON = Date.UTC(2024, 5, 1, 12, 0, 0);

function flat(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { device_id: 'dev-7', ts: JUNE_FIRST_NOON, lat: 47.3769, lon: 8.5417, readings: { temp_c: 21.5 }, ...overrides };
}

function without(record: Record<string, unknown>, field: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([key]) => key !== field));
}

function feature(geometry: unknown, properties: unknown): Record<string, unknown> {
  const record: Record<string, unknown> = { type: 'Feature' };
  if (geometry !== undefined) record.geometry = geometry;
  if (properties !== undefined) record.properties = properties;
  return record;
}

/** The decoded readings as an object, null where the sensor reported nothing. */
function readingsOf(out: DecodedReading): Record<string, number | null> {
  const readings: Record<string, number | null> = {};
  for (let i = 0; i < out.readingCount; i++) {
    const value = out.readingValues[i]!;
    readings[out.readingNames[i]!] = Number.isNaN(value) ? null : value;
  }
  return readings;
}

function decode(value: Buffer | null, limits: DecodeLimits = LIMITS): { reason: DeadLetterReason | null; out: DecodedReading } {
  const out = emptyReading();
  return { reason: decodeReading(value, limits, out), out };
}

/** Decodes text that must be refused, returning the reason and the detail. */
function refusal(value: Buffer | string | null | Record<string, unknown>, limits: DecodeLimits = LIMITS) {
  const bytes = value === null || Buffer.isBuffer(value) ? value : typeof value === 'string' ? Buffer.from(value) : jsonBytes(value);
  const { reason, out } = decode(bytes, limits);
  return { reason, detail: out.detail };
}

describe('decodeReading: valid records', () => {
  it('decodes a flat record with an epoch-millisecond ts', () => {
    const { reason, out } = decode(jsonBytes(flat()));
    expect(reason).toBeNull();
    expect(out).toMatchObject({ deviceId: 'dev-7', ts: JUNE_FIRST_NOON, lat: 47.3769, lon: 8.5417 });
    expect(readingsOf(out)).toEqual({ temp_c: 21.5 });
  });

  it.each([
    ['UTC with Z', '2024-06-01T12:00:00Z', JUNE_FIRST_NOON],
    ['a +02:00 offset (two hours ahead of UTC)', '2024-06-01T14:00:00+02:00', JUNE_FIRST_NOON],
    ['a -0530 offset without colon', '2024-06-01T06:30:00-0530', JUNE_FIRST_NOON],
    ['fractional seconds', '2024-06-01T12:00:00.250Z', JUNE_FIRST_NOON + 250],
    ['no seconds', '2024-06-01T12:00Z', JUNE_FIRST_NOON],
    ['a leap day in a leap year', '2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['a leap day of a century divisible by 400', '2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
  ])('decodes an ISO-8601 ts string with %s', (_, ts, expected) => {
    const { reason, out } = decode(jsonBytes(flat({ ts })));
    expect(reason).toBeNull();
    expect(out.ts).toBe(expected);
  });

  it('decodes a GeoJSON Point Feature: coordinates are [lon, lat], fields come from properties', () => {
    const { reason, out } = decode(
      jsonBytes(
        feature(
          { type: 'Point', coordinates: [8.5417, 47.3769] },
          { device_id: 'dev-9', ts: '2024-06-01T12:00:00Z', readings: { pm25: 12, no2: 30.5 } },
        ),
      ),
    );
    expect(reason).toBeNull();
    expect(out).toMatchObject({ deviceId: 'dev-9', ts: JUNE_FIRST_NOON, lon: 8.5417, lat: 47.3769 });
    expect(readingsOf(out)).toEqual({ pm25: 12, no2: 30.5 });
  });

  it('accepts a Point with an altitude as third coordinate', () => {
    const { reason, out } = decode(
      jsonBytes(feature({ type: 'Point', coordinates: [-0.1276, 51.5072, 35] }, { device_id: 'd', ts: 0 })),
    );
    expect(reason).toBeNull();
    expect([out.lon, out.lat]).toEqual([-0.1276, 51.5072]);
  });

  it('keeps readings whose value is null (the sensor reported nothing)', () => {
    const { reason, out } = decode(jsonBytes(flat({ readings: { temp_c: 19, humidity: null } })));
    expect(reason).toBeNull();
    expect(readingsOf(out)).toEqual({ temp_c: 19, humidity: null });
  });

  it.each([
    ['absent', undefined],
    ['null', null],
  ])('gives no readings when they are %s', (_, readings) => {
    const record = readings === undefined ? without(flat(), 'readings') : flat({ readings });
    const { reason, out } = decode(jsonBytes(record));
    expect(reason).toBeNull();
    expect(out.readingCount).toBe(0);
  });

  it('accepts an empty readings object', () => {
    const { reason, out } = decode(jsonBytes(flat({ readings: {} })));
    expect(reason).toBeNull();
    expect(readingsOf(out)).toEqual({});
  });

  it('accepts a value of exactly maxBytes', () => {
    const text = JSON.stringify(flat());
    const padded = Buffer.from(text + ' '.repeat(LIMITS.maxBytes - Buffer.byteLength(text)));
    expect(padded.length).toBe(LIMITS.maxBytes);
    expect(decode(padded).reason).toBeNull();
  });

  it('accepts exactly maxReadings readings', () => {
    const readings = { a: 1, b: 2, c: 3, d: 4 };
    expect(Object.keys(readings)).toHaveLength(LIMITS.maxReadings);
    expect(decode(jsonBytes(flat({ readings }))).reason).toBeNull();
  });

  it.each([
    ['lat', -90],
    ['lat', 90],
    ['lon', -180],
    ['lon', 180],
  ])('accepts the boundary value %s = %d', (field, value) => {
    const { reason, out } = decode(jsonBytes(flat({ [field]: value })));
    expect(reason).toBeNull();
    expect(out[field as 'lat' | 'lon']).toBe(value);
  });

  it('accepts ts 0 (the epoch itself)', () => {
    const { reason, out } = decode(jsonBytes(flat({ ts: 0 })));
    expect(reason).toBeNull();
    expect(out.ts).toBe(0);
  });

  it('reuses the caller-owned out object: a second record overwrites every field', () => {
    const out = emptyReading();
    expect(decodeReading(jsonBytes(flat()), LIMITS, out)).toBeNull();
    const second = {
      device_id: 'dev-2',
      ts: '2020-01-01T00:00:00Z',
      lat: -33.8688,
      lon: 151.2093,
    };
    expect(decodeReading(jsonBytes(second), LIMITS, out)).toBeNull();
    expect(out).toMatchObject({
      deviceId: 'dev-2',
      ts: Date.UTC(2020, 0, 1),
      lat: -33.8688,
      lon: 151.2093,
      readingCount: 0,
      detail: '',
    });
  });
});

describe('decodeReading: bad input', () => {
  it.each([
    ['null', null],
    ['zero-length', Buffer.alloc(0)],
  ])('refuses a %s value as empty', (_, value) => {
    expect(refusal(value)).toEqual({ reason: 'empty', detail: 'value' });
  });

  it('refuses a value larger than maxBytes as oversized, naming both sizes', () => {
    const text = JSON.stringify(flat());
    const value = Buffer.from(text + ' '.repeat(LIMITS.maxBytes + 1 - Buffer.byteLength(text)));
    expect(refusal(value)).toEqual({ reason: 'oversized', detail: `${LIMITS.maxBytes + 1} bytes > ${LIMITS.maxBytes}` });
  });

  it('checks the size before parsing: an oversized value is refused even if it is not JSON', () => {
    expect(refusal(Buffer.alloc(2000, 0xff))).toEqual({ reason: 'oversized', detail: '2000 bytes > 1024' });
  });

  it.each([
    ['a lone 0xff byte', Buffer.from([0x7b, 0xff, 0x7d])],
    ['a truncated two-byte sequence', Buffer.concat([Buffer.from('{"device_id":"caf'), Buffer.from([0xc3])])],
    ['a UTF-16 surrogate encoded as UTF-8', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
  ])('refuses bytes that are not UTF-8 (%s)', (_, value) => {
    expect(refusal(value)).toEqual({ reason: 'invalid_utf8', detail: 'value' });
  });

  it.each([
    ['a truncated object', '{"device_id": "d1", "ts": 1'],
    ['single quotes', "{'device_id': 'd1'}"],
    ['a trailing comma', '{"device_id": "d1",}'],
    ['plain text', 'hello'],
  ])('refuses malformed JSON (%s)', (_, text) => {
    expect(refusal(text)).toEqual({ reason: 'invalid_json', detail: 'value' });
  });

  it.each([
    ['NaN as a coordinate', '{"device_id":"d","ts":1,"lat":NaN,"lon":1}'],
    ['Infinity as a reading', '{"device_id":"d","ts":1,"lat":1,"lon":1,"readings":{"t":Infinity}}'],
    ['-Infinity as a reading', '{"device_id":"d","ts":1,"lat":1,"lon":1,"readings":{"t":-Infinity}}'],
    ['NaN inside an array', '{"device_id":"d","ts":1,"lat":1,"lon":1,"x":[1,NaN]}'],
  ])('refuses %s as non_finite, not as invalid JSON', (_, text) => {
    expect(refusal(text)).toEqual({ reason: 'non_finite', detail: 'value' });
  });

  it('does not mistake NaN inside a string of otherwise broken JSON for a non-finite number', () => {
    expect(refusal('{"device_id":"NaN", "ts": }')).toEqual({ reason: 'invalid_json', detail: 'value' });
  });

  // 1e999 is valid JSON number syntax that JSON.parse reads as Infinity.
  it.each([
    ['lat', '{"device_id":"d","ts":1,"lat":1e999,"lon":1}', 'lat'],
    ['lon', '{"device_id":"d","ts":1,"lat":1,"lon":-1e999}', 'lon'],
    ['ts', '{"device_id":"d","ts":1e999,"lat":1,"lon":1}', 'ts'],
    ['a reading', '{"device_id":"d","ts":1,"lat":1,"lon":1,"readings":{"temp":1e999}}', 'readings.temp'],
    [
      'a Feature coordinate',
      '{"type":"Feature","geometry":{"type":"Point","coordinates":[1e999,1]},"properties":{"device_id":"d","ts":1}}',
      'geometry.coordinates[0]',
    ],
  ])('refuses a 1e999 %s as non_finite', (_, text, detail) => {
    expect(refusal(text)).toEqual({ reason: 'non_finite', detail });
  });

  it.each([
    ['an array', '[{"device_id":"d"}]'],
    ['a string', '"reading"'],
    ['a number', '42'],
    ['null', 'null'],
    ['a boolean', 'true'],
  ])('refuses JSON that is %s as not_an_object', (_, text) => {
    expect(refusal(text)).toEqual({ reason: 'not_an_object', detail: 'value' });
  });

  it.each(['device_id', 'ts', 'lat', 'lon'])('refuses a flat record without %s as missing_field', (field) => {
    expect(refusal(without(flat(), field))).toEqual({ reason: 'missing_field', detail: field });
  });

  it.each(['device_id', 'ts', 'lat', 'lon'])('treats %s: null as missing', (field) => {
    expect(refusal(flat({ [field]: null }))).toEqual({ reason: 'missing_field', detail: field });
  });

  it.each([
    ['lat as a numeric string', { lat: '47.3' }, 'lat'],
    ['lon as an object', { lon: { deg: 8 } }, 'lon'],
    ['device_id as a number', { device_id: 42 }, 'device_id'],
    ['device_id empty', { device_id: '' }, 'device_id'],
    ['device_id longer than 256 characters', { device_id: 'x'.repeat(257) }, 'device_id'],
    ['readings as an array', { readings: [21.5] }, 'readings'],
    ['readings as a number', { readings: 21.5 }, 'readings'],
    ['a reading as a string', { readings: { temp_c: '21.5' } }, 'readings.temp_c'],
    ['a reading as an object', { readings: { temp_c: { value: 21.5 } } }, 'readings.temp_c'],
    ['ts as a boolean', { ts: true }, 'ts'],
    ['ts as "yesterday"', { ts: 'yesterday' }, 'ts'],
    ['ts as a date without a time', { ts: '2024-06-01' }, 'ts'],
    ['ts without a time zone (local time is ambiguous)', { ts: '2024-06-01T12:00:00' }, 'ts'],
    ['ts with month 13', { ts: '2024-13-01T00:00:00Z' }, 'ts'],
    ['ts at 23:60', { ts: '2024-06-01T23:60:00Z' }, 'ts'],
    ['ts on 31 April', { ts: '2024-04-31T00:00:00Z' }, 'ts'],
    ['ts on 29 February of a common year', { ts: '2023-02-29T00:00:00Z' }, 'ts'],
    ['ts on 29 February of a century not divisible by 400', { ts: '2100-02-29T00:00:00Z' }, 'ts'],
  ])('refuses %s as invalid_field', (_, overrides, detail) => {
    expect(refusal(flat(overrides))).toEqual({ reason: 'invalid_field', detail });
  });

  it('accepts a device_id of exactly 256 characters', () => {
    expect(decode(jsonBytes(flat({ device_id: 'x'.repeat(256) }))).reason).toBeNull();
  });

  it.each([
    ['lat just above 90', { lat: 90.0001 }, 'lat'],
    ['lat just below -90', { lat: -90.0001 }, 'lat'],
    ['lon just above 180', { lon: 180.5 }, 'lon'],
    ['lon just below -180', { lon: -180.0001 }, 'lon'],
    ['a negative ts', { ts: -1 }, 'ts'],
    ['an ISO ts before 1970', { ts: '1969-12-31T23:59:59Z' }, 'ts'],
    ['a ts past the last time a Date can hold', { ts: 8.64e15 + 1 }, 'ts'],
  ])('refuses %s as out_of_range', (_, overrides, detail) => {
    expect(refusal(flat(overrides))).toEqual({ reason: 'out_of_range', detail });
  });

  it('refuses a Feature with a LineString geometry as unsupported_geometry, naming the type', () => {
    const record = feature(
      { type: 'LineString', coordinates: [[8.5, 47.3], [8.6, 47.4]] },
      { device_id: 'd', ts: 1 },
    );
    expect(refusal(record)).toEqual({ reason: 'unsupported_geometry', detail: 'LineString' });
  });

  it.each([
    ['no geometry', feature(undefined, { device_id: 'd', ts: 1 }), 'missing_field', 'geometry'],
    ['a null geometry', feature(null, { device_id: 'd', ts: 1 }), 'missing_field', 'geometry'],
    ['a geometry that is a string', feature('POINT(8 47)', { device_id: 'd', ts: 1 }), 'invalid_field', 'geometry'],
    ['no properties', feature({ type: 'Point', coordinates: [8, 47] }, undefined), 'missing_field', 'properties'],
    ['null properties', feature({ type: 'Point', coordinates: [8, 47] }, null), 'missing_field', 'properties'],
    ['properties as an array', feature({ type: 'Point', coordinates: [8, 47] }, []), 'invalid_field', 'properties'],
    [
      'a single coordinate',
      feature({ type: 'Point', coordinates: [8] }, { device_id: 'd', ts: 1 }),
      'invalid_field',
      'geometry.coordinates',
    ],
    [
      'a latitude out of range',
      feature({ type: 'Point', coordinates: [8, 91] }, { device_id: 'd', ts: 1 }),
      'out_of_range',
      'geometry.coordinates[1]',
    ],
    [
      'properties without a device_id',
      feature({ type: 'Point', coordinates: [8, 47] }, { ts: 1 }),
      'missing_field',
      'device_id',
    ],
  ])('refuses a Feature with %s', (_, record, reason, detail) => {
    expect(refusal(record)).toEqual({ reason, detail });
  });

  it('refuses more than maxReadings readings as too_many_readings', () => {
    const readings = { a: 1, b: 2, c: 3, d: 4, e: 5 };
    expect(refusal(flat({ readings }))).toEqual({ reason: 'too_many_readings', detail: 'more than 4' });
  });

  it('names the field of a refused record even after a good record was decoded into the same out', () => {
    const out = emptyReading();
    expect(decodeReading(jsonBytes(flat()), LIMITS, out)).toBeNull();
    expect(decodeReading(jsonBytes(flat({ lat: 'north' })), LIMITS, out)).toBe('invalid_field');
    expect(out.detail).toBe('lat');
    expect(decodeReading(jsonBytes(without(flat(), 'ts')), LIMITS, out)).toBe('missing_field');
    expect(out.detail).toBe('ts');
  });
});

describe('decodeReading: hostile corners found by test/unit/decode-hostile.test.ts', () => {
  const POINT_PROPERTIES = { device_id: 'd', ts: 1 };

  it.each([
    ['an object whose toString is a number', { toString: 1 }],
    ['an object whose toString and valueOf are not functions', { valueOf: 'x', toString: {} }],
    ['a number', 42],
    ['an array', ['Point']],
  ])('refuses a geometry type that is %s as unsupported_geometry, naming the field, without throwing', (_, type) => {
    expect(refusal(feature({ type, coordinates: [8, 47] }, POINT_PROPERTIES))).toEqual({ reason: 'unsupported_geometry', detail: 'geometry.type' });
  });

  it('refuses a geometry type of arrays nested 100,000 deep without overflowing the stack', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const text = `{"type":"Feature","geometry":{"type":${deep},"coordinates":[8,47]},"properties":{"device_id":"d","ts":1}}`;
    expect(refusal(text, { maxBytes: 1 << 20, maxReadings: 4 })).toEqual({ reason: 'unsupported_geometry', detail: 'geometry.type' });
  });

  it('counts device_id characters as code points: 256 astral characters are accepted, 257 refused', () => {
    const limits = { maxBytes: 4096, maxReadings: 4 };
    // Each of these is two UTF-16 units: 512 units for 256 characters.
    const { reason, out } = decode(jsonBytes(flat({ device_id: '😀'.repeat(256) })), limits);
    expect(reason).toBeNull();
    expect(out.deviceId).toBe('😀'.repeat(256));
    expect(refusal(flat({ device_id: '😀'.repeat(257) }), limits)).toEqual({ reason: 'invalid_field', detail: 'device_id' });
    // A lone surrogate (written as an escape) is one character too.
    expect(decode(Buffer.from(`{"device_id":"${'\\ud800'.repeat(256)}","ts":1,"lat":1,"lon":2}`), limits).reason).toBeNull();
    expect(refusal(`{"device_id":"${'\\ud800'.repeat(257)}","ts":1,"lat":1,"lon":2}`, limits)).toEqual({ reason: 'invalid_field', detail: 'device_id' });
  });

  it.each([
    ['NaN after the closing brace', '{"device_id":"d","ts":1,"lat":1,"lon":2}NaN'],
    ['NaN in a string, a trailing comma elsewhere', '{"device_id":"a NaN b","ts":1,"lat":1,"lon":2,}'],
    ['NaN after an escaped quote in a string, broken elsewhere', '{"device_id":"a\\" NaN","ts":}'],
    ['a NaN token and a trailing comma', '{"device_id":"d","ts":1,"lat":NaN,"lon":2,}'],
    ['a NaN token in a truncated record', '{"device_id":"d","ts":1,"lat":NaN,"lon":2'],
    ['NaN glued to a number', '{"device_id":"d","ts":1,"lat":1NaN,"lon":2}'],
    ['+Infinity', '{"device_id":"d","ts":1,"lat":+Infinity,"lon":2}'],
  ])('refuses %s as invalid_json: it would not be JSON with numbers there either', (_, text) => {
    expect(refusal(text)).toEqual({ reason: 'invalid_json', detail: 'value' });
  });

  it.each([
    ['-NaN', '{"device_id":"d","ts":1,"lat":-NaN,"lon":2}'],
    ['Infinity next to a string holding NaN', '{"device_id":"NaN\\"","ts":Infinity,"lat":1,"lon":2}'],
    ['NaN at the top level', 'NaN'],
  ])('refuses %s as non_finite', (_, text) => {
    expect(refusal(text)).toEqual({ reason: 'non_finite', detail: 'value' });
  });

  it('tells non_finite from invalid_json around a 3 MB string', () => {
    const limits = { maxBytes: 1 << 22, maxReadings: 4 };
    const long = 'x'.repeat(3_000_000);
    expect(refusal(`{"device_id":"${long}","ts":NaN,"lat":1,"lon":2}`, limits)).toEqual({ reason: 'non_finite', detail: 'value' });
    expect(refusal(`{"device_id":"d","ts":NaN,"lat":1,"lon":2,"x":"${long}`, limits)).toEqual({ reason: 'invalid_json', detail: 'value' });
  });
});

describe("decodeReading within a worker's heap", () => {
  /**
   * src/decode/ compiled to plain JavaScript in a scratch folder, for a worker
   * thread with the service's smallest heap (the memory plan's 16 MB old
   * generation): the tests' own thread has gigabytes and would hide a decoder
   * that needs more than a worker has.
   */
  async function compiledDecoder(): Promise<string> {
    const ts = await import('typescript');
    const source = fileURLToPath(new URL('../../src/decode/', import.meta.url));
    const target = mkdtempSync(join(tmpdir(), 'geowindow-decode-'));
    writeFileSync(join(target, 'package.json'), '{"type":"module"}');
    for (const file of readdirSync(source).filter((name) => name.endsWith('.ts'))) {
      const { outputText } = ts.transpileModule(readFileSync(join(source, file), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      });
      writeFileSync(join(target, file.replace(/\.ts$/, '.js')), outputText);
    }
    return join(target, 'decode-reading.js');
  }

  /** The verdict of decodeReading on `value` in a worker with a 16 MB old generation, or how the worker died. */
  function decodeInSmallWorker(decoder: string, value: Buffer): Promise<string> {
    const code = `
      import { parentPort, workerData } from 'node:worker_threads';
      const { decodeReading, emptyReading } = await import(workerData.decoder);
      parentPort.postMessage(decodeReading(Buffer.from(workerData.value), { maxBytes: 4 << 20, maxReadings: 16 }, emptyReading()));`;
    return new Promise((resolve) => {
      const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), {
        workerData: { decoder: pathToFileURL(decoder).href, value },
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 8 },
      });
      worker.once('message', (reason: string) => resolve(reason));
      worker.once('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
    });
  }

  it('tells a megabyte of NaN tokens as non_finite without outgrowing a 16 MB worker heap', async () => {
    const decoder = await compiledDecoder();
    const oneMbOfNaN = Buffer.from(`{"device_id":"d","ts":1,"lat":1,"lon":2,"x":[${'NaN,'.repeat(262_000)}-Infinity]}`);
    expect(await decodeInSmallWorker(decoder, oneMbOfNaN)).toBe('non_finite');
    const broken = Buffer.from(`{"device_id":"d","ts":1,"lat":1,"lon":2,"x":[${'Infinity,'.repeat(116_000)}NaN],}`);
    expect(await decodeInSmallWorker(decoder, broken)).toBe('invalid_json');
  }, 30_000);
});
