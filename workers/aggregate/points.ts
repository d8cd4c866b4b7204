import type { Position } from 'geojson';
import { shortestFloat32 } from '../../src/shared/aggregate/float32.js';

export interface PointSummary {
  readonly centroid: Position;
  readonly bbox: [number, number, number, number];
  readonly eventTime: { readonly min: number; readonly max: number };
}

/**
 * Centroid (the mean of the points), bounding box and event-time range of the
 * first `count` rows, in one pass over the columns. Sums run in float64 so
 * the mean of float32 inputs loses nothing more.
 */
export function summarizePoints(lon: Float32Array, lat: Float32Array, ts: Float64Array, count: number): PointSummary {
  if (count === 0) throw new RangeError('summarizePoints needs at least one row');
  let sumLon = 0;
  let sumLat = 0;
  let west = Infinity;
  let south = Infinity;
  let east = -Infinity;
  let north = -Infinity;
  let tsMin = Infinity;
  let tsMax = -Infinity;
  for (let i = 0; i < count; i++) {
    const x = lon[i]!;
    const y = lat[i]!;
    const t = ts[i]!;
    sumLon += x;
    sumLat += y;
    if (x < west) west = x;
    if (x > east) east = x;
    if (y < south) south = y;
    if (y > north) north = y;
    if (t < tsMin) tsMin = t;
    if (t > tsMax) tsMax = t;
  }
  return {
    centroid: [sumLon / count, sumLat / count],
    bbox: [shortestFloat32(west), shortestFloat32(south), shortestFloat32(east), shortestFloat32(north)],
    eventTime: { min: tsMin, max: tsMax },
  };
}
