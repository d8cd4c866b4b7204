import { describe, expect, it, vi } from 'vitest';
import { YoungCollector } from '../../src/memory/young-collector.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** ArrayBuffers above what the plan expects: a collection is due. */
const overLimit = { limitBytes: 100, externalBytes: () => 101 };

describe('YoungCollector', () => {
  it('collects once in the next turn of the event loop after a request of at least everyBytes, and counts it', async () => {
    const collect = vi.fn();
    const collected = vi.fn();
    const young = new YoungCollector(collect, { everyBytes: 1000, collected, ...overLimit });
    young.requested(1000);
    // kafkajs encodes the request a few promise turns later: not collected yet.
    expect(collect).not.toHaveBeenCalled();
    await nextTurn();
    expect(collect).toHaveBeenCalledTimes(1);
    expect(collected).toHaveBeenCalledTimes(1);
  });

  it('collects once per turn however many requests went out in it', async () => {
    const collect = vi.fn();
    const young = new YoungCollector(collect, { everyBytes: 1000, ...overLimit });
    for (let i = 0; i < 5; i++) young.requested(800);
    await nextTurn();
    expect(collect).toHaveBeenCalledTimes(1);
    young.requested(1000);
    await nextTurn();
    expect(collect).toHaveBeenCalledTimes(2);
  });

  it('waits for everyBytes of requests in all: small ones add up', async () => {
    const collect = vi.fn();
    const young = new YoungCollector(collect, { everyBytes: 1000, ...overLimit });
    young.requested(400);
    await nextTurn();
    young.requested(500);
    await nextTurn();
    expect(collect).not.toHaveBeenCalled();
    young.requested(100);
    await nextTurn();
    expect(collect).toHaveBeenCalledTimes(1);
    // The count starts again after a collection.
    young.requested(999);
    await nextTurn();
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('does not collect while ArrayBuffers hold no more than the plan expects', async () => {
    const collect = vi.fn();
    let external = 100;
    const young = new YoungCollector(collect, { everyBytes: 1000, limitBytes: 100, externalBytes: () => external });
    young.requested(1000);
    await nextTurn();
    expect(collect).not.toHaveBeenCalled();
    external = 101;
    young.requested(1000);
    await nextTurn();
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('schedules nothing without a collection to run (no --expose-gc)', () => {
    const schedule = vi.spyOn(globalThis, 'setImmediate');
    try {
      new YoungCollector(undefined, { everyBytes: 1, ...overLimit }).requested(10_000_000);
      expect(schedule).not.toHaveBeenCalled();
    } finally {
      schedule.mockRestore();
    }
  });
});
