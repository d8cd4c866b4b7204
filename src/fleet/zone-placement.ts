import type { MultiPolygon, Polygon, Position } from 'geojson';
import { UsageError } from '../errors.js';
import { DEVICE_KINDS, type Region } from './devices.js';
import type { Random } from './random.js';

/** What placing devices needs of a zone set (a `ZoneSet` of src/shared/zones/ is one). */
export interface PlacementZones {
  /** Where the zones came from (a file path), for messages. */
  readonly source: string;
  readonly size: number;
  id(i: number): string;
  bbox(i: number): readonly [number, number, number, number];
  geometry(i: number): Polygon | MultiPolygon;
  /** The zone holding the point, or -1; the same rule the service keys records by. */
  lookup(lon: number, lat: number): number;
}

/**
 * Points drawn in a zone's bounding boxes before giving up on it. A zone
 * covers a good share of its parts' boxes (a county: a half or more), so
 * running out means the zone holds next to no area of its own (another zone
 * covers it, or it is a sliver).
 */
const MAX_ATTEMPTS = 10_000;

/** Twice the signed area of a ring (shoelace), in square degrees. */
function doubleArea(ring: readonly Position[]): number {
  let area = 0;
  for (let k = 0; k + 1 < ring.length; k++) area += ring[k]![0]! * ring[k + 1]![1]! - ring[k + 1]![0]! * ring[k]![1]!;
  return area;
}

/**
 * The zones a device can be placed in: those with a polygon whose outer ring
 * encloses some area. Real files hold a few that do not (in us-atlas 10m,
 * Falls Church, VA, collapses to a line); they get no device.
 */
export function placeableZones(zones: PlacementZones): number[] {
  const placeable: number[] = [];
  for (let i = 0; i < zones.size; i++) {
    const geometry = zones.geometry(i);
    const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
    if (polygons.some((polygon) => doubleArea(polygon[0] ?? []) !== 0)) placeable.push(i);
  }
  return placeable;
}

/**
 * Each device's home zone, of `candidates`. Devices come in sites of one
 * device of each kind (weather, hydro, air, gps: a site of four), and sites
 * go round-robin over a seeded shuffle of the candidates: so every zone with
 * devices reports every reading, fewer sites than zones are spread over the
 * whole set, and more sites than zones give each zone the same number, give
 * or take one.
 */
export function homeZones(devices: number, candidates: readonly number[], random: Random): number[] {
  const order = [...candidates];
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return Array.from({ length: devices }, (_, i) => order[Math.floor(i / DEVICE_KINDS.length) % order.length]!);
}

interface Box {
  readonly west: number;
  readonly south: number;
  readonly east: number;
  readonly north: number;
}

function outerBox(ring: readonly Position[]): Box {
  let west = Infinity, south = Infinity, east = -Infinity, north = -Infinity;
  for (const [lon, lat] of ring) {
    west = Math.min(west, lon!);
    east = Math.max(east, lon!);
    south = Math.min(south, lat!);
    north = Math.max(north, lat!);
  }
  return { west, south, east, north };
}

const contains = (box: Box, lon: number, lat: number) => lon >= box.west && lon <= box.east && lat >= box.south && lat <= box.north;

/**
 * A uniformly random point (uniform in longitude and latitude) of zone
 * `zone`, by rejection sampling: pick one of its polygons with a chance
 * proportional to the area of its bounding box, draw a point in that box,
 * and keep it if the zone set puts it in `zone` and no earlier polygon's box
 * holds it (so a point in two boxes is not drawn twice as often). Working per
 * polygon keeps a zone across the antimeridian (the Aleutians) cheap.
 * With `margin` > 0 the corners of a box `margin` degrees around the point
 * must be in the zone too, so a station jittering by that much stays home.
 */
export function randomPointIn(zones: PlacementZones, zone: number, random: Random, margin = 0): [number, number] {
  const geometry = zones.geometry(zone);
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  const boxes = polygons.map((polygon) => outerBox(polygon[0] ?? []));
  const weights = boxes.map((box) => Math.max(0, box.east - box.west) * Math.max(0, box.north - box.south));
  const total = weights.reduce((a, b) => a + b, 0);
  const inZone = (lon: number, lat: number) => zones.lookup(lon, lat) === zone;
  for (let attempt = 0; total > 0 && attempt < MAX_ATTEMPTS; attempt++) {
    let pick = random.next() * total;
    let part = 0;
    while (part < weights.length - 1 && pick >= weights[part]!) pick -= weights[part++]!;
    const box = boxes[part]!;
    const lon = random.between(box.west, box.east);
    const lat = random.between(box.south, box.north);
    if (boxes.findIndex((b) => contains(b, lon, lat)) !== part || !inZone(lon, lat)) continue;
    if (margin > 0 && !(inZone(lon - margin, lat - margin) && inZone(lon + margin, lat - margin) &&
        inZone(lon - margin, lat + margin) && inZone(lon + margin, lat + margin))) continue;
    return [lon, lat];
  }
  throw new UsageError(
    `--zones: found no point in zone ${JSON.stringify(zones.id(zone))} (index ${zone}) after ${MAX_ATTEMPTS} tries: ` +
      'it has next to no area of its own (another zone covers it, or it is a sliver)',
  );
}

/** The rectangle around every zone: where the fleet's trackers may walk. */
export function zonesRegion(zones: PlacementZones): Region {
  let west = Infinity, south = Infinity, east = -Infinity, north = -Infinity;
  for (let i = 0; i < zones.size; i++) {
    const [w, s, e, n] = zones.bbox(i);
    west = Math.min(west, w);
    south = Math.min(south, s);
    east = Math.max(east, e);
    north = Math.max(north, n);
  }
  return { west, south, east, north };
}
