import { shortestFloat32 } from './float32.js';

/**
 * The fixes of one device's track in a window, sorted by (ts, lon, lat), each
 * distinct (ts, lon, lat) once (a device reporting the same position at the
 * same time twice, a resend or a replayed record, made one fix, not two), as
 * one flat array of triples: ts0, lon0, lat0, ts1, ... One array, not three:
 * window state holds a track per device key.
 */
export type TrackPartial = number[];

/** Numbers per fix in a TrackPartial. */
export const FIX_STRIDE = 3;

export interface TrackSummary {
  /** Distinct fixes. */
  points: number;
  /** Great-circle distance along the fixes in event-time order. */
  distanceM: number;
  /** Highest speed between consecutive fixes with distinct times; null when every fix has the same time. */
  maxSpeedMps: number | null;
  first: { lon: number; lat: number; ts: number };
  last: { lon: number; lat: number; ts: number };
}

/**
 * Mean Earth radius (IUGG R1 = (2a + b) / 3 of WGS 84), the radius of the
 * sphere the haversine distances are measured on. turf uses the same value.
 */
export const EARTH_MEAN_RADIUS_M = 6371008.8;
const RADIANS_PER_DEGREE = Math.PI / 180;
const MS_PER_SECOND = 1000;

/** Orders two fixes by time, then longitude, then latitude (negative: a first). */
export function compareFixes(aTs: number, aLon: number, aLat: number, bTs: number, bLon: number, bLat: number): number {
  return aTs - bTs || aLon - bLon || aLat - bLat;
}

/** The first `count` fixes of the columns as a sorted track, duplicates dropped. */
export function sortedTrack(lon: ArrayLike<number>, lat: ArrayLike<number>, ts: ArrayLike<number>, count: number): TrackPartial {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  order.sort((i, j) => compareFixes(ts[i]!, lon[i]!, lat[i]!, ts[j]!, lon[j]!, lat[j]!));
  const track = new Array<number>(count * FIX_STRIDE);
  let n = 0;
  for (let k = 0; k < count; k++) {
    const i = order[k]!;
    n = appendFix(track, n, ts[i]!, lon[i]!, lat[i]!);
  }
  track.length = n;
  return track;
}

/** Fixes in a track. */
export function trackPoints(track: TrackPartial): number {
  return track.length / FIX_STRIDE;
}

/**
 * Two sorted tracks as one, in one linear pass; a fix both hold is kept once.
 * The array is sized for every fix and trimmed to the distinct ones (window
 * state: arrays grown by push keep up to half again).
 */
export function mergeTracks(a: TrackPartial, b: TrackPartial): TrackPartial {
  const track = new Array<number>(a.length + b.length);
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (compareFixes(a[i]!, a[i + 1]!, a[i + 2]!, b[j]!, b[j + 1]!, b[j + 2]!) <= 0) {
      n = appendFix(track, n, a[i]!, a[i + 1]!, a[i + 2]!);
      i += FIX_STRIDE;
    } else {
      n = appendFix(track, n, b[j]!, b[j + 1]!, b[j + 2]!);
      j += FIX_STRIDE;
    }
  }
  for (; i < a.length; i += FIX_STRIDE) n = appendFix(track, n, a[i]!, a[i + 1]!, a[i + 2]!);
  for (; j < b.length; j += FIX_STRIDE) n = appendFix(track, n, b[j]!, b[j + 1]!, b[j + 2]!);
  track.length = n;
  return track;
}

/** Writes a fix at index `size` unless it equals the last one written (fixes come sorted); returns the new length. */
function appendFix(track: number[], size: number, ts: number, lon: number, lat: number): number {
  if (size > 0 && track[size - 3] === ts && track[size - 2] === lon && track[size - 1] === lat) return size;
  track[size] = ts;
  track[size + 1] = lon;
  track[size + 2] = lat;
  return size + FIX_STRIDE;
}

/** Great-circle distance in metres between two points in degrees (haversine, on the mean Earth sphere). */
export function haversineM(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const phi1 = lat1 * RADIANS_PER_DEGREE;
  const phi2 = lat2 * RADIANS_PER_DEGREE;
  const sinHalfDLat = Math.sin((phi2 - phi1) / 2);
  const sinHalfDLon = Math.sin(((lon2 - lon1) * RADIANS_PER_DEGREE) / 2);
  const h = sinHalfDLat * sinHalfDLat + Math.cos(phi1) * Math.cos(phi2) * sinHalfDLon * sinHalfDLon;
  // Rounding can push h just past 1 for antipodal points.
  return 2 * EARTH_MEAN_RADIUS_M * Math.asin(Math.sqrt(Math.min(1, h)));
}

/**
 * Points, distance and top speed of a whole track, computed from its full
 * sorted list (never from pieces), so it is the same however the fixes were
 * split. Positions print as their shortest float32 decimals; distances use the
 * float32 values themselves. Null for an empty track.
 */
export function summarizeTrack(track: TrackPartial): TrackSummary | null {
  const n = track.length;
  if (n === 0) return null;
  let distanceM = 0;
  let maxSpeedMps: number | null = null;
  for (let k = FIX_STRIDE; k < n; k += FIX_STRIDE) {
    const d = haversineM(track[k - 2]!, track[k - 1]!, track[k + 1]!, track[k + 2]!);
    distanceM += d;
    const seconds = (track[k]! - track[k - FIX_STRIDE]!) / MS_PER_SECOND;
    if (seconds > 0) {
      const speed = d / seconds;
      if (maxSpeedMps === null || speed > maxSpeedMps) maxSpeedMps = speed;
    }
  }
  return { points: n / FIX_STRIDE, distanceM, maxSpeedMps, first: fixAt(track, 0), last: fixAt(track, n - FIX_STRIDE) };
}

function fixAt(track: TrackPartial, at: number): { lon: number; lat: number; ts: number } {
  return { lon: shortestFloat32(track[at + 1]!), lat: shortestFloat32(track[at + 2]!), ts: track[at]! };
}
