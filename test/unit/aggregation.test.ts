import { describe, expect, it } from 'vitest';
import { Chunk } from '../../src/chunks/chunk.js';
import { ChunkPool } from '../../src/chunks/chunk-pool.js';
import type { ChunkAggregate, ChunkResult } from '../../src/protocol/messages.js';
import { shortestFloat32 } from '../../src/shared/aggregate/float32.js';
import { convexHull } from '../../workers/aggregate/hull.js';
import { summarizePoints } from '../../workers/aggregate/points.js';
import { ReadingStatsAccumulator } from '../../workers/aggregate/readings.js';
import { aggregateCount, jsonBytes, taskOf } from './helpers.js';

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

interface Reading {
  device?: string;
  ts?: number | string;
  lon: number;
  lat: number;
  readings?: Record<string, number | null>;
}

/** A flat sensor record as its producer writes it. */
function reading({ device = 'dev-1', ts = 1_700_000_000_000, lon, lat, readings }: Reading): Buffer {
  return jsonBytes({ device_id: device, ts, lon, lat, ...(readings === undefined ? {} : { readings }) });
}

/** A chunk holding `values` as record values, row by row, as the main thread copies them in. */
function chunkOf(values: readonly (Buffer | null)[]): Chunk {
  const keyBytes = (row: number) => `key-${row}`.length;
  const byteCapacity = values.reduce((sum, value, row) => sum + (value?.length ?? 0) + keyBytes(row), 0);
  const chunk = new Chunk(0, Math.max(1, values.length), Math.max(1, byteCapacity));
  values.forEach((value, row) => {
    if (chunk.append(Buffer.from(`key-${row}`), value, undefined, 1000 + row, 0) !== 'appended') {
      throw new Error('test chunk too small');
    }
  });
  return chunk;
}

/** The worker's result for a chunk of `values`, with at most `maxReadings` reading names per record and per window. */
function aggregateValues(values: readonly (Buffer | null)[], maxReadings = 4): ChunkResult {
  return aggregateCount(taskOf(chunkOf(values), maxReadings));
}

/** The aggregate, which the test expects to exist. */
function aggregateOf(result: ChunkResult): ChunkAggregate {
  expect(result.aggregate).not.toBeNull();
  return result.aggregate!;
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
  const result = aggregateValues(points.map(([lon, lat], i) => reading({ device: `d${i % 2}`, ts: 1_000 * (5 - i), lon, lat })));
  const aggregate = aggregateOf(result);

  it('counts the records, and finds none bad', () => {
    expect(aggregate.count).toBe(5);
    expect(result.bad).toEqual([]);
  });

  it('counts distinct devices: d0 and d1', () => {
    expect(aggregate.devices).toBe(2);
  });

  it('puts the centroid at the mean of the points', () => {
    // (0 + 1 + 1 + 0 + 0.5) / 5 = 0.5 for both axes.
    expect(aggregate.centroid).toEqual([0.5, 0.5]);
  });

  it('gives the bbox as [west, south, east, north]', () => {
    expect(aggregate.bbox).toEqual([0, 0, 1, 1]);
  });

  it('gives a closed Polygon ring whose vertices are exactly the four corners', () => {
    expect(aggregate.hull?.type).toBe('Polygon');
    const rings = aggregate.hull!.coordinates;
    expect(rings).toHaveLength(1);
    const ring = rings[0]!;
    expect(ring).toHaveLength(5);
    expect(ring[ring.length - 1]).toEqual(ring[0]);
    const vertices = ring.slice(0, -1).map((p) => p.join(','));
    expect(new Set(vertices).size).toBe(4);
    expect([...vertices].sort()).toEqual(UNIT_SQUARE_CORNERS.map((p) => p.join(',')).sort());
  });

  it('runs the ring counter-clockwise, as RFC 7946 asks of an exterior ring', () => {
    const ring = aggregate.hull!.coordinates[0]!;
    let twiceArea = 0;
    for (let i = 0; i + 1 < ring.length; i++) twiceArea += ring[i]![0]! * ring[i + 1]![1]! - ring[i + 1]![0]! * ring[i]![1]!;
    expect(twiceArea).toBeCloseTo(2, 9);
  });

  it('measures the hull geodesically: ≈ 12,308 km² (WGS84 figure) within 1%', () => {
    // 1° of longitude at the equator ≈ 111.32 km, 1° of latitude there ≈ 110.57 km.
    expect(Math.abs(aggregate.hullAreaM2 / 12_308e6 - 1)).toBeLessThan(0.01);
    // On turf's sphere the cell's area has a closed form.
    expect(aggregate.hullAreaM2 / sphericalCellAreaM2(0, 0, 1, 1)).toBeCloseTo(1, 9);
  });

  it('takes the event-time range from the records', () => {
    // ts were 5000, 4000, 3000, 2000, 1000.
    expect(aggregate.eventTime).toEqual({ min: 1_000, max: 5_000 });
  });

  it('has no readings when no record brought any', () => {
    expect(aggregate.readings).toEqual({});
  });
});

describe('aggregateChunk: points and records', () => {
  it('gives no hull and area 0 when the points are collinear', () => {
    const aggregate = aggregateOf(aggregateValues([0, 1, 2, 3].map((i) => reading({ lon: i, lat: 0 }))));
    expect(aggregate.count).toBe(4);
    expect(aggregate.hull).toBeNull();
    expect(aggregate.hullAreaM2).toBe(0);
    expect(aggregate.bbox).toEqual([0, 0, 3, 0]);
    expect(aggregate.centroid).toEqual([1.5, 0]);
  });

  it('reads GeoJSON Features and ISO-8601 times as well as flat records', () => {
    const feature = jsonBytes({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [2, 4] },
      properties: { device_id: 'f', ts: '1970-01-01T00:00:10Z', readings: { temp: 7 } },
    });
    const aggregate = aggregateOf(aggregateValues([reading({ device: 'r', ts: 20_000, lon: 0, lat: 0, readings: { temp: 9 } }), feature]));
    expect(aggregate).toMatchObject({
      count: 2,
      devices: 2,
      centroid: [1, 2],
      eventTime: { min: 10_000, max: 20_000 },
      readings: { temp: { count: 2, min: 7, max: 9, mean: 8 } },
    });
  });

  it('counts distinct devices among the valid records only', () => {
    const result = aggregateValues([
      reading({ device: 'a', lon: 0, lat: 0 }),
      reading({ device: 'b', lon: 0, lat: 0 }),
      reading({ device: 'a', lon: 0, lat: 0 }),
      reading({ device: 'z', lon: 0, lat: 91 }), // out of range: its device does not count
      reading({ device: 'c', lon: 0, lat: 0 }),
      reading({ device: 'b', lon: 0, lat: 0 }),
    ]);
    expect(aggregateOf(result)).toMatchObject({ count: 5, devices: 3 });
    expect(result.bad).toEqual([{ row: 3, reason: 'out_of_range', detail: 'lat' }]);
  });

  it('reads only the first `count` rows of a reused chunk', () => {
    const pool = new ChunkPool(1, 4, 512);
    const chunk = pool.acquire()!;
    for (let i = 0; i < 4; i++) chunk.append(null, reading({ device: `old-${i}`, lon: 100 + i, lat: 50 }), undefined, i, 0);
    pool.release(chunk);
    const again = pool.acquire()!;
    again.append(null, reading({ device: 'new', lon: -1, lat: -2 }), undefined, 10, 0);
    again.append(null, reading({ device: 'new', lon: -3, lat: -4 }), undefined, 11, 0);
    const aggregate = aggregateOf(aggregateCount(taskOf(again, 4)));
    expect(aggregate).toMatchObject({ count: 2, devices: 1, bbox: [-3, -4, -1, -2], centroid: [-2, -3] });
  });
});

describe('aggregateChunk: bad rows', () => {
  const good = (lon: number) => reading({ device: `g${lon}`, ts: 1_000 + lon, lon, lat: 0 });

  it('reports each unreadable row with its index, reason and field, and aggregates only the others', () => {
    const result = aggregateValues([
      good(1),
      Buffer.from('{"device_id": "x", "ts": ', 'utf8'), // cut short
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), // "{", two bytes that are no UTF-8, "}"
      Buffer.alloc(0),
      null, // a tombstone
      good(3),
      reading({ lon: 200, lat: 0 }),
      Buffer.from('[1, 2]', 'utf8'),
    ]);
    expect(result.bad).toEqual([
      { row: 1, reason: 'invalid_json', detail: 'value' },
      { row: 2, reason: 'invalid_utf8', detail: 'value' },
      { row: 3, reason: 'empty', detail: 'value' },
      { row: 4, reason: 'empty', detail: 'value' },
      { row: 6, reason: 'out_of_range', detail: 'lon' },
      { row: 7, reason: 'not_an_object', detail: 'value' },
    ]);
    // Only rows 0 and 5 (lon 1 and 3) are in the aggregate.
    expect(aggregateOf(result)).toMatchObject({
      count: 2,
      devices: 2,
      centroid: [2, 0],
      bbox: [1, 0, 3, 0],
      eventTime: { min: 1_001, max: 1_003 },
    });
  });

  it('gives no aggregate for a chunk of bad rows only', () => {
    const result = aggregateValues([null, Buffer.from('nope'), reading({ lon: 0, lat: -90.5 })]);
    expect(result).toEqual({
      aggregate: null,
      bad: [
        { row: 0, reason: 'empty', detail: 'value' },
        { row: 1, reason: 'invalid_json', detail: 'value' },
        { row: 2, reason: 'out_of_range', detail: 'lat' },
      ],
    });
  });

  it('refuses a record whose new reading names would pass maxReadings names in the window, folding nothing of it', () => {
    const result = aggregateValues(
      [
        reading({ device: 'a', lon: 0, lat: 0, readings: { temp: 10, hum: 50 } }),
        reading({ device: 'b', lon: 40, lat: 40, readings: { temp: 1000, co2: 400 } }), // a third name: refused whole
        reading({ device: 'a', lon: 2, lat: 0, readings: { temp: 20, co2: null } }), // a null new name takes no place
        reading({ device: 'c', lon: 50, lat: 50, readings: { co2: 410 } }), // still a third name
        reading({ device: 'a', lon: 4, lat: 0, readings: { hum: 60 } }),
      ],
      2,
    );
    expect(result.bad.map(({ row, reason }) => ({ row, reason }))).toEqual([
      { row: 1, reason: 'too_many_readings' },
      { row: 3, reason: 'too_many_readings' },
    ]);
    for (const bad of result.bad) expect(bad.detail).toBe('more than 2 reading names in the window');
    expect(aggregateOf(result)).toMatchObject({
      count: 3,
      devices: 1,
      bbox: [0, 0, 4, 0],
      readings: {
        temp: { count: 2, min: 10, max: 20, mean: 15, sum: 30 },
        hum: { count: 2, min: 50, max: 60, mean: 55, sum: 110 },
      },
    });
    expect(Object.keys(aggregateOf(result).readings)).toEqual(['temp', 'hum']);
  });

  it('refuses a single record with more than maxReadings readings (the decoder), before the window cap', () => {
    const result = aggregateValues([reading({ lon: 0, lat: 0, readings: { a: 1, b: 2, c: 3 } }), reading({ lon: 1, lat: 1, readings: { a: 1 } })], 2);
    expect(result.bad).toEqual([{ row: 0, reason: 'too_many_readings', detail: 'more than 2' }]);
    expect(aggregateOf(result).readings).toEqual({ a: { count: 1, min: 1, max: 1, mean: 1, sum: 1 } });
  });
});

describe('aggregateChunk: readings', () => {
  it('computes count/min/max/mean/sum per reading, skipping records where it is null or missing', () => {
    const { readings } = aggregateOf(
      aggregateValues([
        reading({ lon: 0, lat: 0, readings: { temp: 1.5, hum: 21.3, co2: null } }),
        reading({ lon: 0, lat: 0, readings: { temp: null } }),
        reading({ lon: 0, lat: 0, readings: { temp: 2.5, hum: 21.4 } }),
        reading({ lon: 0, lat: 0 }),
        reading({ lon: 0, lat: 0, readings: { temp: -4, co2: null } }),
      ]),
    );
    // (1.5 + 2.5 - 4) / 3 = 0 over the three records that had a temperature; the sum is kept for merging downstream.
    expect(readings.temp).toEqual({ count: 3, min: -4, max: 2.5, mean: 0, sum: 0 });
    // Readings are kept as sent (not rounded through float32): min and max are the decimals in the records.
    expect(readings.hum).toMatchObject({ count: 2, min: 21.3, max: 21.4 });
    expect(readings.hum!.mean).toBeCloseTo(21.35, 10);
    expect(readings.hum!.sum).toBeCloseTo(42.7, 10);
    // A name only ever reported as null has no statistics to give.
    expect(Object.keys(readings)).toEqual(['temp', 'hum']);
  });

  it('keeps a reading named __proto__ like any other', () => {
    const value = Buffer.from('{"device_id":"d","ts":1,"lon":0,"lat":0,"readings":{"__proto__":3}}', 'utf8');
    const { readings } = aggregateOf(aggregateValues([value, value]));
    expect(Object.keys(readings)).toEqual(['__proto__']);
    expect(JSON.parse(JSON.stringify(readings))).toEqual(JSON.parse('{"__proto__":{"count":2,"min":3,"max":3,"mean":3,"sum":6}}'));
  });
});

/** Folds a record's readings object in, the way the decoder hands them over (NaN for null). */
function addReadings(stats: ReadingStatsAccumulator, readings: Record<string, number | null>): boolean {
  const names = Object.keys(readings);
  return stats.add(names, names.map((name) => readings[name] ?? Number.NaN), names.length);
}

describe('ReadingStatsAccumulator', () => {
  it('folds records in, and refuses whole a record that would pass the name cap', () => {
    const stats = new ReadingStatsAccumulator(2);
    expect(addReadings(stats, { a: 1 })).toBe(true);
    expect(addReadings(stats, { a: 3, b: -1, c: null })).toBe(true);
    // b is known, d would be a third name: nothing of the record is folded, b included.
    expect(addReadings(stats, { b: 100, d: 5 })).toBe(false);
    expect(addReadings(stats, {})).toBe(true);
    expect(stats.result()).toEqual({
      a: { count: 2, min: 1, max: 3, mean: 2, sum: 4 },
      b: { count: 1, min: -1, max: -1, mean: -1, sum: -1 },
    });
  });

  it('gives a result with no prototype, so any name is a plain key', () => {
    const stats = new ReadingStatsAccumulator(4);
    addReadings(stats, JSON.parse('{"__proto__": 1, "constructor": 2}') as Record<string, number>);
    const result = stats.result();
    expect(Object.getPrototypeOf(result)).toBeNull();
    expect(Object.keys(result)).toEqual(['__proto__', 'constructor']);
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

  it('gives what toPrecision gives for 200,000 coordinates and readings (the arithmetic path agrees with the decimal one)', () => {
    const byPrecision = (value: number): number => {
      for (let digits = 6; digits < 9; digits++) {
        const candidate = Number(value.toPrecision(digits));
        if (Math.fround(candidate) === value) return candidate;
      }
      return Number(value.toPrecision(9));
    };
    let state = 12_345;
    const next = () => (state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
    const disagreements: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      const value = Math.fround((next() * 2 - 1) * (i % 2 === 0 ? 180 : 10 ** Math.floor(next() * 12 - 6)));
      if (!Object.is(shortestFloat32(value), byPrecision(value))) disagreements.push(value);
    }
    expect(disagreements).toEqual([]);
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
