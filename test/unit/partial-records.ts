/**
 * Random sensor records for the partial-aggregate property tests, and the
 * ways to fold them: one builder over all, or chunks merged in any order.
 */
import fc from 'fast-check';
import { PartialBuilder, mergePartial, type PartialAggregate } from '../../src/shared/aggregate/partial.js';
import { PartialReader, PartialWriter } from '../../src/shared/aggregate/partial-wire.js';

export interface TestRecord {
  lon: number;
  lat: number;
  ts: number;
  device: string;
  names: string[];
  values: number[];
}

/** Reading names, two of them also names of Object.prototype's members. */
export const READING_NAMES = ['temp_c', 'humidity', '__proto__', 'toString', 'pm25'] as const;
export const DEVICES = ['ws-00001', 'ws-00002', 'gps-7', 'zürich-1', ''] as const;
const EPOCH_MS = 1_764_000_000_000;

const grid = (step: number) => fc.integer({ min: -8, max: 8 }).map((k) => k * step);
const lon = fc.oneof(grid(0.25), fc.float({ min: -180, max: 180, noNaN: true }), fc.constantFrom(-0, 8.5417, 179.99999));
const lat = fc.oneof(grid(0.25), fc.float({ min: -90, max: 90, noNaN: true }), fc.constantFrom(-0, 47.3769));
const ts = fc.oneof(
  fc.integer({ min: 0, max: 20 }).map((k) => EPOCH_MS + k * 1000),
  fc.double({ min: EPOCH_MS, max: EPOCH_MS + 3_600_000, noNaN: true }),
);
const value = fc.oneof(
  fc.constant(Number.NaN),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.float({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 0.1, 0.2, 0.3, 1e300, -1e300, 1.7e308, 5e-324),
);
const readings = fc.shuffledSubarray([...READING_NAMES]).chain((names) => fc.array(value, { minLength: names.length, maxLength: names.length }).map((values) => ({ names, values })));

export const record: fc.Arbitrary<TestRecord> = fc.record({ lon, lat, ts, device: fc.constantFrom(...DEVICES), readings }).map((r) => ({
  lon: Math.fround(r.lon),
  lat: Math.fround(r.lat),
  ts: r.ts,
  device: r.device,
  names: r.readings.names,
  values: r.readings.values,
}));

/** Records that repeat: the same fix twice, the same time at two places. */
export const records = fc
  .tuple(fc.array(record, { minLength: 1, maxLength: 60 }), fc.array(fc.nat()))
  .map(([list, repeats]) => [...list, ...repeats.slice(0, 10).map((i) => list[i % list.length]!)]);

/** How to split records into chunks and merge their partials. */
export interface Split {
  chunks: number;
  contiguous: boolean;
  /** Per record: its chunk (arbitrary split) or a cut position (contiguous split). */
  assignment: number[];
  /** Per chunk: a sort key that scrambles the records' order inside it. */
  scramble: number[];
  /** Choices of which two partials to merge next. */
  mergeOrder: number[];
}

export const split: fc.Arbitrary<Split> = fc.record({
  chunks: fc.integer({ min: 1, max: 7 }),
  contiguous: fc.boolean(),
  assignment: fc.array(fc.nat(), { minLength: 1 }),
  scramble: fc.array(fc.nat()),
  mergeOrder: fc.array(fc.nat()),
});

function fill(builder: PartialBuilder, list: readonly TestRecord[]): PartialBuilder {
  builder.reset();
  for (const r of list) builder.add(r.lon, r.lat, r.ts, r.device, r.names, r.values, r.names.length);
  return builder;
}

export function buildPartial(list: readonly TestRecord[], track: boolean, maxReadingNames: number, builder = new PartialBuilder({ track, maxReadingNames })): PartialAggregate {
  return fill(builder, list).finish();
}

/** The records' chunks under a split. */
export function chunksOf(list: readonly TestRecord[], s: Split): TestRecord[][] {
  const chunks: TestRecord[][] = Array.from({ length: s.chunks }, () => []);
  if (s.contiguous) {
    const cuts = s.assignment.slice(0, s.chunks - 1).map((a) => a % (list.length + 1)).sort((a, b) => a - b);
    list.forEach((r, i) => chunks[cuts.filter((c) => c <= i).length]!.push(r));
  } else {
    list.forEach((r, i) => chunks[s.assignment[i % s.assignment.length]! % s.chunks]!.push(r));
    chunks.forEach((chunk, c) => {
      const keyed = chunk.map((r, i) => ({ r, k: s.scramble[(i + c) % Math.max(1, s.scramble.length)] ?? i }));
      keyed.sort((a, b) => a.k - b.k);
      chunk.splice(0, chunk.length, ...keyed.map(({ r }) => r));
    });
  }
  return chunks;
}

/**
 * Builds one partial per non-empty chunk with a single reused builder (as a
 * worker does), passes each through the wire and structuredClone (as between threads) and
 * merges them pairwise in the split's random order until one is left.
 */
function crossThreads(chunk: readonly TestRecord[], builder: PartialBuilder): PartialAggregate {
  const writer = new PartialWriter();
  fill(builder, chunk).writeTo(writer);
  return new PartialReader(structuredClone(writer.take())).partial();
}

export function mergedPartial(list: readonly TestRecord[], s: Split, track: boolean, maxReadingNames: number): PartialAggregate {
  const builder = new PartialBuilder({ track, maxReadingNames });
  const partials = chunksOf(list, s)
    .filter((chunk) => chunk.length > 0)
    .map((chunk) => crossThreads(chunk, builder));
  let step = 0;
  while (partials.length > 1) {
    const pick = (n: number) => (s.mergeOrder.length === 0 ? 0 : s.mergeOrder[step++ % s.mergeOrder.length]! % n);
    const [other] = partials.splice(pick(partials.length), 1);
    const into = partials[pick(partials.length)]!;
    mergePartial(into, other!, maxReadingNames);
  }
  return partials[0]!;
}
