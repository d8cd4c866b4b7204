import type { DecodedReading, DecodeLimits } from './decode-reading.js';
import { isoTimeFromBytes } from './iso-time.js';
import { ascii, JsonScanner } from './json-scanner.js';
import { StringTable } from './string-table.js';

/**
 * The decoder's fast path: reads the record shapes sensors send (a flat
 * reading or a GeoJSON Point Feature) straight from bytes, with no
 * `JSON.parse` tree and no string per field. It only ever accepts: a record
 * it does not read exactly (an escape, a byte past ASCII, a duplicate field,
 * a value out of range, anything the slow path would refuse) returns false,
 * and `decodeReading` asks `JSON.parse` instead, which also names the reason.
 * So the slow path stays the definition of what a valid record is, and a
 * differential test holds the two to it.
 */

const TYPE = ascii('type');
const LON = ascii('lon');
const LAT = ascii('lat');
const DEVICE_ID = ascii('device_id');
const TS = ascii('ts');
const READINGS = ascii('readings');
const GEOMETRY = ascii('geometry');
const PROPERTIES = ascii('properties');
const COORDINATES = ascii('coordinates');
const FEATURE = ascii('Feature');
const POINT = ascii('Point');

const MAX_DEVICE_ID_LENGTH = 256;
const MAX_EPOCH_MS = 8.64e15;

/** Bits of the fields one object level has brought, to step aside on a duplicate. */
const SEEN_TYPE = 1;
const SEEN_LON = 2;
const SEEN_LAT = 4;
const SEEN_DEVICE = 8;
const SEEN_TS = 16;
const SEEN_READINGS = 32;
const SEEN_GEOMETRY = 64;
const SEEN_PROPERTIES = 128;

/** What one object level (the record, or a Feature's properties) brought. */
class Fields {
  seen = 0;
  deviceStart = 0;
  deviceEnd = 0;
  ts = Number.NaN;
  /** Whether this level's `readings` filled `out` (an object), rather than being absent or null. */
  readings = false;

  reset(): void {
    this.seen = 0;
    this.ts = Number.NaN;
    this.readings = false;
  }
}

const scanner = new JsonScanner();
const names = new StringTable();
const top = new Fields();
const properties = new Fields();
let isFeature = false;
let lon = Number.NaN;
let lat = Number.NaN;
let pointLon = Number.NaN;
let pointLat = Number.NaN;

/** Decodes bytes[start, end) into `out` when it is a valid reading read exactly; false: ask the slow path. */
export function decodeReadingFast(
  bytes: Buffer,
  start: number,
  end: number,
  limits: DecodeLimits,
  out: DecodedReading,
): boolean {
  if (end - start > limits.maxBytes) return false;
  scanner.reset(bytes, start, end);
  top.reset();
  properties.reset();
  isFeature = false;
  lon = lat = pointLon = pointLat = Number.NaN;
  out.readingCount = 0;
  if (!readRecord(limits, out) || !scanner.atEnd()) return false;
  const fields = isFeature ? properties : top;
  if (isFeature) {
    if ((top.seen & SEEN_GEOMETRY) === 0 || (top.seen & SEEN_PROPERTIES) === 0) return false;
    lon = pointLon;
    lat = pointLat;
  }
  if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90)) return false;
  const deviceLength = fields.deviceEnd - fields.deviceStart;
  if ((fields.seen & SEEN_DEVICE) === 0 || deviceLength === 0 || deviceLength > MAX_DEVICE_ID_LENGTH) return false;
  if (!(fields.ts >= 0 && fields.ts <= MAX_EPOCH_MS)) return false;
  // Readings another level brought are not this record's: the slow path ignores them too.
  if (!fields.readings) out.readingCount = 0;
  out.lon = lon;
  out.lat = lat;
  out.ts = fields.ts;
  out.deviceId = names.intern(bytes, fields.deviceStart, fields.deviceEnd);
  return true;
}

function readRecord(limits: DecodeLimits, out: DecodedReading): boolean {
  if (!scanner.openObject()) return false;
  for (let first = true; scanner.nextKey(first); first = false) {
    if (scanner.stringIs(TYPE)) {
      if (!see(top, SEEN_TYPE)) return false;
      if (scanner.peek() === 0x22) {
        if (!scanner.string()) return false;
        isFeature = scanner.stringIs(FEATURE);
      } else if (!scanner.skipValue()) return false;
    } else if (scanner.stringIs(LON)) {
      if (!see(top, SEEN_LON) || !scanner.atNumber()) return scanner.bail();
      lon = scanner.number();
    } else if (scanner.stringIs(LAT)) {
      if (!see(top, SEEN_LAT) || !scanner.atNumber()) return scanner.bail();
      lat = scanner.number();
    } else if (scanner.stringIs(GEOMETRY)) {
      if (!see(top, SEEN_GEOMETRY) || !readGeometry()) return false;
    } else if (scanner.stringIs(PROPERTIES)) {
      if (!see(top, SEEN_PROPERTIES) || !scanner.openObject()) return scanner.bail();
      for (let firstProperty = true; scanner.nextKey(firstProperty); firstProperty = false) {
        if (!readCommonField(properties, limits, out)) return false;
      }
    } else if (!readCommonField(top, limits, out)) {
      return false;
    }
    if (scanner.bailed) return false;
  }
  return !scanner.bailed;
}

/** device_id, ts, readings, or a field no reading uses (skipped), at either level. */
function readCommonField(fields: Fields, limits: DecodeLimits, out: DecodedReading): boolean {
  if (scanner.stringIs(DEVICE_ID)) {
    if (!see(fields, SEEN_DEVICE) || !scanner.string()) return scanner.bail();
    fields.deviceStart = scanner.stringStart;
    fields.deviceEnd = scanner.stringEnd;
  } else if (scanner.stringIs(TS)) {
    if (!see(fields, SEEN_TS)) return false;
    if (scanner.atNumber()) {
      fields.ts = scanner.number();
    } else if (scanner.string()) {
      fields.ts = isoTimeFromBytes(scanner.bytes, scanner.stringStart, scanner.stringEnd);
    }
  } else if (scanner.stringIs(READINGS)) {
    if (!see(fields, SEEN_READINGS)) return false;
    if (scanner.nullValue()) return true;
    // One readings object per record is read; a second level bringing one is rare enough to leave to the slow path.
    if (top.readings || properties.readings) return scanner.bail();
    fields.readings = true;
    return readReadings(limits, out);
  } else {
    return scanner.skipValue();
  }
  return !scanner.bailed;
}

/** A readings object: names to finite numbers or null (NaN in `out`). */
function readReadings(limits: DecodeLimits, out: DecodedReading): boolean {
  if (!scanner.openObject()) return false;
  for (let first = true; scanner.nextKey(first); first = false) {
    const count = out.readingCount;
    if (count === limits.maxReadings) return scanner.bail();
    const name = names.intern(scanner.bytes, scanner.stringStart, scanner.stringEnd);
    // JSON.parse keeps the last of duplicate names; rare enough to leave to it.
    for (let i = 0; i < count; i++) if (out.readingNames[i] === name) return scanner.bail();
    let value: number;
    if (scanner.nullValue()) {
      value = Number.NaN;
    } else {
      if (!scanner.atNumber()) return scanner.bail();
      value = scanner.number();
      if (!Number.isFinite(value)) return scanner.bail();
    }
    out.readingNames[count] = name;
    out.readingValues[count] = value;
    out.readingCount = count + 1;
  }
  return !scanner.bailed;
}

/** A GeoJSON Point geometry: {"type": "Point", "coordinates": [lon, lat, ...]}. */
function readGeometry(): boolean {
  if (!scanner.openObject()) return false;
  let isPoint = false;
  let hasCoordinates = false;
  for (let first = true; scanner.nextKey(first); first = false) {
    if (scanner.stringIs(TYPE)) {
      if (isPoint || !scanner.string() || !scanner.stringIs(POINT)) return scanner.bail();
      isPoint = true;
    } else if (scanner.stringIs(COORDINATES)) {
      if (hasCoordinates || !scanner.openArray() || !scanner.atNumber()) return scanner.bail();
      hasCoordinates = true;
      pointLon = scanner.number();
      if (!scanner.nextElement() || !scanner.atNumber()) return scanner.bail();
      pointLat = scanner.number();
      // An altitude, if any, is carried but not used.
      while (scanner.nextElement()) if (!scanner.skipValue()) return false;
    } else if (!scanner.skipValue()) {
      return false;
    }
    if (scanner.bailed) return false;
  }
  return isPoint && hasCoordinates && !scanner.bailed;
}

function see(fields: Fields, bit: number): boolean {
  if ((fields.seen & bit) !== 0) return scanner.bail();
  fields.seen |= bit;
  return true;
}
