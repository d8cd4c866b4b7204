import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runCli, type ServiceProcess } from '../support/cli.js';
import { committedOffsets, createTopics, endOffsets, readAll, uniqueTopics, waitFor } from '../support/kafka.js';
import { readIsolated } from '../support/read-committed.js';
import { reconcile } from '../support/reconcile.js';
import { produceFleet, scenarioTopics, serviceErrors, startService, waitForCommittedEnd, type ScenarioTopics } from '../support/scenario.js';

/** A killed instance's partitions move on after 10 s instead of 30. */
const EXACTLY_ONCE = { EXACTLY_ONCE: 'true', COMMIT_INTERVAL_MS: '300', SESSION_TIMEOUT_MS: '10000' };

interface V2 {
  window: { start: number };
  key: { by: string; id: string };
  source: { partition: number };
  emittedAt: number;
}
const identity = (a: V2) => `${a.key.by}:${a.key.id}|${a.window.start}|${a.source.partition}`;
const content = (a: V2) => JSON.stringify({ ...a, emittedAt: 0 });

/**
 * EXACTLY_ONCE=true, killed with SIGKILL mid-stream (transactions open,
 * chunks in workers) and started again: a read_committed reader of the
 * output and dead-letter topics sees every window and every bad record
 * exactly once.
 */
describe('exactly-once', () => {
  const brokers = inject('kafkaBrokers');
  const services: ServiceProcess[] = [];

  afterAll(async () => {
    for (const service of services) await service.stop('SIGKILL');
  });

  async function started(topics: ScenarioTopics, env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
    const service = await startService(brokers, topics, env);
    services.push(service);
    return service;
  }

  /** Runs until a transaction has committed in every partition, then kills the service at a random moment before the end. */
  async function killMidStream(topics: ScenarioTopics, env: NodeJS.ProcessEnv, partitions: number): Promise<void> {
    const service = await started(topics, env);
    await waitFor(
      'a transaction committed in every partition',
      async () => {
        const committed = await committedOffsets(brokers, topics.group, topics.in);
        return committed.size === partitions && [...committed.values()].every((offset) => offset > 0) ? true : undefined;
      },
      90_000,
      () => (service.child.exitCode === null ? undefined : `exited with ${service.child.exitCode}: ${service.stderr}`),
      100,
    );
    await sleep(Math.floor(Math.random() * 200));
    expect(await service.stop('SIGKILL')).toBeNull();
    const committed = await committedOffsets(brokers, topics.group, topics.in);
    const ends = await endOffsets(brokers, topics.in);
    expect([...ends].some(([partition, end]) => (committed.get(partition) ?? 0) < end), 'killed before the end').toBe(true);
  }

  async function finish(topics: ScenarioTopics, env: NodeJS.ProcessEnv): Promise<void> {
    const service = await started(topics, env);
    try {
      await waitForCommittedEnd(brokers, topics, service, 180_000);
    } catch (error) {
      throw new Error(`${String(error)}; errors logged: ${JSON.stringify(serviceErrors(service))}`);
    }
    // Past start-up, so that SIGTERM finds its handler.
    await waitFor('the service in its group', async () => (service.logs.some((l) => l.msg === 'joined the consumer group') ? true : undefined), 60_000);
    expect(await service.stop('SIGTERM')).toBe(0);
    expect(serviceErrors(service)).toEqual([]);
  }

  it('count windows: every record aggregated or dead-lettered once after a SIGKILL', async () => {
    const GOOD = 148_500;
    const BAD = 1_500;
    const topics = await scenarioTopics(brokers);
    await produceFleet(brokers, topics.in, { good: GOOD, bad: BAD });
    const env = { ...EXACTLY_ONCE, WINDOW_IDLE_MS: '300' };
    await killMidStream(topics, env, 6);
    await finish(topics, env);

    const outputs = await readIsolated(brokers, topics.out, 'read_committed');
    const deadLetters = await readIsolated(brokers, topics.dlq, 'read_committed', false);
    const written = (await readIsolated(brokers, topics.out, 'read_uncommitted', false)).length;
    const result = reconcile(topics.in, await readAll(brokers, topics.in), outputs, deadLetters);
    const deadLettered = [...result.deadLettered.values()].reduce((a, b) => a + b, 0);
    console.log(
      `exactly-once, count windows: produced ${GOOD + BAD}; committed aggregates ${outputs.length} counting ${result.aggregated}; ` +
        `dead letters ${deadLetters.length}; duplicates ${result.duplicates} (aggregates) and ${result.deadLetterDuplicates} (dead letters); ` +
        `aggregates written in all, aborted ones included: ${written}`,
    );
    expect(result.aggregated).toBe(GOOD);
    expect(deadLettered).toBe(BAD);
    expect(result.duplicates).toBe(0);
    expect(result.deadLetterDuplicates).toBe(0);
  });

  it('zone windows: the committed windows are exactly an uninterrupted run\'s, each once', async () => {
    const PARTITIONS = 4;
    const names = uniqueTopics('in', 'out-whole', 'out-test', 'dlq-whole', 'dlq-test');
    await createTopics(brokers, { [names.in]: PARTITIONS, [names['out-whole']]: 3, [names['out-test']]: 3, [names['dlq-whole']]: 1, [names['dlq-test']]: 1 });
    const zones = join(mkdtempSync(join(tmpdir(), 'gw-eos-')), 'counties.geojson');
    expect((await runCli(['zones', 'us-counties', '--out', zones])).code).toBe(0);
    const minute = 60_000;
    const start = Date.now() - 3 * 3_600_000 - (Date.now() % minute);
    const produced = await runCli(
      ['produce', '--topic', names.in, '--devices', '200', '--rate', '0', '--count', '30000', '--seed', '7', '--zones', zones,
        '--start-ts', String(start), '--step-ms', '20', '--disorder-ms', '8000', '--late-ratio', '0.01', '--late-by-ms', String(10 * minute),
        '--bad-ratio', '0.005'],
      { KAFKA_BROKERS: brokers },
    );
    expect(produced.code, produced.stderr).toBe(0);
    const env = {
      WINDOW: 'tumbling',
      WINDOW_SIZE: '1m',
      WINDOW_GRACE: '10s',
      KEY_BY: 'zone',
      ZONES_FILE: zones,
      ZONE_UNMATCHED: 'outside',
      IDLE_PARTITION_MS: '6s',
      CHUNK_SIZE: '500',
      OUTPUT_SCHEMA: 'v2',
    };
    const whole: ScenarioTopics = { in: names.in, out: names['out-whole'], dlq: names['dlq-whole'], group: `${names.in}-whole` };
    const tested: ScenarioTopics = { in: names.in, out: names['out-test'], dlq: names['dlq-test'], group: `${names.in}-test` };

    const reference = started(whole, env).then(async (service) => {
      await waitForCommittedEnd(brokers, whole, service, 180_000);
      expect(await service.stop('SIGTERM')).toBe(0);
    });
    await killMidStream(tested, { ...env, ...EXACTLY_ONCE }, PARTITIONS);
    await finish(tested, { ...env, ...EXACTLY_ONCE });
    await reference;

    const expected = new Map((await readAll(brokers, whole.out)).map((r) => JSON.parse(r.value!.toString()) as V2).map((a) => [identity(a), content(a)]));
    const committed = (await readIsolated(brokers, tested.out, 'read_committed')).map((r) => JSON.parse(r.value!.toString()) as V2);
    const seen = new Map<string, number>();
    for (const a of committed) {
      expect(content(a), identity(a)).toBe(expected.get(identity(a)));
      seen.set(identity(a), (seen.get(identity(a)) ?? 0) + 1);
    }
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    const deadLetters = await readIsolated(brokers, tested.dlq, 'read_committed', false);
    const referenceDeadLetters = await readAll(brokers, whole.dlq);
    const sourceOf = (r: { headers: Record<string, unknown> }) => `${String(r.headers['geowindow-source-partition'])}/${String(r.headers['geowindow-source-offset'])}`;
    const deadLetterSources = new Set(deadLetters.map(sourceOf));
    console.log(
      `exactly-once, zone windows: ${committed.length} committed windows (${expected.size} expected), ${duplicates} duplicates; ` +
        `dead letters ${deadLetters.length} (${referenceDeadLetters.length} in the uninterrupted run, ${deadLetterSources.size} distinct)`,
    );
    expect(duplicates).toBe(0);
    expect(new Set(seen.keys())).toEqual(new Set(expected.keys()));
    expect(deadLetterSources.size).toBe(deadLetters.length);
    expect(deadLetterSources).toEqual(new Set(referenceDeadLetters.map(sourceOf)));
  });
});
