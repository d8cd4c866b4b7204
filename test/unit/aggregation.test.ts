import { describe, expect, it } from 'vitest';
import { Chunk } from '../../src/chunks/chunk.js';
import type { DecodedReading } from '../../src/decode/decode-reading.js';
import aggregateChunk from '../../workers/aggregate-chunk.js';
import { shortestFloat32 } from '../../workers/aggregate/float32.js';
import { convexHull } from '../../workers/aggregate/hull.js';
import { summarizePoints } from '../../workers/aggregate/points.js';
import { summarizeReadings } from '../../workers/aggregate/readings.js';
import { decoded, taskOf } from './helpers.js';

/**
 * Area of the cell between two meridians and two parallels on a sphere of
 * radius r: r² · Δλ · (sin φ2 − sin φ1). turf measures on a sphere of the
 * mean Earth radius (IUGG, 6,371,008.8 m).
 */
const MEAN_EARTH_RADIUS_M = 6_371_008.8;
function sphericalCellAreaM2(west: number, south: number, east: number, north: number): number {
  const rad = Math.PI / 180;
  return MEAN_EARTH_RADIUS_M ** 2 * (east - west) * rad * (Math.sin(north * rad) - Math.sin(south * rad));
}

function chunkOf(readings: readonly DecodedReading[], readingColumns = 4): Chunk {
  const chunk = new Chunk(0, Math.max(1, readings.length), readingColumns);
  for (const reading of readings) {
    if (chunk.append(reading, 0) !== 'appended') throw new Error('test chunk has too few reading columns');
  }
  return chunk;
}

function columnsOf(points: readonly (readonly [number, number])[]): { lon: Float32Array; lat: Float32Array } {
  return { lon: Float32Array.from(points.map((p) => p[0])), lat: Float32Array.from(points.map((p) => p[1])) };
}

const UNIT_SQUARE_CORNERS = [
  [0, 0],
  [1, 0],
  [1, 1],
  [0, 1],
] as const;

describe('aggregateChunk: a 1°×1° cell at the equator, its four corners and its centre', () => {
  const points = [...UNIT_SQUARE_CORNERS, [0.5, 0.5]] as const;
  const chunk = chunkOf(
    points.map(([lon, lat], i) => decoded({ deviceId: `d${i % 2}`, ts: 1_000 * (5 - i), lon, lat })),
  );
  const result = aggregateChunk(taskOf(chunk));

  it('counts the rows', () => {
    expect(result.count).toBe(5);
  });

  it('puts the centroid at the mean of the points', () => {
    // (0 + 1 + 1 + 0 + 0.5) / 5 = 0.5 for both axes.
    expect(result.centroid).toEqual([0.5, 0.5]);
  });

  it('gives the bbox as [west, south, east, north]', () => {
    expect(result.bbox).toEqual([0, 0, 1, 1]);
  });

  it('gives a closed Polygon ring whose vertices are exactly the four corners', () => {
    expect(result.hull?.type).toBe('Polygon');
    const rings = result.hull!.coordinates;
    expect(rings).toHaveLength(1);
    const ring = rings[0]!;
    expect(ring).toHaveLength(5);
    expect(ring[ring.length - 1]).toEqual(ring[0]);
    const vertices = ring.slice(0, -1).map((p) => p.join(','));
    expect(new Set(vertices).size).toBe(4);
    expect([...vertices].sort()).toEqual(UNIT_SQUARE_CORNERS.map((p) => p.join(',')).sort());
  });

  it('runs the ring counter-clockwise, as RFC 7946 asks of an exterior ring', () => {
    const ring = result.hull!.coordinates[0]!;
    let twiceArea = 0;
    for (let i = 0; i + 1 < ring.length; i++) twiceArea += ring[i]![0]! * ring[i + 1]![1]! - ring[i + 1]![0]! * ring[i]![1]!;
    expect(twiceArea).toBeCloseTo(2, 9);
  });

  it('measures the hull geodesically: ≈ 12,308 km² (WGS84 figure) within 1%', () => {
    // 1° of longitude at the equator ≈ 111.32 km, 1° of latitude there ≈ 110.57 km.
    expect(Math.abs(result.hullAreaM2 / 12_308e6 - 1)).toBeLessThan(0.01);
    // On turf's sphere the cell's area has a closed form.
    expect(result.hullAreaM2 / sphericalCellAreaM2(0, 0, 1, 1)).toBeCloseTo(1, 9);
  });

  it('takes the event-time range from the ts column', () => {
    // ts were 5000, 4000, 3000, 2000, 1000.
    expect(result.eventTime).toEqual({ min: 1_000, max: 5_000 });
  });

  it('has no readings when no record brought any', () => {
    expect(result.readings).toEqual({});
  });
});

describe('convexHull', () => {
  it('measures a cell far from the equator smaller, as on the globe', () => {
    const { lon, lat } = columnsOf([
      [10, 60],
      [11, 60],
      [11, 61],
      [10, 61],
    ]);
    const { hull, areaM2 } = convexHull(lon, lat, 4);
    expect(hull).not.toBeNull();
    expect(areaM2 / sphericalCellAreaM2(10, 60, 11, 61)).toBeCloseTo(1, 9);
    // cos 60.5° ≈ 0.49: about half the equatorial cell.
    expect(areaM2 / sphericalCellAreaM2(0, 0, 1, 1)).toBeCloseTo(Math.cos((60.5 * Math.PI) / 180), 3);
  });

  it.each([
    ['one point', [[8.5, 47.3]]],
    ['two points', [[8.5, 47.3], [8.6, 47.4]]],
    ['the same point four times', [[8.5, 47.3], [8.5, 47.3], [8.5, 47.3], [8.5, 47.3]]],
    ['points along the equator', [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]]],
    ['points along a meridian', [[8.5, 47], [8.5, 47.25], [8.5, 47.5], [8.5, 48]]],
    ['points on a diagonal', [[0, 0], [1, 1], [2, 2], [3, 3]]],
  ] as const)('gives no hull and area 0 for %s', (_, points) => {
    const { lon, lat } = columnsOf(points);
    expect(convexHull(lon, lat, points.length)).toEqual({ hull: null, areaM2: 0 });
  });

  it('looks only at the first `count` rows', () => {
    // Rows past count would make a triangle; the first two alone are a line.
    const { lon, lat } = columnsOf([
      [0, 0],
      [1, 1],
      [5, 0],
    ]);
    expect(convexHull(lon, lat, 2)).toEqual({ hull: null, areaM2: 0 });
  });

  it('writes hull vertices as the shortest decimals of the float32 columns', () => {
    const input = [
      [8.5417, 47.3769],
      [8.5517, 47.3769],
      [8.5517, 47.3869],
    ] as const;
    const { lon, lat } = columnsOf(input);
    const { hull } = convexHull(lon, lat, 3);
    const vertices = hull!.coordinates[0]!.slice(0, -1).map((p) => p.join(','));
    expect([...vertices].sort()).toEqual(input.map((p) => p.join(',')).sort());
  });
});

describe('summarizePoints', () => {
  it('averages in float64 over the float32 columns and prints the bbox as short decimals', () => {
    const { lon, lat } = columnsOf([
      [8.5417, 47.3769],
      [8.5517, 47.3869],
    ]);
    const ts = Float64Array.from([1_717_243_200_500, 1_717_243_200_001]);
    const summary = summarizePoints(lon, lat, ts, 2);
    expect(summary.centroid[0]).toBeCloseTo(8.5467, 5);
    expect(summary.centroid[1]).toBeCloseTo(47.3819, 5);
    expect(summary.bbox).toEqual([8.5417, 47.3769, 8.5517, 47.3869]);
    expect(summary.eventTime).toEqual({ min: 1_717_243_200_001, max: 1_717_243_200_500 });
  });

  it('gives a single point as its own centroid and a degenerate bbox', () => {
    const { lon, lat } = columnsOf([[-70.5, -33.25]]);
    const summary = summarizePoints(lon, lat, Float64Array.of(42), 1);
    expect(summary.centroid).toEqual([-70.5, -33.25]);
    expect(summary.bbox).toEqual([-70.5, -33.25, -70.5, -33.25]);
    expect(summary.eventTime).toEqual({ min: 42, max: 42 });
  });

  it('refuses zero rows instead of returning Infinity bounds', () => {
    expect(() => summarizePoints(new Float32Array(1), new Float32Array(1), new Float64Array(1), 0)).toThrow(RangeError);
  });
});

describe('readings', () => {
  it('computes count/min/max/mean per reading, skipping rows where it is missing', () => {
    const chunk = chunkOf([
      decoded({ lon: 0, lat: 0, readings: { temp: 1.5, hum: 21.3 } }),
      decoded({ lon: 0, lat: 0, readings: { temp: null } }),
      decoded({ lon: 0, lat: 0, readings: { temp: 2.5, hum: 21.4 } }),
      decoded({ lon: 0, lat: 0 }),
      decoded({ lon: 0, lat: 0, readings: { temp: -4 } }),
    ]);
    const { readings } = aggregateChunk(taskOf(chunk));
    // 1.5, 2.5 and -4 are exact in float32: mean (1.5 + 2.5 - 4) / 3 = 0.
    expect(readings.temp).toEqual({ count: 3, min: -4, max: 2.5, mean: 0 });
    // 21.3 and 21.4 are not: the column holds their float32 neighbours, and
    // min/max print as the shortest decimals that read back as them.
    const lo = Math.fround(21.3);
    const hi = Math.fround(21.4);
    expect(readings.hum).toEqual({ count: 2, min: 21.3, max: 21.4, mean: (lo + hi) / 2 });
    expect(readings.hum!.mean).toBeCloseTo(21.35, 5);
  });

  it('keeps a reading named __proto__ like any other', () => {
    const chunk = chunkOf([decoded({ lon: 0, lat: 0, readings: JSON.parse('{"__proto__": 3}') as Record<string, number> })]);
    const { readings } = aggregateChunk(taskOf(chunk));
    expect(Object.keys(readings)).toEqual(['__proto__']);
    expect(JSON.parse(JSON.stringify(readings))).toEqual(JSON.parse('{"__proto__":{"count":1,"min":3,"max":3,"mean":3}}'));
  });

  it('gives count 0 and nulls for a reading column with no value at all', () => {
    const chunk = chunkOf([decoded({ lon: 0, lat: 0, readings: { temp: 10 } }), decoded({ lon: 0, lat: 0 })]);
    // Column 1 was never written: it holds NaN in every row.
    const { readings } = aggregateChunk(taskOf(chunk, [...chunk.readingNames, 'co2']));
    expect(readings.temp).toEqual({ count: 1, min: 10, max: 10, mean: 10 });
    expect(readings.co2).toEqual({ count: 0, min: null, max: null, mean: null });
  });

  it('reads column c from c * capacity and ignores rows past count', () => {
    const capacity = 4;
    const column = new Float32Array(2 * capacity).fill(NaN);
    column.set([1, 2, NaN, 1000], 0); // row 3 is past count
    column.set([NaN, -8, 8, -1000], capacity);
    const stats = summarizeReadings(column, capacity, 3, ['a', 'b']);
    expect(stats).toEqual({
      a: { count: 2, min: 1, max: 2, mean: 1.5 },
      b: { count: 2, min: -8, max: 8, mean: 0 },
    });
  });
});

describe('shortestFloat32', () => {
  it.each([
    [8.5417, 8.5417],
    [47.3769, 47.3769],
    [0.1, 0.1],
    [-179.99, -179.99],
    [21.3, 21.3],
    // fround(1/3) = 0.3333333432674408; 0.3333333 is 4.3e-8 away, more than half the
    // float32 spacing there (2^-25 ≈ 3e-8), so 8 digits are needed.
    [1 / 3, 0.33333334],
  ])('gives %d back as %d from its float32', (decimal, expected) => {
    const value = Math.fround(decimal);
    expect(value).not.toBe(decimal);
    const result = shortestFloat32(value);
    expect(result).toBe(expected);
    expect(Math.fround(result)).toBe(value);
  });

  it('leaves float32 values with short decimal text unchanged', () => {
    for (const value of [0, 1, -1, 0.5, 8.5, 180, -90, 2 ** 20, 0.125]) expect(shortestFloat32(value)).toBe(value);
  });

  it('shortens an exact float32 whose full decimal expansion is long', () => {
    // 2^-20 = 9.5367431640625e-7 exactly; float32 spacing there is 2^-43 ≈ 1.1e-13, so
    // 7 digits (9.536743e-7, 4.3e-14 away) already read back as the same float32.
    expect(shortestFloat32(2 ** -20)).toBe(9.536743e-7);
    expect(Math.fround(9.536743e-7)).toBe(2 ** -20);
  });

  it('round-trips every float32 it is given, in at most 9 significant digits, with no shorter decimal that would do', () => {
    // A fixed pseudo-random walk over float32 bit patterns: all magnitudes, both signs.
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    let state = 0x2545f491;
    let checked = 0;
    for (let i = 0; i < 20_000; i++) {
      state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
      bits[0] = state;
      const value = asFloat[0]!;
      if (!Number.isFinite(value)) continue;
      const result = shortestFloat32(value);
      expect(Math.fround(result)).toBe(value);
      const digits = significantDigits(result);
      expect(digits).toBeLessThanOrEqual(9);
      // Subnormals (below 2^-126) have fewer significant bits, so fewer than the
      // 6 digits the search starts at can suffice; nothing geowindow stores is that small.
      const normal = Math.abs(value) >= 2 ** -126;
      if (normal && digits > 1) expect(Math.fround(Number(value.toPrecision(digits - 1)))).not.toBe(value);
      checked++;
    }
    expect(checked).toBeGreaterThan(19_000);
  });
});

/** Significant digits of the shortest decimal text of a number. */
function significantDigits(value: number): number {
  const mantissa = value.toExponential().split('e')[0]!;
  return mantissa.replace(/[-.]/g, '').length;
}
