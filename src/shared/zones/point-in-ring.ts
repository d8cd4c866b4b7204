/**
 * The exact point-in-polygon test of the zone index: the crossing number
 * (even-odd rule) over every ring of one polygon, outer ring and holes
 * together, on flat coordinates.
 *
 * A ray leaves the point towards east (+x); each edge it crosses flips
 * inside/outside. An edge counts when it spans the point's latitude by the
 * half-open rule `(y0 > y) !== (y1 > y)` and the point lies strictly west of
 * it: taken upwards (from its lower endpoint), the edge has the point on its
 * left, a positive cross product. Symbolically that is the answer for the
 * point nudged an infinitesimal step east, then a far smaller step north, so
 * a point exactly on a border is decided by what lies just east of it:
 *
 * - on a north-south or slanted edge: inside the polygon east of the edge;
 * - on an east-west (horizontal) edge: inside the polygon north of it;
 * - on a vertex: inside the polygon that holds the points just east of the
 *   vertex, a hair north of due east.
 *
 * This holds exactly on vertices and on north-south and east-west edges. On
 * a slanted edge the cross product is rounded in general, so a point within
 * an ulp or so of it may be decided either way, but the same way for both
 * neighbours. On a grid (coordinates multiples of one power of two, at most
 * 2^26 steps apart) nothing is rounded at all.
 *
 * Each edge's cross product is computed from its lower endpoint up,
 * whichever way the ring runs, so two neighbours that share an edge with the
 * same vertices compute the same number for it, to the last bit, and a point
 * on that edge falls in exactly one of them. A vertex of one polygon lying on
 * an edge of another without a matching vertex there (a T-junction) gets no
 * such promise: the two edges differ, and rounding may put a point within an
 * ulp of them in both or neither.
 */

/**
 * Whether (x, y) is inside the polygon whose rings are `firstRing` to
 * `endRing - 1` by the even-odd rule. `coords` holds x, y pairs; ring r's
 * positions are `ringStarts[r]` to `ringStarts[r + 1] - 1` (position indices,
 * so coordinates at twice them), each ring closed (last position = first).
 * Allocates nothing.
 */
export function ringsContain(coords: Float64Array, ringStarts: Int32Array, firstRing: number, endRing: number, x: number, y: number): boolean {
  let inside = false;
  for (let ring = firstRing; ring < endRing; ring++) {
    // The closing position repeats the first, so consecutive pairs are every edge.
    const last = 2 * (ringStarts[ring + 1]! - 1);
    for (let k = 2 * ringStarts[ring]!; k < last; k += 2) {
      const ya = coords[k + 1]!;
      const yb = coords[k + 3]!;
      if (ya > y === yb > y) continue;
      const xa = coords[k]!;
      const xb = coords[k + 2]!;
      // From the lower endpoint up: the same bits for an edge shared by two rings running opposite ways.
      const left = ya < yb ? (xb - xa) * (y - ya) - (yb - ya) * (x - xa) : (xa - xb) * (y - yb) - (ya - yb) * (x - xb);
      if (left > 0) inside = !inside;
    }
  }
  return inside;
}
