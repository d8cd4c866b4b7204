/**
 * The README's input rules ("Message formats", "Input" and the dead-letter
 * reasons) written down a second time, apart from src/decode/, as the
 * reference the hostile-input tests hold the decoder to. It is meant to be
 * obviously right rather than fast: bytes are decoded by a fatal TextDecoder,
 * the text is parsed by `JSON.parse`, and every field is looked up as an own
 * property of the tree, so nothing here can be fooled by a prototype.
 *
 * Where the README is silent, the oracle fixes one answer and says so:
 * - A byte order mark is the character U+FEFF, which JSON does not allow
 *   before a value (RFC 8259 §8.1 lets a parser refuse it): `invalid_json`.
 * - Text that is not JSON is `non_finite` when it would be JSON if every
 *   NaN, Infinity and -Infinity token outside strings were a number (an
 *   encoder that wrote non-finite floats), else `invalid_json`.
 * - "Characters" of `device_id` are Unicode code points, as JSON Schema's
 *   `maxLength` counts them.
 * - An ISO-8601 `ts` is the extended form the README shows: date, `T`, hours
 *   and minutes, optional seconds and up to 9 fraction digits (truncated to
 *   the millisecond), and `Z` or a `±hh:mm` / `±hhmm` offset; `24:00` is the
 *   end of the day (ISO 8601-1:2019/Amd 1:2022). Calendar and clock fields
 *   must exist: no 31 April, no 23:60.
 * - A record breaking several rules gets the reason of the first rule it
 *   breaks, in this order: bytes (empty, size, UTF-8), text (JSON), shape
 *   (an object), then its fields: a flat record's `lon`, `lat`, a Feature's
 *   `geometry`, its `type` (anything but "Point" is `unsupported_geometry`),
 *   `coordinates` (an array of at least two; absent or null is
 *   `invalid_field`), its first and second element, then `properties`; then
 *   `device_id`, `ts` and `readings`, whose entries are taken in property
 *   order, the first past the limit being `too_many_readings`.
 * - A Feature's coordinates past the second (altitude) are not read.
 */
import type { DeadLetterReason } from '../../src/decode/reasons.js';

export interface OracleLimits {
  /** Larger values are `oversized` (the pipeline counts key and value; see `oracleClassify`). */
  readonly maxBytes: number;
  /** More readings in one record are `too_many_readings`. */
  readonly maxReadings: number;
}

/** What a valid record says, as plain values. */
export interface OracleReading {
  readonly deviceId: string;
  readonly ts: number;
  readonly lon: number;
  readonly lat: number;
  /** Reading name to value, null where the sensor reported nothing. */
  readonly readings: ReadonlyMap<string, number | null>;
}

export type OracleVerdict =
  | { readonly ok: true; readonly reading: OracleReading }
  | { readonly ok: false; readonly reason: DeadLetterReason };

const MAX_DEVICE_ID_CODE_POINTS = 256;
/** The largest time a JavaScript Date holds, in epoch milliseconds. */
const LAST_EPOCH_MS = 8.64e15;
const MS_PER_MINUTE = 60_000;
const LAST_HOUR = 23;
const END_OF_DAY_HOUR = 24;
const LAST_MINUTE = 59;
const LAST_SECOND = 59;
const LONGITUDE_LIMIT = 180;
const LATITUDE_LIMIT = 90;
const FRACTION_DIGITS_KEPT = 3;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A rule broken: its reason, thrown inside the oracle and caught at its top. */
class Broken extends Error {
  constructor(readonly reason: DeadLetterReason) {
    super(reason);
  }
}

function broken(reason: DeadLetterReason): never {
  throw new Broken(reason);
}

/** A plain JSON object (what `JSON.parse` makes of `{...}`). */
type JsonObject = Record<string, unknown>;

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The member `name` of a parsed object, own properties only. */
function member(object: JsonObject, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

/** The verdict on one message value (as the worker sees it: the value only, null for a tombstone). */
export function oracleDecode(value: Uint8Array | null, limits: OracleLimits): OracleVerdict {
  try {
    return { ok: true, reading: read(value, limits) };
  } catch (error) {
    if (error instanceof Broken) return { ok: false, reason: error.reason };
    throw error;
  }
}

/**
 * The verdict on one Kafka record as the service gives it: a key and value
 * larger together than MAX_MESSAGE_BYTES are `oversized` before anything
 * else (the pipeline's check, before a record is copied), the rest is
 * `oracleDecode` of the value.
 */
export function oracleClassify(key: Uint8Array | null, value: Uint8Array | null, limits: OracleLimits): OracleVerdict {
  const size = (key?.length ?? 0) + (value?.length ?? 0);
  if (size > limits.maxBytes) return { ok: false, reason: 'oversized' };
  return oracleDecode(value, { ...limits, maxBytes: Number.POSITIVE_INFINITY });
}

function read(value: Uint8Array | null, limits: OracleLimits): OracleReading {
  if (value === null || value.length === 0) broken('empty');
  if (value.length > limits.maxBytes) broken('oversized');
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    broken('invalid_utf8');
  }
  const tree = parse(text);
  if (!isJsonObject(tree)) broken('not_an_object');
  return member(tree, 'type') === 'Feature' ? readFeature(tree, limits) : readFlat(tree, limits);
}

/**
 * NaN, Infinity, -Infinity as tokens, or a whole string (matched so that
 * tokens inside strings are left alone); the string's loop is unrolled, as
 * an alternation inside a star overflows the regexp stack on megabytes.
 */
const STRING_OR_NON_FINITE = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"|-?(?:NaN|Infinity)/g;

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    let replaced = false;
    // Spaces around the stand-in keep it one token: "1NaN" must not become "10".
    const numbered = text.replace(STRING_OR_NON_FINITE, (match) => {
      if (match.startsWith('"')) return match;
      replaced = true;
      return ' 0 ';
    });
    if (!replaced) broken('invalid_json');
    try {
      JSON.parse(numbered);
    } catch {
      broken('invalid_json');
    }
    broken('non_finite');
  }
}

function readFlat(record: JsonObject, limits: OracleLimits): OracleReading {
  const lon = coordinate(member(record, 'lon'), LONGITUDE_LIMIT);
  const lat = coordinate(member(record, 'lat'), LATITUDE_LIMIT);
  return { ...readCommon(record, limits), lon, lat };
}

function readFeature(feature: JsonObject, limits: OracleLimits): OracleReading {
  const geometry = member(feature, 'geometry');
  if (geometry === undefined || geometry === null) broken('missing_field');
  if (!isJsonObject(geometry)) broken('invalid_field');
  if (member(geometry, 'type') !== 'Point') broken('unsupported_geometry');
  const coordinates = member(geometry, 'coordinates');
  if (!Array.isArray(coordinates) || coordinates.length < 2) broken('invalid_field');
  const lon = coordinate(coordinates[0], LONGITUDE_LIMIT);
  const lat = coordinate(coordinates[1], LATITUDE_LIMIT);
  const properties = member(feature, 'properties');
  if (properties === undefined || properties === null) broken('missing_field');
  if (!isJsonObject(properties)) broken('invalid_field');
  return { ...readCommon(properties, limits), lon, lat };
}

function coordinate(value: unknown, limit: number): number {
  if (value === undefined || value === null) broken('missing_field');
  if (typeof value !== 'number') broken('invalid_field');
  if (!Number.isFinite(value)) broken('non_finite');
  if (Math.abs(value) > limit) broken('out_of_range');
  return value;
}

function readCommon(fields: JsonObject, limits: OracleLimits): Omit<OracleReading, 'lon' | 'lat'> {
  const deviceId = member(fields, 'device_id');
  if (deviceId === undefined || deviceId === null) broken('missing_field');
  if (typeof deviceId !== 'string') broken('invalid_field');
  const codePoints = [...deviceId].length;
  if (codePoints === 0 || codePoints > MAX_DEVICE_ID_CODE_POINTS) broken('invalid_field');
  const ts = timestamp(member(fields, 'ts'));
  return { deviceId, ts, readings: readings(member(fields, 'readings'), limits) };
}

function timestamp(value: unknown): number {
  if (value === undefined || value === null) broken('missing_field');
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) broken('non_finite');
    ms = value;
  } else if (typeof value === 'string') {
    ms = isoMilliseconds(value);
  } else {
    broken('invalid_field');
  }
  if (ms < 0 || ms > LAST_EPOCH_MS) broken('out_of_range');
  return ms;
}

const ISO_EXTENDED =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/;

/** Epoch milliseconds of an ISO-8601 date-time with a zone, computed field by field. */
function isoMilliseconds(text: string): number {
  const match = ISO_EXTENDED.exec(text);
  if (match === null) broken('invalid_field');
  const [, year, month, day, hour, minute, second = '0', fraction = '', sign, offsetHours, offsetMinutes] = match;
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  const fractionMs = Number(fraction.slice(0, FRACTION_DIGITS_KEPT).padEnd(FRACTION_DIGITS_KEPT, '0'));
  const endOfDay = h === END_OF_DAY_HOUR && mi === 0 && s === 0 && /^0*$/.test(fraction);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) broken('invalid_field');
  if ((h > LAST_HOUR && !endOfDay) || mi > LAST_MINUTE || s > LAST_SECOND) broken('invalid_field');
  let offset = 0;
  if (sign !== undefined) {
    const oh = Number(offsetHours);
    const om = Number(offsetMinutes);
    if (oh > LAST_HOUR || om > LAST_MINUTE) broken('invalid_field');
    offset = (sign === '-' ? -1 : 1) * (oh * 60 + om) * MS_PER_MINUTE;
  }
  // setUTCFullYear, unlike Date.UTC, takes years 0-99 as they are.
  const midnight = new Date(0).setUTCFullYear(y, mo - 1, d);
  return midnight + ((h * 60 + mi) * 60 + s) * 1000 + fractionMs - offset;
}

function daysIn(year: number, month: number): number {
  // Day 0 of the next month is the last day of this one.
  return new Date(new Date(0).setUTCFullYear(year, month, 0)).getUTCDate();
}

function readings(value: unknown, limits: OracleLimits): Map<string, number | null> {
  const result = new Map<string, number | null>();
  if (value === undefined || value === null) return result;
  if (!isJsonObject(value)) broken('invalid_field');
  for (const [name, reading] of Object.entries(value)) {
    if (result.size === limits.maxReadings) broken('too_many_readings');
    if (reading !== null && typeof reading !== 'number') broken('invalid_field');
    if (reading !== null && !Number.isFinite(reading)) broken('non_finite');
    result.set(name, reading);
  }
  return result;
}
