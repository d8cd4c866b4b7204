import { orient } from './orient.js';

/**
 * Most vertices a partial hull keeps: a bound on the state of one (window,
 * key), whatever its points. Real sensor hulls have tens of vertices; points
 * along a curve (a circular track, a coastline) can have as many as points.
 */
export const HULL_MAX_VERTICES = 256;

/**
 * The convex hull of a set of float32 points, as a function of the set alone:
 * Andrew's monotone chain over the points sorted by (lon, lat), with the
 * exact orientation predicate, duplicate and collinear points dropped. The
 * result is the set of strictly convex vertices, counter-clockwise, starting
 * from the lowest-lon (then lowest-lat) vertex: one answer per set, so
 * hull(hull(A) ∪ hull(B)) equals hull(A ∪ B) bit for bit.
 *
 * Returns flat [lon0, lat0, lon1, lat1, ...]: one vertex for a single
 * distinct point, two (the ends) for collinear points, none for no points.
 *
 * Above `maxVertices` the hull is reduced deterministically to the vertices
 * at evenly spaced positions of that canonical order (the first always kept):
 * still convex, inside the true hull, but no longer exact under merging.
 */
export function planarHull(lon: ArrayLike<number>, lat: ArrayLike<number>, count: number, maxVertices = HULL_MAX_VERTICES): number[] {
  const order = sortedDistinct(lon, lat, count);
  const n = order.length;
  if (n <= 2) return flatten(lon, lat, order, n);
  // Lower chain left to right, then upper chain right to left: counter-clockwise from order[0].
  const chain = new Uint32Array(2 * n);
  let size = 0;
  for (let k = 0; k < n; k++) {
    const p = order[k]!;
    while (size >= 2 && !turnsLeft(lon, lat, chain[size - 2]!, chain[size - 1]!, p)) size--;
    chain[size++] = p;
  }
  const lowerSize = size;
  for (let k = n - 2; k >= 0; k--) {
    const p = order[k]!;
    while (size > lowerSize && !turnsLeft(lon, lat, chain[size - 2]!, chain[size - 1]!, p)) size--;
    chain[size++] = p;
  }
  // The last vertex is order[0] again; a set with no area leaves its two ends.
  size--;
  if (size > maxVertices) return reduce(lon, lat, chain, size, maxVertices);
  return flatten(lon, lat, chain, size);
}

/** The hull of two flat vertex lists together (merging two partial hulls). */
export function planarHullOfUnion(a: readonly number[], b: readonly number[], maxVertices = HULL_MAX_VERTICES): number[] {
  const count = (a.length + b.length) / 2;
  const lon = new Float64Array(count);
  const lat = new Float64Array(count);
  let k = 0;
  for (const flat of [a, b]) {
    for (let i = 0; i + 1 < flat.length; i += 2) {
      lon[k] = flat[i]!;
      lat[k++] = flat[i + 1]!;
    }
  }
  return planarHull(lon, lat, count, maxVertices);
}

function turnsLeft(lon: ArrayLike<number>, lat: ArrayLike<number>, a: number, b: number, c: number): boolean {
  return orient(lon[a]!, lat[a]!, lon[b]!, lat[b]!, lon[c]!, lat[c]!) > 0;
}

/** Indexes of the first `count` points sorted by (lon, lat), one per distinct point. */
function sortedDistinct(lon: ArrayLike<number>, lat: ArrayLike<number>, count: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  order.sort((i, j) => lon[i]! - lon[j]! || lat[i]! - lat[j]!);
  let distinct = 0;
  for (let k = 0; k < count; k++) {
    const i = order[k]!;
    const last = distinct > 0 ? order[distinct - 1]! : -1;
    if (last >= 0 && lon[last] === lon[i] && lat[last] === lat[i]) continue;
    order[distinct++] = i;
  }
  return order.subarray(0, distinct);
}

function flatten(lon: ArrayLike<number>, lat: ArrayLike<number>, indexes: Uint32Array, size: number): number[] {
  const flat = new Array<number>(2 * size);
  for (let k = 0; k < size; k++) {
    const i = indexes[k]!;
    // + 0 turns -0 into 0: which of two equal zeros came first must not show.
    flat[2 * k] = lon[i]! + 0;
    flat[2 * k + 1] = lat[i]! + 0;
  }
  return flat;
}

function reduce(lon: ArrayLike<number>, lat: ArrayLike<number>, chain: Uint32Array, size: number, maxVertices: number): number[] {
  const kept = new Uint32Array(maxVertices);
  for (let k = 0; k < maxVertices; k++) kept[k] = chain[Math.floor((k * size) / maxVertices)]!;
  return flatten(lon, lat, kept, maxVertices);
}
