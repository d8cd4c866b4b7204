import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '../support/cli.js';
import { readAll, waitFor } from '../support/kafka.js';
import { serviceErrors, type ScenarioTopics } from '../support/scenario.js';
import { FaultCluster, FOLLOWER_ID, LEADER_ID } from './support/fault-cluster.js';
import { disposeContext, FaultCase, prepareContext, readCase, reconcileKind, recordsInTopic, waitForCommittedEnd, type CaseContext } from './support/harness.js';
import { committedWithMetadata, INPUT_PARTITIONS, setMinInsyncReplicas } from './support/kafka-io.js';
import { DELIVERY_MODES, WINDOW_KINDS, type DeliveryMode, type WindowKind } from './support/modes.js';
import { exitedReason, readyStatus, ServiceSampler, type Sample } from './support/probes.js';
import { checkCountCommits, checkZoneCommits, printCounts, zoneReference, type CommitSnapshot } from './support/verify.js';

const SEED = Number(process.env.GEOWINDOW_FAULT_SEED ?? 11);
/** How often RSS, /readyz and records read are sampled. */
const SAMPLE_MS = 250;
/** How long each fault lasts. */
const FAULT_MS = 20_000;

/** Broker stop: readings sent before the stop (at a rate, so the service is reading when it stops) and after the restart. */
const BEFORE_STOP = 12_000;
const BEFORE_STOP_RATE = 3_000;
const AFTER_RESTART = 12_000;
const AFTER_RESTART_RATE = 3_000;
/**
 * The fleet sends again this long after the broker serves again, as producers
 * on their own backoff do: well under the zone windows' IDLE_PARTITION_MS, so
 * no partition may close windows by the clock (making the held-up readings
 * late) before they come. The fleet's own producer then takes a while to
 * reach the restarted broker: more than 3.7 s on a slow machine, where 8 s
 * here let a partition idle for 10 s first and 7,680 readings came late.
 */
const RESUME_AFTER_MS = 2_000;
/** /readyz may take this long, after the broker is down, to say so (the service's CONNECTED_WITHIN_MS, plus a sample). */
const READY_DETECT_MS = 12_000;
/** After the broker is back the group must re-form: the old member's session (10 s here) expires first. */
const RECOVER_TIMEOUT_MS = 120_000;

/**
 * Output blocked: one fleet at a rate; the output is blocked once something
 * is committed on every partition, and most readings arrive during the block
 * (more than the service may hold in flight).
 */
const BLOCK_FLEET = 60_000;
const BLOCK_FLEET_RATE = 4_000;
/** Zone fleets of this case: 1,000 sites, nearly an aggregate per reading, so closed windows soon reach the in-flight limit. */
const BLOCK_ZONE_DEVICES = 4_000;
/** The last stretch of the block in which the consumer must read nothing: it waits for the output instead of buffering. */
const PAUSED_MS = 5_000;
/** When, into the block, committed offsets are compared with what was written. */
const SNAPSHOTS_MS = [10_000, 18_000];

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/** The largest RSS among samples, in MiB. */
const peakRss = (samples: readonly Sample[]) => Math.max(0, ...samples.map((x) => x.rssMb ?? 0));

/** Samples taken within [from, to] (Date.now() times). */
const between = (samples: readonly Sample[], from: number, to: number) => samples.filter((s) => s.at >= from && s.at <= to);

describe('faults of the broker and of the output topic', () => {
  let cluster: FaultCluster;
  let context: CaseContext;

  beforeAll(async () => {
    [cluster, context] = await Promise.all([FaultCluster.start(), prepareContext()]);
  }, 180_000);

  afterAll(async () => {
    await cluster?.destroy();
    disposeContext(context);
  }, 90_000);

  /**
   * The broker stops (controlled shutdown) mid-stream for 20 s and starts
   * again on its data. The service neither exits nor grows past its budget
   * while it waits, /readyz says not ready while the broker is away and ready
   * once the group has re-formed, and it reads the rest of the stream by
   * itself; reconciliation holds. Both window kinds run side by side through
   * the same stop.
   */
  describe.each(DELIVERY_MODES)('broker stopped for 20 s ($name)', (mode) => {
    const run = new FaultCase();

    afterAll(() => run.cleanup(), 90_000);

    it('count and zone windows ride it out', async () => {
      const started = Date.now();
      const brokers = cluster.brokers;
      const kinds = await Promise.all(
        WINDOW_KINDS.map(async (kind) => {
          const topics = await run.topics(brokers, `stop-${kind.name}`);
          const service = await run.start(brokers, topics, kind, mode, context);
          const fleet = run.fleet(brokers, topics, kind, context, { seed: SEED });
          return { kind, topics, service, fleet, sampler: new ServiceSampler(service, SAMPLE_MS) };
        }),
      );
      await Promise.all(kinds.map(({ fleet }) => fleet.send(BEFORE_STOP, BEFORE_STOP_RATE).done));
      const stopping = Date.now();
      await cluster.stopBroker();
      const stopped = Date.now();
      await sleep(FAULT_MS);
      const restarting = Date.now();
      await cluster.startBroker();
      const restarted = Date.now();
      await sleep(RESUME_AFTER_MS);

      const outcomes = await Promise.allSettled(
        kinds.map(async ({ kind, topics, service, fleet, sampler }) => {
          const resumed = fleet.send(AFTER_RESTART, AFTER_RESTART_RATE).done;
          await waitFor(`${kind.name}: /readyz to say ready again`, async () => ((await readyStatus(service)) === 200 ? true : undefined), RECOVER_TIMEOUT_MS, exitedReason(service));
          const ready = Date.now();
          await resumed;
          await waitForCommittedEnd(brokers, topics, [service], RECOVER_TIMEOUT_MS);
          const samples = await sampler.stop();
          expect(await service.stop('SIGTERM')).toBe(0);
          expect(serviceErrors(service)).toEqual([]);

          // Memory: every sample within the budget, the outage included.
          expect(sampler.peakRssMb, `${kind.name}: peak RSS`).toBeLessThanOrEqual(kind.budgetMb);
          // Readiness: not ready from shortly after the broker went away until it was started again, ready after.
          const away = between(samples, stopped + READY_DETECT_MS, restarting);
          expect(away.length, 'samples while the broker was away').toBeGreaterThan(10);
          expect(away.filter((s) => s.ready !== 503), `${kind.name}: /readyz while the broker was away`).toEqual([]);
          const firstNotReady = samples.find((s) => s.at >= stopping && s.ready === 503);

          const records = await readCase(brokers, topics, mode);
          expect(records.inputs).toHaveLength(BEFORE_STOP + AFTER_RESTART);
          // A window the clock closed while the broker went away may be read again with more records once it is back.
          const counts = reconcileKind(kind, topics, records, mode, context, 'timeClosedSuperseded');
          printCounts(
            `broker stopped ${seconds(restarting - stopped)} s, ${kind.name} windows, ${mode.name}`,
            counts,
            `broker down ${seconds(stopped - stopping)} s after the stop began, serving again ${seconds(restarted - stopping)} s after it; ` +
              `/readyz 503 from ${firstNotReady === undefined ? '-' : seconds(firstNotReady.at - stopping)} s to ${seconds(ready - stopping)} s; ` +
              `peak RSS ${Math.round(sampler.peakRssMb)} of ${kind.budgetMb} MB; ${Math.round((Date.now() - started) / 1000)} s`,
          );
        }),
      );
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    }, 300_000);
  });

  /**
   * The output topic cannot be written for 20 s: it has a second replica on
   * a broker that is down, and min.insync.replicas is raised to 2 (Kafka 4
   * caps the setting at the replica count, so raising it on a topic with one
   * replica changes nothing), then lowered again. The consumer stops reading
   * instead of buffering, memory stays within the budget, nothing is
   * committed that is not written, and it resumes by itself.
   */
  describe.each(DELIVERY_MODES)('output topic not writable for 20 s ($name)', (mode) => {
    const run = new FaultCase();

    afterAll(() => run.cleanup(), 90_000);

    it.concurrent.each(WINDOW_KINDS)('$name windows', async (kind) => {
      await outputBlocked(run, cluster.brokers, kind, mode, context);
    }, 240_000);
  });
});

/** Committed offsets, then what was written: a snapshot to check commits against. */
async function snapshot(brokers: string, topics: ScenarioTopics, mode: DeliveryMode): Promise<CommitSnapshot> {
  const committed = await committedWithMetadata(brokers, topics.group, topics.in);
  const [outputs, deadLetters] = await Promise.all([readAll(brokers, topics.out, mode.isolation), readAll(brokers, topics.dlq, mode.isolation)]);
  return { committed, outputs, deadLetters };
}

async function outputBlocked(run: FaultCase, brokers: string, kind: WindowKind, mode: DeliveryMode, context: CaseContext): Promise<void> {
  const started = Date.now();
  const topics = await run.topics(brokers, `block-${kind.name}`, [LEADER_ID, FOLLOWER_ID]);
  const service: ServiceProcess = await run.start(brokers, topics, kind, mode, context);
  const fleet = run.fleet(brokers, topics, kind, context, { seed: SEED, devices: kind.name === 'zone' ? BLOCK_ZONE_DEVICES : undefined });
  const sampler = new ServiceSampler(service, SAMPLE_MS);
  const sending = fleet.send(BLOCK_FLEET, BLOCK_FLEET_RATE);
  // The output works: something is written and committed on every partition.
  await waitFor('commits on every partition', async () => {
    const committed = await committedWithMetadata(brokers, topics.group, topics.in);
    return committed.size === INPUT_PARTITIONS && [...committed.values()].every((c) => c.offset > 0) ? true : undefined;
  }, 60_000, exitedReason(service), 100);

  await setMinInsyncReplicas(brokers, topics.out, 2);
  const blocked = Date.now();
  const inTopicAtBlock = await recordsInTopic(brokers, topics.in);
  const snapshots: CommitSnapshot[] = [];
  for (const at of SNAPSHOTS_MS) {
    await sleep(Math.max(0, blocked + at - Date.now()));
    snapshots.push(await snapshot(brokers, topics, mode));
  }
  await sleep(Math.max(0, blocked + FAULT_MS - Date.now()));
  const unblocking = Date.now();
  await setMinInsyncReplicas(brokers, topics.out, 1);
  await sending.done;

  await waitForCommittedEnd(brokers, topics, [service], 120_000);
  const samples = await sampler.stop();
  expect(await service.stop('SIGTERM')).toBe(0);
  expect(serviceErrors(service)).toEqual([]);

  const records = await readCase(brokers, topics, mode);
  expect(records.inputs).toHaveLength(BLOCK_FLEET);
  // Nothing reached the output while it was blocked.
  expect(snapshots.at(-1)!.outputs.length, 'aggregates written while blocked').toBe(snapshots[0]!.outputs.length);
  // Back-pressure: with readings waiting, the consumer read nothing in the last stretch of the block.
  const last = between(samples, unblocking - PAUSED_MS, unblocking).filter((s) => s.recordsIn !== undefined);
  expect(last.length, 'samples at the end of the block').toBeGreaterThan(5);
  const readAtBlockEnd = last.at(-1)!.recordsIn!;
  expect(readAtBlockEnd - last[0]!.recordsIn!, `${kind.name}: records read in the last ${PAUSED_MS} ms of the block`).toBe(0);
  expect(readAtBlockEnd, 'readings left unread while blocked').toBeLessThan(BLOCK_FLEET);
  // Memory: within the budget at every sample while the output is blocked (the peak after it is printed).
  const blockPeakMb = peakRss(between(samples, blocked, unblocking));
  expect(blockPeakMb, `${kind.name}: peak RSS while blocked`).toBeLessThanOrEqual(kind.budgetMb);

  // Commits: nothing committed during the block that was not written.
  const reference = kind.name === 'zone' ? zoneReference(records.inputs, context.zones) : undefined;
  let checked = 0;
  for (const s of snapshots) checked += reference === undefined ? checkCountCommits(s, records.inputs) : checkZoneCommits(s, reference, context.zones);
  const counts = reconcileKind(kind, topics, records, mode, context);
  const committedAt = (s: CommitSnapshot) => [...s.committed.values()].reduce((n, c) => n + c.offset, 0);
  const readAtBlock = between(samples, blocked - 1_000, blocked).at(-1)?.recordsIn ?? 0;
  printCounts(
    `output not writable ${seconds(unblocking - blocked)} s, ${kind.name} windows, ${mode.name}`,
    counts,
    `${inTopicAtBlock} readings in the topic and ${readAtBlock} read at the block, ${readAtBlockEnd} read at its end (of ${BLOCK_FLEET}); ` +
      `committed ${snapshots.map(committedAt).join(' then ')} records during it, ${checked} record checks against what was written; ` +
      `${snapshots[0]!.outputs.length} aggregates written before it; peak RSS ${Math.round(blockPeakMb)} MB while blocked, ` +
      `${Math.round(peakRss(samples.filter((x) => x.at > unblocking)))} MB after (budget ${kind.budgetMb} MB); ` +
      `${Math.round((Date.now() - started) / 1000)} s`,
  );
}
