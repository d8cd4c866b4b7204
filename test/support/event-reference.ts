/**
 * The test's own account of what event-time windows must hold, written apart
 * from the service's code: its own JSON reading, point-in-polygon, lateness
 * and track distance. Integration tests compare the service's output to it.
 */
import type { ReadRecord } from './kafka.js';
import { header } from './kafka.js';

export interface RefReading {
  readonly partition: number;
  readonly offset: number;
  readonly device: string;
  readonly ts: number;
  /** float32, as the service stores coordinates. */
  readonly lon: number;
  readonly lat: number;
  readonly readings: Record<string, number>;
}

/** A good record as the test reads it; undefined for the fleet's bad records. */
export function readReading(record: ReadRecord): RefReading | undefined {
  const expect = header(record, 'geowindow-fleet-expect');
  if (expect !== undefined && expect !== 'late') return undefined;
  const parsed = JSON.parse(record.value!.toString()) as Record<string, unknown>;
  const feature = parsed.type === 'Feature';
  const props = (feature ? parsed.properties : parsed) as Record<string, unknown>;
  const [lon, lat] = feature ? ((parsed.geometry as { coordinates: [number, number] }).coordinates) : [parsed.lon as number, parsed.lat as number];
  const ts = typeof props.ts === 'string' ? Date.parse(props.ts) : (props.ts as number);
  const readings: Record<string, number> = {};
  for (const [name, value] of Object.entries((props.readings as Record<string, number | null> | undefined) ?? {})) {
    if (typeof value === 'number') readings[name] = value;
  }
  return { partition: record.partition, offset: record.offset, device: props.device_id as string, ts, lon: Math.fround(lon), lat: Math.fround(lat), readings };
}

/** Per partition, in offset order: is each reading late (its window ended at or before max ts seen - grace)? */
export function lateness(readings: readonly RefReading[], sizeMs: number, graceMs: number): Set<string> {
  const late = new Set<string>();
  const maxSeen = new Map<number, number>();
  for (const r of [...readings].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
    const seen = maxSeen.get(r.partition) ?? -Infinity;
    const end = Math.floor(r.ts / sizeMs) * sizeMs + sizeMs;
    if (end <= seen - graceMs) late.add(`${r.partition}:${r.offset}`);
    maxSeen.set(r.partition, Math.max(seen, r.ts));
  }
  return late;
}

type Ring = number[][];
type Geometry = { type: 'Polygon'; coordinates: Ring[] } | { type: 'MultiPolygon'; coordinates: Ring[][] };

/** Even-odd over every ring of a polygon (holes included): the textbook ray cast. */
function inPolygon(rings: Ring[], x: number, y: number): boolean {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i] as [number, number];
      const [xj, yj] = ring[j] as [number, number];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** Zone lookup by brute force over the features in file order (the first holding the point wins). */
export class RefZones {
  readonly #zones: { id: string; bbox: [number, number, number, number]; polygons: Ring[][] }[];

  constructor(collection: { features: { properties: Record<string, unknown>; geometry: Geometry }[] }) {
    this.#zones = collection.features.map((f) => {
      const polygons = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
      const xs = polygons.flatMap((p) => p[0]!.map((c) => c[0]!));
      const ys = polygons.flatMap((p) => p[0]!.map((c) => c[1]!));
      return { id: String(f.properties.id), bbox: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], polygons };
    });
  }

  zoneOf(lon: number, lat: number): string | undefined {
    for (const zone of this.#zones) {
      const [w, s, e, n] = zone.bbox;
      if (lon < w || lon > e || lat < s || lat > n) continue;
      if (zone.polygons.some((p) => inPolygon(p, lon, lat))) return zone.id;
    }
    return undefined;
  }
}

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number) => (deg * Math.PI) / 180;

export function haversineM(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const h = Math.sin(rad(lat2 - lat1) / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(lon2 - lon1) / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.sqrt(Math.min(1, h)));
}

/** Distance along a device's points in event-time order. */
export function trackDistanceM(points: readonly RefReading[]): number {
  const sorted = [...points].sort((a, b) => a.ts - b.ts || a.lon - b.lon || a.lat - b.lat);
  let distance = 0;
  for (let i = 1; i < sorted.length; i++) distance += haversineM(sorted[i - 1]!.lon, sorted[i - 1]!.lat, sorted[i]!.lon, sorted[i]!.lat);
  return distance;
}

export interface ReadingTotals {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** What one (key, window) summed over partitions must hold. */
export interface RefWindow {
  count: number;
  readings: Map<string, ReadingTotals>;
  points: RefReading[];
}

export function addTo(windows: Map<string, RefWindow>, key: string, r: RefReading): void {
  let w = windows.get(key);
  if (w === undefined) windows.set(key, (w = { count: 0, readings: new Map(), points: [] }));
  w.count++;
  w.points.push(r);
  for (const [name, value] of Object.entries(r.readings)) {
    const t = w.readings.get(name);
    if (t === undefined) w.readings.set(name, { count: 1, sum: value, min: value, max: value });
    else {
      t.count++;
      t.sum += value;
      t.min = Math.min(t.min, value);
      t.max = Math.max(t.max, value);
    }
  }
}
