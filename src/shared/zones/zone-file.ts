/**
 * Reading a zones file: GeoJSON text to a list of zones (id and polygon
 * geometry), each checked so the index can trust it. What cannot be used
 * stops here with a ZonesFileError naming the file and the first bad
 * feature; what is merely odd (self-intersecting rings, overlaps) is left
 * for the index to count.
 */
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { ZonesFileError } from '../../errors.js';

/** One zone as read from the file: its id as a string and its geometry, both checked. */
export interface ZoneFeature {
  readonly id: string;
  readonly geometry: Polygon | MultiPolygon;
}

/** A closed ring needs its first position twice and three distinct corners at least (RFC 7946 §3.1.6). */
const MIN_RING_POSITIONS = 4;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** What a JSON value is, in a few words, for messages. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'an array';
  if (isObject(value)) return typeof value.type === 'string' ? `an object of type ${JSON.stringify(value.type)}` : 'an object without a type';
  if (typeof value === 'number' && !Number.isFinite(value)) return `a non-finite number (${value})`;
  return `a ${typeof value}`;
}

/** Longest excerpt of a bad value quoted in a message. */
const MAX_SHOWN = 40;

/** A bad value as JSON, cut short: enough to find it in the file. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? 'missing';
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

const BYTE_ORDER_MARK = 0xfeff;

/** Parses zones from GeoJSON text; `source` names the file in messages. */
export function parseZoneFeatures(text: string, source: string, idProperty: string): ZoneFeature[] {
  let value: unknown;
  try {
    // A byte order mark, as some Windows tools write, is not JSON but says nothing against the file.
    value = JSON.parse(text.charCodeAt(0) === BYTE_ORDER_MARK ? text.slice(1) : text);
  } catch (error) {
    throw new ZonesFileError(source, `is not JSON: ${(error as Error).message}`);
  }
  return readZoneFeatures(value, source, idProperty);
}

/**
 * Checks a parsed GeoJSON value (a FeatureCollection or a single Feature)
 * and returns its zones in file order. Every feature must have a Polygon or
 * MultiPolygon geometry and a unique id; every ring at least 4 finite
 * positions, closed.
 */
export function readZoneFeatures(value: unknown, source: string, idProperty: string): ZoneFeature[] {
  let features: readonly unknown[];
  if (isObject(value) && value.type === 'FeatureCollection') {
    if (!Array.isArray(value.features)) throw new ZonesFileError(source, `is not GeoJSON: its "features" is ${kindOf(value.features)}, not an array`);
    features = value.features;
  } else if (isObject(value) && value.type === 'Feature') {
    features = [value];
  } else {
    throw new ZonesFileError(source, `is not GeoJSON: the top level is ${kindOf(value)}, needs a FeatureCollection or a Feature`);
  }
  if (features.length === 0) throw new ZonesFileError(source, 'has no features, needs at least one Polygon or MultiPolygon feature');

  const zones: ZoneFeature[] = [];
  const firstWithId = new Map<string, number>();
  features.forEach((feature, index) => {
    if (!isObject(feature) || feature.type !== 'Feature') throw new ZonesFileError(source, `feature ${index} is ${kindOf(feature)}, needs a Feature`);
    const id = featureId(feature, idProperty, (problem) => new ZonesFileError(source, `feature ${index}${problem}`));
    const fail = (problem: string) => new ZonesFileError(source, `feature ${index} (id ${JSON.stringify(id)}): ${problem}`);
    const earlier = firstWithId.get(id);
    if (earlier !== undefined) throw fail(`duplicate id, feature ${earlier} has it too`);
    firstWithId.set(id, index);
    zones.push({ id, geometry: checkGeometry(feature.geometry, fail) });
  });
  return zones;
}

/** `properties[idProperty]`, or the Feature's own `id` when the property asked for is "id" and properties lack it. */
function featureId(feature: Json, idProperty: string, fail: (problem: string) => ZonesFileError): string {
  const properties = isObject(feature.properties) ? feature.properties : undefined;
  let raw = properties !== undefined && Object.hasOwn(properties, idProperty) ? properties[idProperty] : undefined;
  if (raw === undefined && idProperty === 'id') raw = feature.id;
  const name = JSON.stringify(idProperty);
  if (raw === undefined) throw fail(idProperty === 'id' ? ' has no "id" property and no Feature id' : ` has no ${name} property`);
  if (typeof raw === 'string') {
    if (raw === '') throw fail(`: property ${name} is an empty string, needs a non-empty string or a finite number`);
    return raw;
  }
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  throw fail(`: property ${name} is ${kindOf(raw)}, needs a string or a finite number`);
}

function checkGeometry(geometry: unknown, fail: (problem: string) => ZonesFileError): Polygon | MultiPolygon {
  if (geometry === null || geometry === undefined) throw fail('has no geometry, needs a Polygon or MultiPolygon');
  if (!isObject(geometry)) throw fail(`geometry is ${kindOf(geometry)}, needs a Polygon or MultiPolygon`);
  const { type, coordinates } = geometry;
  if (type === 'Polygon') {
    if (!Array.isArray(coordinates)) throw fail(`coordinates are ${kindOf(coordinates)}, not an array of rings`);
    checkPolygon(coordinates, 0, fail);
    return geometry as unknown as Polygon;
  }
  if (type === 'MultiPolygon') {
    if (!Array.isArray(coordinates)) throw fail(`coordinates are ${kindOf(coordinates)}, not an array of polygons`);
    if (coordinates.length === 0) throw fail('has no polygons (empty MultiPolygon)');
    coordinates.forEach((polygon: unknown, p) => {
      if (!Array.isArray(polygon)) throw fail(`polygon ${p} is ${kindOf(polygon)}, not an array of rings`);
      checkPolygon(polygon, p, fail);
    });
    return geometry as unknown as MultiPolygon;
  }
  if (type === undefined) throw fail('geometry has no type, needs a Polygon or MultiPolygon');
  throw fail(`geometry type is ${JSON.stringify(type)}, needs "Polygon" or "MultiPolygon"`);
}

function checkPolygon(rings: readonly unknown[], p: number, fail: (problem: string) => ZonesFileError): void {
  if (rings.length === 0) throw fail(`polygon ${p} has no rings`);
  rings.forEach((ring: unknown, r) => {
    const where = `ring ${r} of polygon ${p}`;
    if (!Array.isArray(ring)) throw fail(`${where} is ${kindOf(ring)}, not an array of positions`);
    if (ring.length < MIN_RING_POSITIONS) throw fail(`${where} has ${ring.length} positions, needs at least ${MIN_RING_POSITIONS}`);
    ring.forEach((position: unknown, i) => {
      if (!Array.isArray(position) || position.length < 2 || typeof position[0] !== 'number' || typeof position[1] !== 'number') {
        throw fail(`position ${i} of ${where} is ${shown(position)}, not a [longitude, latitude] pair of numbers`);
      }
      if (!Number.isFinite(position[0]) || !Number.isFinite(position[1])) {
        throw fail(`position ${i} of ${where} has a non-finite coordinate: [${position[0]}, ${position[1]}]`);
      }
    });
    const first = ring[0] as Position;
    const last = ring[ring.length - 1] as Position;
    if (first[0] !== last[0] || first[1] !== last[1]) {
      throw fail(`${where} is not closed: it ends at [${last[0]}, ${last[1]}], not at its first position [${first[0]}, ${first[1]}]`);
    }
  });
}
