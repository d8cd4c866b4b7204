import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orient } from '../../src/shared/aggregate/orient.js';
import { HULL_MAX_VERTICES, planarHull, planarHullOfUnion } from '../../src/shared/aggregate/planar-hull.js';

type Point = readonly [number, number];

/** float32 values are integer multiples of 2^-149. */
const TO_INTEGER = 2 ** 149;

/** The orientation of c against a→b in BigInt: the reference for orient() and for the brute-force hull. */
function exactOrient(a: Point, b: Point, c: Point): number {
  const [ax, ay, bx, by, cx, cy] = [a[0], a[1], b[0], b[1], c[0], c[1]].map((v) => BigInt(v * TO_INTEGER)) as [bigint, bigint, bigint, bigint, bigint, bigint];
  const det = (ax - cx) * (by - cy) - (ay - cy) * (bx - cx);
  return det > 0n ? 1 : det < 0n ? -1 : 0;
}

const key = (p: Point) => `${p[0]},${p[1]}`;
const lexLess = (p: Point, q: Point) => p[0] < q[0] || (p[0] === q[0] && p[1] < q[1]);

/** Strictly between p and q on their segment (r is known to be collinear with them). */
function strictlyBetween(p: Point, q: Point, r: Point): boolean {
  return lexLess(p, q) ? lexLess(p, r) && lexLess(r, q) : lexLess(q, r) && lexLess(r, p);
}

/**
 * The hull's vertex set by brute force: p→q is a counter-clockwise hull edge
 * when every other point is strictly left of it or strictly between p and q.
 * Points that span no area have their two lexicographic extremes (or their one point).
 */
function bruteForceVertices(points: readonly Point[]): Set<string> {
  const distinct = [...new Map(points.map((p) => [key(p), p])).values()];
  const vertices = new Set<string>();
  for (const p of distinct) {
    for (const q of distinct) {
      if (p === q) continue;
      const isEdge = distinct.every((r) => r === p || r === q || exactOrient(p, q, r) > 0 || (exactOrient(p, q, r) === 0 && strictlyBetween(p, q, r)));
      if (isEdge) vertices.add(key(p)).add(key(q));
    }
  }
  if (vertices.size === 0 && distinct.length > 0) {
    const sorted = [...distinct].sort((p, q) => (lexLess(p, q) ? -1 : 1));
    vertices.add(key(sorted[0]!)).add(key(sorted[sorted.length - 1]!));
  }
  return vertices;
}

function hullOf(points: readonly Point[], maxVertices?: number): number[] {
  return planarHull(points.map((p) => p[0]), points.map((p) => p[1]), points.length, maxVertices);
}

function vertexList(flat: readonly number[]): Point[] {
  const vertices: Point[] = [];
  for (let i = 0; i < flat.length; i += 2) vertices.push([flat[i]!, flat[i + 1]!]);
  return vertices;
}

const f32 = (x: number) => Math.fround(x);
/** Coordinates that make duplicates, collinear runs, exponent gaps and near-collinear triples likely. */
const coordinate = fc.oneof(
  fc.integer({ min: -4, max: 4 }).map((k) => k * 0.25),
  fc.float({ min: -180, max: 180, noNaN: true }),
  fc.constantFrom(0, 2 ** -149, -(2 ** -149), f32(1e-30), f32(100.1), f32(8.5417), f32(8.541701)),
);
const point = fc.tuple(coordinate, coordinate).map(([x, y]) => [x + 0, y + 0] as Point);
/** Points on the line through two random points, rounded to float32: exactly or nearly collinear. */
const nearLine = fc
  .tuple(fc.float({ min: -180, max: 180, noNaN: true }), fc.float({ min: -90, max: 90, noNaN: true }), fc.float({ min: -1, max: 1, noNaN: true }), fc.float({ min: -1, max: 1, noNaN: true }))
  .chain(([x, y, dx, dy]) => fc.array(fc.integer({ min: -1000, max: 1000 }).map((t) => [f32(x + t * dx), f32(y + t * dy)] as Point), { minLength: 1, maxLength: 30 }));
const pointSet = fc.oneof(fc.array(point, { maxLength: 40 }), nearLine, fc.tuple(nearLine, fc.array(point, { maxLength: 5 })).map(([a, b]) => [...a, ...b]));

/** Three points a + s·d on a line of a fine grid, one of them nudged by a float32 step or not: exactly collinear or barely not. */
const gridLineTriple = fc
  .tuple(fc.array(fc.integer({ min: -4000, max: 4000 }), { minLength: 7, maxLength: 7 }), fc.constantFrom(0, 1, -1))
  .map(([[ax, ay, dx, dy, s, t, scale], nudge]) => {
    const unit = 2 ** -((scale! & 15) + 4);
    const at = (k: number): Point => [(ax! + k * dx!) * unit, (ay! + k * dy!) * unit];
    const c = at(t!);
    return [at(0), at(s!), [c[0], nudge === 0 ? c[1] : f32(c[1] + nudge * Math.abs(c[1]) * 2 ** -23)] as Point] as const;
  });

/**
 * a and b on the diagonal near 1, c near 2^-28 on it or one float32 step off:
 * the coordinate differences are exact (53 bits) but their products are not,
 * and the determinant (about 2^-51) is as small as the products' rounding.
 */
const unitScaleTriple = fc
  .tuple(fc.integer({ min: 2 ** 23, max: 2 ** 24 - 1 }), fc.constantFrom(-1, 0, 1), fc.constantFrom(0.5, 1, 1.5, 2, 3), fc.constantFrom(0.5, 1, 1.5, 2, 3))
  .map(([m, step, a, b]) => [[a, a], [b, b], [m * 2 ** -51, (m + step) * 2 ** -51]] as [Point, Point, Point]);

describe('exact orientation', () => {
  it('agrees with BigInt arithmetic, near-collinear and far-apart magnitudes included', () => {
    const anyFloat32 = fc.oneof(coordinate, fc.float({ noNaN: true, noDefaultInfinity: true }));
    const triple = fc.oneof(
      fc.tuple(fc.tuple(anyFloat32, anyFloat32), fc.tuple(anyFloat32, anyFloat32), fc.tuple(anyFloat32, anyFloat32)),
      nearLine.filter((line) => line.length >= 3).map((line) => [line[0]!, line[1]!, line[2]!] as const),
      gridLineTriple,
      unitScaleTriple,
    );
    fc.assert(
      fc.property(triple, ([a, b, c]) => {
        expect(orient(a[0], a[1], b[0], b[1], c[0], c[1])).toBe(exactOrient(a, b, c));
      }),
      { numRuns: 20000 },
    );
  });

  it('settles cases rounded doubles get wrong', () => {
    // Nearly collinear: the rounded determinant is 0 or has the wrong sign.
    const a: Point = [f32(0.5), f32(0.5)];
    const b: Point = [f32(12), f32(12)];
    const c: Point = [f32(24), f32(24.000002)];
    expect(orient(...a, ...b, ...c)).toBe(exactOrient(a, b, c));
    expect(orient(...a, ...b, ...c)).toBe(1);
    // Magnitudes 2^150 apart: the coordinate differences themselves round.
    const tiny: Point = [2 ** -149, 0];
    expect(orient(0, 0, 100, 2 ** -149, ...tiny)).toBe(exactOrient([0, 0], [100, 2 ** -149], tiny));
  });
});

describe('planar hull', () => {
  it('is the brute-force hull: its vertices are input points, counter-clockwise from the lowest lon then lat, every point inside or on it', () => {
    fc.assert(
      fc.property(pointSet, (points) => {
        const vertices = vertexList(hullOf(points));
        expect(new Set(vertices.map(key))).toEqual(bruteForceVertices(points));
        expect(vertices.length).toBe(new Set(vertices.map(key)).size);
        if (vertices.length === 0) return;
        for (const v of vertices) expect(lexLess(v, vertices[0]!)).toBe(false);
        if (vertices.length < 3) return;
        for (let i = 0; i < vertices.length; i++) {
          const a = vertices[i]!;
          const b = vertices[(i + 1) % vertices.length]!;
          // Strictly convex and counter-clockwise: each next vertex turns left.
          expect(exactOrient(a, b, vertices[(i + 2) % vertices.length]!)).toBe(1);
          for (const p of points) expect(exactOrient(a, b, p)).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('of the union of split hulls equals the hull of all points, bit for bit, in any merge order', () => {
    fc.assert(
      fc.property(pointSet, fc.array(fc.nat({ max: 4 })), fc.boolean(), (points, assignment, reverse) => {
        const parts: Point[][] = [[], [], [], [], []];
        points.forEach((p, i) => parts[assignment[i % Math.max(1, assignment.length)] ?? 0]!.push(p));
        const hulls = parts.map((part) => hullOf(part));
        if (reverse) hulls.reverse();
        const merged = hulls.reduce((into, h) => planarHullOfUnion(into, h), []);
        expect(merged).toEqual(hullOf(points));
        expect(hullOf([...points].reverse())).toEqual(hullOf(points));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps one vertex for one point, the two ends for collinear points, none for none', () => {
    expect(hullOf([])).toEqual([]);
    expect(hullOf([[3, 4], [3, 4]])).toEqual([3, 4]);
    expect(hullOf([[2, 2], [0, 0], [1, 1], [3, 3], [1, 1]])).toEqual([0, 0, 3, 3]);
    expect(hullOf([[0, 5], [0, -1], [0, 2]])).toEqual([0, -1, 0, 5]);
  });

  it('writes -0 as 0, whichever zero came first', () => {
    expect(Object.is(hullOf([[-0, -0], [1, 0], [0, 1]])[0], 0)).toBe(true);
    expect(hullOf([[-0, 0], [0, -0], [1, 0], [0, 1]])).toEqual(hullOf([[0, 0], [1, 0], [0, 1]]));
  });

  it('reduces a hull past the vertex bound to evenly spaced vertices of the canonical order, the same for any input order', () => {
    const circle: Point[] = Array.from({ length: 1000 }, (_, i) => [f32(10 + Math.cos((2 * Math.PI * i) / 1000)), f32(46 + Math.sin((2 * Math.PI * i) / 1000))]);
    const full = vertexList(hullOf(circle, Number.MAX_SAFE_INTEGER));
    expect(full.length).toBeGreaterThan(HULL_MAX_VERTICES);
    const reduced = vertexList(hullOf(circle));
    expect(reduced.length).toBe(HULL_MAX_VERTICES);
    expect(reduced[0]).toEqual(full[0]);
    const fullKeys = full.map(key);
    // A subsequence of the full hull, in its order.
    const positions = reduced.map((v) => fullKeys.indexOf(key(v)));
    for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
    expect(hullOf([...circle].reverse())).toEqual(hullOf(circle));
  });
});
