import { expect } from 'vitest';
import { runCli, ServiceProcess } from './cli.js';
import { committedOffsets, createTopics, endOffsets, readAll, uniqueTopics, waitFor, type ReadRecord } from './kafka.js';

export interface ScenarioTopics {
  readonly in: string;
  readonly out: string;
  readonly dlq: string;
  readonly group: string;
}

/** Fresh input (6 partitions), output and dead-letter topics, and a group id, for one test. */
export async function scenarioTopics(brokers: string, partitions = 6): Promise<ScenarioTopics> {
  const topics = uniqueTopics('in', 'out', 'dlq');
  await createTopics(brokers, { [topics.in]: partitions, [topics.out]: 3, [topics.dlq]: 1 });
  return { ...topics, group: `${topics.in}-group` };
}

export interface FleetRun {
  readonly good: number;
  readonly bad: number;
  readonly devices?: number;
  readonly seed?: number;
}

/** Sends exactly `good` good and `bad` bad readings with the CLI, as fast as the broker takes them; `env` on top. */
export async function produceFleet(brokers: string, topic: string, run: FleetRun, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const total = run.good + run.bad;
  const result = await runCli(
    ['produce', '--topic', topic, '--devices', String(run.devices ?? 240), '--rate', '0', '--count', String(total),
      '--bad-ratio', String(run.bad / total), '--seed', String(run.seed ?? 42)],
    { KAFKA_BROKERS: brokers, ...env },
  );
  expect(result.code, result.stderr).toBe(0);
  expect(JSON.parse(result.stdout)).toMatchObject({ sent: total, good: run.good, bad: run.bad });
}

/** The service on the scenario's topics, with `env` on top. */
export function startService(
  brokers: string,
  topics: ScenarioTopics,
  env: NodeJS.ProcessEnv = {},
  nodeArgs: readonly string[] = [],
): Promise<ServiceProcess> {
  return ServiceProcess.start(
    {
    KAFKA_BROKERS: brokers,
    INPUT_TOPIC: topics.in,
    OUTPUT_TOPIC: topics.out,
    DLQ_TOPIC: topics.dlq,
    GROUP_ID: topics.group,
    WORKERS: '2',
    WINDOW_IDLE_MS: '500',
    COMMIT_INTERVAL_MS: '200',
    ...env,
    },
    nodeArgs,
  );
}

/** Waits until the group has committed the end of every input partition; fails at once if the service exits. */
export async function waitForCommittedEnd(brokers: string, topics: ScenarioTopics, service: ServiceProcess, timeoutMs = 120_000): Promise<void> {
  const ends = await endOffsets(brokers, topics.in);
  await waitFor(
    'committed offsets at the end of every partition',
    async () => {
      const committed = await committedOffsets(brokers, topics.group, topics.in);
      return [...ends].every(([partition, end]) => committed.get(partition) === end) ? true : undefined;
    },
    timeoutMs,
    () => (service.child.exitCode === null ? undefined : `the service exited with ${service.child.exitCode}: ${service.stderr}`),
  );
}

export interface ScenarioRecords {
  readonly inputs: ReadRecord[];
  readonly outputs: ReadRecord[];
  readonly deadLetters: ReadRecord[];
}

export async function readScenario(brokers: string, topics: ScenarioTopics): Promise<ScenarioRecords> {
  const [inputs, outputs, deadLetters] = await Promise.all([
    readAll(brokers, topics.in),
    readAll(brokers, topics.out),
    readAll(brokers, topics.dlq),
  ]);
  return { inputs, outputs, deadLetters };
}

/**
 * geowindow's own log lines at error level or above. The Kafka client's are
 * left out: what it retries or restarts from arrives as warnings, but what
 * remains (a failed disconnect at shutdown, say) depends on the broker's
 * timing, not on the service; the service's own verdict on any failure is
 * its own line.
 */
export function serviceErrors(service: ServiceProcess) {
  return service.logs.filter((line) => line.level >= 50 && line.component !== 'kafkajs');
}
