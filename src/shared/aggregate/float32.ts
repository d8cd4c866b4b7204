/** float32 needs at most 9 significant digits to read back as itself. */
const FLOAT32_ROUND_TRIP_DIGITS = 9;
/** Fewer digits than this always read back the same way as this many, so the search starts here. */
const FLOAT32_FEWEST_DIGITS_TRIED = 6;

/**
 * The shortest decimal that reads back as the same float32, so a stored
 * coordinate like 8.5417 prints as 8.5417 and not as 8.541700363159180.
 * A copy of the workers' helper (workers/aggregate/float32.ts) for pure code
 * both threads use.
 */
export function shortestFloat32(value: number): number {
  for (let digits = FLOAT32_FEWEST_DIGITS_TRIED; digits < FLOAT32_ROUND_TRIP_DIGITS; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(FLOAT32_ROUND_TRIP_DIGITS));
}
