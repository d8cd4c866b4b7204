import { isUtf8 } from 'node:buffer';
import { decodeReadingFast } from './fast-reading.js';
import type { DeadLetterReason } from './reasons.js';

/**
 * A decoded reading. The decoder fills one caller-owned instance per record
 * instead of allocating a new one, because it runs once per record.
 */
export interface DecodedReading {
  deviceId: string;
  ts: number;
  lon: number;
  lat: number;
  /**
   * The record's readings, in the first `readingCount` slots of the two
   * arrays, which grow and are reused: a name and its value, NaN where the
   * sensor reported nothing (null).
   */
  readingNames: string[];
  readingValues: number[];
  readingCount: number;
  /** Which field failed, set only when decoding fails. */
  detail: string;
}

export function emptyReading(): DecodedReading {
  return { deviceId: '', ts: 0, lon: 0, lat: 0, readingNames: [], readingValues: [], readingCount: 0, detail: '' };
}

const MAX_DEVICE_ID_LENGTH = 256;
/** The largest time a JavaScript Date can hold, in epoch milliseconds. */
const MAX_EPOCH_MS = 8.64e15;
/** Calendar date and clock time with an explicit zone: ISO-8601 as sensors send it. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
/** Tokens some encoders write for non-finite floats (each maybe after a minus); JSON has none. */
const NAN = Buffer.from('NaN');
const INFINITY = Buffer.from('Infinity');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const SPACE = 0x20;
const ZERO = 0x30;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface DecodeLimits {
  /** Larger values are `oversized`. */
  readonly maxBytes: number;
  /** More readings in one record are `too_many_readings`. */
  readonly maxReadings: number;
}

/**
 * Decodes one message value into `out`. Returns null when the record is a
 * valid reading, else the reason it must be dead-lettered (with `out.detail`
 * naming the field). Never throws on bad input.
 */
export function decodeReading(
  value: Buffer | null,
  limits: DecodeLimits,
  out: DecodedReading,
): DeadLetterReason | null {
  if (value === null) return fail(out, 'empty', 'value');
  return decodeReadingAt(value, 0, value.length, limits, out);
}

/**
 * decodeReading of bytes[start, end), without a view per record: the byte
 * reader takes the records it reads exactly (nearly all), `JSON.parse`
 * decides the rest and names why a record is bad.
 */
export function decodeReadingAt(
  bytes: Buffer,
  start: number,
  end: number,
  limits: DecodeLimits,
  out: DecodedReading,
): DeadLetterReason | null {
  if (decodeReadingFast(bytes, start, end, limits, out)) return null;
  return decodeReadingSlow(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), limits, out);
}

/** The definition of a valid reading, on `JSON.parse`'s tree. */
export function decodeReadingSlow(
  value: Buffer | null,
  limits: DecodeLimits,
  out: DecodedReading,
): DeadLetterReason | null {
  if (value === null || value.length === 0) return fail(out, 'empty', 'value');
  if (value.length > limits.maxBytes) return fail(out, 'oversized', `${value.length} bytes > ${limits.maxBytes}`);
  if (!isUtf8(value)) return fail(out, 'invalid_utf8', 'value');
  const text = value.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return jsonButForNonFinite(value) ? fail(out, 'non_finite', 'value') : fail(out, 'invalid_json', 'value');
  }
  if (!isObject(parsed)) return fail(out, 'not_an_object', 'value');
  if (parsed.type === 'Feature') return decodeFeature(parsed, limits, out);
  const lon = coordinate(parsed.lon, 180);
  if (typeof lon === 'string') return fail(out, lon, 'lon');
  const lat = coordinate(parsed.lat, 90);
  if (typeof lat === 'string') return fail(out, lat, 'lat');
  out.lon = lon;
  out.lat = lat;
  return decodeProperties(parsed, limits, out);
}

function decodeFeature(feature: Json, limits: DecodeLimits, out: DecodedReading): DeadLetterReason | null {
  const geometry = feature.geometry;
  if (geometry === undefined || geometry === null) return fail(out, 'missing_field', 'geometry');
  if (!isObject(geometry)) return fail(out, 'invalid_field', 'geometry');
  const type = geometry.type;
  // The detail names a type given as a string; anything else is named by its field (String() of a parsed value can throw).
  if (type !== 'Point') return fail(out, 'unsupported_geometry', typeof type === 'string' ? type : 'geometry.type');
  const coordinates = geometry.coordinates;
  if (!Array.isArray(coordinates) || coordinates.length < 2) {
    return fail(out, 'invalid_field', 'geometry.coordinates');
  }
  const lon = coordinate(coordinates[0], 180);
  if (typeof lon === 'string') return fail(out, lon, 'geometry.coordinates[0]');
  const lat = coordinate(coordinates[1], 90);
  if (typeof lat === 'string') return fail(out, lat, 'geometry.coordinates[1]');
  out.lon = lon;
  out.lat = lat;
  const properties = feature.properties;
  if (properties === undefined || properties === null) return fail(out, 'missing_field', 'properties');
  if (!isObject(properties)) return fail(out, 'invalid_field', 'properties');
  return decodeProperties(properties, limits, out);
}

/** Device, time and readings: the fields a flat record and a Feature's properties share. */
function decodeProperties(fields: Json, limits: DecodeLimits, out: DecodedReading): DeadLetterReason | null {
  const deviceId = fields.device_id;
  if (deviceId === undefined || deviceId === null) return fail(out, 'missing_field', 'device_id');
  if (typeof deviceId !== 'string' || deviceId.length === 0 || codePointsOver(deviceId, MAX_DEVICE_ID_LENGTH)) {
    return fail(out, 'invalid_field', 'device_id');
  }
  const tsReason = decodeTimestamp(fields.ts, out);
  if (tsReason !== null) return tsReason;
  const readings = fields.readings;
  let count = 0;
  if (readings !== undefined && readings !== null) {
    if (!isObject(readings)) return fail(out, 'invalid_field', 'readings');
    for (const name in readings) {
      if (count === limits.maxReadings) return fail(out, 'too_many_readings', `more than ${limits.maxReadings}`);
      const reading = readings[name];
      if (reading !== null) {
        if (typeof reading !== 'number') return fail(out, 'invalid_field', `readings.${name}`);
        if (!Number.isFinite(reading)) return fail(out, 'non_finite', `readings.${name}`);
      }
      out.readingNames[count] = name;
      // NaN: a sensor that reported nothing this time.
      out.readingValues[count] = typeof reading === 'number' ? reading : Number.NaN;
      count++;
    }
  }
  out.readingCount = count;
  out.deviceId = deviceId;
  return null;
}

/** The coordinate in degrees, or why it is not one (a string, so nothing is allocated). */
function coordinate(value: unknown, limit: number): number | DeadLetterReason {
  if (value === undefined || value === null) return 'missing_field';
  if (typeof value !== 'number') return 'invalid_field';
  if (!Number.isFinite(value)) return 'non_finite';
  if (value < -limit || value > limit) return 'out_of_range';
  return value;
}

function decodeTimestamp(value: unknown, out: DecodedReading): DeadLetterReason | null {
  if (value === undefined || value === null) return fail(out, 'missing_field', 'ts');
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return fail(out, 'non_finite', 'ts');
    ms = value;
  } else if (typeof value === 'string') {
    if (!ISO_8601.test(value)) return fail(out, 'invalid_field', 'ts');
    ms = Date.parse(value);
    if (Number.isNaN(ms) || !isCalendarDay(value)) return fail(out, 'invalid_field', 'ts');
  } else {
    return fail(out, 'invalid_field', 'ts');
  }
  if (ms < 0 || ms > MAX_EPOCH_MS) return fail(out, 'out_of_range', 'ts');
  out.ts = ms;
  return null;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Date.parse rolls a day past the month's end over (2023-02-29 becomes 03-01); that is no date a clock sent. */
function isCalendarDay(iso: string): boolean {
  const year = Number(iso.slice(0, 4));
  const month = Number(iso.slice(5, 7));
  const day = Number(iso.slice(8, 10));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!);
}

/** Whether `text` has more than `limit` characters (code points, as JSON Schema's maxLength counts them), without allocating. */
function codePointsOver(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one character.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    if (++count > limit) return true;
  }
  return false;
}

/**
 * Whether text that JSON.parse refused would parse if every NaN, Infinity
 * and -Infinity outside strings were a number: a record from an encoder that
 * wrote non-finite floats (non_finite), rather than broken JSON. Each token
 * is overwritten in a copy of the bytes by a number of the same width
 * (" 0 ", " 0      "; the spaces keep "1NaN" from reading as 10), so a
 * megabyte of tokens costs one copy, not a string per token: the workers'
 * heaps are small. Runs only on text already refused.
 */
function jsonButForNonFinite(value: Buffer): boolean {
  let numbered: Buffer | undefined;
  let inString = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      continue;
    }
    const start = c === MINUS ? i + 1 : i;
    const length = startsWith(value, start, NAN) ? NAN.length : startsWith(value, start, INFINITY) ? INFINITY.length : 0;
    if (length === 0) continue;
    numbered ??= Buffer.from(value);
    numbered.fill(SPACE, i, start + length);
    numbered[i + 1] = ZERO;
    i = start + length - 1;
  }
  if (numbered === undefined) return false;
  try {
    JSON.parse(numbered.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function startsWith(bytes: Buffer, at: number, word: Buffer): boolean {
  if (at + word.length > bytes.length) return false;
  for (let i = 0; i < word.length; i++) if (bytes[at + i] !== word[i]) return false;
  return true;
}

function fail(out: DecodedReading, reason: DeadLetterReason, detail: string): DeadLetterReason {
  out.detail = detail;
  return reason;
}
