import fc from 'fast-check';
import type { Position } from 'geojson';
import { describe, expect, it } from 'vitest';
import { zonesFromGeoJson, type ZoneSet } from '../../src/shared/zones/zone-set.js';
import { bruteForce, evenOdd, type Rings } from './zones-reference.js';

const square = (w: number, s: number, e: number, n: number): Position[] => [
  [w, s],
  [e, s],
  [e, n],
  [w, n],
  [w, s],
];

function zones(...geometries: (Rings | Rings[])[]): ZoneSet {
  const features = geometries.map((coordinates, i) => ({
    type: 'Feature',
    properties: { id: `z${i}` },
    geometry: Array.isArray(coordinates[0]?.[0]?.[0]) ? { type: 'MultiPolygon', coordinates } : { type: 'Polygon', coordinates },
  }));
  return zonesFromGeoJson({ type: 'FeatureCollection', features }, 'test.geojson', 'id');
}

function all(set: ZoneSet, x: number, y: number): number[] {
  const out: number[] = [];
  set.lookupAll(x, y, out);
  return out;
}

describe('ZoneSet.lookup', () => {
  it('finds the zone holding a point, -1 outside every zone', () => {
    const set = zones([square(0, 0, 1, 1)], [square(2, 0, 3, 1)]);
    expect(set.lookup(0.5, 0.5)).toBe(0);
    expect(set.lookup(2.5, 0.5)).toBe(1);
    expect(set.lookup(1.5, 0.5)).toBe(-1); // between the two, inside the extent
    expect(set.lookup(10, 10)).toBe(-1);
    expect(set.lookup(-10, 0.5)).toBe(-1);
  });

  it('is -1 for NaN and infinite coordinates', () => {
    const set = zones([square(-180, -90, 180, 90)]);
    expect(set.lookup(Number.NaN, 0)).toBe(-1);
    expect(set.lookup(0, Number.NaN)).toBe(-1);
    expect(set.lookup(Number.POSITIVE_INFINITY, 0)).toBe(-1);
  });

  it('respects holes, and a zone filling a hole owns it', () => {
    const outer = square(0, 0, 4, 4);
    const hole = square(1, 1, 3, 3);
    expect(zones([outer, hole]).lookup(2, 2)).toBe(-1);
    const set = zones([outer, hole], [square(1, 1, 3, 3)]);
    expect(set.lookup(2, 2)).toBe(1);
    expect(set.lookup(0.5, 2)).toBe(0);
    // The hole's border: the hole's south edge goes to the zone north of it (the filler), its north edge to the ring.
    expect(set.lookup(2, 1)).toBe(1);
    expect(set.lookup(2, 3)).toBe(0);
  });

  it('tests each polygon of a MultiPolygon on its own', () => {
    // z0's two parts span a box that holds z1; a point in z1 is in z1 although z0 comes first.
    const set = zones([[square(0, 0, 1, 1)], [square(9, 9, 10, 10)]], [square(4, 4, 5, 5)]);
    expect(set.lookup(0.5, 0.5)).toBe(0);
    expect(set.lookup(9.5, 9.5)).toBe(0);
    expect(set.lookup(4.5, 4.5)).toBe(1);
    expect(set.lookup(2, 2)).toBe(-1);
    expect(set.parts).toBe(3);
    expect(set.bbox(0)).toEqual([0, 0, 10, 10]);
  });

  it('puts a point on the border of two neighbours in exactly one, the one east of it', () => {
    const set = zones([square(0, 0, 1, 1)], [square(1, 0, 2, 1)]);
    for (let i = 0; i <= 100; i++) {
      const y = i / 100;
      const holders = all(set, 1, y);
      if (y < 1) expect(holders).toEqual([1]);
      else expect(holders).toEqual([]); // the north-east corner of both: outside both, by the rule
    }
  });

  it('puts a point on an east-west border in the zone north of it, a shared corner in the north-east zone', () => {
    const set = zones([square(0, 0, 1, 1)], [square(1, 0, 2, 1)], [square(0, 1, 1, 2)], [square(1, 1, 2, 2)]);
    expect(all(set, 0.5, 1)).toEqual([2]);
    expect(all(set, 1.5, 1)).toEqual([3]);
    expect(all(set, 1, 1)).toEqual([3]);
    expect(all(set, 1, 0)).toEqual([1]);
    expect(all(set, 0, 0)).toEqual([0]);
  });

  it('puts every point of a slanted shared border in exactly one neighbour, whichever way the rings run', () => {
    // The border zigzags through the same vertices in both rings; the west zone runs counter-clockwise, the east one clockwise.
    const border: Position[] = [
      [0.3, -1],
      [0.3, 0],
      [0.71, 0.13],
      [0.2, 0.37],
      [0.93, 0.61],
      [0.47, 1],
      [0.47, 2],
    ];
    const west = [[-1, -1], ...border, [-1, 2], [-1, -1]];
    const east = [[2, -1], [2, 2], ...[...border].reverse(), [2, -1]];
    const set = zones([west], [east]);
    // The border's inner edges, their ends included: the outer ones end on the zones' own south and north edges.
    for (let e = 1; e < border.length - 2; e++) {
      const [x0, y0] = border[e] as [number, number];
      const [x1, y1] = border[e + 1] as [number, number];
      for (let i = 0; i <= 200; i++) {
        const t = i / 200;
        expect(all(set, x0 + t * (x1 - x0), y0 + t * (y1 - y0))).toHaveLength(1);
      }
    }
  });

  it('settles overlaps by file order: the first zone wins', () => {
    const a = square(0, 0, 2, 2);
    const b = square(1, 1, 3, 3);
    expect(zones([a], [b]).lookup(1.5, 1.5)).toBe(0);
    expect(zones([b], [a]).lookup(1.5, 1.5)).toBe(0);
    expect(zones([b], [a]).lookup(0.5, 0.5)).toBe(1);
    expect(all(zones([a], [b]), 1.5, 1.5)).toEqual([0, 1]);
  });

  it('gives ids, boxes, geometry and extent', () => {
    const set = zones([square(0, 0, 1, 1)], [[square(5, -2, 6, -1)], [square(-3, 4, -2, 5)]]);
    expect(set.size).toBe(2);
    expect(set.id(1)).toBe('z1');
    expect(set.bbox(1)).toEqual([-3, -2, 6, 5]);
    expect(set.geometry(0)).toEqual({ type: 'Polygon', coordinates: [square(0, 0, 1, 1)] });
    expect(set.geometry(1)).toEqual({ type: 'MultiPolygon', coordinates: [[square(5, -2, 6, -1)], [square(-3, 4, -2, 5)]] });
    expect(set.extent).toEqual([-3, -2, 6, 5]);
    expect([set.parts, set.rings, set.positions]).toEqual([3, 3, 15]);
    expect(() => set.id(2)).toThrow(RangeError);
    expect(() => set.geometry(-1)).toThrow(RangeError);
  });
});

/** Coordinates on a grid of 2^-16 over [0, 100]: every cross product of the tests exact, points often on borders and corners. */
const GRID = 2 ** 16;
const onGrid = (v: number) => Math.round(v * GRID) / GRID;
const coordinate = fc.integer({ min: 0, max: 100 * GRID }).map((v) => v / GRID);
const ring = fc.array(fc.tuple(coordinate, coordinate), { minLength: 3, maxLength: 9 }).map((corners): Position[] => [...corners, corners[0]!]);
/** A star-shaped ring around a centre: simple, often overlapping its neighbours. */
const star = fc
  .record({ cx: coordinate, cy: coordinate, radii: fc.array(fc.double({ min: 0.5, max: 8, noNaN: true }), { minLength: 3, maxLength: 12 }) })
  .map(({ cx, cy, radii }): Position[] => {
    const angle = (i: number) => (2 * Math.PI * i) / radii.length;
    const corners = radii.map((r, i): Position => [onGrid(cx + r * Math.cos(angle(i))), onGrid(cy + r * Math.sin(angle(i)))]);
    return [...corners, corners[0]!];
  });
/** A polygon: a star with at times a random (often self-intersecting) ring as a hole. */
const polygon = fc.tuple(star, fc.option(ring, { freq: 3 })).map(([outer, hole]) => (hole === null ? [outer] : [outer, hole]));
const zone = fc.array(polygon, { minLength: 1, maxLength: 3 });

describe('ZoneSet.lookup against a brute-force scan', () => {
  it('agrees for random zones and points (first zone wins)', () => {
    fc.assert(
      fc.property(fc.array(zone, { minLength: 1, maxLength: 400 }), fc.array(fc.tuple(coordinate, coordinate), { minLength: 50, maxLength: 50 }), (polygons, points) => {
        const set = zones(...polygons);
        // Corners and edge midpoints of the first zones too: points on borders, where the rule decides.
        const onBorders = polygons.slice(0, 5).flatMap((parts) =>
          parts.flatMap((rings) => rings.flatMap((r) => r.slice(1).flatMap(([x, y], i) => [[x, y], [(x! + r[i]![0]!) / 2, (y! + r[i]![1]!) / 2]]))),
        ) as [number, number][];
        for (const [x, y] of [...points, ...onBorders]) {
          expect(set.lookup(x, y)).toBe(bruteForce(polygons, x, y));
          const holders = polygons.flatMap((parts, i) => (parts.some((rings) => evenOdd(rings, x, y)) ? [i] : []));
          expect(all(set, x, y)).toEqual(holders);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('puts every point of a tiling in exactly one tile, borders and corners included', () => {
    // A jittered grid of quadrilaterals sharing their edges exactly; points on edges, on corners and anywhere.
    fc.assert(
      fc.property(fc.array(fc.double({ min: -0.3, max: 0.3, noNaN: true }), { minLength: 2 * 11 * 11, maxLength: 2 * 11 * 11 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (jitter, seed) => {
        const n = 10;
        const corner = (i: number, j: number): Position => {
          // The tiling's outer border stays straight so every point of [0, n) x [0, n) is inside some tile.
          const jx = i === 0 || i === n ? 0 : jitter[2 * (i * (n + 1) + j)]!;
          const jy = j === 0 || j === n ? 0 : jitter[2 * (i * (n + 1) + j) + 1]!;
          return [i + jx, j + jy];
        };
        const tiles: Rings[] = [];
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) tiles.push([[corner(i, j), corner(i + 1, j), corner(i + 1, j + 1), corner(i, j + 1), corner(i, j)]]);
        const set = zones(...tiles);
        let state = seed;
        const next = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
        for (let k = 0; k < 300; k++) {
          const i = 1 + Math.floor(next() * (n - 2));
          const j = 1 + Math.floor(next() * (n - 2));
          const [ax, ay] = corner(i, j) as [number, number];
          const [bx, by] = corner(i + 1, j) as [number, number];
          const t = next();
          const onEdge: [number, number] = [ax + t * (bx - ax), ay + t * (by - ay)];
          for (const [x, y] of [onEdge, [ax, ay], [next() * n, next() * n]] as [number, number][]) expect(all(set, x, y)).toHaveLength(1);
        }
      }),
      { numRuns: 20 },
    );
  });
});
