import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MIN_PAUSE_MS, MemoryGuard } from '../../src/memory/guard.js';
import { MemoryMonitor } from '../../src/memory/monitor.js';
import type { ProcessMemory } from '../../src/memory/probe.js';
import { createMetrics } from '../../src/metrics.js';

const MiB = 1024 * 1024;
const BUDGET = 1000 * MiB;
const STUCK_MS = 10_000;
const INTERVAL_MS = 250;

/** Everything the monitor touches, faked; the guard is the real one. */
function setup(options: { gc?: boolean } = {}) {
  const state = { rss: 500 * MiB, heapUsed: 50 * MiB, arrayBuffers: 7 * MiB, inFlight: 3, sheddable: 0, ms: 1_700_000_000_000 };
  const probe = vi.fn((): ProcessMemory => ({ rss: state.rss, heapUsed: state.heapUsed, heapLimit: 1000 * MiB, arrayBuffers: state.arrayBuffers }));
  const metrics = createMetrics(new Registry());
  const actions = { pause: vi.fn(), resume: vi.fn(), shutdown: vi.fn(), shed: vi.fn(() => 2) };
  const gc = options.gc === true ? vi.fn() : undefined;
  const guard = new MemoryGuard({ budgetBytes: BUDGET, highWater: 0.85, lowWater: 0.7, stuckMs: STUCK_MS });
  const monitor = new MemoryMonitor({
    guard,
    probe,
    inFlight: () => state.inFlight,
    sheddable: () => state.sheddable,
    intervalMs: INTERVAL_MS,
    metrics,
    logger: pino({ level: 'silent' }),
    actions,
    gc,
    now: () => state.ms,
  });
  /** Sets RSS to `mb` MiB, moves the clock on by `ms`, and ticks. */
  const tickAt = (mb: number, ms: number, inFlight = state.inFlight) => {
    state.rss = mb * MiB;
    state.ms += ms;
    state.inFlight = inFlight;
    monitor.tick();
  };
  return { state, probe, metrics, actions, gc, guard, monitor, tickAt };
}

/** The single value of an unlabelled counter or gauge. */
async function value(metric: { get(): Promise<{ values: { value: number }[] }> }): Promise<number | undefined> {
  return (await metric.get()).values[0]?.value;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MemoryMonitor', () => {
  it('keeps the memory gauges at the last sample and does nothing below the high-water mark', async () => {
    const { metrics, actions, tickAt, monitor } = setup();
    tickAt(600, INTERVAL_MS);
    expect(await value(metrics.rssBytes)).toBe(600 * MiB);
    expect(await value(metrics.heapUsedBytes)).toBe(50 * MiB);
    expect(await value(metrics.arrayBufferBytes)).toBe(7 * MiB);
    tickAt(849, INTERVAL_MS);
    expect(await value(metrics.rssBytes)).toBe(849 * MiB);
    expect(actions.pause).not.toHaveBeenCalled();
    expect(monitor.paused).toBe(false);
    expect(await value(metrics.paused)).toBe(0);
    expect(await value(metrics.pauses)).toBe(0);
  });

  it('pauses once at the high-water mark: the action, the paused gauge and the pause count', async () => {
    const { metrics, actions, tickAt, monitor } = setup();
    tickAt(850, INTERVAL_MS);
    expect(actions.pause).toHaveBeenCalledTimes(1);
    expect(monitor.paused).toBe(true);
    expect(await value(metrics.paused)).toBe(1);
    expect(await value(metrics.pauses)).toBe(1);
    expect(await metrics.registry.getSingleMetricAsString('geowindow_consumer_paused')).toMatch(/^geowindow_consumer_paused 1$/m);
    // Still high: no second pause.
    tickAt(900, INTERVAL_MS);
    tickAt(900, INTERVAL_MS);
    expect(actions.pause).toHaveBeenCalledTimes(1);
    expect(await value(metrics.pauses)).toBe(1);
    expect(actions.resume).not.toHaveBeenCalled();
  });

  it('resumes below the low-water mark after the minimum pause: the action and the gauge back at 0', async () => {
    const { metrics, actions, tickAt, monitor } = setup();
    tickAt(900, INTERVAL_MS);
    tickAt(600, MIN_PAUSE_MS);
    expect(actions.resume).toHaveBeenCalledTimes(1);
    expect(monitor.paused).toBe(false);
    expect(await value(metrics.paused)).toBe(0);
    expect(await value(metrics.pauses)).toBe(1);
  });

  it('adds up the seconds spent paused, from the pausing tick to the resuming one', async () => {
    const { metrics, tickAt } = setup();
    tickAt(500, INTERVAL_MS);
    tickAt(500, 5_000); // running: not counted
    tickAt(900, 2_000); // pauses here
    expect(await value(metrics.pausedSeconds)).toBe(0);
    tickAt(800, 250);
    expect(await value(metrics.pausedSeconds)).toBeCloseTo(0.25, 9);
    tickAt(800, 1_000);
    tickAt(800, 1_500);
    expect(await value(metrics.pausedSeconds)).toBeCloseTo(2.75, 9);
    tickAt(600, 500); // resumes here: the last half second was paused
    expect(await value(metrics.pausedSeconds)).toBeCloseTo(3.25, 9);
    tickAt(600, 4_000); // running again
    expect(await value(metrics.pausedSeconds)).toBeCloseTo(3.25, 9);
    // A second pause adds to the first.
    tickAt(950, 250);
    tickAt(950, 700);
    expect(await value(metrics.pausedSeconds)).toBeCloseTo(3.95, 9);
    expect(await value(metrics.pauses)).toBe(2);
  });

  it('forces one collection when work has drained, counting it, if gc is available', async () => {
    const { metrics, actions, gc, tickAt } = setup({ gc: true });
    tickAt(900, INTERVAL_MS, 3);
    tickAt(800, MIN_PAUSE_MS, 0);
    expect(gc).toHaveBeenCalledTimes(1);
    expect(await value(metrics.forcedCollections)).toBe(1);
    expect(await metrics.registry.getSingleMetricAsString('geowindow_gc_forced_total')).toMatch(/^geowindow_gc_forced_total 1$/m);
    // Drained and collected, below the high-water mark: the drained resume, no second collection.
    tickAt(800, INTERVAL_MS, 0);
    expect(actions.resume).toHaveBeenCalledTimes(1);
    expect(gc).toHaveBeenCalledTimes(1);
    expect(await value(metrics.forcedCollections)).toBe(1);
  });

  it('forces nothing and counts nothing without gc, and still takes the drained resume', async () => {
    const { metrics, actions, tickAt, guard } = setup();
    tickAt(900, INTERVAL_MS, 3);
    tickAt(800, MIN_PAUSE_MS, 0); // the guard says 'collect'
    expect(guard.paused).toBe(true);
    expect(await value(metrics.forcedCollections)).toBe(0);
    tickAt(800, INTERVAL_MS, 0);
    expect(actions.resume).toHaveBeenCalledTimes(1);
  });

  it('asks the pipeline to shed open windows when a drained, collected pause stays above the high-water mark, and resumes once it is below', () => {
    const { state, actions, gc, tickAt } = setup({ gc: true });
    state.sheddable = 64 * MiB;
    tickAt(900, INTERVAL_MS, 3);
    expect(actions.pause).toHaveBeenCalledTimes(1);
    tickAt(900, MIN_PAUSE_MS, 0);
    expect(gc).toHaveBeenCalledTimes(1);
    tickAt(900, INTERVAL_MS, 0);
    expect(actions.shed).toHaveBeenCalledTimes(1);
    expect(actions.resume).not.toHaveBeenCalled();
    // The shed windows were written and collected: usage fell below the mark.
    state.sheddable = 0;
    tickAt(800, INTERVAL_MS, 0);
    expect(gc).toHaveBeenCalledTimes(2);
    tickAt(800, INTERVAL_MS, 0);
    expect(actions.resume).toHaveBeenCalledTimes(1);
    expect(actions.shed).toHaveBeenCalledTimes(1);
  });

  it('shuts down once when RSS stays above the budget while paused, and stops sampling', async () => {
    vi.useFakeTimers();
    const { actions, probe, tickAt, monitor } = setup();
    monitor.start();
    tickAt(1100, INTERVAL_MS); // pauses, over the budget
    expect(actions.pause).toHaveBeenCalledTimes(1);
    tickAt(1100, STUCK_MS - 1);
    expect(actions.shutdown).not.toHaveBeenCalled();
    tickAt(1100, 1);
    expect(actions.shutdown).toHaveBeenCalledTimes(1);
    // The timer is gone: no further sample, so no second shutdown.
    const probes = probe.mock.calls.length;
    vi.advanceTimersByTime(10 * INTERVAL_MS);
    expect(probe.mock.calls.length).toBe(probes);
    expect(actions.shutdown).toHaveBeenCalledTimes(1);
  });

  it('samples every intervalMs once started, and no more once stopped', () => {
    vi.useFakeTimers();
    const { probe, monitor } = setup();
    monitor.start();
    monitor.start(); // idempotent: still one timer
    vi.advanceTimersByTime(4 * INTERVAL_MS);
    expect(probe).toHaveBeenCalledTimes(4);
    monitor.stop();
    vi.advanceTimersByTime(4 * INTERVAL_MS);
    expect(probe).toHaveBeenCalledTimes(4);
  });
});
