import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../support/kafka.js';
import { serviceErrors } from '../support/scenario.js';
import { disposeContext, FaultCase, prepareContext, readCase, reconcileKind, recordsInTopic, waitForCommittedEnd, type CaseContext } from './support/harness.js';
import { DELIVERY_MODES, WINDOW_KINDS } from './support/modes.js';
import { exitedReason, joinCount, recordsIn, seededRandom } from './support/probes.js';
import { printCounts } from './support/verify.js';

const KILLS = 5;
/** Readings per slice: one slice per instance, 36,000 per kind in all. */
const SLICE = 6_000;
/** Readings per second of a slice: a slice is sent over 4 s, and the kill lands inside it. */
const SLICE_RATE = 1_500;
/** Slice readings that must have reached the broker before the kill's random delay starts. */
const SLICE_FLOWING = 300;
/** The kill comes this long after the slice is flowing, uniformly (seeded). */
const KILL_DELAY_MS = { min: 0, max: 2_000 };
/** GEOWINDOW_FAULT_SEED replays other kill moments; the seed is printed. */
const SEED = Number(process.env.GEOWINDOW_FAULT_SEED ?? 11);
/** A restarted instance joins once the killed one's session (SESSION_TIMEOUT_MS, 10 s here) has expired. */
const JOIN_TIMEOUT_MS = 60_000;
const CASE_TIMEOUT_MS = 330_000;

/**
 * An instance killed with SIGKILL while records flow (open windows, chunks
 * in workers, outputs and commits in flight), five times, restarted each
 * time: every reading is counted at least once, the only duplicates are
 * aggregates and dead letters written again identically, and after
 * de-duplication by identity the counts reconcile exactly.
 */
describe.each(DELIVERY_MODES)('SIGKILL mid-stream, five times ($name)', (mode) => {
  const brokers = inject('kafkaBrokers');
  const run = new FaultCase();
  let context: CaseContext;

  beforeAll(async () => {
    context = await prepareContext();
  });

  afterAll(async () => {
    await run.cleanup();
    disposeContext(context);
  });

  it.concurrent.each(WINDOW_KINDS.map((kind, index) => ({ kind, index })))('$kind.name windows', async ({ kind, index }) => {
    const started = Date.now();
    const random = seededRandom(SEED * 31 + index);
    const topics = await run.topics(brokers, `kill-${kind.name}`);
    const fleet = run.fleet(brokers, topics, kind, context, { seed: SEED });
    const kills: string[] = [];
    for (let cycle = 0; ; cycle++) {
      const service = await run.start(brokers, topics, kind, mode, context);
      await waitFor('the instance to join its group', async () => (joinCount(service) > 0 ? true : undefined), JOIN_TIMEOUT_MS, exitedReason(service), 100);
      const before = await recordsInTopic(brokers, topics.in);
      const slice = fleet.send(SLICE, SLICE_RATE);
      if (cycle === KILLS) {
        await slice.done;
        await waitForCommittedEnd(brokers, topics, [service], 90_000);
        expect(await service.stop('SIGTERM')).toBe(0);
        expect(serviceErrors(service)).toEqual([]);
        break;
      }
      await waitFor('the slice to flow', async () => ((await recordsInTopic(brokers, topics.in)) >= before + SLICE_FLOWING ? true : undefined), 30_000, exitedReason(service), 50);
      const delay = Math.round(KILL_DELAY_MS.min + random() * (KILL_DELAY_MS.max - KILL_DELAY_MS.min));
      await sleep(delay);
      const read = await recordsIn(service);
      const inTopic = await recordsInTopic(brokers, topics.in);
      expect(service.child.exitCode, `instance ${cycle + 1} exited by itself: ${service.stderr}`).toBeNull();
      expect(await service.stop('SIGKILL')).toBeNull();
      // Still mid-stream: the slice was being sent when the instance died.
      expect(inTopic, 'the slice was still being sent at the kill').toBeLessThan(fleet.requested);
      kills.push(`${delay} ms into slice ${cycle + 1} (read ${read ?? '?'}, ${inTopic} in the topic)`);
      await slice.done;
    }
    const records = await readCase(brokers, topics, mode);
    expect(records.inputs).toHaveLength(fleet.requested);
    const counts = reconcileKind(kind, topics, records, mode, context);
    printCounts(`SIGKILL x${KILLS}, ${kind.name} windows, ${mode.name}`, counts, `seed ${SEED}, kills at ${kills.join('; ')}; ${Math.round((Date.now() - started) / 1000)} s`);
  }, CASE_TIMEOUT_MS);
});
