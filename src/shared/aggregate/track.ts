import { shortestFloat32 } from './float32.js';

/**
 * The fixes of one device's track in a window, sorted by (ts, lon, lat), each
 * distinct (ts, lon, lat) once: a device reporting the same position at the
 * same time twice (a resend, a replayed record) made one fix, not two.
 */
export interface TrackPartial {
  ts: number[];
  lon: number[];
  lat: number[];
}

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
  const track = trackOfCapacity(count);
  let n = 0;
  for (let k = 0; k < count; k++) {
    const i = order[k]!;
    n = appendFix(track, n, ts[i]!, lon[i]!, lat[i]!);
  }
  return trimmed(track, n);
}

export function emptyTrack(): TrackPartial {
  return { ts: [], lon: [], lat: [] };
}

/** Two sorted tracks as one, in one linear pass; a fix both hold is kept once. */
export function mergeTracks(a: TrackPartial, b: TrackPartial): TrackPartial {
  const track = trackOfCapacity(a.ts.length + b.ts.length);
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < a.ts.length && j < b.ts.length) {
    if (compareFixes(a.ts[i]!, a.lon[i]!, a.lat[i]!, b.ts[j]!, b.lon[j]!, b.lat[j]!) <= 0) {
      n = appendFix(track, n, a.ts[i]!, a.lon[i]!, a.lat[i]!);
      i++;
    } else {
      n = appendFix(track, n, b.ts[j]!, b.lon[j]!, b.lat[j]!);
      j++;
    }
  }
  for (; i < a.ts.length; i++) n = appendFix(track, n, a.ts[i]!, a.lon[i]!, a.lat[i]!);
  for (; j < b.ts.length; j++) n = appendFix(track, n, b.ts[j]!, b.lon[j]!, b.lat[j]!);
  return trimmed(track, n);
}

/**
 * Columns sized for every fix, trimmed to the distinct ones at the end: a
 * track is window state, and arrays grown by push keep up to half again.
 */
function trackOfCapacity(capacity: number): TrackPartial {
  return { ts: new Array<number>(capacity), lon: new Array<number>(capacity), lat: new Array<number>(capacity) };
}

function trimmed(track: TrackPartial, size: number): TrackPartial {
  track.ts.length = size;
  track.lon.length = size;
  track.lat.length = size;
  return track;
}

/** Writes fix `size` when it differs from the last one written (fixes come sorted); returns the new size. */
function appendFix(track: TrackPartial, size: number, ts: number, lon: number, lat: number): number {
  const last = size - 1;
  if (last >= 0 && track.ts[last] === ts && track.lon[last] === lon && track.lat[last] === lat) return size;
  track.ts[size] = ts;
  track.lon[size] = lon;
  track.lat[size] = lat;
  return size + 1;
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
  const n = track.ts.length;
  if (n === 0) return null;
  let distanceM = 0;
  let maxSpeedMps: number | null = null;
  for (let k = 1; k < n; k++) {
    const d = haversineM(track.lon[k - 1]!, track.lat[k - 1]!, track.lon[k]!, track.lat[k]!);
    distanceM += d;
    const seconds = (track.ts[k]! - track.ts[k - 1]!) / MS_PER_SECOND;
    if (seconds > 0) {
      const speed = d / seconds;
      if (maxSpeedMps === null || speed > maxSpeedMps) maxSpeedMps = speed;
    }
  }
  return { points: n, distanceM, maxSpeedMps, first: fixAt(track, 0), last: fixAt(track, n - 1) };
}

function fixAt(track: TrackPartial, k: number): { lon: number; lat: number; ts: number } {
  return { lon: shortestFloat32(track.lon[k]!), lat: shortestFloat32(track.lat[k]!), ts: track.ts[k]! };
}
