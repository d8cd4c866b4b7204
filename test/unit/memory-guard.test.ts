import { describe, expect, it } from 'vitest';
import { FLOOR_MARGIN, MIN_PAUSE_MS, MemoryGuard, type GuardAction, type GuardOptions, type MemorySample } from '../../src/memory/guard.js';

/**
 * A budget of 1000 bytes and a heap limit of 1000 bytes, so `rss: 850` is a
 * share of exactly 0.85 (IEEE division is correctly rounded, so 850 / 1000
 * is the same double as the literal 0.85).
 */
const BUDGET = 1000;
const HEAP_LIMIT = 1000;
const HIGH = 0.85;
const LOW = 0.7;
const STUCK_MS = 30_000;
const T0 = 1_700_000_000_000;

function guardOf(options: Partial<GuardOptions> = {}): MemoryGuard {
  return new MemoryGuard({ budgetBytes: BUDGET, highWater: HIGH, lowWater: LOW, stuckMs: STUCK_MS, ...options });
}

/** A sample whose RSS is `rssShare` of the budget; the heap is small unless given. */
function sample(rssShare: number, fields: Partial<MemorySample> = {}): MemorySample {
  return { rss: Math.round(rssShare * BUDGET), heapUsed: 100, heapLimit: HEAP_LIMIT, inFlight: 5, ...fields };
}

/** A guard paused at T0 by a sample at 0.90 of the budget with work in flight. */
function pausedGuard(options: Partial<GuardOptions> = {}): MemoryGuard {
  const guard = guardOf(options);
  expect(guard.update(sample(0.9), T0)).toBe('pause');
  return guard;
}

describe('MemoryGuard: pausing', () => {
  it('pauses exactly at the high-water mark of RSS against the budget, not one byte below', () => {
    const guard = guardOf();
    expect(guard.update(sample(0, { rss: 849 }), T0)).toBe('none');
    expect(guard.paused).toBe(false);
    expect(guard.update(sample(0, { rss: 850 }), T0 + 250)).toBe('pause');
    expect(guard.paused).toBe(true);
    expect(guard.usage).toBe(0.85);
  });

  it('pauses exactly at the high-water mark of heapUsed against the heap limit, whatever RSS is', () => {
    const guard = guardOf();
    expect(guard.update(sample(0.1, { heapUsed: 849 }), T0)).toBe('none');
    expect(guard.usage).toBe(0.849);
    expect(guard.update(sample(0.1, { heapUsed: 850 }), T0 + 250)).toBe('pause');
    expect(guard.paused).toBe(true);
  });

  it('takes the heap share against the heap limit, not against the budget', () => {
    // 850 bytes of heap is 0.85 of a 1000-byte budget but only 0.425 of a 2000-byte heap limit.
    const guard = guardOf();
    expect(guard.update(sample(0.1, { heapUsed: 850, heapLimit: 2000 }), T0)).toBe('none');
    expect(guard.usage).toBe(0.425);
  });

  it('does not pause anywhere below the high-water mark, and reports "pause" only on the transition', () => {
    const guard = guardOf();
    let now = T0;
    for (const share of [0, 0.5, 0.7, 0.8, 0.849]) {
      expect(guard.update(sample(share), (now += 250))).toBe('none');
    }
    expect(guard.update(sample(0.95), (now += 250))).toBe('pause');
    // Still above the mark: already paused, nothing new to do.
    expect(guard.update(sample(0.95), (now += 250))).toBe('none');
    expect(guard.paused).toBe(true);
  });
});

describe('MemoryGuard: resuming', () => {
  it('resumes below the low-water mark, but not before MIN_PAUSE_MS has passed', () => {
    const guard = pausedGuard();
    expect(guard.update(sample(0.5), T0 + 1)).toBe('none');
    expect(guard.update(sample(0.5), T0 + MIN_PAUSE_MS - 1)).toBe('none');
    expect(guard.paused).toBe(true);
    expect(guard.update(sample(0.5), T0 + MIN_PAUSE_MS)).toBe('resume');
    expect(guard.paused).toBe(false);
  });

  it('does not resume at the low-water mark itself, only below it', () => {
    const guard = pausedGuard();
    expect(guard.update(sample(0, { rss: 700 }), T0 + MIN_PAUSE_MS)).toBe('none');
    expect(guard.update(sample(0, { rss: 699 }), T0 + MIN_PAUSE_MS + 250)).toBe('resume');
  });

  it('needs both RSS and heap below the low-water mark to resume', () => {
    const guard = pausedGuard();
    expect(guard.update(sample(0.1, { heapUsed: 750 }), T0 + MIN_PAUSE_MS)).toBe('none');
    expect(guard.update(sample(0.1, { heapUsed: 650 }), T0 + MIN_PAUSE_MS + 250)).toBe('resume');
  });

  it('stays paused while work is in flight and usage sits between the marks', () => {
    const guard = pausedGuard();
    let now = T0;
    for (let i = 0; i < 100; i++) {
      expect(guard.update(sample(0.78, { inFlight: 3 }), (now += 250))).toBe('none');
    }
    expect(now - T0).toBeGreaterThan(10 * MIN_PAUSE_MS);
    expect(guard.paused).toBe(true);
  });
});

describe('MemoryGuard: no flapping between the marks', () => {
  it('never pauses while running on samples oscillating between 0.75 and 0.80', () => {
    const guard = guardOf();
    const actions: GuardAction[] = [];
    for (let i = 0; i < 200; i++) actions.push(guard.update(sample(i % 2 === 0 ? 0.75 : 0.8), T0 + i * 250));
    expect(new Set(actions)).toEqual(new Set(['none']));
    expect(guard.paused).toBe(false);
  });

  it('never resumes while paused (work in flight) on samples oscillating between 0.75 and 0.80', () => {
    const guard = pausedGuard();
    const actions: GuardAction[] = [];
    for (let i = 1; i <= 200; i++) actions.push(guard.update(sample(i % 2 === 0 ? 0.75 : 0.8, { inFlight: 1 }), T0 + i * 250));
    expect(new Set(actions)).toEqual(new Set(['none']));
    expect(guard.paused).toBe(true);
  });
});

describe('MemoryGuard: collect and the drained resume', () => {
  it('asks for one collection once work has drained, then resumes below the high-water mark though above the low one', () => {
    const guard = pausedGuard();
    // Drained before MIN_PAUSE_MS: nothing yet.
    expect(guard.update(sample(0.8, { inFlight: 0 }), T0 + 500)).toBe('none');
    expect(guard.update(sample(0.8, { inFlight: 0 }), T0 + MIN_PAUSE_MS)).toBe('collect');
    expect(guard.paused).toBe(true);
    // 0.80 is above LOW: only the drained-and-collected rule lets it go.
    expect(guard.update(sample(0.8, { inFlight: 0 }), T0 + MIN_PAUSE_MS + 250)).toBe('resume');
    expect(guard.paused).toBe(false);
  });

  it('resumes after its one collection even above the high-water mark, while within the budget', () => {
    const guard = pausedGuard();
    expect(guard.update(sample(0.9, { inFlight: 0 }), T0 + MIN_PAUSE_MS)).toBe('collect');
    // Nothing in flight and already collected: a longer pause frees nothing, so the stream goes on.
    expect(guard.update(sample(0.9, { inFlight: 0 }), T0 + MIN_PAUSE_MS + 250)).toBe('resume');
  });

  it('takes what a drained pause leaves as the floor: no flapping around it, a pause when records grow past it', () => {
    const guard = pausedGuard();
    expect(guard.update(sample(0.9, { inFlight: 0 }), T0 + MIN_PAUSE_MS)).toBe('collect');
    expect(guard.update(sample(0.9, { inFlight: 0 }), T0 + MIN_PAUSE_MS + 250)).toBe('resume');
    // Around the floor (0.90) and below floor + FLOOR_MARGIN (0.95): no pause.
    for (let i = 2; i < 40; i++) {
      expect(guard.update(sample(i % 2 === 0 ? 0.91 : 0.94), T0 + MIN_PAUSE_MS + i * 250)).toBe('none');
    }
    expect(guard.update(sample(0.9 + FLOOR_MARGIN + 0.01), T0 + 20_000)).toBe('pause');
  });

  it('forgets the floor once usage falls below the low-water mark', () => {
    const guard = pausedGuard();
    guard.update(sample(0.9, { inFlight: 0 }), T0 + MIN_PAUSE_MS);
    guard.update(sample(0.9, { inFlight: 0 }), T0 + MIN_PAUSE_MS + 250);
    expect(guard.update(sample(0.6), T0 + 5_000)).toBe('none');
    expect(guard.update(sample(0.85), T0 + 5_250)).toBe('pause');
  });

  it('collects only once per pause, and never resumes while RSS is above the budget', () => {
    const guard = pausedGuard({ stuckMs: 1_000_000 });
    const actions: GuardAction[] = [];
    for (let i = 4; i < 100; i++) actions.push(guard.update(sample(1.05, { inFlight: 0 }), T0 + i * 250));
    expect(actions.filter((a) => a === 'collect')).toHaveLength(1);
    expect(actions.filter((a) => a !== 'collect' && a !== 'none')).toEqual([]);
    expect(guard.paused).toBe(true);
    // Back within the budget, the collection already done lets it resume.
    expect(guard.update(sample(0.95, { inFlight: 0 }), T0 + 100 * 250)).toBe('resume');
  });

  it('does not take the drained resume while work is still in flight, even after a collection', () => {
    const guard = pausedGuard();
    expect(guard.update(sample(0.8, { inFlight: 0 }), T0 + MIN_PAUSE_MS)).toBe('collect');
    // New work arrived (e.g. a window closed by a sweep): the usage is held for it.
    expect(guard.update(sample(0.8, { inFlight: 2 }), T0 + MIN_PAUSE_MS + 250)).toBe('none');
    expect(guard.paused).toBe(true);
    expect(guard.update(sample(0.8, { inFlight: 0 }), T0 + MIN_PAUSE_MS + 500)).toBe('resume');
  });

  it('collects again in a later pause', () => {
    const guard = pausedGuard();
    expect(guard.update(sample(0.8, { inFlight: 0 }), T0 + MIN_PAUSE_MS)).toBe('collect');
    expect(guard.update(sample(0.8, { inFlight: 0 }), T0 + MIN_PAUSE_MS + 250)).toBe('resume');
    const t1 = T0 + 10_000;
    expect(guard.update(sample(0.9), t1)).toBe('pause');
    expect(guard.update(sample(0.8, { inFlight: 0 }), t1 + MIN_PAUSE_MS - 1)).toBe('none');
    expect(guard.update(sample(0.8, { inFlight: 0 }), t1 + MIN_PAUSE_MS)).toBe('collect');
  });

  it('resumes straight away without a collection when drained and already below the low-water mark', () => {
    const guard = pausedGuard();
    expect(guard.update(sample(0.5, { inFlight: 0 }), T0 + MIN_PAUSE_MS)).toBe('resume');
  });
});

describe('MemoryGuard: shedding window state', () => {
  /** Drained and collected at T0 + MIN_PAUSE_MS, usage `share`; returns the time of the next tick. */
  function collected(guard: MemoryGuard, share: number, state = 1): number {
    expect(guard.update(sample(share, { inFlight: 0, sheddable: state }), T0 + MIN_PAUSE_MS)).toBe('collect');
    return T0 + MIN_PAUSE_MS + 250;
  }

  it('sheds instead of resuming on a floor when a drained, collected pause leaves usage at the high-water mark with windows open', () => {
    const guard = pausedGuard();
    const t = collected(guard, HIGH);
    expect(guard.update(sample(HIGH, { inFlight: 0, sheddable: 1 }), t)).toBe('shed');
    expect(guard.paused).toBe(true);
    // The shed's aggregates are in flight: held until acknowledged, then collected again.
    expect(guard.update(sample(HIGH, { inFlight: 3, sheddable: 0 }), t + 250)).toBe('none');
    expect(guard.update(sample(0.8, { inFlight: 0, sheddable: 0 }), t + 500)).toBe('collect');
    // Below the high-water mark now: the drained resume, no floor.
    expect(guard.update(sample(0.8, { inFlight: 0, sheddable: 0 }), t + 750)).toBe('resume');
    expect(guard.update(sample(HIGH), t + 1_000)).toBe('pause');
  });

  it('sheds again while usage stays at or above the high-water mark and windows are open, collecting in between', () => {
    const guard = pausedGuard({ stuckMs: 1_000_000 });
    let t = collected(guard, 0.95);
    const actions: GuardAction[] = [];
    for (let i = 0; i < 9; i++, t += 250) actions.push(guard.update(sample(0.95, { inFlight: 0, sheddable: 1 }), t));
    expect(actions).toEqual(['shed', 'collect', 'shed', 'collect', 'shed', 'collect', 'shed', 'collect', 'shed']);
  });

  it('does not shed below the high-water mark, nor with work in flight, nor before a collection', () => {
    const below = pausedGuard();
    const t = collected(below, 0.8);
    expect(below.update(sample(0.8, { inFlight: 0, sheddable: 1 }), t)).toBe('resume');

    const busy = pausedGuard();
    for (let i = 0; i < 20; i++) {
      expect(busy.update(sample(0.95, { inFlight: 1, sheddable: 1 }), T0 + MIN_PAUSE_MS + i * 250)).toBe('none');
    }
    const first = pausedGuard();
    expect(first.update(sample(0.95, { inFlight: 0, sheddable: 1 }), T0 + MIN_PAUSE_MS)).toBe('collect');
  });

  it('keeps the floor rule when there is nothing to shed', () => {
    const guard = pausedGuard();
    const t = collected(guard, 0.95, 0);
    expect(guard.update(sample(0.95, { inFlight: 0, sheddable: 0 }), t)).toBe('resume');
  });

  it('restarts the stuck timer while sheds bring usage down, and shuts down stuckMs after the last one that did', () => {
    const guard = guardOf();
    expect(guard.update(sample(1.2), T0)).toBe('pause');
    let t = collected(guard, 1.2);
    // Each shed frees a little: never stuck, however long it takes.
    for (let share = 1.2; share > 1.05; share -= 0.01) {
      expect(guard.update(sample(share, { inFlight: 0, sheddable: 1 }), t)).toBe('shed');
      t += STUCK_MS / 2;
      expect(guard.update(sample(share, { inFlight: 0, sheddable: 1 }), t)).toBe('collect');
      t += 250;
    }
    // Sheds that free nothing are not progress.
    const lastProgress = t;
    expect(guard.update(sample(1.05, { inFlight: 0, sheddable: 1 }), t)).toBe('shed');
    expect(guard.update(sample(1.05, { inFlight: 0, sheddable: 1 }), lastProgress + 250)).toBe('collect');
    expect(guard.update(sample(1.05, { inFlight: 0, sheddable: 1 }), lastProgress + 500)).toBe('shed');
    expect(guard.update(sample(1.05, { inFlight: 0, sheddable: 1 }), lastProgress + STUCK_MS - 1)).toBe('collect');
    expect(guard.update(sample(1.05, { inFlight: 0, sheddable: 1 }), lastProgress + STUCK_MS)).toBe('shutdown');
  });
});

describe('MemoryGuard: shutdown', () => {
  it('shuts down when RSS stays above the budget for stuckMs while paused', () => {
    const guard = guardOf();
    // Paused at T0 by RSS already above the budget: the stuck timer starts there.
    expect(guard.update(sample(1.05), T0)).toBe('pause');
    for (let t = T0 + 250; t < T0 + STUCK_MS; t += 250) {
      expect(guard.update(sample(1.05, { inFlight: 0 }), t)).not.toBe('shutdown');
    }
    expect(guard.update(sample(1.05, { inFlight: 0 }), T0 + STUCK_MS - 1)).not.toBe('shutdown');
    expect(guard.update(sample(1.05, { inFlight: 0 }), T0 + STUCK_MS)).toBe('shutdown');
  });

  it('starts the stuck timer when RSS first goes above the budget after the pause', () => {
    const guard = pausedGuard(); // at 0.90, within the budget
    const over = T0 + 5_000;
    expect(guard.update(sample(1.01), over)).toBe('none');
    expect(guard.update(sample(1.01), over + STUCK_MS - 1)).toBe('none');
    expect(guard.update(sample(1.01), over + STUCK_MS)).toBe('shutdown');
  });

  it('restarts the stuck timer when RSS dips to the budget or below in between', () => {
    const guard = guardOf();
    expect(guard.update(sample(1.05), T0)).toBe('pause');
    const dip = T0 + STUCK_MS - 1_000;
    expect(guard.update(sample(1.05), dip - 250)).toBe('none');
    // RSS exactly at the budget is not above it.
    expect(guard.update(sample(0, { rss: BUDGET }), dip)).toBe('none');
    const back = dip + 250;
    expect(guard.update(sample(1.05), back)).toBe('none');
    // stuckMs after the first excursion began: would have shut down without the dip.
    expect(guard.update(sample(1.05), T0 + STUCK_MS)).toBe('none');
    expect(guard.update(sample(1.05), back + STUCK_MS - 1)).toBe('none');
    expect(guard.update(sample(1.05), back + STUCK_MS)).toBe('shutdown');
  });

  it('does not shut down while RSS stays within the budget, however long the pause', () => {
    // Heap alone above the high-water mark, RSS within the budget: paused, never stuck.
    const guard = guardOf();
    expect(guard.update(sample(0.5, { heapUsed: 900 }), T0)).toBe('pause');
    for (let t = T0; t <= T0 + 3 * STUCK_MS; t += 1_000) {
      expect(guard.update(sample(0.5, { heapUsed: 900 }), t)).not.toBe('shutdown');
    }
  });
});

describe('MemoryGuard: water marks', () => {
  it.each([
    ['low equal to high', 0.8, 0.8],
    ['low above high', 0.9, 0.8],
    ['high above 1', 0.7, 1.01],
    ['low of 0', 0, 0.85],
    ['negative low', -0.1, 0.85],
    ['NaN low', Number.NaN, 0.85],
  ])('refuses %s', (_name, lowWater, highWater) => {
    expect(() => guardOf({ lowWater, highWater })).toThrow(RangeError);
  });

  it('accepts a high-water mark of exactly 1', () => {
    const guard = guardOf({ lowWater: 0.9, highWater: 1 });
    expect(guard.update(sample(0, { rss: 999 }), T0)).toBe('none');
    expect(guard.update(sample(0, { rss: 1000 }), T0)).toBe('pause');
  });
});
