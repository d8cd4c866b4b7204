import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventTimes } from '../../src/fleet/event-time.js';
import { FleetRun, lateSchedule, type FleetRunOptions, type RecordClass } from '../../src/fleet/fleet-run.js';
import { FLEET_EXPECT_HEADER } from '../../src/fleet/messages.js';

const START = Date.parse('2026-11-26T10:00:00Z');

function runOptions(overrides: Partial<FleetRunOptions>): FleetRunOptions {
  return {
    devices: 20,
    seed: 7,
    oversizeBytes: 100,
    count: 1000,
    badRatio: 0,
    lateRatio: 0,
    startTs: START,
    stepMs: 10,
    disorderMs: 0,
    lateByMs: 3_600_000,
    ...overrides,
  };
}

/** The event time a record carries: epoch ms or an ISO-8601 string, flat or in a Feature's properties. */
function tsOf(value: Buffer): number {
  const parsed = JSON.parse(value.toString()) as { ts?: number | string; properties?: { ts: number | string } };
  const ts = parsed.ts ?? parsed.properties!.ts;
  return typeof ts === 'number' ? ts : Date.parse(ts);
}

function records(options: FleetRunOptions, wallClock = 0) {
  const run = new FleetRun(options);
  return Array.from({ length: options.count! }, () => run.next(wallClock));
}

describe('event time', () => {
  it('gives record i start + floor(i × step), or the wall clock without a start', () => {
    const stepped = new EventTimes({ startTs: START, stepMs: 2.5, disorderMs: 0, lateByMs: 1000 }, 1);
    expect([0, 1, 2, 3].map((i) => stepped.base(i, 99))).toEqual([START, START + 2, START + 5, START + 7]);
    expect(stepped.late(4, 99)).toBe(START + 10 - 1000);
    const wall = new EventTimes({ startTs: undefined, stepMs: 2.5, disorderMs: 0, lateByMs: 1000 }, 1);
    expect(wall.good(5, 1234)).toBe(1234);
  });

  it('stamps every good record of a run with its stepped time, hydro ISO times included', () => {
    const sent = records(runOptions({ count: 200 }));
    expect(sent.map(({ message }) => tsOf(message.value))).toEqual(sent.map((_, i) => START + i * 10));
  });

  it('moves good records back by whole milliseconds within the disorder bound, reaching both ends, the same for a seed', () => {
    const disorderMs = 3;
    const options = runOptions({ count: 4000, disorderMs });
    const shifts = records(options).map(({ message }, i) => START + i * 10 - tsOf(message.value));
    expect(shifts.every((s) => Number.isInteger(s) && s >= 0 && s <= disorderMs)).toBe(true);
    expect(new Set(shifts)).toEqual(new Set([0, 1, 2, 3]));
    const again = records(options).map(({ message }, i) => START + i * 10 - tsOf(message.value));
    expect(again).toEqual(shifts);
    const otherSeed = records({ ...options, seed: 8 }).map(({ message }, i) => START + i * 10 - tsOf(message.value));
    expect(otherSeed).not.toEqual(shifts);
  });

  it('does not change the devices or readings when disorder is added', () => {
    const strip = (value: Buffer) => value.toString().replace(/"ts":("[^"]*"|\d+)/, '');
    const plain = records(runOptions({ count: 100 })).map(({ message }) => strip(message.value));
    const shuffled = records(runOptions({ count: 100, disorderMs: 5000 })).map(({ message }) => strip(message.value));
    expect(shuffled).toEqual(plain);
  });
});

describe('late records', () => {
  it('sends exactly round(count × ratio) late and bad records, never the same record, spread evenly', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        (count, badRatio, lateRatio) => {
          // What produce refuses: more bad and late records than the run holds.
          fc.pre(Math.round(count * badRatio) + Math.round(count * lateRatio) <= count);
          const isLate = lateSchedule(badRatio, lateRatio, count);
          const good = count - Math.round(count * badRatio);
          const late = Array.from({ length: good }, (_, j) => j).filter(isLate);
          expect(late.length).toBe(Math.round(count * lateRatio));
          // Evenly: gaps between late records differ by at most one.
          const gaps = late.slice(1).map((j, k) => j - late[k]!);
          if (gaps.length > 0) expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('marks late records with the expect header, moves them back by --late-by-ms, and keeps them valid', () => {
    const options = runOptions({ count: 1000, badRatio: 0.01, lateRatio: 0.01, lateByMs: 60_000 });
    const sent = records(options);
    const count = (kind: RecordClass) => sent.filter((r) => r.kind === kind).length;
    expect([count('bad'), count('late'), count('good')]).toEqual([10, 10, 980]);
    sent.forEach(({ message, kind }, i) => {
      const expectHeader = message.headers?.[FLEET_EXPECT_HEADER];
      if (kind === 'late') {
        expect(expectHeader).toBe('late');
        expect(tsOf(message.value)).toBe(START + i * 10 - 60_000);
        const value = JSON.parse(message.value.toString()) as { device_id?: string; properties?: { device_id: string } };
        expect(value.device_id ?? value.properties?.device_id).toBe(message.key);
      } else if (kind === 'good') {
        expect(expectHeader).toBeUndefined();
      } else {
        expect(expectHeader).not.toBe('late');
      }
    });
  });

  it('keeps the late share of a run of unknown length, taken from the good records', () => {
    const run = new FleetRun(runOptions({ count: undefined, badRatio: 0.2, lateRatio: 0.05 }));
    const kinds = Array.from({ length: 10_000 }, () => run.next(0).kind);
    expect(kinds.filter((k) => k === 'late').length).toBe(500);
    expect(kinds.filter((k) => k === 'bad').length).toBe(2000);
  });
});
