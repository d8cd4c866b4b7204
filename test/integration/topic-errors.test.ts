/**
 * Topics that are missing at start-up, created by CREATE_TOPICS, or deleted
 * while the service runs: the built service on a real broker, its exact
 * lines on stdout and stderr, and its exit code. Known topic errors print no
 * stack trace anywhere.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { SASL_PASSWORD, SASL_USER } from '../support/broker.js';
import { metricValue, runCli, type CliResult, type ServiceProcess } from '../support/cli.js';
import { committedOffsets, createTopics, endOffsets, kafkaFor, uniqueTopics, waitFor } from '../support/kafka.js';
import { reconcile } from '../support/reconcile.js';
import { produceFleet, readScenario, serviceErrors, startService, waitForCommittedEnd, type ScenarioTopics } from '../support/scenario.js';

/** What kafkajs restarts its consumer for while the input topic is missing, at most (src/kafka/consumer.ts). */
const MAX_TOPIC_RESTARTS = 5;
/** Longest a write may be retried before it fails, with room to spare: the producer's retries (src/kafka/producer.ts) at the client's backoff. */
const WRITE_RETRIES_MS = 200_000;
const HEADING = 'geowindow: topics missing or not usable:';
/** A line of a stack trace, in any output. */
const STACK_LINE = /\n\s+at |"stack"/;

const missingLine = (variable: string, topic: string, partitions = 6) =>
  `  ${variable}: topic "${topic}" does not exist: create it (local broker: bash scripts/kafka.sh topics --create --topic ${topic} --partitions ${partitions}; ` +
  `in production, creating topics is the Kafka admin's job), or set CREATE_TOPICS=true to have geowindow create it (development only)`;

const recreate = (topic: string) =>
  `recreate it (local broker: bash scripts/kafka.sh topics --create --topic ${topic} --partitions 6; in production, creating topics is the Kafka admin's job) ` +
  'and start geowindow again';

function scenario(): ScenarioTopics {
  const topics = uniqueTopics('in', 'out', 'dlq');
  return { ...topics, group: `${topics.in}-group` };
}

/** `geowindow run` on `topics`, to its exit. */
function run(brokers: string, topics: ScenarioTopics, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(['run'], {
    KAFKA_BROKERS: brokers,
    INPUT_TOPIC: topics.in,
    OUTPUT_TOPIC: topics.out,
    DLQ_TOPIC: topics.dlq,
    GROUP_ID: topics.group,
    WORKERS: '1',
    METRICS_PORT: '0',
    ...env,
  });
}

async function deleteTopic(brokers: string, topic: string): Promise<void> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [topic] });
  } finally {
    await admin.disconnect();
  }
}

/** Exit 3, nothing on stdout, and on stderr the heading and exactly `lines`. */
function expectRefused(result: CliResult, lines: readonly string[]): void {
  expect(result.stderr).toBe(`${[HEADING, ...lines].join('\n')}\n`);
  expect(result.stdout).toBe('');
  expect(result.code).toBe(3);
}

async function exitCode(service: ServiceProcess, ms: number): Promise<number | null> {
  return waitFor(
    'the service to exit on its own',
    async () => (service.child.exitCode === null && service.child.signalCode === null ? undefined : service.child.exitCode),
    ms,
  );
}

/** The service's own log lines: kafkajs may still log its consumer's 'Stopped' after the service's last line. */
function ownLines(service: ServiceProcess) {
  return service.logs.filter((line) => line.component !== 'kafkajs');
}

function windowsEmitted(metrics: string): number {
  return metricValue(metrics, 'geowindow_windows_emitted_total', 'closed_by="count"') ?? 0;
}

describe('topics at start-up and while running', () => {
  const brokers = inject('kafkaBrokers');
  const saslBrokers = inject('kafkaSaslBrokers');
  let service: ServiceProcess | undefined;

  afterEach(async () => {
    await service?.stop('SIGKILL');
    service = undefined;
  });

  it('a missing input topic: exit 3, one line naming it and the fix', async () => {
    const topics = scenario();
    await createTopics(brokers, { [topics.out]: 1, [topics.dlq]: 1 });
    expectRefused(await run(brokers, topics), [missingLine('INPUT_TOPIC', topics.in)]);
  });

  it('a missing output topic: exit 3, one line naming it and the fix', async () => {
    const topics = scenario();
    await createTopics(brokers, { [topics.in]: 1, [topics.dlq]: 1 });
    expectRefused(await run(brokers, topics), [missingLine('OUTPUT_TOPIC', topics.out)]);
  });

  it('a missing dead-letter topic: exit 3, one line naming it; the partitions suggested are CREATE_TOPICS_PARTITIONS', async () => {
    const topics = scenario();
    await createTopics(brokers, { [topics.in]: 1, [topics.out]: 1 });
    expectRefused(await run(brokers, topics, { CREATE_TOPICS_PARTITIONS: '3' }), [missingLine('DLQ_TOPIC', topics.dlq, 3)]);
  });

  it('two missing topics: one line each', async () => {
    const topics = scenario();
    await createTopics(brokers, { [topics.in]: 1 });
    expectRefused(await run(brokers, topics), [missingLine('OUTPUT_TOPIC', topics.out), missingLine('DLQ_TOPIC', topics.dlq)]);
  });

  it('checks with the configured credentials: through the SASL listener, the same line', async () => {
    const topics = scenario();
    await createTopics(brokers, { [topics.in]: 1, [topics.out]: 1 });
    const result = await run(saslBrokers, topics, {
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: SASL_USER,
      KAFKA_SASL_PASSWORD: SASL_PASSWORD,
    });
    expectRefused(result, [missingLine('DLQ_TOPIC', topics.dlq)]);
    expect(result.stderr).not.toContain(SASL_PASSWORD);
  });

  it('CREATE_TOPICS=true with a replication factor the broker cannot give: exit 3, each topic with the setting to change', async () => {
    const topics = scenario();
    await createTopics(brokers, { [topics.in]: 1 });
    const refused = (variable: string, topic: string) =>
      `  ${variable}: topic "${topic}" does not exist and CREATE_TOPICS=true could not create it (INVALID_REPLICATION_FACTOR: Replication-factor is invalid): ` +
      "set CREATE_TOPICS_REPLICATION (3) to at most the number of brokers, or to auto for the broker's default";
    expectRefused(await run(brokers, topics, { CREATE_TOPICS: 'true', CREATE_TOPICS_REPLICATION: '3' }), [
      refused('OUTPUT_TOPIC', topics.out),
      refused('DLQ_TOPIC', topics.dlq),
    ]);
  });

  it('CREATE_TOPICS=true creates the missing topics, logs each, and runs: every record reconciled', async () => {
    const topics = scenario();
    await createTopics(brokers, { [topics.in]: 2 });
    service = await startService(brokers, topics, { CREATE_TOPICS: 'true', CREATE_TOPICS_PARTITIONS: '2', CHUNK_SIZE: '500' });
    await waitFor('the group joined', async () => (service!.logs.some((l) => l.msg === 'joined the consumer group') ? true : undefined), 60_000, () =>
      service!.child.exitCode === null ? undefined : `the service exited with ${service!.child.exitCode}: ${service!.stderr}`,
    );
    const created = service.logs.filter((line) => line.variable !== undefined);
    expect(created.map((line) => [line.level, line.msg])).toEqual([
      [30, `created topic "${topics.out}" for OUTPUT_TOPIC with 2 partitions and the broker's default replication factor (CREATE_TOPICS=true)`],
      [30, `created topic "${topics.dlq}" for DLQ_TOPIC with 2 partitions and the broker's default replication factor (CREATE_TOPICS=true)`],
    ]);
    expect((await endOffsets(brokers, topics.out)).size).toBe(2);
    expect((await endOffsets(brokers, topics.dlq)).size).toBe(2);

    await produceFleet(brokers, topics.in, { good: 2000, bad: 20, devices: 50 });
    await waitForCommittedEnd(brokers, topics, service);
    expect(await service.stop('SIGTERM')).toBe(0);
    expect(serviceErrors(service)).toEqual([]);
    const { inputs, outputs, deadLetters } = await readScenario(brokers, topics);
    const result = reconcile(topics.in, inputs, outputs, deadLetters);
    expect(result.aggregated).toBe(2000);
    expect([...result.deadLettered.values()].reduce((a, b) => a + b, 0)).toBe(20);
  });

  it('the output topic deleted while running: bounded retries, one fatal line naming it, what was acknowledged committed, exit 1', async () => {
    const topics = scenario();
    await createTopics(brokers, { [topics.in]: 1, [topics.out]: 1, [topics.dlq]: 1 });
    // Commits only at the stop: no interval commit in the test's time, and windows closed by count ask for none.
    service = await startService(brokers, topics, { CHUNK_SIZE: '500', COMMIT_INTERVAL_MS: '600000', WINDOW_IDLE_MS: '600000' });
    const running = service;
    const exitedEarly = () => (running.child.exitCode === null ? undefined : `the service exited with ${running.child.exitCode}: ${running.stderr}`);
    await produceFleet(brokers, topics.in, { good: 3000, bad: 0, devices: 50 });
    await waitFor('six windows written', async () => (windowsEmitted(await running.metrics()) === 6 ? true : undefined), 60_000, exitedEarly);
    expect((await committedOffsets(brokers, topics.group, topics.in)).get(0)).toBe(-1);

    await deleteTopic(brokers, topics.out);
    await produceFleet(brokers, topics.in, { good: 500, bad: 0, devices: 50, seed: 43 });
    // The window after the deletion fails once the producer's retries are spent (src/kafka/producer.ts).
    expect(await exitCode(running, WRITE_RETRIES_MS)).toBe(1);

    const fatal = serviceErrors(running);
    expect(fatal.map((line) => [line.level, line.msg, line.code, line.variable, line.topic])).toEqual([
      [
        60,
        `OUTPUT_TOPIC: topic "${topics.out}" no longer exists (deleted while geowindow was running?): ` +
          `committing what is acknowledged and stopping; the rest is read again after a restart; ${recreate(topics.out)}`,
        'GW_TOPIC_LOST',
        'OUTPUT_TOPIC',
        topics.out,
      ],
    ]);
    expect(fatal[0]).not.toHaveProperty('err');
    // The six windows written before the deletion are committed; the window that could not be written is read again.
    expect((await committedOffsets(brokers, topics.group, topics.in)).get(0)).toBe(3000);
    expect(ownLines(running).at(-1)).toMatchObject({ msg: 'stopped', exitCode: 1 });
    expect(running.stderr).toBe('');
    expect(JSON.stringify(running.logs)).not.toMatch(STACK_LINE);
  }, WRITE_RETRIES_MS + 60_000);

  it(`the input topic deleted while running: at most ${MAX_TOPIC_RESTARTS} restarts of the consumer, one fatal line naming it, exit 1`, async () => {
    const topics = scenario();
    await createTopics(brokers, { [topics.in]: 2, [topics.out]: 1, [topics.dlq]: 1 });
    service = await startService(brokers, topics, { CHUNK_SIZE: '500' });
    const running = service;
    await produceFleet(brokers, topics.in, { good: 2000, bad: 0, devices: 50 });
    await waitForCommittedEnd(brokers, topics, running);

    await deleteTopic(brokers, topics.in);
    expect(await exitCode(running, 90_000)).toBe(1);

    expect(serviceErrors(running).map((line) => [line.level, line.msg, line.code, line.variable, line.topic])).toEqual([
      [
        60,
        `INPUT_TOPIC: topic "${topics.in}" no longer exists (deleted while geowindow was running?): stopping without committing; ${recreate(topics.in)}`,
        'GW_TOPIC_LOST',
        'INPUT_TOPIC',
        topics.in,
      ],
    ]);
    const restarts = running.logs.filter((line) => line.component === 'kafkajs' && line.msg.startsWith('Restarting the consumer'));
    expect(restarts.length).toBeLessThanOrEqual(MAX_TOPIC_RESTARTS);
    expect(ownLines(running).at(-1)).toMatchObject({ msg: 'stopped', exitCode: 1 });
    expect(running.stderr).toBe('');
    expect(JSON.stringify(running.logs)).not.toMatch(STACK_LINE);
  });
});
