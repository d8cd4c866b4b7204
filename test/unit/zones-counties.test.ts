import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseZones } from '../../src/shared/zones/zone-set.js';
import { usCounties, usStates } from '../../src/tools/us-counties.js';
import { partsOf, evenOdd, type Rings } from './zones-reference.js';

// Real boundaries: the 3,231 us-atlas counties, read from GeoJSON text as the service reads a file.
const counties = usCounties();
const text = JSON.stringify(counties);
const started = performance.now();
const zones = parseZones(text, 'counties.geojson', 'id');
const loadMs = performance.now() - started;

/** Load and index well under this even on a busy CI machine (about 0.2 to 0.5 s here): a guard against a slow path, not a benchmark. */
const LOAD_BUDGET_MS = 5000;

describe('us-atlas counties as zones', () => {
  it('loads every county, each part of a MultiPolygon its own polygon, fast', () => {
    expect(zones.size).toBe(3231);
    expect(zones.parts).toBe(3510);
    expect(zones.positions).toBe(68_313);
    expect(loadMs).toBeLessThan(LOAD_BUDGET_MS);
  });

  it('gives back the id and geometry of every county as read', () => {
    counties.features.forEach((f, i) => {
      expect(zones.id(i)).toBe(f.properties.id);
      expect(zones.geometry(i)).toEqual(f.geometry);
    });
  });

  it('counts what is odd in them and accepts it', () => {
    expect(zones.oddities).toEqual({ selfIntersectingRings: 22, collinearRings: 22, repeatedPositions: 98, positionsOutOfRange: 0 });
  });

  it('finds the county of known places (lat, lon as usually written)', () => {
    const places: [string, number, number, string][] = [
      ['San Francisco', 37.7749, -122.4194, '06075'],
      ['Manhattan', 40.7831, -73.9712, '36061'],
      ['Chicago Loop', 41.8781, -87.6298, '17031'],
      ['Denver', 39.7392, -104.9903, '08031'],
      ['Honolulu', 21.3069, -157.8583, '15003'],
      ['Anchorage', 61.2181, -149.9003, '02020'],
      ['Attu Island, west of the antimeridian', 52.88, 173.1, '02016'],
      ['Adak, east of it', 51.88, -176.65, '02016'],
      ['San Juan', 18.4655, -66.1057, '72127'],
    ];
    for (const [place, lat, lon, fips] of places) {
      const index = zones.lookup(lon, lat);
      expect(index === -1 ? `${place}: none` : `${place}: ${zones.id(index)}`).toBe(`${place}: ${fips}`);
    }
  });

  it('finds no county at sea', () => {
    expect(zones.lookup(-140, 35)).toBe(-1); // the Pacific
    expect(zones.lookup(-60, 35)).toBe(-1); // the Atlantic
    expect(zones.lookup(-90, 26)).toBe(-1); // the Gulf of Mexico
  });

  it('agrees with a scan of every county for random points (first county wins)', () => {
    const rings: Rings[][] = counties.features.map((f) => partsOf(f.geometry));
    // Each county's box, so the scan tests only counties that can hold the point.
    const boxes = rings.map((parts) => {
      const xs = parts.flat(2).map((p) => p[0]!);
      const ys = parts.flat(2).map((p) => p[1]!);
      return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)] as const;
    });
    const scan = (x: number, y: number) =>
      rings.findIndex((parts, i) => {
        const [w, s, e, n] = boxes[i]!;
        return x >= w && x <= e && y >= s && y <= n && parts.some((part) => evenOdd(part, x, y));
      });
    // Points anywhere over the conterminous states, and points in the box of a county drawn at random.
    const conterminous = fc.tuple(fc.double({ min: -125, max: -66, noNaN: true }), fc.double({ min: 24, max: 50, noNaN: true }));
    const nearACounty = fc
      .tuple(fc.nat(rings.length - 1), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }))
      .map(([i, u, v]): [number, number] => {
        const [w, s, e, n] = boxes[i]!;
        return [w + u * (e - w), s + v * (n - s)];
      });
    let inACounty = 0;
    fc.assert(
      fc.property(fc.oneof(conterminous, nearACounty), ([x, y]) => {
        const expected = scan(x, y);
        if (expected >= 0) inACounty++;
        expect(zones.lookup(x, y)).toBe(expected);
      }),
      { numRuns: 4000 },
    );
    // The property must have seen points in counties, not only at sea.
    expect(inACounty).toBeGreaterThan(1000);
  });
});

describe('us-atlas states as zones', () => {
  it('loads all 56, its one open ring closed by the tool', () => {
    const states = parseZones(JSON.stringify(usStates()), 'states.geojson', 'id');
    expect(states.size).toBe(56);
    expect(states.id(states.lookup(-87.6298, 41.8781))).toBe('17'); // Illinois, the state whose ring was open
  });
});
