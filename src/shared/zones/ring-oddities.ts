/**
 * What is odd about a ring but does not stop it from being used: the index
 * counts these at load time so start-up can log them, and the even-odd test
 * gives every such ring a well-defined inside anyway.
 */

/** Positions equal to the one before them (the closing position aside): harmless zero-length edges. */
export function repeatedPositions(coords: Float64Array, first: number, end: number): number {
  let repeated = 0;
  for (let i = first + 1; i < end - 1; i++) {
    if (coords[2 * i] === coords[2 * i - 2] && coords[2 * i + 1] === coords[2 * i - 1]) repeated++;
  }
  return repeated;
}

/** Positions outside [-180, 180] × [-90, 90]: a file in projected coordinates, most likely, which no longitude/latitude will hit. */
export function positionsOutOfRange(coords: Float64Array, first: number, end: number): number {
  let out = 0;
  for (let i = first; i < end; i++) {
    const x = coords[2 * i]!;
    const y = coords[2 * i + 1]!;
    if (x < -180 || x > 180 || y < -90 || y > 90) out++;
  }
  return out;
}

/** Sign of the turn a → b → c: positive counter-clockwise, negative clockwise, 0 collinear. */
function orientation(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  return Math.sign((bx - ax) * (cy - ay) - (by - ay) * (cx - ax));
}

/** Whether c, collinear with segment a-b, lies within its bounding box (so on the segment). */
function within(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): boolean {
  return Math.min(ax, bx) <= cx && cx <= Math.max(ax, bx) && Math.min(ay, by) <= cy && cy <= Math.max(ay, by);
}

/** Whether every position of a ring lies on one line: the ring encloses nothing. */
export function isCollinear(coords: Float64Array, first: number, end: number): boolean {
  const x0 = coords[2 * first]!;
  const y0 = coords[2 * first + 1]!;
  let i = first + 1;
  while (i < end && coords[2 * i] === x0 && coords[2 * i + 1] === y0) i++;
  if (i === end) return true;
  const x1 = coords[2 * i]!;
  const y1 = coords[2 * i + 1]!;
  for (; i < end; i++) {
    if (orientation(x0, y0, x1, y1, coords[2 * i]!, coords[2 * i + 1]!) !== 0) return false;
  }
  return true;
}

/** Whether segments p1-p2 and p3-p4 share at least one point (crossing, touching or overlapping). */
function segmentsMeet(xs: Float64Array, ys: Float64Array, p1: number, p2: number, p3: number, p4: number): boolean {
  const x1 = xs[p1]!, y1 = ys[p1]!, x2 = xs[p2]!, y2 = ys[p2]!;
  const x3 = xs[p3]!, y3 = ys[p3]!, x4 = xs[p4]!, y4 = ys[p4]!;
  const d1 = orientation(x3, y3, x4, y4, x1, y1);
  const d2 = orientation(x3, y3, x4, y4, x2, y2);
  const d3 = orientation(x1, y1, x2, y2, x3, y3);
  const d4 = orientation(x1, y1, x2, y2, x4, y4);
  if (d1 * d2 < 0 && d3 * d4 < 0) return true;
  return (
    (d1 === 0 && within(x3, y3, x4, y4, x1, y1)) ||
    (d2 === 0 && within(x3, y3, x4, y4, x2, y2)) ||
    (d3 === 0 && within(x1, y1, x2, y2, x3, y3)) ||
    (d4 === 0 && within(x1, y1, x2, y2, x4, y4))
  );
}

/**
 * Whether a closed ring meets itself: two edges that are not neighbours
 * share a point (they cross, touch or overlap), or two neighbouring edges
 * fold back along each other (a spike). Repeated positions are skipped
 * first, as they only add zero-length edges. Edges are swept in order of
 * their west end, each compared only with the edges whose x range overlaps
 * its own, so a county-sized ring costs little more than sorting its edges.
 */
export function ringSelfIntersects(coords: Float64Array, first: number, end: number): boolean {
  // The distinct vertices in order; the closing position is left out, so edge k runs from vertex k to k + 1 (mod n).
  const xs = new Float64Array(end - first);
  const ys = new Float64Array(end - first);
  let n = 0;
  for (let i = first; i < end - 1; i++) {
    const x = coords[2 * i]!;
    const y = coords[2 * i + 1]!;
    if (n > 0 && xs[n - 1] === x && ys[n - 1] === y) continue;
    xs[n] = x;
    ys[n] = y;
    n++;
  }
  while (n > 1 && xs[n - 1] === xs[0] && ys[n - 1] === ys[0]) n--;
  if (n < 3) return false;

  const west = new Float64Array(n);
  const east = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const next = (k + 1) % n;
    west[k] = Math.min(xs[k]!, xs[next]!);
    east[k] = Math.max(xs[k]!, xs[next]!);
  }
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  order.sort((a, b) => west[a]! - west[b]!);

  for (let i = 0; i < n; i++) {
    const a = order[i]!;
    const a2 = (a + 1) % n;
    for (let j = i + 1; j < n && west[order[j]!]! <= east[a]!; j++) {
      const b = order[j]!;
      const b2 = (b + 1) % n;
      if (b2 === a || a2 === b) {
        // Neighbours share one vertex; they meet elsewhere only if they fold back along each other.
        const shared = b2 === a ? a : b;
        const p = b2 === a ? a2 : a;
        const q = b2 === a ? b : b2;
        const sx = xs[shared]!;
        const sy = ys[shared]!;
        const collinear = orientation(sx, sy, xs[p]!, ys[p]!, xs[q]!, ys[q]!) === 0;
        if (collinear && (xs[p]! - sx) * (xs[q]! - sx) + (ys[p]! - sy) * (ys[q]! - sy) > 0) return true;
        continue;
      }
      if (segmentsMeet(xs, ys, a, a2, b, b2)) return true;
    }
  }
  return false;
}
