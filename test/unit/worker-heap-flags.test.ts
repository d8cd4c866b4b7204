import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { clearHeapFlagsForWorkers } from '../../src/memory/worker-heap-flags.js';

const LIMITS = { maxOldGenerationSizeMb: 40, maxYoungGenerationSizeMb: 8 };
const MB = 1024 * 1024;

/** The heap limit a worker started now with LIMITS reports. */
async function workerHeapLimitMb(): Promise<number> {
  const worker = new Worker(
    "require('node:worker_threads').parentPort.postMessage(require('node:v8').getHeapStatistics().heap_size_limit)",
    { eval: true, resourceLimits: LIMITS },
  );
  try {
    const bytes = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    return bytes / MB;
  } finally {
    await worker.terminate();
  }
}

describe('clearHeapFlagsForWorkers', () => {
  afterEach(() => clearHeapFlagsForWorkers());

  it('gives workers started after it the heap their resourceLimits ask for, though the process has heap-size flags', async () => {
    // As if the process had none (vitest may run with NODE_OPTIONS).
    clearHeapFlagsForWorkers();
    const unflagged = await workerHeapLimitMb();
    expect(unflagged).toBeGreaterThanOrEqual(LIMITS.maxOldGenerationSizeMb);
    expect(unflagged).toBeLessThanOrEqual(LIMITS.maxOldGenerationSizeMb + LIMITS.maxYoungGenerationSizeMb + 8);

    // What `geowindow run` restarts with, and the Docker image's young generation: each wins over resourceLimits.
    setFlagsFromString('--max-old-space-size=300');
    setFlagsFromString('--max-semi-space-size=16');
    expect(await workerHeapLimitMb()).toBeGreaterThan(300);

    clearHeapFlagsForWorkers();
    expect(await workerHeapLimitMb()).toBe(unflagged);
  });

  it("leaves the calling thread's own heap limit as it is", () => {
    const before = getHeapStatistics().heap_size_limit;
    clearHeapFlagsForWorkers();
    expect(getHeapStatistics().heap_size_limit).toBe(before);
  });
});
