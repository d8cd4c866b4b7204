/**
 * The zones API both threads code against: load a zones file once, then ask
 * which zone holds a point. The main thread loads at start-up to validate
 * (a bad file stops the service with exit code 3) and shares the index with
 * the workers, which key records by zone with it. Pure: no logger, no metrics, no Kafka.
 */
import { readFileSync } from 'node:fs';
import type { MultiPolygon, Polygon } from 'geojson';
import { ZonesFileError } from '../../errors.js';
import { parseZoneFeatures, readZoneFeatures } from './zone-file.js';
import { ZoneIndex, type SharedZoneIndex } from './zone-index.js';

export type { SharedZoneIndex } from './zone-index.js';

/** What is odd in a zones file but still usable; each a count, logged at start-up. */
export interface ZoneOddities {
  /** Rings whose edges cross, touch or fold back on each other (tested by the even-odd rule all the same). */
  readonly selfIntersectingRings: number;
  /** Rings whose positions all lie on one line: they enclose nothing and hold no point. */
  readonly collinearRings: number;
  /** Positions equal to the one before them: zero-length edges, harmless. */
  readonly repeatedPositions: number;
  /** Positions outside longitude [-180, 180] or latitude [-90, 90]: projected coordinates, most likely. */
  readonly positionsOutOfRange: number;
  readonly [k: string]: number;
}

/** Zones in file order, indexed for point lookups. */
export interface ZoneSet {
  /** The file path (for messages). */
  readonly source: string;
  /** Number of zones (features), in file order. */
  readonly size: number;
  /** Polygons over all zones (a MultiPolygon counts each of its parts). */
  readonly parts: number;
  /** Rings over all polygons, holes included. */
  readonly rings: number;
  /** Positions over all rings, closing positions included. */
  readonly positions: number;
  /** The feature's id property as a string (numbers stringified). */
  id(index: number): string;
  /** [west, south, east, north] of the whole feature: plain minimum and maximum, so a zone split at the antimeridian spans the globe. */
  bbox(index: number): readonly [number, number, number, number];
  /** The feature's geometry, rebuilt from the index on each call (positions as [lon, lat]). */
  geometry(index: number): Polygon | MultiPolygon;
  /** Index of the zone holding (lon, lat) by the even-odd rule, -1 when none; overlaps: lowest index (first in file) wins. Allocates nothing per call. */
  lookup(lon: number, lat: number): number;
  /**
   * Every zone holding (lon, lat), in file order: written to `out` (emptied
   * first), their number returned. For checks of overlaps; `lookup` is the
   * fast path.
   */
  lookupAll(lon: number, lat: number, out: number[]): number;
  /** [west, south, east, north] over all zones. */
  readonly extent: readonly [number, number, number, number];
  readonly oddities: ZoneOddities;
  /** The index for another thread, on shared memory (see SharedZoneIndex); zonesFromShared there. */
  toShared(): SharedZoneIndex;
}

/** Reads, checks and indexes a zones file; throws ZonesFileError naming the file and the first bad feature. */
export function loadZones(path: string, idProperty: string): ZoneSet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ZonesFileError(path, `could not be read: ${(error as Error).message}`);
  }
  return parseZones(text, path, idProperty);
}

/** Same as loadZones, from the file's text; `source` names it in messages. */
export function parseZones(text: string, source: string, idProperty: string): ZoneSet {
  return new ZoneIndex(source, parseZoneFeatures(text, source, idProperty));
}

/** Same as parseZones, from GeoJSON already parsed (a FeatureCollection or a Feature). */
export function zonesFromGeoJson(value: unknown, source: string, idProperty: string): ZoneSet {
  return new ZoneIndex(source, readZoneFeatures(value, source, idProperty));
}

/** The zones another thread loaded and shared (ZoneSet.toShared), without reading the file. */
export function zonesFromShared(shared: SharedZoneIndex): ZoneSet {
  return new ZoneIndex(shared);
}
