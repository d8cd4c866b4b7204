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

const identity = (a: V2) => `${a.key.by}:${a.key.id}|${a.window.start}|${a.source.partition}`;
const content = (a: V2) => JSON.stringify({ ...a, emittedAt: 0 });

/**
 * The crash test: one instance reads the whole stream uninterrupted; another
 * is killed with SIGKILL mid-stream (windows open, chunks in workers,
 * aggregates in flight) and restarted. Every window the restarted pair
 * writes has an identity and content the uninterrupted run wrote too, and
 * none is missing.
 */
describe('SIGKILL mid-stream with event-time windows', () => {
  const brokers = inject('kafkaBrokers');
  const services: ServiceProcess[] = [];

  afterAll(async () => {
    for (const service of services) await service.stop('SIGKILL');
  });

  it('writes every window with the same identity and content as an uninterrupted run', async () => {
    const names = uniqueTopics('in', 'out-whole', 'out-crash', 'dlq-whole', 'dlq-crash');
    await createTopics(brokers, { [names.in]: PARTITIONS, [names['out-whole']]: 3, [names['out-crash']]: 3, [names['dlq-whole']]: 1, [names['dlq-crash']]: 1 });
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
      // Long enough that no partition counts as idle before the kill; the last windows close by it at the end.
      IDLE_PARTITION_MS: '6s',
      CHUNK_SIZE: '500',
    };
    const crash: ScenarioTopics = { in: names.in, out: names['out-crash'], dlq: names['dlq-crash'], group: `${names.in}-crash` };
    const whole: ScenarioTopics = { in: names.in, out: names['out-whole'], dlq: names['dlq-whole'], group: `${names.in}-whole` };

    // The crashing instance reads the first half, commits some of it, and is killed at a random moment after that.
    await produce(0);
    const first = await startService(brokers, crash, env);
    services.push(first);
    await waitFor(
      'a commit past the start of every partition',
      async () => {
        const committed = await committedOffsets(brokers, crash.group, crash.in);
        return committed.size === PARTITIONS && [...committed.values()].every((offset) => offset > 0) ? true : undefined;
      },
      60_000,
      () => (first.child.exitCode === null ? undefined : `exited with ${first.child.exitCode}`),
      100,
    );
    await sleep(Math.floor(Math.random() * 300));
    const killedAt = await committedOffsets(brokers, crash.group, crash.in);
    expect(await first.stop('SIGKILL')).toBeNull();
    const writtenBeforeKill = (await readAll(brokers, crash.out)).length;

    await produce(1);
    const second = await startService(brokers, crash, env);
    services.push(second);
    const uninterrupted = await startService(brokers, whole, env);
    services.push(uninterrupted);
    await Promise.all([waitForCommittedEnd(brokers, crash, second), waitForCommittedEnd(brokers, whole, uninterrupted)]);
    expect(await second.stop('SIGTERM')).toBe(0);
    expect(await uninterrupted.stop('SIGTERM')).toBe(0);
    expect(serviceErrors(second)).toEqual([]);
    expect(serviceErrors(uninterrupted)).toEqual([]);

    const reference = new Map((await readAll(brokers, whole.out)).map((r) => JSON.parse(r.value!.toString()) as V2).map((a) => [identity(a), content(a)]));
    const crashed = (await readAll(brokers, crash.out)).map((r) => JSON.parse(r.value!.toString()) as V2);
    expect(writtenBeforeKill).toBeGreaterThan(0);
    expect(writtenBeforeKill).toBeLessThan(crashed.length);
    let duplicates = 0;
    const seen = new Set<string>();
    for (const a of crashed) {
      expect(content(a), identity(a)).toBe(reference.get(identity(a)));
      if (seen.has(identity(a))) duplicates++;
      seen.add(identity(a));
    }
    expect(seen).toEqual(new Set(reference.keys()));
    const watermarkClosed = [...reference.values()].filter((c) => (JSON.parse(c) as V2).window.closedBy === 'watermark').length;
    expect(watermarkClosed).toBeGreaterThan(reference.size / 2);
    console.log(
      `crash test: killed after commits at ${JSON.stringify(Object.fromEntries(killedAt))}; ${writtenBeforeKill} aggregates before the kill, ` +
        `${crashed.length} in all, ${duplicates} identical duplicates, ${reference.size} windows (${watermarkClosed} closed by the watermark) as uninterrupted`,
    );
  });
});
