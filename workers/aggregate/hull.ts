import { area } from '@turf/area';
import { convex } from '@turf/convex';
import type { MultiPoint, Polygon } from 'geojson';
import { shortestFloat32 } from '../../src/shared/aggregate/float32.js';
import { hullCandidates } from './hull-candidates.js';

export interface HullSummary {
  readonly hull: Polygon | null;
  readonly areaM2: number;
}

/** Indexes of hull candidates, reused from call to call (a worker runs one task at a time). */
let candidates = new Uint32Array(0);

/**
 * Convex hull and its geodesic area with turf, fed one MultiPoint of plain
 * coordinate pairs: a GeoJSON Feature per point would cost ~240 bytes of heap
 * per point for nothing. Only points that can be hull vertices are given to
 * turf (see hull-candidates.ts). Points that span no area (one point, a line)
 * have no hull.
 */
export function convexHull(lon: Float32Array, lat: Float32Array, count: number): HullSummary {
  if (candidates.length < count) candidates = new Uint32Array(count);
  const kept = hullCandidates(lon, lat, count, candidates);
  const coordinates: number[][] = new Array<number[]>(kept);
  for (let k = 0; k < kept; k++) {
    const i = candidates[k]!;
    coordinates[k] = [lon[i]!, lat[i]!];
  }
  const points: MultiPoint = { type: 'MultiPoint', coordinates };
  const feature = convex(points);
  if (feature === null) return { hull: null, areaM2: 0 };
  const ring = feature.geometry.coordinates[0]!.map(([x, y]) => [shortestFloat32(x!), shortestFloat32(y!)]);
  // RFC 7946: an exterior ring runs counter-clockwise; turf's hull runs clockwise.
  if (signedArea(ring) < 0) ring.reverse();
  const hull: Polygon = { type: 'Polygon', coordinates: [ring] };
  return { hull, areaM2: area(feature) };
}

/** Twice the planar signed area of a closed ring: positive when counter-clockwise. */
function signedArea(ring: number[][]): number {
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [x1, y1] = ring[i]!;
    const [x2, y2] = ring[i + 1]!;
    sum += x1! * y2! - x2! * y1!;
  }
  return sum;
}
