import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ServiceProcess } from '../support/cli.js';
import { waitFor } from '../support/kafka.js';
import { serviceErrors } from '../support/scenario.js';
import { disposeContext, FaultCase, prepareContext, readCase, reconcileKind, recordsInTopic, waitForCommittedEnd, type CaseContext } from './support/harness.js';
import { INPUT_PARTITIONS } from './support/kafka-io.js';
import { DELIVERY_MODES, WINDOW_KINDS } from './support/modes.js';
import { assignedPartitions, joinCount, seededRandom } from './support/probes.js';
import { printCounts } from './support/verify.js';

const INSTANCES = 3;
const READINGS = 30_000;
/** Readings per second: the fleet runs 20 s, on through the kill. */
const RATE = 1_500;
/** Fleet readings in the topic before the kill's random delay starts. */
const FLOWING = 1_000;
/** The kill comes this long after that, uniformly (seeded). */
const KILL_DELAY_MS = { min: 0, max: 6_000 };
const SEED = Number(process.env.GEOWINDOW_FAULT_SEED ?? 11);
/** Six services on two cores: one worker each. */
const WORKERS = '1';
/** The survivors take over once the killed member's session (SESSION_TIMEOUT_MS, 10 s here) has expired. */
const TAKEOVER_TIMEOUT_MS = 90_000;
const CASE_TIMEOUT_MS = 240_000;

/** True when the instances' latest assignments split every input partition between them. */
function splitAll(services: readonly ServiceProcess[]): boolean {
  const assigned = services.map(assignedPartitions);
  const all = assigned.flat();
  return assigned.every((a) => a.length > 0) && all.length === INPUT_PARTITIONS && new Set(all).size === INPUT_PARTITIONS;
}

/**
 * Three instances share a group; one is killed with SIGKILL while the fleet
 * sends. The group rebalances, the other two take its partitions over from
 * the committed offsets, and reconciliation holds (duplicates identical).
 */
describe.each(DELIVERY_MODES)('three instances, one SIGKILLed ($name)', (mode) => {
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
    const random = seededRandom(SEED * 37 + index);
    const topics = await run.topics(brokers, `group-${kind.name}`);
    const instances = await Promise.all(Array.from({ length: INSTANCES }, () => run.start(brokers, topics, kind, mode, context, { WORKERS })));
    await waitFor('three instances sharing the partitions', async () => (splitAll(instances) ? true : undefined), 60_000);

    const fleet = run.fleet(brokers, topics, kind, context, { seed: SEED });
    const sending = fleet.send(READINGS, RATE);
    await waitFor('the fleet to flow', async () => ((await recordsInTopic(brokers, topics.in)) >= FLOWING ? true : undefined), 30_000);
    const delay = Math.round(KILL_DELAY_MS.min + random() * (KILL_DELAY_MS.max - KILL_DELAY_MS.min));
    await sleep(delay);
    const victim = instances[Math.floor(random() * INSTANCES)]!;
    const orphaned = assignedPartitions(victim);
    const inTopic = await recordsInTopic(brokers, topics.in);
    for (const instance of instances) expect(instance.child.exitCode, instance.stderr).toBeNull();
    expect(await victim.stop('SIGKILL')).toBeNull();
    expect(inTopic, 'the fleet was still sending at the kill').toBeLessThan(READINGS);

    const survivors = instances.filter((i) => i !== victim);
    const joinsAtKill = survivors.map(joinCount);
    await waitFor(
      'the survivors to take every partition over',
      async () => (survivors.every((s, i) => joinCount(s) > joinsAtKill[i]!) && splitAll(survivors) ? true : undefined),
      TAKEOVER_TIMEOUT_MS,
      () => survivors.find((s) => s.child.exitCode !== null)?.stderr,
    );
    const takeoverSeconds = Math.round((Date.now() - started) / 1000);
    const takenOver = survivors.map((s) => assignedPartitions(s).join(','));
    await sending.done;
    await waitForCommittedEnd(brokers, topics, survivors, 90_000);
    for (const survivor of survivors) {
      expect(await survivor.stop('SIGTERM')).toBe(0);
      expect(serviceErrors(survivor)).toEqual([]);
    }
    const records = await readCase(brokers, topics, mode);
    expect(records.inputs).toHaveLength(READINGS);
    const counts = reconcileKind(kind, topics, records, mode, context);
    printCounts(
      `3 instances, one SIGKILLed, ${kind.name} windows, ${mode.name}`,
      counts,
      `killed ${delay} ms after the fleet flowed (${inTopic} in the topic), holding partitions ${orphaned.join(',')}; ` +
        `the survivors then held ${takenOver.join(' | ')} (at ${takeoverSeconds} s); ${Math.round((Date.now() - started) / 1000)} s`,
    );
  }, CASE_TIMEOUT_MS);
});
