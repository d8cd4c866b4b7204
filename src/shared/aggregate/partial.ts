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
import { ExactSum, expansionMerge } from './exact-sum.js';
import { planarHullOfUnion } from './planar-hull.js';
import { mergeTracks, type TrackPartial } from './track.js';

export { HULL_MAX_VERTICES } from './planar-hull.js';
export { PartialBuilder, READING_SUM_SCALE } from './partial-builder.js';
export type { TrackPartial } from './track.js';

/**
 * Plain data: what the main thread merges into its open windows (it crosses
 * from a worker as partial-wire.ts). Window state is one of these per key, so
 * the layout keeps arrays few: about 40 B of header each, against 8 B per
 * number they hold.
 */
export interface PartialAggregate {
  /** Records folded. */
  count: number;
  /** Exact-sum expansions of the float32 longitudes and latitudes. */
  sumLon: number[];
  sumLat: number[];
  /** West, south, east, north, then the least and greatest event time (epoch ms); [∞, ∞, -∞, -∞, ∞, -∞] when empty. */
  bounds: number[];
  /** Distinct device ids, sorted by UTF-16 code units. */
  devices: string[];
  /** Flat [lon0, lat0, lon1, lat1, ...]: the canonical hull of the points (planar-hull.ts), at most HULL_MAX_VERTICES vertices. */
  hull: number[];
  /**
   * Reading names, sorted by UTF-16 code units. Never modified in place:
   * partials with the same names may share one array (a wire's reader and
   * the merge hand out one they already hold).
   */
  readingNames: readonly string[];
  /**
   * Per name, in readingNames' order: count, min, max, the length n of its
   * sum's exact-sum expansion, then its n partials (the values times
   * READING_SUM_SCALE).
   */
  readingStats: number[];
  /** Only when built with track: true. */
  track: TrackPartial | null;
}

/** Indexes into PartialAggregate.bounds. */
export const WEST = 0;
export const SOUTH = 1;
export const EAST = 2;
export const NORTH = 3;
export const TS_MIN = 4;
export const TS_MAX = 5;
/** Numbers in readingStats before a reading's sum partials: count, min, max, n. */
const READING_HEAD = 4;

const NO_NAMES: readonly string[] = Object.freeze([]);

/** The partial of no records: merging it changes nothing, so an open window can start from it. */
export function emptyPartial(track: boolean): PartialAggregate {
  return {
    count: 0,
    sumLon: [],
    sumLat: [],
    bounds: [Infinity, Infinity, -Infinity, -Infinity, Infinity, -Infinity],
    devices: [],
    hull: [],
    readingNames: NO_NAMES,
    readingStats: [],
    track: track ? [] : null,
  };
}

/** One reading's statistics as readingStats holds them; `from` and `to` bound its sum's partials there. */
type ReadingVisitor = (name: string, count: number, min: number, max: number, from: number, to: number) => void;

/** Calls `visit` for every reading name of the partial, in sorted order. */
export function forEachReading(p: PartialAggregate, visit: ReadingVisitor): void {
  const stats = p.readingStats;
  let at = 0;
  for (const name of p.readingNames) {
    const from = at + READING_HEAD;
    const to = from + stats[at + 3]!;
    visit(name, stats[at]!, stats[at + 1]!, stats[at + 2]!, from, to);
    at = to;
  }
}

/**
 * Merges `other` into `into` in place (`other` is left as it was and shares
 * no modifiable array with `into` afterwards). Returns the readings dropped
 * because `into` would pass `maxReadingNames` names: names already in `into`
 * are kept, then `other`'s new names in sorted order while there is room;
 * each value of a name left out counts as one dropped reading. Partials of
 * one window must all be built with the same track option.
 */
export function mergePartial(into: PartialAggregate, other: PartialAggregate, maxReadingNames: number): number {
  if (other.count === 0) return 0;
  into.count += other.count;
  expansionMerge(into.sumLon, other.sumLon);
  expansionMerge(into.sumLat, other.sumLat);
  const ours = into.bounds;
  const theirs = other.bounds;
  if (theirs[WEST]! < ours[WEST]!) ours[WEST] = theirs[WEST]!;
  if (theirs[SOUTH]! < ours[SOUTH]!) ours[SOUTH] = theirs[SOUTH]!;
  if (theirs[EAST]! > ours[EAST]!) ours[EAST] = theirs[EAST]!;
  if (theirs[NORTH]! > ours[NORTH]!) ours[NORTH] = theirs[NORTH]!;
  if (theirs[TS_MIN]! < ours[TS_MIN]!) ours[TS_MIN] = theirs[TS_MIN]!;
  if (theirs[TS_MAX]! > ours[TS_MAX]!) ours[TS_MAX] = theirs[TS_MAX]!;
  into.devices = mergeSortedDistinct(into.devices, other.devices);
  into.hull = planarHullOfUnion(into.hull, other.hull);
  if (other.track !== null) into.track = mergeTracks(into.track ?? [], other.track);
  return other.readingNames.length === 0 ? 0 : mergeReadings(into, other, maxReadingNames);
}

/** Scratch space of mergeReadings (one thread runs one merge at a time). */
const scratchSum = new ExactSum();
const scratchNames: string[] = [];
const scratchStats: number[] = [];

/** Both sorted name lists walked once; the result's arrays are made at their exact length. */
function mergeReadings(into: PartialAggregate, other: PartialAggregate, maxReadingNames: number): number {
  const ourNames = into.readingNames;
  const theirNames = other.readingNames;
  const ours = into.readingStats;
  const theirs = other.readingStats;
  scratchNames.length = 0;
  scratchStats.length = 0;
  let room = maxReadingNames - ourNames.length;
  let dropped = 0;
  let i = 0;
  let j = 0;
  let at = 0;
  let theirAt = 0;
  while (i < ourNames.length || j < theirNames.length) {
    const x = ourNames[i];
    const y = theirNames[j];
    if (y === undefined || (x !== undefined && x < y)) {
      scratchNames.push(x!);
      at = copyReading(ours, at);
      i++;
    } else if (x === undefined || y < x) {
      if (room > 0) {
        scratchNames.push(y);
        theirAt = copyReading(theirs, theirAt);
        room--;
      } else {
        dropped += theirs[theirAt]!;
        theirAt += READING_HEAD + theirs[theirAt + 3]!;
      }
      j++;
    } else {
      scratchNames.push(x);
      const ourEnd = at + READING_HEAD + ours[at + 3]!;
      const theirEnd = theirAt + READING_HEAD + theirs[theirAt + 3]!;
      scratchSum.reset();
      scratchSum.addExpansion(ours, at + READING_HEAD, ourEnd);
      scratchSum.addExpansion(theirs, theirAt + READING_HEAD, theirEnd);
      scratchStats.push(ours[at]! + theirs[theirAt]!, Math.min(ours[at + 1]!, theirs[theirAt + 1]!), Math.max(ours[at + 2]!, theirs[theirAt + 2]!), scratchSum.length);
      scratchSum.pushTo(scratchStats);
      at = ourEnd;
      theirAt = theirEnd;
      i++;
      j++;
    }
  }
  if (!sameNames(ourNames, scratchNames)) into.readingNames = sameNames(theirNames, scratchNames) ? theirNames : scratchNames.slice();
  into.readingStats = scratchStats.slice();
  return dropped;
}

/** Appends one reading's statistics, from `at`, to the scratch; returns where the next one starts. */
function copyReading(stats: readonly number[], at: number): number {
  const end = at + READING_HEAD + stats[at + 3]!;
  for (let k = at; k < end; k++) scratchStats.push(stats[k]!);
  return end;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
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
/** The partial object, its bounds array and the headers of its other arrays. */
const PARTIAL_BASE_BYTES = 400;
/** One reading name: its slot in readingNames (counted for every partial, though partials share the array) and the name string's header. */
const READING_BASE_BYTES = 24;
/** One device id: its array slot and the string's header. Measured 32 B for an 8-character id on Node 20. */
const DEVICE_BASE_BYTES = 32;
/** Per character of a string, at worst (two-byte strings). */
const CHAR_BYTES = 2;
/**
 * The sizes above are measured, so the sum bounds a partial the main thread
 * holds from above (device ids and reading names are counted in full, though
 * keys of one chunk share them); a tenth more absorbs layouts that differ
 * between V8 versions.
 */
const ESTIMATE_MARGIN = 1.1;

/**
 * A rough upper estimate of the bytes this partial holds on the heap, for the
 * window-state memory cap (strings are counted in full though ids may be
 * shared with other windows).
 */
export function partialBytes(p: PartialAggregate): number {
  let bytes =
    PARTIAL_BASE_BYTES +
    (p.sumLon.length + p.sumLat.length + p.readingStats.length + p.hull.length + (p.track?.length ?? 0)) * NUMBER_BYTES;
  for (const name of p.readingNames) bytes += READING_BASE_BYTES + name.length * CHAR_BYTES;
  for (const id of p.devices) bytes += DEVICE_BASE_BYTES + id.length * CHAR_BYTES;
  return Math.ceil(bytes * ESTIMATE_MARGIN);
}
