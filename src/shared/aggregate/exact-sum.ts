/**
 * Exact sums of doubles as Shewchuk expansions (the algorithm of Python's
 * `math.fsum`): non-overlapping partials, in increasing order of magnitude,
 * whose exact sum is the exact sum of every value added so far. Adding is
 * exact, so a sum does not depend on the order of its values, nor on how they
 * were split into expansions merged afterwards: the partials may differ, the
 * rounded value never does.
 *
 * Precondition: the values are finite and no partial sum passes the range of
 * a double (callers scale values that could, see partial-builder.ts); NaN or
 * infinities would make the result depend on the order again.
 */

/** Partials an expansion has room for before its first growth; sums of float32 coordinates need one to three. */
const INITIAL_CAPACITY = 8;

/**
 * One running exact sum in a Float64Array that only grows: adding allocates
 * nothing once the expansion has reached its longest length (a plain array
 * shrunk and regrown on every add would reallocate its store each time).
 */
export class ExactSum {
  #partials = new Float64Array(INITIAL_CAPACITY);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  add(x: number): void {
    if (this.#length === this.#partials.length) {
      const bigger = new Float64Array(this.#partials.length * 2);
      bigger.set(this.#partials);
      this.#partials = bigger;
    }
    const partials = this.#partials;
    const length = this.#length;
    let kept = 0;
    for (let j = 0; j < length; j++) {
      let y = partials[j]!;
      if (Math.abs(x) < Math.abs(y)) {
        const t = x;
        x = y;
        y = t;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[kept++] = lo;
      x = hi;
    }
    partials[kept] = x;
    this.#length = kept + 1;
  }

  /** Adds every partial of an expansion (or of the slice [from, to) of an array holding one): this then sums both. */
  addExpansion(partials: ArrayLike<number>, from = 0, to = partials.length): void {
    for (let j = from; j < to; j++) this.add(partials[j]!);
  }

  /** The exact sum, correctly rounded. */
  value(): number {
    return roundedSum(this.#partials, 0, this.#length);
  }

  /** The sign of the exact sum (1, -1 or 0): that of the largest non-zero partial. */
  sign(): number {
    for (let i = this.#length - 1; i >= 0; i--) {
      const partial = this.#partials[i]!;
      if (partial !== 0) return partial > 0 ? 1 : -1;
    }
    return 0;
  }

  /** The partials as a plain array, for a partial aggregate. */
  toArray(): number[] {
    // A loop: Array.from over a subarray goes through a view and the iterator protocol, and showed in profiles.
    const out = new Array<number>(this.#length);
    for (let i = 0; i < this.#length; i++) out[i] = this.#partials[i]!;
    return out;
  }

  /** Appends the partials to `out`. */
  pushTo(out: number[]): void {
    for (let i = 0; i < this.#length; i++) out.push(this.#partials[i]!);
  }

  /** Replaces the contents of `out` with the partials. */
  copyTo(out: number[]): void {
    out.length = this.#length;
    for (let i = 0; i < this.#length; i++) out[i] = this.#partials[i]!;
  }

  reset(): void {
    this.#length = 0;
  }
}

/** Scratch sum for merging plain-array expansions (one thread runs one merge at a time). */
const scratch = new ExactSum();

/** Adds every partial of `other` to the expansion `into`, in place: `into` then sums both. */
export function expansionMerge(into: number[], other: readonly number[]): void {
  scratch.reset();
  scratch.addExpansion(into);
  scratch.addExpansion(other);
  scratch.copyTo(into);
}

/** The exact sum of an expansion's partials (or of the slice [from, to) of an array holding one), correctly rounded. */
export function expansionValue(partials: ArrayLike<number>, from = 0, to = partials.length): number {
  return roundedSum(partials, from, to);
}

/**
 * The exact sum correctly rounded to the nearest double (ties to even), as
 * Python's `math.fsum` rounds it: the top partials are added until a rounding
 * error appears, and a half-way case is settled by the sign of the partial
 * below it.
 */
function roundedSum(partials: ArrayLike<number>, from: number, to: number): number {
  let n = to;
  if (n === from) return 0;
  n--;
  let hi = partials[n]!;
  let lo = 0;
  while (n > from) {
    const x = hi;
    n--;
    const y = partials[n]!;
    hi = x + y;
    const yr = hi - x;
    lo = y - yr;
    if (lo !== 0) break;
  }
  if (n > from && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
    const y = lo * 2;
    const x = hi + y;
    const yr = x - hi;
    if (y === yr) hi = x;
  }
  return hi;
}
