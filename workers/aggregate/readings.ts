import type { ReadingStats } from '../../src/protocol/messages.js';

interface Running {
  count: number;
  min: number;
  max: number;
  sum: number;
}

/**
 * count/min/max/mean per reading name over a window, folded in as records are
 * decoded. At most `maxNames` distinct names: a record bringing a name past
 * the cap is refused whole, so memory per window stays bounded.
 */
export class ReadingStatsAccumulator {
  readonly #maxNames: number;
  // No prototype: a reading named "__proto__" is a reading like any other.
  readonly #stats = new Map<string, Running>();

  constructor(maxNames: number) {
    this.#maxNames = maxNames;
  }

  /**
   * Folds one record's readings in (the first `count` names and values, NaN
   * where the sensor reported nothing); false (nothing folded) when they
   * would pass the name cap. A record never repeats a name.
   */
  add(names: readonly string[], values: readonly number[], count: number): boolean {
    // Counting the new names costs a lookup per reading; only needed when the record could reach the cap.
    if (this.#stats.size + count > this.#maxNames) {
      let newNames = 0;
      for (let i = 0; i < count; i++) {
        if (!Number.isNaN(values[i]) && !this.#stats.has(names[i]!)) newNames++;
      }
      if (this.#stats.size + newNames > this.#maxNames) return false;
    }
    for (let i = 0; i < count; i++) {
      const value = values[i]!;
      if (Number.isNaN(value)) continue;
      const name = names[i]!;
      const running = this.#stats.get(name);
      if (running === undefined) {
        this.#stats.set(name, { count: 1, min: value, max: value, sum: value });
        continue;
      }
      running.count++;
      running.sum += value;
      if (value < running.min) running.min = value;
      if (value > running.max) running.max = value;
    }
    return true;
  }

  result(): Record<string, ReadingStats> {
    const result = Object.create(null) as Record<string, ReadingStats>;
    for (const [name, { count, min, max, sum }] of this.#stats) result[name] = { count, min, max, mean: sum / count, sum };
    return result;
  }
}
