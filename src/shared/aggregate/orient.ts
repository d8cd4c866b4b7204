import { ExactSum } from './exact-sum.js';

/**
 * The exact orientation of three points: whether c lies to the left of the
 * line from a to b (1), to its right (-1) or on it (0). A hull
 * built on a rounded orientation can keep or drop a point depending on which
 * others it is compared with; an exact one makes the hull a function of the
 * point set alone, which is what lets partial hulls merge exactly.
 *
 * Coordinates must be float32 values (held in doubles). Three stages, each
 * exact when it answers:
 *   1. the determinant in doubles, kept when it is larger than its rounding
 *      error bound (Shewchuk's ccwerrboundA): nearly every call;
 *   2. when the coordinate differences are exact (coordinates of similar
 *      magnitude: grids, collinear and repeated points), the two products as
 *      exact two-term expansions and the sign of their exact difference;
 *   3. otherwise, the determinant in BigInt over the coordinates scaled to
 *      integers.
 */
export function orient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  const acx = ax - cx;
  const bcx = bx - cx;
  const acy = ay - cy;
  const bcy = by - cy;
  const left = acx * bcy;
  const right = acy * bcx;
  const det = left - right;
  let magnitude: number;
  if (left > 0) {
    if (right <= 0) return signOf(det);
    magnitude = left + right;
  } else if (left < 0) {
    if (right >= 0) return signOf(det);
    magnitude = -left - right;
  } else {
    return signOf(det);
  }
  const bound = ERROR_BOUND_A * magnitude;
  if (det >= bound || -det >= bound) return signOf(det);
  if (diffTail(ax, cx, acx) === 0 && diffTail(bx, cx, bcx) === 0 && diffTail(ay, cy, acy) === 0 && diffTail(by, cy, bcy) === 0) {
    return productsDifferenceSign(acx, bcy, acy, bcx);
  }
  return orientBigInt(ax, ay, bx, by, cx, cy);
}

/** 1, -1 or 0 (never -0). */
function signOf(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/** Unit roundoff of a double, 2^-53. */
const EPSILON = 2 ** -53;
/** Shewchuk's bound on the error of the rounded 2D determinant, relative to the sum of its products' magnitudes. */
const ERROR_BOUND_A = (3 + 16 * EPSILON) * EPSILON;
/** 2^27 + 1: splits a double into two 26-bit halves whose products are exact (Dekker). */
const SPLITTER = 134217729;
/** float32 values are multiples of 2^-149 (the least subnormal): scaled by 2^149 they are integers. */
const FLOAT32_TO_INTEGER = 2 ** 149;

/** What a - b lost when rounded to `difference` (Knuth's two-difference): 0 when exact. */
function diffTail(a: number, b: number, difference: number): number {
  const bVirtual = a - difference;
  const aVirtual = difference + bVirtual;
  return a - aVirtual + (bVirtual - b);
}

/** Scratch sum for productsDifferenceSign (one thread runs one call at a time). */
const scratch = new ExactSum();

/** The sign of a·b - c·d, exactly: each product as a two-term expansion (Dekker), summed exactly. */
function productsDifferenceSign(a: number, b: number, c: number, d: number): number {
  scratch.reset();
  const ab = a * b;
  scratch.add(ab);
  scratch.add(productTail(a, b, ab));
  const cd = c * d;
  scratch.add(-cd);
  scratch.add(-productTail(c, d, cd));
  return scratch.sign();
}

/** What a·b lost when rounded to `product` (Dekker's two-product, exact without underflow or overflow). */
function productTail(a: number, b: number, product: number): number {
  let t = SPLITTER * a;
  const aHi = t - (t - a);
  const aLo = a - aHi;
  t = SPLITTER * b;
  const bHi = t - (t - b);
  const bLo = b - bHi;
  return aLo * bLo - (product - aHi * bHi - aLo * bHi - aHi * bLo);
}

function orientBigInt(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  const x = BigInt(cx * FLOAT32_TO_INTEGER);
  const y = BigInt(cy * FLOAT32_TO_INTEGER);
  const acx = BigInt(ax * FLOAT32_TO_INTEGER) - x;
  const acy = BigInt(ay * FLOAT32_TO_INTEGER) - y;
  const bcx = BigInt(bx * FLOAT32_TO_INTEGER) - x;
  const bcy = BigInt(by * FLOAT32_TO_INTEGER) - y;
  const det = acx * bcy - acy * bcx;
  return det > 0n ? 1 : det < 0n ? -1 : 0;
}
