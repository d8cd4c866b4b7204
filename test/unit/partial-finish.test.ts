import { area } from '@turf/area';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { finishAggregate } from '../../src/shared/aggregate/finish.js';
import { PartialBuilder, emptyPartial, mergePartial, partialBytes, type PartialAggregate } from '../../src/shared/aggregate/partial.js';
import { PartialReader, PartialWriter } from '../../src/shared/aggregate/partial-wire.js';
import { EARTH_MEAN_RADIUS_M, haversineM } from '../../src/shared/aggregate/track.js';

interface Fix {
  lon: number;
  lat: number;
  ts: number;
  readings?: Record<string, number>;
  device?: string;
}

function partialOf(fixes: readonly Fix[], track = true): PartialAggregate {
  const builder = new PartialBuilder({ track, maxReadingNames: 16 });
  for (const f of fixes) {
    const names = Object.keys(f.readings ?? {});
    builder.add(f.lon, f.lat, f.ts, f.device ?? 'gps-7', names, names.map((n) => f.readings![n]!), names.length);
  }
  return builder.finish();
}

/** One degree of a great circle on the mean Earth sphere. */
const DEGREE_M = (EARTH_MEAN_RADIUS_M * Math.PI) / 180;

describe('finishing a partial aggregate', () => {
  const triangle: Fix[] = [
    { lon: 1, lat: 1, ts: 30_000, readings: { temp: 0.3 } },
    { lon: 0, lat: 0, ts: 0, readings: { temp: 0.1, hum: Number.NaN } },
    { lon: 1, lat: 0, ts: 10_000, readings: { temp: 0.2 } },
  ];

  it('gives exact counts, centroid, bbox, hull and reading sums for a small input', () => {
    const result = finishAggregate(partialOf(triangle));
    expect(result.count).toBe(3);
    expect(result.devices).toBe(1);
    expect(result.centroid).toEqual([2 / 3, 1 / 3]);
    expect(result.bbox).toEqual([0, 0, 1, 1]);
    expect(result.hull).toEqual({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] });
    // Half a one-degree cell at the equator: about 6.18e9 m² on turf's sphere.
    expect(result.hullAreaM2).toBe(area(result.hull!));
    expect(result.hullAreaM2).toBeGreaterThan(6.17e9);
    expect(result.hullAreaM2).toBeLessThan(6.19e9);
    expect(result.eventTime).toEqual({ min: 0, max: 30_000 });
    // 0.1 + 0.2 + 0.3 rounds to 0.6000000000000001 added naively; the exact sum rounds to 0.6.
    expect(result.readings).toEqual({ temp: { count: 3, min: 0.1, max: 0.3, mean: 0.6 / 3, sum: 0.6 } });
    expect(Object.keys(result.readings)).toEqual(['temp']);
  });

  it('measures a track of three fixes: one degree east, then one degree north', () => {
    const track = finishAggregate(partialOf(triangle)).track!;
    expect(track.points).toBe(3);
    expect(haversineM(0, 0, 1, 0)).toBeCloseTo(DEGREE_M, 6);
    expect(haversineM(1, 0, 1, 1)).toBeCloseTo(DEGREE_M, 6);
    expect(track.distanceM).toBeCloseTo(2 * DEGREE_M, 6);
    expect(track.distanceM).toBeCloseTo(222_390.16, 2);
    // 111,195 m in 10 s, then in 20 s.
    expect(track.maxSpeedMps).toBeCloseTo(DEGREE_M / 10, 6);
    expect(track.first).toEqual({ lon: 0, lat: 0, ts: 0 });
    expect(track.last).toEqual({ lon: 1, lat: 1, ts: 30_000 });
  });

  it('counts a repeated fix once in the track and every time in the count', () => {
    const result = finishAggregate(partialOf([...triangle, triangle[0]!, triangle[0]!]));
    expect(result.count).toBe(5);
    expect(result.track!.points).toBe(3);
    expect(result.track!.distanceM).toBeCloseTo(2 * DEGREE_M, 6);
  });

  it('has no top speed when every fix has the same time, and still a distance', () => {
    const track = finishAggregate(partialOf([{ lon: 0, lat: 0, ts: 5 }, { lon: 0, lat: 1, ts: 5 }])).track!;
    expect(track.maxSpeedMps).toBeNull();
    expect(track.distanceM).toBeCloseTo(DEGREE_M, 6);
    expect(finishAggregate(partialOf([{ lon: 0, lat: 0, ts: 5 }])).track).toEqual({ points: 1, distanceM: 0, maxSpeedMps: null, first: { lon: 0, lat: 0, ts: 5 }, last: { lon: 0, lat: 0, ts: 5 } });
  });

  it('prints float32 coordinates as their shortest decimals', () => {
    const result = finishAggregate(partialOf([{ lon: 8.5417, lat: 47.3769, ts: 1 }, { lon: 8.55, lat: 47.38, ts: 2 }]));
    expect(result.bbox).toEqual([8.5417, 47.3769, 8.55, 47.38]);
    expect(result.track!.first).toEqual({ lon: 8.5417, lat: 47.3769, ts: 1 });
  });

  it('has no hull and no area for collinear points, and no track unless built with one', () => {
    const result = finishAggregate(partialOf([{ lon: 0, lat: 0, ts: 1 }, { lon: 1, lat: 1, ts: 2 }, { lon: 2, lat: 2, ts: 3 }], false));
    expect(result.hull).toBeNull();
    expect(result.hullAreaM2).toBe(0);
    expect('track' in result).toBe(false);
  });

  it('keeps means finite when only the sum passes the range of a double', () => {
    const reading = finishAggregate(partialOf([{ lon: 0, lat: 0, ts: 1, readings: { x: 1.7e308 } }, { lon: 0, lat: 0, ts: 2, readings: { x: 1.7e308 } }])).readings.x!;
    expect(reading.sum).toBe(Infinity);
    expect(reading.mean).toBe(1.7e308);
  });

  it('refuses an empty partial', () => {
    expect(() => finishAggregate(emptyPartial(true))).toThrow(RangeError);
  });
});

describe('partialBytes', () => {
  /** One partial's wire: `fixes` records of a few devices, three readings each. */
  function wireOf(track: boolean, fixes: number, from = 0) {
    const builder = new PartialBuilder({ track, maxReadingNames: 16 });
    for (let i = from; i < from + fixes; i++) {
      builder.add(8 + i * 1e-4, 47 + Math.sin(i) * 1e-3, 1_764_000_000_000 + i * 997, `ws-${String(i % 7).padStart(5, '0')}`, ['temp_c', 'humidity', 'pm25'], [12.3 + i * 0.01, 0.71, 8.1 + (i % 13)], 3);
    }
    const writer = new PartialWriter();
    builder.writeTo(writer);
    return structuredClone(writer.take());
  }

  // Window state is mostly small partials (a zone, cell or device with a few records per chunk), so those are measured too.
  it.each([
    { shape: 'one record', track: false, fixes: 1, merged: false },
    { shape: 'a two-fix track', track: true, fixes: 2, merged: false },
    { shape: 'three records merged with three more', track: false, fixes: 3, merged: true },
    { shape: 'a 500-fix track', track: true, fixes: 500, merged: false },
    { shape: 'a 250-fix track merged with another', track: true, fixes: 250, merged: true },
  ])('bounds from above the heap of $shape as the main thread holds it, by less than half again', ({ track, fixes, merged }) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const wire = wireOf(track, fixes);
    const more = merged ? wireOf(track, fixes, fixes) : undefined;
    const copies = fixes > 100 ? 1000 : 20_000;
    gc();
    const before = process.memoryUsage().heapUsed;
    const held = Array.from({ length: copies }, () => {
      const partial = new PartialReader(wire).partial();
      if (more !== undefined) mergePartial(partial, new PartialReader(more).partial(), 16);
      return partial;
    });
    gc();
    const used = process.memoryUsage().heapUsed - before;
    const estimated = held.reduce((sum, p) => sum + partialBytes(p), 0);
    expect(estimated).toBeGreaterThanOrEqual(used);
    expect(estimated).toBeLessThan(1.5 * used);
  });
});
