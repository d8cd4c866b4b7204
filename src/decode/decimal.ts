/**
 * Decimal digits to the nearest double, without a string, for the decoder's
 * number reader. JSON writers print doubles with up to 17 significant digits
 * (coordinates from a GPS fix, a float64 sensor value), past the 15 that the
 * one-operation fast path (Clinger) can take exactly. For 16 to 19 digits
 * the quotient is computed in double-double arithmetic, exact enough to know
 * the rounding unless the value lies within 2^-20 of an ulp of a midpoint
 * between two doubles; then NaN tells the caller to ask the engine instead.
 */

/** 10^0 .. 10^22: exact in a double. */
const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);
/** Dekker's splitter for 53-bit doubles: 2^27 + 1. */
const SPLITTER = 134_217_729;
/** High and low halves of each power of ten, split once. */
const POW10_HIGH = POW10.map((p) => {
  const c = SPLITTER * p;
  return c - (c - p);
});
const POW10_LOW = POW10.map((p, i) => p - POW10_HIGH[i]!);
/** 2^(e - 1075) for each biased exponent e: the spacing of doubles in that binade. */
const SPACING = Float64Array.from({ length: 2048 }, (_, e) => 2 ** (e - 1075));
const MIDPOINT_MARGIN = 2 ** -20;

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LOW_WORD = 1 - HIGH_WORD;

/** The exact rounding error of the product a * p (p = a * POW10[i] as rounded): a * POW10[i] - p. */
function productError(a: number, i: number, p: number): number {
  const c = SPLITTER * a;
  const aHigh = c - (c - a);
  const aLow = a - aHigh;
  const bHigh = POW10_HIGH[i]!;
  const bLow = POW10_LOW[i]!;
  return aHigh * bHigh - p + aHigh * bLow + aLow * bHigh + aLow * bLow;
}

/**
 * The double nearest to (head * 10^tailDigits + tail) / 10^divisorExponent,
 * where head has at most 15 digits, tail exactly `tailDigits` (0-4) and
 * 0 <= divisorExponent <= 22; NaN when too close to a midpoint to tell.
 */
export function nearestDouble(head: number, tail: number, tailDigits: number, divisorExponent: number): number {
  // m = high + low exactly: head * 10^t is split into its rounded product and error.
  const product = head * POW10[tailDigits]!;
  const rest = productError(head, tailDigits, product) + tail;
  const high = product + rest;
  const low = rest - (high - product);
  // One rounding of the exact m, ties to even, as the engine does.
  if (divisorExponent === 0) return high;
  const divisor = POW10[divisorExponent]!;
  const q = high / divisor;
  const t = q * divisor;
  // The remainder of a correctly rounded quotient is exact: high - q * divisor.
  const remainder = high - t - productError(q, divisorExponent, t);
  const correction = (remainder + low) / divisor;
  const y = q + correction;
  const error = q - y + correction;
  if (error === 0) return y;
  const half = spacingAt(y, error) / 2;
  // Written so that a NaN spacing (no normal double) also answers NaN.
  return Math.abs(Math.abs(error) - half) > half * MIDPOINT_MARGIN ? y : Number.NaN;
}

/** The distance from positive normal y to the next double toward `direction`'s sign; NaN below the normal range. */
function spacingAt(y: number, direction: number): number {
  bits[0] = y;
  const high = words[HIGH_WORD]!;
  const exponent = (high >>> 20) & 0x7ff;
  if (exponent === 0) return Number.NaN;
  const spacing = SPACING[exponent]!;
  const powerOfTwo = (high & 0xfffff) === 0 && words[LOW_WORD] === 0;
  return direction < 0 && powerOfTwo ? spacing / 2 : spacing;
}
