import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { metricValue, type ServiceProcess } from '../support/cli.js';
import { reconcile, type Reconciliation } from '../support/reconcile.js';
import {
  produceFleet,
  readScenario,
  scenarioTopics,
  serviceErrors,
  startService,
  waitForCommittedEnd,
  type ScenarioRecords,
  type ScenarioTopics,
} from '../support/scenario.js';
import { header } from '../support/kafka.js';

const GOOD = 12_000;
const BAD = 120;
/** 40 devices in turn: device i is kind i % 4, so index 2 is an air-quality monitor. */
const DEVICES = 40;
const OOM_DEVICE = 'air-00002';

describe('a worker driven past its resourceLimits', () => {
  const brokers = inject('kafkaBrokers');
  let topics: ScenarioTopics;
  let service: ServiceProcess;
  let metrics: string;
  let exitCode: number | null;
  let result: Reconciliation;
  let records: ScenarioRecords;

  beforeAll(async () => {
    topics = await scenarioTopics(brokers);
    await produceFleet(brokers, topics.in, { good: GOOD, bad: BAD, devices: DEVICES });
    service = await startService(brokers, topics, { GEOWINDOW_TEST_OOM_DEVICE: OOM_DEVICE, MEMORY_LIMIT_MB: '512' });
    await waitForCommittedEnd(brokers, topics, service);
    metrics = await service.metrics();
    exitCode = await service.stop('SIGTERM');
    records = await readScenario(brokers, topics);
    result = reconcile(topics.in, records.inputs, records.outputs, records.deadLetters);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
  });

  it('does not take the process down', () => {
    expect(exitCode).toBe(0);
    expect(serviceErrors(service)).toEqual([]);
    // Every window holding the device ran out of memory on its first worker and on the retry.
    const restarts = metricValue(metrics, 'geowindow_worker_restarts_total')!;
    const retries = metricValue(metrics, 'geowindow_worker_retries_total')!;
    expect(retries).toBeGreaterThanOrEqual(1);
    expect(restarts).toBe(2 * retries);
  });

  it('dead-letters the records of the failed windows and aggregates the rest, exactly', () => {
    const oomRecords = result.deadLettered.get('worker_out_of_memory') ?? 0;
    expect(oomRecords).toBeGreaterThan(0);
    const deadLettered = [...result.deadLettered.values()].reduce((sum, n) => sum + n, 0);
    expect(result.aggregated + deadLettered).toBe(GOOD + BAD);
    expect(metricValue(metrics, 'geowindow_records_dead_lettered_total', 'reason="worker_out_of_memory"')).toBe(oomRecords);
  });

  it('dead-letters every record of the device with its original key and bytes', () => {
    const inputs = new Map(records.inputs.map((r) => [`${r.partition}:${r.offset}`, r]));
    const failed = new Set<string>();
    for (const dead of records.deadLetters.filter((r) => header(r, 'geowindow-dlq-reason') === 'worker_out_of_memory')) {
      const k = `${header(dead, 'geowindow-source-partition')}:${header(dead, 'geowindow-source-offset')}`;
      failed.add(k);
      const original = inputs.get(k)!;
      expect(Buffer.compare(dead.value ?? Buffer.alloc(0), original.value ?? Buffer.alloc(0))).toBe(0);
      expect(dead.key?.toString()).toBe(original.key?.toString());
    }
    // The fleet keys records by device: every window holding one of the device's records failed.
    const deviceRecords = records.inputs.filter((r) => r.key?.toString() === OOM_DEVICE);
    expect(deviceRecords.length).toBeGreaterThan(0);
    for (const r of deviceRecords) expect(failed.has(`${r.partition}:${r.offset}`)).toBe(true);
  });
});
