import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AGGREGATE_V2_SCHEMA, timeWindowRecord, type AggregateV2 } from '../../src/output/aggregate-v2.js';
import { aggregateV2Json } from '../../src/output/aggregate-v2-json.js';
import { PartialBuilder } from '../../src/shared/aggregate/partial.js';
import { TimeWindow } from '../../src/windows/time-window.js';

/** Any double, the awkward ones (NaN, ±Infinity, -0, subnormals, 1e21 and up) included. */
const anyNumber = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 5e-324, 1e21, -1.7976931348623157e308, 0.1 + 0.2),
  fc.integer(),
);
/** Strings that need escaping: quotes, backslashes, control characters, lone surrogates, non-ASCII. */
const anyString = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('"', '\\', '\u0000\n\t', '\ud800', 'zone "a"', 'å/東京'));
/** Reading names as JSON orders them: integer-like names first, "__proto__" on an object without prototype. */
const readingName = fc.oneof(anyString, fc.constantFrom('__proto__', 'constructor', '0', '7', '10', '4294967295', 'pm25'));
const position = fc.tuple(anyNumber, anyNumber);

const readingSummary = fc.record({ count: anyNumber, min: anyNumber, max: anyNumber, mean: anyNumber, sum: anyNumber });
const track = fc.record({
  points: fc.nat(),
  distanceM: anyNumber,
  maxSpeedMps: fc.option(anyNumber, { nil: null }),
  first: fc.record({ lon: anyNumber, lat: anyNumber, ts: anyNumber }),
  last: fc.record({ lon: anyNumber, lat: anyNumber, ts: anyNumber }),
});

const record: fc.Arbitrary<AggregateV2> = fc
  .record({
    kind: fc.constantFrom('tumbling', 'hopping', 'count') as fc.Arbitrary<'tumbling' | 'hopping' | 'count'>,
    start: fc.option(anyNumber, { nil: null }),
    end: fc.option(anyNumber, { nil: null }),
    closedBy: fc.constantFrom('watermark', 'idle', 'cap', 'count', 'shutdown') as fc.Arbitrary<'watermark'>,
    by: fc.constantFrom('zone', 'h3', 'device', 'partition') as fc.Arbitrary<'zone'>,
    id: anyString,
    topic: anyString,
    partition: fc.nat(),
    firstOffset: anyNumber,
    lastOffset: anyNumber,
    count: anyNumber,
    devices: anyNumber,
    centroid: position,
    bbox: fc.tuple(anyNumber, anyNumber, anyNumber, anyNumber),
    hull: fc.option(fc.array(fc.array(position, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }), { nil: null }),
    hullAreaM2: anyNumber,
    readings: fc.array(fc.tuple(readingName, readingSummary), { maxLength: 5 }),
    eventTime: fc.record({ min: anyNumber, max: anyNumber }),
    track: fc.option(track, { nil: undefined }),
    emittedAt: anyNumber,
  })
  .map((r) => {
    const readings = Object.create(null) as AggregateV2['readings'] & Record<string, unknown>;
    for (const [name, summary] of r.readings) readings[name] = summary;
    return {
      schema: AGGREGATE_V2_SCHEMA,
      window: { kind: r.kind, start: r.start, end: r.end, closedBy: r.closedBy },
      key: { by: r.by, id: r.id },
      source: { topic: r.topic, partition: r.partition, firstOffset: r.firstOffset, lastOffset: r.lastOffset },
      count: r.count,
      devices: r.devices,
      centroid: r.centroid,
      bbox: r.bbox,
      hull: r.hull === null ? null : { type: 'Polygon' as const, coordinates: r.hull },
      hullAreaM2: r.hullAreaM2,
      readings,
      eventTime: r.eventTime,
      ...(r.track === undefined ? {} : { track: r.track }),
      emittedAt: r.emittedAt,
    };
  });

describe('aggregateV2Json', () => {
  it('writes exactly what JSON.stringify writes, for any record', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(aggregateV2Json(r)).toBe(JSON.stringify(r));
      }),
      { numRuns: 2_000 },
    );
  });

  it('writes what JSON.stringify writes for a record built from folded readings, with and without a track', () => {
    for (const withTrack of [false, true]) {
      const builder = new PartialBuilder({ track: withTrack, maxReadingNames: 4 });
      const names = ['pm25', 'no2'];
      for (let i = 0; i < 50; i++) {
        builder.add(13.4 + i * 0.001, 52.5 + (i % 7) * 0.002, 1_764_000_000_000 + i * 1000, `d${i % 5}`, names, [i * 0.5, 40 - i], 2);
      }
      const window = new TimeWindow(1_764_000_000_000, 1_764_000_060_000);
      window.merge(withTrack ? 'device' : 'zone', 'Berlin "Mitte"', builder.finish(), 100, 149, 4);
      const key = [...window.keys.values()][0]!;
      const aggregate = timeWindowRecord('tumbling', window, key, 'watermark', 'readings', 2, 1_796_000_000_000);
      expect(aggregate.hull).not.toBeNull();
      expect(aggregate.track !== undefined).toBe(withTrack);
      expect(aggregateV2Json(aggregate)).toBe(JSON.stringify(aggregate));
    }
  });
});
