import { describe, expect, it } from 'vitest';
import { OffsetTracker, type PendingWork } from '../../src/pipeline/offset-tracker.js';

/** Opens work at `firstOffset` covering `records` consecutive offsets, as a window or a dead letter does. */
function track(tracker: OffsetTracker, firstOffset: number, records = 1): PendingWork {
  const work = tracker.open(firstOffset);
  for (let offset = firstOffset; offset < firstOffset + records; offset++) tracker.seen(offset);
  return work;
}

describe('OffsetTracker', () => {
  it('has nothing to commit before any record', () => {
    const tracker = new OffsetTracker();
    expect(tracker.committable()).toBeUndefined();
    expect(tracker.pending).toBe(0);
  });

  it('commits up to the first offset of the oldest unfinished work', () => {
    const tracker = new OffsetTracker();
    track(tracker, 40, 3); // a window of 40..42
    track(tracker, 43); // a dead letter
    expect(tracker.committable()).toBe(40);
  });

  it('advances past finished work to the next unfinished one', () => {
    const tracker = new OffsetTracker();
    const window = track(tracker, 40, 3);
    const deadLetter = track(tracker, 43);
    track(tracker, 44, 2);
    window.done = true;
    expect(tracker.committable()).toBe(43);
    deadLetter.done = true;
    expect(tracker.committable()).toBe(44);
  });

  it('advances to one past the last record seen once all work is done', () => {
    const tracker = new OffsetTracker();
    const a = track(tracker, 40, 3);
    const b = track(tracker, 43, 2);
    a.done = true;
    b.done = true;
    expect(tracker.committable()).toBe(45);
    expect(tracker.pending).toBe(0);
    // And stays there until more records come.
    expect(tracker.committable()).toBe(45);
  });

  it('never passes unfinished earlier work when later work finishes first', () => {
    const tracker = new OffsetTracker();
    const first = track(tracker, 10, 3);
    const second = track(tracker, 13, 3);
    const third = track(tracker, 16, 1);
    third.done = true;
    second.done = true;
    expect(tracker.committable()).toBe(10);
    first.done = true;
    expect(tracker.committable()).toBe(17);
  });

  it('counts as pending only work not yet done, whether or not committable() ran since', () => {
    const tracker = new OffsetTracker();
    const first = track(tracker, 0, 2);
    const second = track(tracker, 2, 2);
    expect(tracker.pending).toBe(2);
    first.done = true;
    expect(tracker.pending).toBe(1);
    const third = track(tracker, 4);
    third.done = true; // done behind unfinished work
    expect(tracker.pending).toBe(1);
    second.done = true;
    expect(tracker.pending).toBe(0);
    expect(tracker.committable()).toBe(5);
    expect(tracker.pending).toBe(0);
  });

  it('keeps tracking new work after everything was done', () => {
    const tracker = new OffsetTracker();
    const a = track(tracker, 0, 5);
    a.done = true;
    expect(tracker.committable()).toBe(5);
    const b = track(tracker, 5, 5);
    expect(tracker.committable()).toBe(5);
    b.done = true;
    expect(tracker.committable()).toBe(10);
  });

  it('stays right over thousands of items, finished in waves and out of order', () => {
    const tracker = new OffsetTracker();
    const items: PendingWork[] = [];
    const N = 5_000;
    // Item i covers offsets 1000 + 2i and 1000 + 2i + 1.
    for (let i = 0; i < N; i++) items.push(track(tracker, 1_000 + 2 * i, 2));
    const firstOffsetOf = (i: number) => 1_000 + 2 * i;

    // Finish 0..1499 in reverse order: the head can only move once item 0 is done.
    for (let i = 1_499; i >= 1; i--) items[i]!.done = true;
    expect(tracker.committable()).toBe(firstOffsetOf(0));
    items[0]!.done = true;
    expect(tracker.committable()).toBe(firstOffsetOf(1_500));
    expect(tracker.pending).toBe(N - 1_500);

    // A gap: 1500 stays unfinished while 1501..3999 finish.
    for (let i = 1_501; i < 4_000; i++) items[i]!.done = true;
    expect(tracker.committable()).toBe(firstOffsetOf(1_500));
    expect(tracker.pending).toBe(N - 1_500 - 2_499);

    // Closing the gap jumps past everything already finished.
    items[1_500]!.done = true;
    expect(tracker.committable()).toBe(firstOffsetOf(4_000));

    // New work arriving after the internal compaction queues behind the old.
    const late = track(tracker, firstOffsetOf(N), 1);
    for (let i = 4_000; i < N; i++) items[i]!.done = true;
    expect(tracker.committable()).toBe(firstOffsetOf(N));
    late.done = true;
    expect(tracker.committable()).toBe(firstOffsetOf(N) + 1);
    expect(tracker.pending).toBe(0);
  });

  it('moves monotonically as items finish one by one in order', () => {
    const tracker = new OffsetTracker();
    const items = Array.from({ length: 2_500 }, (_, i) => track(tracker, i));
    let previous = tracker.committable()!;
    expect(previous).toBe(0);
    for (let i = 0; i < items.length; i++) {
      items[i]!.done = true;
      const offset = tracker.committable()!;
      expect(offset).toBe(i + 1);
      expect(offset).toBeGreaterThan(previous);
      previous = offset;
    }
  });
});
