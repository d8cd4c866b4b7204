import type { ReadingStats } from '../../src/protocol/messages.js';
import { shortestFloat32 } from './float32.js';

/**
 * count/min/max/mean of every named reading column over the first `count`
 * rows. NaN marks a row where the reading was absent and is skipped.
 */
export function summarizeReadings(
  readings: Float32Array,
  capacity: number,
  count: number,
  names: readonly string[],
): Record<string, ReadingStats> {
  // No prototype: a reading named "__proto__" is a reading like any other.
  const result = Object.create(null) as Record<string, ReadingStats>;
  for (let column = 0; column < names.length; column++) {
    const start = column * capacity;
    let present = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = start; i < start + count; i++) {
      const value = readings[i]!;
      if (value !== value) continue; // NaN: reading absent in this record
      present++;
      sum += value;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    result[names[column]!] =
      present === 0
        ? { count: 0, min: null, max: null, mean: null }
        : { count: present, min: shortestFloat32(min), max: shortestFloat32(max), mean: sum / present };
  }
  return result;
}
