import { describe, expect, it } from 'vitest';
import { PartialBuilder } from '../../src/shared/aggregate/partial.js';
import { PartialReader, PartialWriter } from '../../src/shared/aggregate/partial-wire.js';

function builder(track: boolean, device: string, lon: number): PartialBuilder {
  const b = new PartialBuilder({ track, maxReadingNames: 4 });
  b.add(lon, 47, 1_764_000_000_000, device, ['pm25', 'temp_c'], [8.5, Number.NaN], 2);
  b.add(lon + 0.5, 47.25, 1_764_000_001_000, device, ['pm25', 'temp_c'], [9.5, 12], 2);
  return b;
}

describe('partials wire', () => {
  it('carries several partials after a structured clone, each string once, in the order written', () => {
    const builders = [builder(false, 'ws-1', 8), builder(true, 'ws-1', 9), builder(false, 'ws-2', 10)];
    const writer = new PartialWriter();
    writer.number(3);
    for (const b of builders) b.writeTo(writer);
    const wire = structuredClone(writer.take());
    expect([...wire.strings].sort()).toEqual(['pm25', 'temp_c', 'ws-1', 'ws-2']);
    const reader = new PartialReader(wire);
    const read = Array.from({ length: reader.number() }, () => reader.partial());
    expect(reader.done).toBe(true);
    expect(read).toEqual(builders.map((b) => b.finish()));
    expect(read.map((p) => [p.count, p.devices, p.bounds, p.track])).toEqual([
      [2, ['ws-1'], [8, 47, 8.5, 47.25, 1_764_000_000_000, 1_764_000_001_000], null],
      [2, ['ws-1'], [9, 47, 9.5, 47.25, 1_764_000_000_000, 1_764_000_001_000], [1_764_000_000_000, 9, 47, 1_764_000_001_000, 9.5, 47.25]],
      [2, ['ws-2'], [10, 47, 10.5, 47.25, 1_764_000_000_000, 1_764_000_001_000], null],
    ]);
    const stats = read[0]!.readingStats;
    expect(read[0]!.readingNames).toEqual(['pm25', 'temp_c']);
    // count, min, max, the sum's expansion length, then its partials (scaled; see READING_SUM_SCALE)
    expect(stats.slice(0, 4)).toEqual([2, 8.5, 9.5, 1]);
    expect(stats.slice(5, 9)).toEqual([1, 12, 12, 1]);
    expect(stats).toHaveLength(10);
    // Window state keeps one name list per key: partials of one wire with the same names share it.
    expect(read[1]!.readingNames).toBe(read[0]!.readingNames);
    expect(read[2]!.readingNames).toBe(read[0]!.readingNames);
  });

  it('starts afresh after take or clear, and refuses a wire that ends early or names a string it lacks', () => {
    const writer = new PartialWriter();
    builder(false, 'ws-1', 8).writeTo(writer);
    const whole = writer.take();
    writer.number(42);
    writer.string('left by a task that failed');
    writer.clear();
    builder(false, 'ws-9', 8).writeTo(writer);
    const next = writer.take();
    expect(next.strings).toEqual(['ws-9', 'pm25', 'temp_c']);
    expect(next.numbers.length).toBe(whole.numbers.length);
    const cut = { numbers: whole.numbers.slice(0, whole.numbers.length - 1), strings: whole.strings };
    expect(() => new PartialReader(cut).partial()).toThrow(/ended early/);
    expect(() => new PartialReader({ numbers: whole.numbers, strings: [] }).partial()).toThrow(/does not hold/);
  });
});
