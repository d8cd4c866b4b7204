/**
 * The shortest decimal text that reads back as the same float32, so a column
 * value like 8.5417 prints as 8.5417 and not as 8.541700363159180.
 * float32 needs at most 9 significant digits to round-trip.
 */
export function shortestFloat32(value: number): number {
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(9));
}
