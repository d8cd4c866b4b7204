import { area } from '@turf/area';
import { convex } from '@turf/convex';
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/fleet/random.js';
import { convexHull } from '../../workers/aggregate/hull.js';
import { hullCandidates } from '../../workers/aggregate/hull-candidates.js';

/** turf's hull of every point, with no filtering: what the filtered hull must equal. */
function turfHullOfAll(lon: Float32Array, lat: Float32Array): { vertices: Set<string>; areaM2: number } | null {
  const coordinates = Array.from(lon, (x, i) => [x, lat[i]!]);
  const feature = convex({ type: 'MultiPoint', coordinates });
  if (feature === null) return null;
  const vertices = new Set(feature.geometry.coordinates[0]!.map(([x, y]) => `${Math.fround(x!)},${Math.fround(y!)}`));
  return { vertices, areaM2: area(feature) };
}

function columns(points: [number, number][]): [Float32Array, Float32Array] {
  return [Float32Array.from(points, (p) => p[0]), Float32Array.from(points, (p) => p[1])];
}

const random = new Random(7);
const between = (a: number, b: number) => random.between(a, b);

const SETS: Record<string, () => [number, number][]> = {
  'uniform in a rectangle': () => Array.from({ length: 2000 }, () => [between(5.5, 16.5), between(44.5, 48.5)]),
  'stations with jitter': () => {
    const stations = Array.from({ length: 40 }, () => [between(5.5, 16.5), between(44.5, 48.5)] as const);
    return Array.from({ length: 2000 }, (_, i) => {
      const [x, y] = stations[i % 40]!;
      return [x + between(-5e-5, 5e-5), y + between(-5e-5, 5e-5)];
    });
  },
  'a GPS walk': () => {
    let x = 10;
    let y = 46;
    return Array.from({ length: 2000 }, () => [(x += between(-0.001, 0.001)), (y += between(-0.001, 0.001))]);
  },
  'a disc (many points near the hull)': () =>
    Array.from({ length: 2000 }, () => {
      const angle = between(0, 2 * Math.PI);
      const r = Math.sqrt(between(0.99, 1));
      return [10 + r * Math.cos(angle), 46 + r * Math.sin(angle)];
    }),
  'a grid with points on every edge': () => Array.from({ length: 400 }, (_, i) => [i % 20, Math.floor(i / 20)]),
  'a triangle, its corners repeated': () => [[0, 0], [0, 0], [4, 0], [4, 0], [0, 3], [1, 1], [0, 3]],
};

describe('hull candidates', () => {
  it.each(Object.keys(SETS))('leaves the hull of %s as turf finds it over every point', (name) => {
    const [lon, lat] = columns(SETS[name]!());
    const expected = turfHullOfAll(lon, lat)!;
    const { hull, areaM2 } = convexHull(lon, lat, lon.length);
    const vertices = new Set(hull!.coordinates[0]!.map(([x, y]) => `${Math.fround(x!)},${Math.fround(y!)}`));
    expect(vertices).toEqual(expected.vertices);
    expect(areaM2).toBeCloseTo(expected.areaM2, 3);
  });

  it('drops most points of a spread-out fleet', () => {
    const [lon, lat] = columns(SETS['uniform in a rectangle']!());
    const kept = hullCandidates(lon, lat, lon.length, new Uint32Array(lon.length));
    // The octagon of the extremes covers most of a rectangle's area.
    expect(kept).toBeLessThan(lon.length / 3);
  });

  it('keeps every point when the extremes span no area (a line, one point)', () => {
    const [lon, lat] = columns([[0, 0], [1, 1], [2, 2], [3, 3]]);
    expect(hullCandidates(lon, lat, 4, new Uint32Array(4))).toBe(4);
    const [x1, y1] = columns([[5, 5], [5, 5]]);
    expect(hullCandidates(x1, y1, 2, new Uint32Array(2))).toBe(2);
    expect(convexHull(lon, lat, 4)).toEqual({ hull: null, areaM2: 0 });
  });
});
