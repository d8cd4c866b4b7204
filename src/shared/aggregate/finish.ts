import { area } from '@turf/area';
import type { Polygon, Position } from 'geojson';
import { setEntry } from '../json-dictionary.js';
import { expansionValue } from './exact-sum.js';
import { shortestFloat32 } from './float32.js';
import { EAST, NORTH, READING_SUM_SCALE, SOUTH, TS_MAX, TS_MIN, WEST, forEachReading, type PartialAggregate } from './partial.js';
import { summarizeTrack, type TrackSummary } from './track.js';

export type { TrackSummary } from './track.js';

export interface ReadingSummary {
  count: number;
  min: number;
  max: number;
  /** The exact sum, correctly rounded, divided by count. */
  mean: number;
  /** The exact sum, correctly rounded (beyond ±1.8e308: ±Infinity). */
  sum: number;
}

/** A closed window's aggregate for one key, ready for its output record. */
export interface FinishedAggregate {
  count: number;
  /** Distinct device ids. */
  devices: number;
  /** Mean lon and lat: the exact sums, correctly rounded, divided by count. */
  centroid: [number, number];
  /** West, south, east, north, as shortest float32 decimals. */
  bbox: [number, number, number, number];
  /** Closed counter-clockwise ring (RFC 7946) from the lowest-lon vertex, shortest float32 decimals; null when the points span no area. */
  hull: Polygon | null;
  /** Geodesic area of that polygon (@turf/area), 0 without one. */
  hullAreaM2: number;
  eventTime: { min: number; max: number };
  /** Per reading name, names sorted, each an own property (`__proto__` too; see json-dictionary.ts). */
  readings: Record<string, ReadingSummary>;
  /** Present iff the partial has a track. */
  track?: TrackSummary;
}

/** Vertices of the smallest hull that spans an area. */
const POLYGON_MIN_VERTICES = 3;

/**
 * The output fields of a window's merged partial. A pure function of the
 * partial's merge-independent content, so equal record sets give equal
 * results (and equal JSON). Throws a RangeError on an empty partial, which no
 * window emits.
 */
export function finishAggregate(p: PartialAggregate): FinishedAggregate {
  if (p.count === 0) throw new RangeError('finishAggregate needs a partial of at least one record');
  const hull = hullPolygon(p.hull);
  const finished: FinishedAggregate = {
    count: p.count,
    devices: p.devices.length,
    centroid: [expansionValue(p.sumLon) / p.count, expansionValue(p.sumLat) / p.count],
    bbox: [shortestFloat32(p.bounds[WEST]!), shortestFloat32(p.bounds[SOUTH]!), shortestFloat32(p.bounds[EAST]!), shortestFloat32(p.bounds[NORTH]!)],
    hull,
    hullAreaM2: hull === null ? 0 : area(hull),
    eventTime: { min: p.bounds[TS_MIN]!, max: p.bounds[TS_MAX]! },
    readings: readingSummaries(p),
  };
  if (p.track !== null) {
    const track = summarizeTrack(p.track);
    if (track !== null) finished.track = track;
  }
  return finished;
}

function hullPolygon(flat: readonly number[]): Polygon | null {
  const vertices = flat.length / 2;
  if (vertices < POLYGON_MIN_VERTICES) return null;
  const ring: Position[] = [];
  for (let k = 0; k < vertices; k++) ring.push([shortestFloat32(flat[2 * k]!), shortestFloat32(flat[2 * k + 1]!)]);
  ring.push([ring[0]![0]!, ring[0]![1]!]);
  return { type: 'Polygon', coordinates: [ring] };
}

function readingSummaries(p: PartialAggregate): Record<string, ReadingSummary> {
  const summaries: Record<string, ReadingSummary> = {};
  forEachReading(p, (name, count, min, max, from, to) => {
    const scaled = expansionValue(p.readingStats, from, to);
    // Dividing before unscaling keeps a mean finite when only the sum passes the range of a double.
    setEntry(summaries, name, { count, min, max, mean: scaled / count / READING_SUM_SCALE, sum: scaled / READING_SUM_SCALE });
  });
  return summaries;
}
