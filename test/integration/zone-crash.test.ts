import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runCli, type ServiceProcess } from '../support/cli.js';
import { committedOffsets, createTopics, readAll, uniqueTopics, waitFor } from '../support/kafka.js';
import { serviceErrors, startService, waitForCommittedEnd, type ScenarioTopics } from '../support/scenario.js';

const PARTITIONS = 4;
const PER_PHASE = 20_000;
const STEP_MS = 20;
const MINUTE = 60_000;

interface V2 {
  window: { start: number; closedBy: string };
  key: { by: string; id: string };
  source: { partition: number };
  count: number;
  emittedAt: number;
}

/** Reads every aggregate of a topic and compares it with an uninterrupted run's, by identity. */
async function compareWith(brokers: string, reference: Map<string, string>, topic: string): Promise<{ written: number; duplicates: number }> {
  const written = (await readAll(brokers, topic)).map((r) => JSON.parse(r.value!.toString()) as V2);
  const seen = new Set<string>();
  let duplicates = 0;
  for (const a of written) {
    expect(content(a), identity(a)).toBe(reference.get(identity(a)));
    if (seen.has(identity(a))) duplicates++;
    seen.add(identity(a));
  }
  expect(seen).toEqual(new Set(reference.keys()));
  return { written: written.length, duplicates };
}

const identity = (a: V2) => `${a.key.by}:${a.key.id}|${a.window.start}|${a.source.partition}`;
const content = (a: V2) => JSON.stringify({ ...a, emittedAt: 0 });

/**
 * One instance reads the whole stream uninterrupted; the others are
 * interrupted mid-stream (windows open, chunks in workers, aggregates in
 * flight): killed with SIGKILL and restarted, or joined by a second instance
 * that takes half the partitions. Every window they write has an identity and
 * content the uninterrupted run wrote too, and none is missing.
 */
describe('interruptions under event-time windows', () => {
  const brokers = inject('kafkaBrokers');
  const services: ServiceProcess[] = [];

  afterAll(async () => {
    for (const service of services) await service.stop('SIGKILL');
  });

  /** Fresh topics, the counties, a fleet in two phases of event time, and the service's window settings. */
  async function scenario() {
    const names = uniqueTopics('in', 'out-whole', 'out-test', 'dlq-whole', 'dlq-test');
    await createTopics(brokers, { [names.in]: PARTITIONS, [names['out-whole']]: 3, [names['out-test']]: 3, [names['dlq-whole']]: 1, [names['dlq-test']]: 1 });
    const zones = join(mkdtempSync(join(tmpdir(), 'gw-crash-')), 'counties.geojson');
    expect((await runCli(['zones', 'us-counties', '--out', zones])).code).toBe(0);
    const start = Date.now() - 3 * 3_600_000 - (Date.now() % MINUTE);
    const produce = async (phase: number) => {
      const result = await runCli(
        ['produce', '--topic', names.in, '--devices', '200', '--rate', '0', '--count', String(PER_PHASE), '--seed', String(phase + 1),
          '--zones', zones, '--start-ts', String(start + phase * PER_PHASE * STEP_MS), '--step-ms', String(STEP_MS),
          '--disorder-ms', '8000', '--late-ratio', '0.01', '--late-by-ms', String(10 * MINUTE), '--bad-ratio', '0.005'],
        { KAFKA_BROKERS: brokers },
      );
      expect(result.code, result.stderr).toBe(0);
    };
    const env = {
      WINDOW: 'hopping',
      WINDOW_SIZE: '2m',
      WINDOW_ADVANCE: '1m',
      WINDOW_GRACE: '10s',
      KEY_BY: 'zone,device',
      ZONES_FILE: zones,
      ZONE_UNMATCHED: 'outside',
      // Long enough that no partition counts as idle before the interruption; the last windows close by it at the end.
      IDLE_PARTITION_MS: '6s',
      CHUNK_SIZE: '500',
      // A killed instance's partitions move on after 10 s instead of 30.
      SESSION_TIMEOUT_MS: '10000',
    };
    const tested: ScenarioTopics = { in: names.in, out: names['out-test'], dlq: names['dlq-test'], group: `${names.in}-test` };
    const whole: ScenarioTopics = { in: names.in, out: names['out-whole'], dlq: names['dlq-whole'], group: `${names.in}-whole` };
    return { produce, env, tested, whole };
  }

  async function started(topics: ScenarioTopics, env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
    const service = await startService(brokers, topics, env);
    services.push(service);
    return service;
  }

  /** Waits until the group has committed past the start of every partition (windows closed and written). */
  async function committedEverywhere(topics: ScenarioTopics, service: ServiceProcess): Promise<Map<number, number>> {
    await waitFor(
      'a commit past the start of every partition',
      async () => {
        const committed = await committedOffsets(brokers, topics.group, topics.in);
        return committed.size === PARTITIONS && [...committed.values()].every((offset) => offset > 0) ? true : undefined;
      },
      60_000,
      () => (service.child.exitCode === null ? undefined : `exited with ${service.child.exitCode}`),
      100,
    );
    return committedOffsets(brokers, topics.group, topics.in);
  }

  /** The uninterrupted run: every window it writes, by identity. */
  async function uninterrupted(whole: ScenarioTopics, env: NodeJS.ProcessEnv, alongside: Promise<void>): Promise<Map<string, string>> {
    const service = await started(whole, env);
    await Promise.all([waitForCommittedEnd(brokers, whole, service), alongside]);
    expect(await service.stop('SIGTERM')).toBe(0);
    expect(serviceErrors(service)).toEqual([]);
    const reference = new Map((await readAll(brokers, whole.out)).map((r) => JSON.parse(r.value!.toString()) as V2).map((a) => [identity(a), content(a)]));
    const watermarkClosed = [...reference.values()].filter((c) => (JSON.parse(c) as V2).window.closedBy === 'watermark').length;
    expect(watermarkClosed).toBeGreaterThan(reference.size / 2);
    return reference;
  }

  it('writes every window with the same identity and content as an uninterrupted run', async () => {
    const { produce, env, tested, whole } = await scenario();
    // The crashing instance reads the first half, commits some of it, and is killed at a random moment after that.
    await produce(0);
    const first = await started(tested, env);
    await committedEverywhere(tested, first);
    await sleep(Math.floor(Math.random() * 300));
    const killedAt = await committedOffsets(brokers, tested.group, tested.in);
    expect(await first.stop('SIGKILL')).toBeNull();
    const writtenBeforeKill = (await readAll(brokers, tested.out)).length;

    await produce(1);
    const second = await started(tested, env);
    const finished = (async () => {
      await waitForCommittedEnd(brokers, tested, second);
      expect(await second.stop('SIGTERM')).toBe(0);
      expect(serviceErrors(second)).toEqual([]);
    })();
    const reference = await uninterrupted(whole, env, finished);
    const { written, duplicates } = await compareWith(brokers, reference, tested.out);
    expect(writtenBeforeKill).toBeGreaterThan(0);
    expect(writtenBeforeKill).toBeLessThan(written);
    console.log(
      `crash test: killed after commits at ${JSON.stringify(Object.fromEntries(killedAt))}; ${writtenBeforeKill} aggregates before the kill, ` +
        `${written} in all, ${duplicates} identical duplicates, ${reference.size} windows as uninterrupted`,
    );
  });

  it('writes every window identically when a second instance joins mid-stream and takes half the partitions', async () => {
    const { produce, env, tested, whole } = await scenario();
    await produce(0);
    const first = await started(tested, env);
    await committedEverywhere(tested, first);
    // The rebalance: the first instance gives up half its partitions, open windows and all, to the second.
    const second = await started(tested, env);
    await waitFor('the second instance to join', async () => (second.logs.some((l) => l.msg === 'joined the consumer group') ? true : undefined), 60_000);
    await produce(1);
    const finished = (async () => {
      await waitForCommittedEnd(brokers, tested, second);
      expect(await second.stop('SIGTERM')).toBe(0);
      expect(await first.stop('SIGTERM')).toBe(0);
      expect(serviceErrors(first)).toEqual([]);
      expect(serviceErrors(second)).toEqual([]);
    })();
    const reference = await uninterrupted(whole, env, finished);
    const { written, duplicates } = await compareWith(brokers, reference, tested.out);
    const rebalances = first.logs.filter((l) => l.msg === 'joined the consumer group').length;
    expect(rebalances).toBeGreaterThanOrEqual(2);
    console.log(`rebalance test: ${written} aggregates, ${duplicates} identical duplicates, ${reference.size} windows as uninterrupted`);
  });
});
