/*
 * Mergeable partial aggregates of one (window, key): what a worker folds from
 * one chunk's records and the main thread merges into the open window. Every
 * field merges exactly (exact sums, min/max, sorted distinct sets, the hull of
 * the union, sorted tracks), so a window's result does not depend on how its
 * records were split into chunks nor on the order partials are merged in: a
 * window rebuilt after a crash comes out the same, bit for bit. Two bounds
 * break this, both counted or documented where they apply: reading names past
 * `maxReadingNames` (which names are kept depends on arrival order) and hulls
 * past HULL_MAX_VERTICES (reduced, see planar-hull.ts).
 */
import { expansionMerge } from './exact-sum.js';
import { planarHullOfUnion } from './planar-hull.js';
import { emptyTrack, mergeTracks, type TrackPartial } from './track.js';

export { HULL_MAX_VERTICES } from './planar-hull.js';
export { PartialBuilder, READING_SUM_SCALE } from './partial-builder.js';
export type { TrackPartial } from './track.js';

/** Statistics of one reading name. */
export interface ReadingPartial {
  count: number;
  min: number;
  max: number;
  /** Exact-sum expansion of the values times READING_SUM_SCALE (exact-sum.ts). */
  sum: number[];
}

/** Plain data: what the main thread merges into its open windows (it crosses from a worker as partial-wire.ts). */
export interface PartialAggregate {
  /** Records folded. */
  count: number;
  /** Exact-sum expansions of the float32 longitudes and latitudes. */
  sumLon: number[];
  sumLat: number[];
  /** West, south, east, north; [∞, ∞, -∞, -∞] when empty. */
  bbox: [number, number, number, number];
  /** Least and greatest event time (epoch ms); [∞, -∞] when empty. */
  eventTime: [number, number];
  /** Distinct device ids, sorted by UTF-16 code units. */
  devices: string[];
  /** Flat [lon0, lat0, lon1, lat1, ...]: the canonical hull of the points (planar-hull.ts), at most HULL_MAX_VERTICES vertices. */
  hull: number[];
  /**
   * Statistics per reading name, a dictionary without prototype (a reading may
   * be named "__proto__").
   */
  readings: Record<string, ReadingPartial>;
  /** Only when built with track: true. */
  track: TrackPartial | null;
}

/** The partial of no records: merging it changes nothing, so an open window can start from it. */
export function emptyPartial(track: boolean): PartialAggregate {
  return {
    count: 0,
    sumLon: [],
    sumLat: [],
    bbox: [Infinity, Infinity, -Infinity, -Infinity],
    eventTime: [Infinity, -Infinity],
    devices: [],
    hull: [],
    readings: Object.create(null) as Record<string, ReadingPartial>,
    track: track ? emptyTrack() : null,
  };
}

/**
 * Merges `other` into `into` in place (`other` is left as it was and shares
 * no array with `into` afterwards). Returns the readings dropped because
 * `into` would pass `maxReadingNames` names: names already in `into` are kept,
 * then `other`'s new names in sorted order while there is room; each value of
 * a name left out counts as one dropped reading. Partials of one window must
 * all be built with the same track option.
 */
export function mergePartial(into: PartialAggregate, other: PartialAggregate, maxReadingNames: number): number {
  if (other.count === 0) return 0;
  into.count += other.count;
  expansionMerge(into.sumLon, other.sumLon);
  expansionMerge(into.sumLat, other.sumLat);
  into.bbox[0] = Math.min(into.bbox[0], other.bbox[0]);
  into.bbox[1] = Math.min(into.bbox[1], other.bbox[1]);
  into.bbox[2] = Math.max(into.bbox[2], other.bbox[2]);
  into.bbox[3] = Math.max(into.bbox[3], other.bbox[3]);
  into.eventTime[0] = Math.min(into.eventTime[0], other.eventTime[0]);
  into.eventTime[1] = Math.max(into.eventTime[1], other.eventTime[1]);
  into.devices = mergeSortedDistinct(into.devices, other.devices);
  into.hull = planarHullOfUnion(into.hull, other.hull);
  if (other.track !== null) into.track = mergeTracks(into.track ?? emptyTrack(), other.track);
  return mergeReadings(into, other, maxReadingNames);
}

function mergeReadings(into: PartialAggregate, other: PartialAggregate, maxReadingNames: number): number {
  const readings = into.readings;
  let names = Object.keys(readings).length;
  let dropped = 0;
  for (const name of Object.keys(other.readings).sort()) {
    const theirs = other.readings[name]!;
    const ours = readings[name];
    if (ours !== undefined) {
      ours.count += theirs.count;
      if (theirs.min < ours.min) ours.min = theirs.min;
      if (theirs.max > ours.max) ours.max = theirs.max;
      expansionMerge(ours.sum, theirs.sum);
    } else if (names < maxReadingNames) {
      readings[name] = { count: theirs.count, min: theirs.min, max: theirs.max, sum: theirs.sum.slice() };
      names++;
    } else {
      dropped += theirs.count;
    }
  }
  return dropped;
}

/**
 * Two sorted lists of distinct strings as one, in one linear pass, into an
 * array sized for both and trimmed (window state: pushing onto [] reserves
 * 17 slots for a key's two or three devices).
 */
function mergeSortedDistinct(a: readonly string[], b: readonly string[]): string[] {
  const merged = new Array<string>(a.length + b.length);
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x <= y) i++;
    if (y <= x) j++;
    merged[n++] = x < y ? x : y;
  }
  for (; i < a.length; i++) merged[n++] = a[i]!;
  for (; j < b.length; j++) merged[n++] = b[j]!;
  merged.length = n;
  return merged;
}

/**
 * A number held in an array of a partial as the main thread reads it from the
 * wire (partial-wire.ts) and merges it: an unboxed double, 8 B. The reader and
 * the merges make arrays at their exact length (arrays grown by push keep up
 * to half again, and 17 slots for one value).
 */
const NUMBER_BYTES = 8;
/** The partial object, its bbox and eventTime arrays, the headers of its other arrays and of the readings dictionary. */
const PARTIAL_BASE_BYTES = 512;
/** One reading name: its dictionary entry, the ReadingPartial object with boxed min and max, its sum array's header and the name string's header. */
const READING_BASE_BYTES = 192;
/** One device id: its array slot and the string's header. Measured 32 B for an 8-character id on Node 20. */
const DEVICE_BASE_BYTES = 32;
/** Per character of a string, at worst (two-byte strings). */
const CHAR_BYTES = 2;
const HULL_VERTEX_BYTES = 2 * NUMBER_BYTES;
const TRACK_POINT_BYTES = 3 * NUMBER_BYTES;
/**
 * The sizes above are measured, so the sum bounds a partial the main thread
 * holds from above by 4-26% for the small ones window state is mostly made of
 * (device ids are counted in full, though keys of one chunk share them); a
 * tenth more absorbs layouts that differ between V8 versions.
 */
const ESTIMATE_MARGIN = 1.1;

/**
 * A rough upper estimate of the bytes this partial holds on the heap, for the
 * window-state memory cap (strings are counted in full though ids may be
 * shared with other windows).
 */
export function partialBytes(p: PartialAggregate): number {
  let bytes = PARTIAL_BASE_BYTES + (p.sumLon.length + p.sumLat.length) * NUMBER_BYTES;
  for (const name of Object.keys(p.readings)) {
    bytes += READING_BASE_BYTES + name.length * CHAR_BYTES + p.readings[name]!.sum.length * NUMBER_BYTES;
  }
  for (const id of p.devices) bytes += DEVICE_BASE_BYTES + id.length * CHAR_BYTES;
  bytes += (p.hull.length / 2) * HULL_VERTEX_BYTES;
  if (p.track !== null) bytes += p.track.ts.length * TRACK_POINT_BYTES;
  return Math.ceil(bytes * ESTIMATE_MARGIN);
}
