import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ringsContain } from '../../src/shared/zones/point-in-ring.js';
import { isCollinear, positionsOutOfRange, repeatedPositions, ringSelfIntersects } from '../../src/shared/zones/ring-oddities.js';

type Ring = readonly (readonly [number, number])[];

/** Flat coordinates and ring starts of one polygon, as the index stores them. */
function flat(...rings: Ring[]): { coords: Float64Array; starts: Int32Array } {
  const starts = new Int32Array(rings.length + 1);
  rings.forEach((ring, r) => (starts[r + 1] = starts[r]! + ring.length));
  return { coords: Float64Array.from(rings.flat(2)), starts };
}

function contains(x: number, y: number, ...rings: Ring[]): boolean {
  const { coords, starts } = flat(...rings);
  return ringsContain(coords, starts, 0, rings.length, x, y);
}

const closed = (...corners: [number, number][]): Ring => [...corners, corners[0]!];
const square = (w: number, s: number, e: number, n: number): Ring => closed([w, s], [e, s], [e, n], [w, n]);

describe('ringsContain (even-odd, half-open)', () => {
  const unit = square(0, 0, 1, 1);

  it('inside and outside', () => {
    expect(contains(0.5, 0.5, unit)).toBe(true);
    expect(contains(1.5, 0.5, unit)).toBe(false);
    expect(contains(-0.5, 0.5, unit)).toBe(false);
    expect(contains(0.5, 1.5, unit)).toBe(false);
  });

  it('a hole is outside, an island in the hole inside again', () => {
    const hole = square(0.25, 0.25, 0.75, 0.75);
    const island = square(0.4, 0.4, 0.6, 0.6);
    expect(contains(0.3, 0.3, unit, hole)).toBe(false);
    expect(contains(0.1, 0.1, unit, hole)).toBe(true);
    expect(contains(0.5, 0.5, unit, hole, island)).toBe(true);
  });

  it('a point on a north-south edge belongs to the polygon east of it', () => {
    expect(contains(0, 0.5, unit)).toBe(true); // west edge: the square is east of it
    expect(contains(1, 0.5, unit)).toBe(false); // east edge: the square is west of it
  });

  it('a point on an east-west edge belongs to the polygon north of it', () => {
    expect(contains(0.5, 0, unit)).toBe(true); // south edge
    expect(contains(0.5, 1, unit)).toBe(false); // north edge
  });

  it('a vertex belongs to the polygon just east of it, a hair north of due east', () => {
    expect(contains(0, 0, unit)).toBe(true);
    expect(contains(1, 0, unit)).toBe(false);
    expect(contains(1, 1, unit)).toBe(false);
    expect(contains(0, 1, unit)).toBe(false);
    // A diamond: its west corner has the diamond due east; its south corner has it only north of east.
    const diamond = closed([0, 1], [1, 0], [2, 1], [1, 2]);
    expect(contains(0, 1, diamond)).toBe(true);
    expect(contains(1, 0, diamond)).toBe(false);
    expect(contains(2, 1, diamond)).toBe(false);
  });

  it('the same answer whichever way a ring runs and wherever it starts', () => {
    const ring = closed([0, 0], [3, 1], [2, 4], [-1, 2]);
    const reversed = [...ring].reverse();
    const rotated = closed([2, 4], [-1, 2], [0, 0], [3, 1]);
    fc.assert(
      fc.property(fc.double({ min: -2, max: 5, noNaN: true }), fc.double({ min: -1, max: 5, noNaN: true }), (x, y) => {
        const expected = contains(x, y, ring);
        expect(contains(x, y, reversed)).toBe(expected);
        expect(contains(x, y, rotated)).toBe(expected);
      }),
    );
  });

  it('a self-intersecting ring by the even-odd rule: the middle of a pentagram is outside', () => {
    const star = closed([0, 3], [2, -3], [-3, 1], [3, 1], [-2, -3]);
    expect(contains(0, 0, star)).toBe(false);
    expect(contains(0, 2.5, star)).toBe(true);
  });
});

/** Every pair of edges, as the sweep should find them. */
function selfIntersectsBrute(ring: Ring): boolean {
  const vertices: [number, number][] = [];
  for (const [x, y] of ring.slice(0, -1)) {
    const last = vertices[vertices.length - 1];
    if (last === undefined || last[0] !== x || last[1] !== y) vertices.push([x, y]);
  }
  while (vertices.length > 1 && vertices[vertices.length - 1]![0] === vertices[0]![0] && vertices[vertices.length - 1]![1] === vertices[0]![1]) vertices.pop();
  const n = vertices.length;
  if (n < 3) return false;
  const cross = (o: [number, number], a: [number, number], b: [number, number]) => Math.sign((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]));
  const onSegment = (a: [number, number], b: [number, number], p: [number, number]) =>
    cross(a, b, p) === 0 && Math.min(a[0], b[0]) <= p[0] && p[0] <= Math.max(a[0], b[0]) && Math.min(a[1], b[1]) <= p[1] && p[1] <= Math.max(a[1], b[1]);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const [a, b, c, d] = [vertices[i]!, vertices[(i + 1) % n]!, vertices[j]!, vertices[(j + 1) % n]!];
      if ((i + 1) % n === j || (j + 1) % n === i) {
        // Neighbours: a spike when the far ends lie on the same ray from the shared vertex.
        const [shared, p, q] = (i + 1) % n === j ? [b, a, d] : [a, b, c];
        if (cross(shared, p, q) === 0 && (p[0] - shared[0]) * (q[0] - shared[0]) + (p[1] - shared[1]) * (q[1] - shared[1]) > 0) return true;
        continue;
      }
      const proper = cross(c, d, a) * cross(c, d, b) < 0 && cross(a, b, c) * cross(a, b, d) < 0;
      if (proper || onSegment(c, d, a) || onSegment(c, d, b) || onSegment(a, b, c) || onSegment(a, b, d)) return true;
    }
  }
  return false;
}

function selfIntersects(ring: Ring): boolean {
  return ringSelfIntersects(flat(ring).coords, 0, ring.length);
}

describe('ring oddities', () => {
  it('a simple ring does not intersect itself', () => {
    expect(selfIntersects(square(0, 0, 1, 1))).toBe(false);
    expect(selfIntersects(closed([0, 0], [1, 0], [0, 1]))).toBe(false);
  });

  it('a bow tie does', () => {
    expect(selfIntersects(closed([0, 0], [1, 1], [1, 0], [0, 1]))).toBe(true);
  });

  it('a ring touching itself at a vertex does', () => {
    expect(selfIntersects(closed([0, 0], [2, 0], [1, 1], [2, 2], [0, 2], [1, 1]))).toBe(true);
  });

  it('a ring with a vertex on one of its edges does', () => {
    expect(selfIntersects(closed([0, 0], [4, 0], [4, 2], [2, 0.0], [0, 2]))).toBe(true);
  });

  it('a spike folding back along its edge does', () => {
    expect(selfIntersects(closed([0, 0], [2, 0], [2, 2], [2, 3], [2, 1], [0, 2]))).toBe(true);
  });

  it('repeated positions do not', () => {
    const ring = [[0, 0], [1, 0], [1, 0], [1, 1], [0, 1], [0, 1], [0, 0]] as const;
    expect(selfIntersects(ring)).toBe(false);
    expect(repeatedPositions(flat(ring).coords, 0, ring.length)).toBe(2);
  });

  it('collinear rings enclose nothing', () => {
    const line = closed([0, 0], [1, 1], [3, 3], [2, 2]);
    expect(isCollinear(flat(line).coords, 0, line.length)).toBe(true);
    expect(isCollinear(flat(square(0, 0, 1, 1)).coords, 0, 5)).toBe(false);
  });

  it('positions outside longitude and latitude are counted', () => {
    const projected = square(-2_000_000, 100, 500_000, 80);
    expect(positionsOutOfRange(flat(projected).coords, 0, projected.length)).toBe(5);
    expect(positionsOutOfRange(flat(square(-180, -90, 180, 90)).coords, 0, 5)).toBe(0);
  });

  it('the sweep finds what comparing every pair of edges finds', () => {
    // Small integer coordinates: many collinear, touching and overlapping edges.
    const corner = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }));
    fc.assert(
      fc.property(fc.array(corner, { minLength: 3, maxLength: 12 }), (corners) => {
        const ring = closed(...corners);
        expect(selfIntersects(ring)).toBe(selfIntersectsBrute(ring));
      }),
      { numRuns: 3000 },
    );
  });
});
