import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finishAggregate } from '../../src/shared/aggregate/finish.js';
import { ExactSum } from '../../src/shared/aggregate/exact-sum.js';
import { PartialBuilder, READING_SUM_SCALE, emptyPartial, mergePartial, type PartialAggregate } from '../../src/shared/aggregate/partial.js';
import { PartialReader, PartialWriter } from '../../src/shared/aggregate/partial-wire.js';
import { buildPartial, chunksOf, mergedPartial, record, records, split, type TestRecord } from './partial-records.js';

/** More names than the records use: no reading is dropped. */
const NO_CAP = 16;

describe('merging partial aggregates', () => {
  it('gives, for any split into chunks and any merge order, the aggregate of one builder over all records, bit for bit', () => {
    fc.assert(
      fc.property(records, split, fc.boolean(), (list, s, track) => {
        const whole = finishAggregate(buildPartial(list, track, NO_CAP));
        const merged = finishAggregate(mergedPartial(list, s, track, NO_CAP));
        expect(merged).toEqual(whole);
        expect(JSON.stringify(merged)).toBe(JSON.stringify(whole));
        // And the same records in another order, in one builder.
        expect(finishAggregate(buildPartial([...list].reverse(), track, NO_CAP))).toEqual(whole);
      }),
      { numRuns: 500 },
    );
  });

  it('starts from the empty partial as from nothing', () => {
    fc.assert(
      fc.property(records, fc.boolean(), (list, track) => {
        const into = emptyPartial(track);
        mergePartial(into, buildPartial(list, track, NO_CAP), NO_CAP);
        mergePartial(into, emptyPartial(track), NO_CAP);
        expect(finishAggregate(into)).toEqual(finishAggregate(buildPartial(list, track, NO_CAP)));
      }),
      { numRuns: 100 },
    );
  });

  it('leaves the merged-in partial unchanged and sharing nothing with the result', () => {
    fc.assert(
      fc.property(records, records, (a, b) => {
        const into = buildPartial(a, true, NO_CAP);
        const other = buildPartial(b, true, NO_CAP);
        const before = structuredClone(other);
        mergePartial(into, other, NO_CAP);
        // Merging more into `into` must not reach `other` through a shared array.
        mergePartial(into, buildPartial(b, true, NO_CAP), NO_CAP);
        expect(other).toEqual(before);
      }),
      { numRuns: 100 },
    );
  });
});

/** The track of some fixes computed directly: sorted by (ts, lon, lat), repeats once, haversine on a 6,371,008.8 m sphere. */
function referenceTrack(list: readonly TestRecord[]) {
  const fixes = [...new Map(list.map((r) => [`${r.ts}/${r.lon}/${r.lat}`, r])).values()].sort((a, b) => a.ts - b.ts || a.lon - b.lon || a.lat - b.lat);
  const toRad = (d: number) => (d * Math.PI) / 180;
  let distanceM = 0;
  let maxSpeedMps: number | null = null;
  for (let i = 1; i < fixes.length; i++) {
    const [p, q] = [fixes[i - 1]!, fixes[i]!];
    const h = Math.sin((toRad(q.lat) - toRad(p.lat)) / 2) ** 2 + Math.cos(toRad(p.lat)) * Math.cos(toRad(q.lat)) * Math.sin(toRad(q.lon - p.lon) / 2) ** 2;
    const d = 2 * 6371008.8 * Math.asin(Math.sqrt(Math.min(1, h)));
    distanceM += d;
    if (q.ts > p.ts) maxSpeedMps = Math.max(maxSpeedMps ?? 0, d / ((q.ts - p.ts) / 1000));
  }
  return { fixes, distanceM, maxSpeedMps };
}

describe('track stitching', () => {
  it('stitches a device track split across chunks with out-of-order times into the track computed directly', () => {
    const oneDevice = fc.array(record.map((r) => ({ ...r, device: 'gps-7' })), { minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(oneDevice, split, (list, s) => {
        const track = finishAggregate(mergedPartial(list, s, true, NO_CAP)).track!;
        const expected = referenceTrack(list);
        expect(track.points).toBe(expected.fixes.length);
        expect(Math.fround(track.first.lon)).toBe(expected.fixes[0]!.lon + 0);
        expect(Math.fround(track.first.lat)).toBe(expected.fixes[0]!.lat + 0);
        expect(track.first.ts).toBe(expected.fixes[0]!.ts);
        expect(Math.fround(track.last.lon)).toBe(expected.fixes[expected.fixes.length - 1]!.lon + 0);
        expect(Math.fround(track.last.lat)).toBe(expected.fixes[expected.fixes.length - 1]!.lat + 0);
        expect(track.last.ts).toBe(expected.fixes[expected.fixes.length - 1]!.ts);
        // Another haversine: the same to rounding, not bit for bit.
        expect(Math.abs(track.distanceM - expected.distanceM)).toBeLessThanOrEqual(1e-9 * expected.distanceM);
        if (expected.maxSpeedMps === null) expect(track.maxSpeedMps).toBeNull();
        else expect(Math.abs(track.maxSpeedMps! - expected.maxSpeedMps)).toBeLessThanOrEqual(1e-9 * expected.maxSpeedMps);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the fixes of every chunk in event-time order, however the chunks were cut', () => {
    const list: TestRecord[] = [3, 1, 4, 1, 5, 9, 2, 6].map((k) => ({ lon: k, lat: 0, ts: k * 1000, device: 'gps-7', names: [], values: [] }));
    const merged = mergedPartial(list, { chunks: 3, contiguous: true, assignment: [2, 5], scramble: [], mergeOrder: [1, 0] }, true, NO_CAP);
    expect(chunksOf(list, { chunks: 3, contiguous: true, assignment: [2, 5], scramble: [], mergeOrder: [] }).map((c) => c.length)).toEqual([2, 3, 3]);
    expect(merged.track).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 9000].flatMap((ts) => [ts, ts / 1000, 0]));
  });
});

describe('reading statistics', () => {
  it('are, per name, the count, min, max and exact sum of the non-null values, whatever order records list their readings in', () => {
    fc.assert(
      fc.property(records, (list) => {
        const expected = new Map<string, { count: number; min: number; max: number; sum: ExactSum }>();
        for (const r of list) {
          r.names.forEach((name, i) => {
            const value = r.values[i]! + 0;
            if (Number.isNaN(value)) return;
            const stats = expected.get(name) ?? { count: 0, min: Infinity, max: -Infinity, sum: new ExactSum() };
            stats.count++;
            stats.min = Math.min(stats.min, value);
            stats.max = Math.max(stats.max, value);
            stats.sum.add(value * READING_SUM_SCALE);
            expected.set(name, stats);
          });
        }
        const readings = finishAggregate(buildPartial(list, false, NO_CAP)).readings;
        expect(Object.keys(readings)).toEqual([...expected.keys()].sort());
        for (const [name, { count, min, max, sum }] of expected) {
          expect(readings[name]).toEqual({ count, min, max, mean: sum.value() / count / READING_SUM_SCALE, sum: sum.value() / READING_SUM_SCALE });
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('reading-name cap', () => {
  it('drops, in a builder, the readings of names past the cap and keeps folding the names it holds', () => {
    const builder = new PartialBuilder({ track: false, maxReadingNames: 2 });
    expect(builder.add(8, 47, 1, 'a', ['temp', 'hum'], [1, 2], 2)).toBe(0);
    expect(builder.add(8, 47, 2, 'a', ['pm25', 'temp', 'co2'], [5, 3, 7], 3)).toBe(2);
    // A null reading of a new name is not a dropped reading: there was nothing to keep.
    expect(builder.add(8, 47, 3, 'a', ['no2', 'hum'], [Number.NaN, 4], 2)).toBe(0);
    const readings = finishAggregate(builder.finish()).readings;
    expect(Object.keys(readings)).toEqual(['hum', 'temp']);
    expect(readings.temp).toEqual({ count: 2, min: 1, max: 3, mean: 2, sum: 4 });
    expect(readings.hum).toEqual({ count: 2, min: 2, max: 4, mean: 3, sum: 6 });
  });

  it('keeps, in a merge, the names already held, then the other partial\'s new names in sorted order', () => {
    const partial = (names: string[], repeat = 1): PartialAggregate => {
      const builder = new PartialBuilder({ track: false, maxReadingNames: 10 });
      for (let i = 0; i < repeat; i++) builder.add(0, 0, 0, 'a', names, names.map(() => 1), names.length);
      return builder.finish();
    };
    const into = partial(['b']);
    // d comes first in the record but last in sorted order: it is the one left out.
    expect(mergePartial(into, partial(['d', 'c', 'a', 'b'], 3), 3)).toBe(3);
    expect(Object.keys(finishAggregate(into).readings)).toEqual(['a', 'b', 'c']);
    expect(finishAggregate(into).readings.b!.count).toBe(4);
    // At the cap: held names still merge, every new one is dropped.
    expect(mergePartial(into, partial(['e', 'a', 'f'], 2), 3)).toBe(4);
    expect(finishAggregate(into).readings.a!.count).toBe(5);
  });
});

describe('reading names in window state', () => {
  it('stay one list per key when merges bring no new name, and a new list when they do', () => {
    const partial = (names: string[]): PartialAggregate => {
      const builder = new PartialBuilder({ track: false, maxReadingNames: 10 });
      builder.add(0, 0, 0, 'a', names, names.map(() => 1), names.length);
      return builder.finish();
    };
    const into = partial(['temp', 'hum']);
    const held = into.readingNames;
    expect(held).toEqual(['hum', 'temp']);
    mergePartial(into, partial(['hum', 'temp']), 10);
    mergePartial(into, partial(['temp']), 10);
    expect(into.readingNames).toBe(held);
    mergePartial(into, partial(['pm25']), 10);
    expect(into.readingNames).toEqual(['hum', 'pm25', 'temp']);
    expect(held).toEqual(['hum', 'temp']);
  });
});

describe('readings named like Object.prototype members', () => {
  it('stay ordinary readings after crossing threads, in either partial', () => {
    const builder = new PartialBuilder({ track: false, maxReadingNames: 10 });
    const crossed = (): PartialAggregate => {
      const writer = new PartialWriter();
      builder.writeTo(writer);
      return new PartialReader(structuredClone(writer.take())).partial();
    };
    builder.add(1, 2, 3, 'a', ['temp'], [1], 1);
    const into = crossed();
    builder.reset();
    builder.add(1, 2, 4, 'a', ['__proto__', 'toString', 'temp'], [5, 6, 7], 3);
    const other = crossed();
    expect(mergePartial(into, other, 10)).toBe(0);
    const readings = finishAggregate(into).readings;
    expect(Object.keys(readings)).toEqual(['__proto__', 'temp', 'toString']);
    expect(Object.getPrototypeOf(readings)).toBe(Object.prototype);
    expect(Object.hasOwn(readings, '__proto__')).toBe(true);
    expect(readings['__proto__']).toEqual({ count: 1, min: 5, max: 5, mean: 5, sum: 5 });
    expect(readings['toString']).toEqual({ count: 1, min: 6, max: 6, mean: 6, sum: 6 });
    expect(JSON.parse(JSON.stringify(readings))).toEqual({
      ['__proto__']: { count: 1, min: 5, max: 5, mean: 5, sum: 5 },
      temp: { count: 2, min: 1, max: 7, mean: 4, sum: 8 },
      toString: { count: 1, min: 6, max: 6, mean: 6, sum: 6 },
    });
  });
});
