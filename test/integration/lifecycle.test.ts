import { describe, expect, inject, it } from 'vitest';
import { metricValue, runCli, type ServiceProcess } from '../support/cli.js';
import { committedOffsets, header, waitFor } from '../support/kafka.js';
import { reconcile } from '../support/reconcile.js';
import { readScenario, scenarioTopics, serviceErrors, startService, waitForCommittedEnd } from '../support/scenario.js';

const TOTAL = 120_000;
const BAD = 1_200;
/**
 * Slow enough that the fleet is still sending when a second instance has
 * joined: at 20,000/s the first instance could read and commit everything
 * before the rebalance, leaving the second nothing to read (CI, a slow machine).
 */
const RATE = 10_000;

/** The fleet in the background at RATE records/s, so the service is stopped mid-stream. */
function fleetInBackground(brokers: string, topic: string) {
  return runCli(
    ['produce', '--topic', topic, '--devices', '300', '--rate', String(RATE), '--count', String(TOTAL),
      '--bad-ratio', String(BAD / TOTAL), '--seed', '7'],
    { KAFKA_BROKERS: brokers },
  );
}

async function recordsIn(service: ServiceProcess): Promise<number> {
  return metricValue(await service.metrics(), 'geowindow_records_in_total') ?? 0;
}

async function waitForRecordsIn(service: ServiceProcess, atLeast: number): Promise<void> {
  await waitFor(`${atLeast} records read`, async () => ((await recordsIn(service)) >= atLeast ? true : undefined), 60_000, () =>
    service.child.exitCode === null ? undefined : `the service exited with ${service.child.exitCode}: ${service.stderr}`,
  200);
}

/** Assigned partitions from the service's last "joined" log line. */
function assigned(service: ServiceProcess): number[] {
  const joins = service.logs.filter((line) => line.msg === 'joined the consumer group');
  return (joins.at(-1)?.assigned as number[] | undefined) ?? [];
}

describe('lifecycle on a real broker', () => {
  const brokers = inject('kafkaBrokers');

  it('commits only what it wrote on SIGTERM mid-stream, and a restart completes with exact reconciliation', async () => {
    const topics = await scenarioTopics(brokers);
    const fleet = fleetInBackground(brokers, topics.in);
    const first = await startService(brokers, topics);
    await waitForRecordsIn(first, 20_000);
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(serviceErrors(first)).toEqual([]);

    // What was committed is exactly covered by what was written.
    const committed = await committedOffsets(brokers, topics.group, topics.in);
    const atStop = await readScenario(brokers, topics);
    const shutdownWindows = atStop.outputs
      .map((r) => JSON.parse(r.value!.toString()) as { window: { closedBy: string }; source: { partition: number; lastOffset: number } })
      .filter((a) => a.window.closedBy === 'shutdown');
    expect(shutdownWindows.length).toBeGreaterThan(0);
    // Committed up to the end of what was written (dead letters after the last window included; checked below).
    for (const w of shutdownWindows) expect(committed.get(w.source.partition)).toBeGreaterThanOrEqual(w.source.lastOffset + 1);
    const upToCommit = atStop.inputs.filter((r) => r.offset < (committed.get(r.partition) ?? 0));
    expect(upToCommit.length).toBeGreaterThan(0);
    const partial = reconcile(topics.in, upToCommit, atStop.outputs, atStop.deadLetters);
    expect(partial.duplicates).toBe(0);

    expect((await fleet).code).toBe(0);
    const second = await startService(brokers, topics);
    await waitForCommittedEnd(brokers, topics, second);
    expect(await second.stop('SIGTERM')).toBe(0);
    const all = await readScenario(brokers, topics);
    const result = reconcile(topics.in, all.inputs, all.outputs, all.deadLetters);
    expect(result.aggregated + [...result.deadLettered.values()].reduce((a, b) => a + b, 0)).toBe(TOTAL);
    // A clean stop commits everything it wrote, so nothing is written twice.
    expect(result.duplicates).toBe(0);
    expect(result.deadLetterDuplicates).toBe(0);
  });

  it('shares partitions between two instances, and one takes over when the other stops', async () => {
    const topics = await scenarioTopics(brokers);
    const fleet = fleetInBackground(brokers, topics.in);
    const a = await startService(brokers, topics);
    await waitForRecordsIn(a, 10_000);
    const b = await startService(brokers, topics);
    await waitFor('both instances holding partitions', async () => {
      const [pa, pb] = [assigned(a), assigned(b)];
      return pa.length > 0 && pb.length > 0 && pa.length + pb.length === 6 ? true : undefined;
    }, 60_000);
    expect(new Set([...assigned(a), ...assigned(b)]).size).toBe(6);
    await waitForRecordsIn(b, 2_000);

    expect(await a.stop('SIGTERM')).toBe(0);
    await waitFor('the survivor holding all six partitions', async () => (assigned(b).length === 6 ? true : undefined), 60_000);
    expect((await fleet).code).toBe(0);
    await waitForCommittedEnd(brokers, topics, b);
    const metricsB = await b.metrics();
    expect(await b.stop('SIGTERM')).toBe(0);
    expect(serviceErrors(a)).toEqual([]);
    expect(serviceErrors(b)).toEqual([]);
    expect(metricValue(metricsB, 'geowindow_rebalances_total')).toBeGreaterThanOrEqual(2);

    const all = await readScenario(brokers, topics);
    // Duplicates are allowed only as windows with the same identity; reconcile checks it.
    const result = reconcile(topics.in, all.inputs, all.outputs, all.deadLetters);
    expect(result.aggregated + [...result.deadLettered.values()].reduce((n, c) => n + c, 0)).toBe(TOTAL);
    const fleetBad = all.inputs.filter((r) => header(r, 'geowindow-fleet-expect') !== undefined).length;
    expect([...result.deadLettered.values()].reduce((n, c) => n + c, 0)).toBe(fleetBad);
  });
});
