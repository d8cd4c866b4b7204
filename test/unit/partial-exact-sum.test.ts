import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExactSum, expansionMerge, expansionValue } from '../../src/shared/aggregate/exact-sum.js';

/** Every double is an integer multiple of 2^-1074 (the least subnormal). */
const LEAST_EXPONENT = 1074;
const DOUBLE_PRECISION = 53;

/** x × 2^1074 as an exact integer, read from the bits. */
function scaledBigInt(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const exponentBits = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const magnitude = exponentBits === 0 ? fraction : (fraction | (1n << 52n)) << BigInt(exponentBits - 1);
  return negative ? -magnitude : magnitude;
}

/** The double nearest s × 2^-1074, ties to even: the reference a correctly rounded sum must equal. */
function roundScaled(s: bigint): number {
  const sign = s < 0n ? -1 : 1;
  let magnitude = s < 0n ? -s : s;
  if (magnitude < 1n << BigInt(DOUBLE_PRECISION)) return sign * Number(magnitude) * 2 ** -LEAST_EXPONENT;
  const shift = magnitude.toString(2).length - DOUBLE_PRECISION;
  const remainder = magnitude & ((1n << BigInt(shift)) - 1n);
  magnitude >>= BigInt(shift);
  const half = 1n << BigInt(shift - 1);
  if (remainder > half || (remainder === half && (magnitude & 1n) === 1n)) magnitude += 1n;
  return sign * Number(magnitude) * 2 ** (shift - LEAST_EXPONENT);
}

function referenceSum(values: readonly number[]): number {
  return roundScaled(values.reduce((sum, x) => sum + scaledBigInt(x), 0n));
}

function expansionOf(values: readonly number[]): number[] {
  const sum = new ExactSum();
  for (const x of values) sum.add(x);
  expect(sum.value()).toBe(expansionValue(sum.toArray()));
  return sum.toArray();
}

/** Doubles of every magnitude, subnormals included, small enough that no partial sum overflows. */
const anyDouble = fc.oneof(
  fc.double({ min: -1e300, max: 1e300, noNaN: true }),
  fc.double({ min: -1e-300, max: 1e-300, noNaN: true }),
  fc.float({ min: -180, max: 180, noNaN: true }),
  fc.constantFrom(0.1, 0.2, 0.3, 1, 2 ** -53, 2 ** 53, 5e-324, -0),
);

describe('exact sums (expansions)', () => {
  it('round the exact sum correctly, as a BigInt reference does', () => {
    fc.assert(
      fc.property(fc.array(anyDouble, { maxLength: 60 }), (values) => {
        // + 0: an exact zero may come out as -0 when every value was -0; JSON prints both as 0.
        expect(expansionValue(expansionOf(values)) + 0).toBe(referenceSum(values));
      }),
      { numRuns: 2000 },
    );
  });

  it('do not depend on the order of values nor on how they are split and merged', () => {
    fc.assert(
      fc.property(fc.array(anyDouble, { maxLength: 60 }), fc.array(fc.nat()), (values, cuts) => {
        const whole = expansionValue(expansionOf(values));
        const reversed = expansionValue(expansionOf([...values].reverse()));
        const sorted = expansionValue(expansionOf([...values].sort((a, b) => a - b)));
        // Split at the given cuts and merge the pieces, last piece first.
        const points = [...new Set(cuts.map((c) => c % (values.length + 1)))].sort((a, b) => a - b);
        const pieces: number[][] = [];
        let start = 0;
        for (const end of [...points, values.length]) {
          pieces.push(expansionOf(values.slice(start, end)));
          start = end;
        }
        const merged: number[] = [];
        for (const piece of pieces.reverse()) expansionMerge(merged, piece);
        expect(reversed).toBe(whole);
        expect(sorted).toBe(whole);
        expect(expansionValue(merged)).toBe(whole);
      }),
      { numRuns: 1000 },
    );
  });

  it('keep partials non-overlapping and increasing in magnitude (the last may be a zero)', () => {
    fc.assert(
      fc.property(fc.array(anyDouble, { maxLength: 60 }), (values) => {
        const partials = expansionOf(values).map(scaledBigInt);
        for (let i = 0; i + 1 < partials.length; i++) {
          const low = partials[i]! < 0n ? -partials[i]! : partials[i]!;
          const high = partials[i + 1]!;
          if (high === 0n && i + 2 === partials.length) break;
          expect(low).toBeGreaterThan(0n);
          // Non-overlapping: every bit of the lower partial sits below the least significant bit of the higher one.
          expect(low < (high & -high)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    { values: [0.1, 0.2, 0.3], sum: 0.6, why: 'naive summation gives 0.6000000000000001' },
    { values: [1e100, 1, -1e100], sum: 1, why: 'the 1 survives a cancellation' },
    { values: [1, 2 ** -53], sum: 1, why: 'half-way, ties to even' },
    { values: [1, 2 ** -53, 2 ** -80], sum: 1 + 2 ** -52, why: 'just above half-way rounds up' },
    { values: [1 + 2 ** -52, 2 ** -53], sum: 1 + 2 ** -51, why: 'half-way from an odd significand rounds up to even' },
    { values: [], sum: 0, why: 'nothing sums to 0' },
  ])('sums $values to $sum ($why)', ({ values, sum }) => {
    expect(expansionValue(expansionOf(values))).toBe(sum);
  });
});
