import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { PartialBuilder } from '../../src/shared/aggregate/partial.js';
import { PartialWriter, type PartialsWire } from '../../src/shared/aggregate/partial-wire.js';
import { KEY_KINDS, type KeyKind } from '../../src/shared/keys.js';
import { StateBudget, WindowStore } from '../../src/windows/window-store.js';

const START = 1_764_000_000_000;
const DEVICES = 3000;
const NAMES: readonly (readonly string[])[] = [['temp_c', 'humidity', 'pressure_hpa'], ['pm25', 'pm10', 'no2'], ['speed_kmh', 'battery_v']];

/** One chunk's partials for a 10 s window: per device a track key and a cell key, a zone per five devices; each device one record. */
function chunkWire(chunk: number): PartialsWire {
  const writer = new PartialWriter();
  const zones = DEVICES / 5;
  writer.number(START);
  writer.number(START + 10_000);
  writer.number(2 * DEVICES + zones);
  const key = (by: KeyKind, id: string, members: readonly number[]) => {
    const builder = new PartialBuilder({ track: by === 'device', maxReadingNames: 16 });
    for (const d of members) {
      const names = NAMES[d % NAMES.length]!;
      builder.add(-100 + (d % 60) * 0.1 + chunk * 1e-4, 40 + Math.floor(d / 60) * 0.1, START + chunk * 3000 + d, `dev-${d}`, names, names.map((_, i) => 10 + i + chunk + (d % 7) / 4), names.length);
    }
    writer.number(KEY_KINDS.indexOf(by));
    writer.string(id);
    writer.number(0);
    writer.number(members.length - 1);
    builder.writeTo(writer);
  };
  for (let d = 0; d < DEVICES; d++) key('device', `dev-${d}`, [d]);
  for (let d = 0; d < DEVICES; d++) key('h3', `8928308280${d.toString(16).padStart(5, '0')}`, [d]);
  for (let z = 0; z < zones; z++) key('zone', String(1000 + z), [5 * z, 5 * z + 1, 5 * z + 2, 5 * z + 3, 5 * z + 4]);
  return structuredClone(writer.take());
}

describe('window state bytes', () => {
  // The window-state share counts these estimates: under the heap they let more through than the memory plan holds.
  it('bound from above the heap a window of churning keys holds, merged from three chunks, by less than half again', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const wires = [0, 1, 2].map(chunkWire);
    const budget = new StateBudget(Number.MAX_SAFE_INTEGER);
    const store = new WindowStore({ maxOpen: 8, maxKeys: Number.MAX_SAFE_INTEGER, maxTrackPoints: 1000, maxReadingNames: 16 }, budget);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (const wire of wires) store.merge(wire, (row) => row);
    wires.length = 0;
    gc();
    gc();
    const used = process.memoryUsage().heapUsed - before;
    expect(store.openCount).toBe(1);
    expect(budget.usedBytes).toBe(store.bytes);
    expect(budget.usedBytes).toBeGreaterThanOrEqual(used);
    expect(budget.usedBytes).toBeLessThan(1.5 * used);
  });
});
