/** float32 needs at most 9 significant digits to read back as itself. */
const FLOAT32_ROUND_TRIP_DIGITS = 9;
/** Fewer digits than this always read back the same way as this many, so the search starts here. */
const FLOAT32_FEWEST_DIGITS_TRIED = 6;
/** Powers of ten a double holds exactly (10^22 is the last). */
const EXACT_POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** Magnitudes the arithmetic path takes: every scale it needs is an exact power of ten, every scaled value a safe integer. */
const ARITHMETIC_MIN = 1e-12;
const ARITHMETIC_MAX = 1e12;

/**
 * The shortest decimal that reads back as the same float32, so a stored
 * coordinate like 8.5417 prints as 8.5417 and not as 8.541700363159180.
 *
 * Coordinates and readings take an arithmetic path: the value scaled to
 * 6, 7, 8 then 9 significant digits and rounded, divided back (a correctly
 * rounded division by an exact power of ten: the double nearest that
 * decimal). It runs for every hull vertex and bbox corner of every output,
 * and `toPrecision` (the fallback) cost a quarter of finishing one.
 */
export function shortestFloat32(value: number): number {
  const magnitude = Math.abs(value);
  if (magnitude >= ARITHMETIC_MIN && magnitude < ARITHMETIC_MAX) {
    const exponent = Math.floor(Math.log10(magnitude));
    for (let digits = FLOAT32_FEWEST_DIGITS_TRIED; digits <= FLOAT32_ROUND_TRIP_DIGITS; digits++) {
      const power = digits - 1 - exponent;
      if (power < 0 || power >= EXACT_POWERS_OF_TEN.length) break;
      const scale = EXACT_POWERS_OF_TEN[power]!;
      const candidate = Math.round(magnitude * scale) / scale;
      if (Math.fround(candidate) === magnitude) return value < 0 ? -candidate : candidate;
    }
  }
  for (let digits = FLOAT32_FEWEST_DIGITS_TRIED; digits < FLOAT32_ROUND_TRIP_DIGITS; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(FLOAT32_ROUND_TRIP_DIGITS));
}
