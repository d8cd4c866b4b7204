/**
 * The topic checks against a fake broker that answers with kafkajs's own
 * error objects (its error table and classes): every start-up and run-time
 * message, authorization answers by code (the local broker has no ACLs, so
 * only these tests see them), CREATE_TOPICS, the bounded restarts of the
 * consumer while its topic is missing, and the client's log line for them.
 */
import { createRequire } from 'node:module';
import type { Admin, Consumer, ConsumerConfig, ITopicConfig, Kafka, LogEntry } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigErrors, ProduceError, TopicError, TopicLostError } from '../../src/errors.js';
import { kafkaLogCreator } from '../../src/kafka/client.js';
import { InputConsumer, MAX_TOPIC_RESTARTS } from '../../src/kafka/consumer.js';
import { kafkaErrorType } from '../../src/kafka/protocol-errors.js';
import { checkTopics, lostTopics, type TopicPlan } from '../../src/kafka/topic-check.js';

const require = createRequire(import.meta.url);
/** kafkajs builds broker errors from the code in a response with this; the tests do the same. */
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode(code: number): Error };
type ErrorClass<A extends unknown[]> = new (...args: A) => Error;
const kafkajsErrors = require('kafkajs/src/errors.js') as {
  KafkaJSNumberOfRetriesExceeded: ErrorClass<[Error, { retryCount: number; retryTime: number }]>;
  KafkaJSAggregateError: ErrorClass<[string, Error[]]>;
  KafkaJSCreateTopicError: ErrorClass<[Error, string]>;
  KafkaJSSASLAuthenticationError: ErrorClass<[string]>;
  KafkaJSConnectionError: ErrorClass<[string]>;
};

/** Broker error codes (Kafka protocol). */
const CODE = {
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  TOPIC_AUTHORIZATION_FAILED: 29,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_REPLICATION_FACTOR: 38,
} as const;

/** A request kafkajs gave up on after its retries, as the producer and the consumer report it. */
const retriesExceeded = (code: number) => new kafkajsErrors.KafkaJSNumberOfRetriesExceeded(createErrorFromCode(code), { retryCount: 8, retryTime: 10_000 });

type State = 'ok' | 'missing' | 'not_authorized';

/** A broker holding `topics`; what it answers is kafkajs's. */
function fakeBroker(topics: Record<string, State>, options: { createError?: Error; metadataError?: Error } = {}) {
  const states = new Map(Object.entries(topics));
  const created: ITopicConfig[][] = [];
  const calls = { connect: 0, disconnect: 0, metadata: 0 };
  const admin = {
    connect: async () => void calls.connect++,
    disconnect: async () => void calls.disconnect++,
    fetchTopicMetadata: async ({ topics: asked }: { topics: string[] }) => {
      calls.metadata++;
      if (options.metadataError !== undefined) throw options.metadataError;
      const topic = asked[0]!;
      const state = states.get(topic) ?? 'missing';
      if (state === 'missing') throw createErrorFromCode(CODE.UNKNOWN_TOPIC_OR_PARTITION);
      if (state === 'not_authorized') throw createErrorFromCode(CODE.TOPIC_AUTHORIZATION_FAILED);
      return { topics: [{ name: topic, partitions: [] }] };
    },
    createTopics: async ({ topics: asked }: { topics: ITopicConfig[] }) => {
      created.push(asked);
      if (options.createError !== undefined) throw options.createError;
      for (const { topic } of asked) states.set(topic, 'ok');
      return true;
    },
  };
  const kafka = { admin: () => admin as unknown as Admin } as unknown as Kafka;
  return { kafka, created, calls, states };
}

function plan(overrides: Partial<TopicPlan> = {}): TopicPlan {
  return {
    roles: [
      { variable: 'INPUT_TOPIC', topic: 'in', use: 'read' },
      { variable: 'OUTPUT_TOPIC', topic: 'out', use: 'write' },
      { variable: 'DLQ_TOPIC', topic: 'dlq', use: 'write' },
    ],
    groupId: 'group-1',
    saslUsername: undefined,
    create: false,
    partitions: 6,
    replication: 'auto',
    ...overrides,
  };
}

/** A pino logger whose JSON lines are collected. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/** The ConfigErrors checkTopics throws. */
async function refusal(promise: Promise<unknown>): Promise<ConfigErrors> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigErrors);
  return error as ConfigErrors;
}

const missingLine = (variable: string, topic: string, partitions = 6) =>
  `${variable}: topic "${topic}" does not exist: create it (local broker: bash scripts/kafka.sh topics --create --topic ${topic} --partitions ${partitions}; ` +
  `in production, creating topics is the Kafka admin's job), or set CREATE_TOPICS=true to have geowindow create it (development only)`;

describe('checkTopics at start-up', () => {
  it('lets the service start when every topic is there, creating and logging nothing', async () => {
    const broker = fakeBroker({ in: 'ok', out: 'ok', dlq: 'ok' });
    const { logger, lines } = capture();
    await checkTopics(broker.kafka, plan({ create: true }), logger);
    expect(broker.created).toEqual([]);
    expect(lines).toEqual([]);
    // One topic per request (kafkajs reports only the first failing topic of a response), and the admin is closed.
    expect(broker.calls).toEqual({ connect: 1, disconnect: 1, metadata: 3 });
  });

  it('names every missing topic on its own line, with the commands that create it', async () => {
    const broker = fakeBroker({ in: 'ok' });
    const error = await refusal(checkTopics(broker.kafka, plan({ partitions: 3 }), capture().logger));
    expect(error.message).toBe(`topics missing or not usable:\n  ${missingLine('OUTPUT_TOPIC', 'out', 3)}\n  ${missingLine('DLQ_TOPIC', 'dlq', 3)}`);
    expect(error.problems.map((p) => [p.constructor, p.code, p.variable, (p as TopicError).topic])).toEqual([
      [TopicError, 'GW_TOPIC_NOT_USABLE', 'OUTPUT_TOPIC', 'out'],
      [TopicError, 'GW_TOPIC_NOT_USABLE', 'DLQ_TOPIC', 'dlq'],
    ]);
    expect(broker.calls.disconnect).toBe(1);
  });

  it('tells a topic the credentials may not see (TOPIC_AUTHORIZATION_FAILED) by its code, with the grants it needs', async () => {
    const broker = fakeBroker({ in: 'not_authorized', out: 'not_authorized', dlq: 'ok' });
    const error = await refusal(checkTopics(broker.kafka, plan({ saslUsername: 'geowindow' }), capture().logger));
    expect(error.problems.map((p) => p.message)).toEqual([
      'INPUT_TOPIC: topic "in" is not accessible with the configured credentials (TOPIC_AUTHORIZATION_FAILED, SASL user "geowindow"; ' +
        'the broker does not say whether it exists): ask the Kafka admin to create it if needed and grant DESCRIBE and READ on topic "in" and READ on group "group-1"',
      'OUTPUT_TOPIC: topic "out" is not accessible with the configured credentials (TOPIC_AUTHORIZATION_FAILED, SASL user "geowindow"; ' +
        'the broker does not say whether it exists): ask the Kafka admin to create it if needed and grant DESCRIBE and WRITE on topic "out"',
    ]);
  });

  it('does not create a topic it may not see, even with CREATE_TOPICS', async () => {
    const broker = fakeBroker({ in: 'not_authorized', out: 'ok', dlq: 'ok' });
    const error = await refusal(checkTopics(broker.kafka, plan({ create: true }), capture().logger));
    expect(broker.created).toEqual([]);
    expect(error.problems.map((p) => p.message)).toEqual([
      'INPUT_TOPIC: topic "in" is not accessible with the configured credentials (TOPIC_AUTHORIZATION_FAILED, no SASL user; ' +
        'the broker does not say whether it exists): ask the Kafka admin to create it if needed and grant DESCRIBE and READ on topic "in" and READ on group "group-1"',
    ]);
  });

  it('passes other errors on as they are (no broker, wrong password): they are not about a topic', async () => {
    const sasl = new kafkajsErrors.KafkaJSSASLAuthenticationError('SASL SCRAM SHA512 authentication failed');
    const broker = fakeBroker({}, { metadataError: sasl });
    await expect(checkTopics(broker.kafka, plan(), capture().logger)).rejects.toBe(sasl);
    expect(broker.calls.disconnect).toBe(1);
  });

  it('with CREATE_TOPICS, creates the missing topics with the configured partitions and replication, logging each', async () => {
    const broker = fakeBroker({ in: 'ok' });
    const { logger, lines } = capture();
    await checkTopics(broker.kafka, plan({ create: true, partitions: 2 }), logger);
    expect(broker.created).toEqual([
      [
        { topic: 'out', numPartitions: 2, replicationFactor: -1 },
        { topic: 'dlq', numPartitions: 2, replicationFactor: -1 },
      ],
    ]);
    expect(lines.map((l) => [l.level, l.msg, l.topic, l.variable])).toEqual([
      [30, 'created topic "out" for OUTPUT_TOPIC with 2 partitions and the broker\'s default replication factor (CREATE_TOPICS=true)', 'out', 'OUTPUT_TOPIC'],
      [30, 'created topic "dlq" for DLQ_TOPIC with 2 partitions and the broker\'s default replication factor (CREATE_TOPICS=true)', 'dlq', 'DLQ_TOPIC'],
    ]);
    const replicated = fakeBroker({});
    const logged = capture();
    await checkTopics(replicated.kafka, plan({ create: true, replication: 3 }), logged.logger);
    expect(replicated.created[0]!.map((t) => t.replicationFactor)).toEqual([3, 3, 3]);
    expect(logged.lines[0]!.msg).toBe('created topic "in" for INPUT_TOPIC with 6 partitions and replication factor 3 (CREATE_TOPICS=true)');
  });

  it('names the topics the broker would not create, with the setting to change; one created meanwhile by another instance is fine', async () => {
    const refused = new kafkajsErrors.KafkaJSAggregateError('Topic creation errors', [
      new kafkajsErrors.KafkaJSCreateTopicError(createErrorFromCode(CODE.TOPIC_ALREADY_EXISTS), 'out'),
      new kafkajsErrors.KafkaJSCreateTopicError(createErrorFromCode(CODE.INVALID_REPLICATION_FACTOR), 'dlq'),
    ]);
    const broker = fakeBroker({ in: 'ok' }, { createError: refused });
    const { logger, lines } = capture();
    const error = await refusal(checkTopics(broker.kafka, plan({ create: true, replication: 3 }), logger));
    expect(error.problems.map((p) => p.message)).toEqual([
      'DLQ_TOPIC: topic "dlq" does not exist and CREATE_TOPICS=true could not create it (INVALID_REPLICATION_FACTOR: Replication-factor is invalid): ' +
        'set CREATE_TOPICS_REPLICATION (3) to at most the number of brokers, or to auto for the broker\'s default',
    ]);
    // Neither was created by this instance.
    expect(lines).toEqual([]);
  });

  it('says when the credentials may not create topics', async () => {
    const refused = new kafkajsErrors.KafkaJSAggregateError('Topic creation errors', [
      new kafkajsErrors.KafkaJSCreateTopicError(createErrorFromCode(CODE.TOPIC_AUTHORIZATION_FAILED), 'in'),
    ]);
    const broker = fakeBroker({ out: 'ok', dlq: 'ok' }, { createError: refused });
    const error = await refusal(checkTopics(broker.kafka, plan({ create: true, saslUsername: 'app' }), capture().logger));
    expect(error.problems.map((p) => p.message)).toEqual([
      'INPUT_TOPIC: topic "in" does not exist and CREATE_TOPICS=true could not create it ' +
        '(TOPIC_AUTHORIZATION_FAILED: Not authorized to access topics: [Topic authorization failed]): ' +
        'the configured credentials (SASL user "app") may not create topics: have the Kafka admin create it with 6 partitions',
    ]);
  });
});

describe('lostTopics while running', () => {
  const outcomeCommit = 'committing what is acknowledged and stopping; the rest is read again after a restart';
  const recreate = (topic: string) =>
    `recreate it (local broker: bash scripts/kafka.sh topics --create --topic ${topic} --partitions 6; in production, creating topics is the Kafka admin's job) and start geowindow again`;

  it('leaves failures that are not about a topic alone, without asking the broker', async () => {
    const broker = fakeBroker({ in: 'missing' });
    const lost = await lostTopics(broker.kafka, plan(), new ProduceError('out', new kafkajsErrors.KafkaJSConnectionError('Connection timeout')));
    expect(lost).toEqual({ errors: [], commitAcknowledged: false });
    expect(broker.calls.connect).toBe(0);
  });

  it('asks the broker which topic is gone: a failed write to the output names the dead-letter topic when that is the one deleted', async () => {
    // kafkajs refreshes metadata for every topic the producer wrote to, so a deleted DLQ fails writes to the output too.
    const broker = fakeBroker({ in: 'ok', out: 'ok', dlq: 'missing' });
    const lost = await lostTopics(broker.kafka, plan(), new ProduceError('out', retriesExceeded(CODE.UNKNOWN_TOPIC_OR_PARTITION)));
    expect(lost.commitAcknowledged).toBe(true);
    expect(lost.errors.map((e) => [e.constructor, e.code, e.variable, e.topic, e.problem, e.message])).toEqual([
      [
        TopicLostError,
        'GW_TOPIC_LOST',
        'DLQ_TOPIC',
        'dlq',
        'missing',
        `DLQ_TOPIC: topic "dlq" no longer exists (deleted while geowindow was running?): ${outcomeCommit}; ${recreate('dlq')}`,
      ],
    ]);
  });

  it('does not commit when the input is gone (the consumer gave up): there is nothing to commit to', async () => {
    const broker = fakeBroker({ in: 'missing', out: 'ok', dlq: 'ok' });
    const lost = await lostTopics(broker.kafka, plan(), retriesExceeded(CODE.UNKNOWN_TOPIC_OR_PARTITION));
    expect(lost.commitAcknowledged).toBe(false);
    expect(lost.errors.map((e) => e.message)).toEqual([
      `INPUT_TOPIC: topic "in" no longer exists (deleted while geowindow was running?): stopping without committing; ${recreate('in')}`,
    ]);
  });

  it('blames a refused write (TOPIC_AUTHORIZATION_FAILED on a visible topic) on the failed record\'s topic', async () => {
    const broker = fakeBroker({ in: 'ok', out: 'ok', dlq: 'ok' });
    const lost = await lostTopics(broker.kafka, plan({ saslUsername: 'geowindow' }), new ProduceError('dlq', createErrorFromCode(CODE.TOPIC_AUTHORIZATION_FAILED)));
    expect(lost.commitAcknowledged).toBe(true);
    expect(lost.errors.map((e) => [e.variable, e.problem, e.message])).toEqual([
      [
        'DLQ_TOPIC',
        'not_authorized',
        `DLQ_TOPIC: topic "dlq" refuses the configured credentials (TOPIC_AUTHORIZATION_FAILED, SASL user "geowindow"): ${outcomeCommit}; ` +
          'ask the Kafka admin to grant DESCRIBE and WRITE on topic "dlq", then start geowindow again',
      ],
    ]);
    const read = await lostTopics(broker.kafka, plan(), createErrorFromCode(CODE.TOPIC_AUTHORIZATION_FAILED));
    expect(read.errors.map((e) => [e.variable, e.problem])).toEqual([['INPUT_TOPIC', 'not_authorized']]);
    expect(read.commitAcknowledged).toBe(false);
  });

  it('reports nothing when the broker shows every topic again: the failure is then reported as it is', async () => {
    const broker = fakeBroker({ in: 'ok', out: 'ok', dlq: 'ok' });
    expect(await lostTopics(broker.kafka, plan(), new ProduceError('out', retriesExceeded(CODE.UNKNOWN_TOPIC_OR_PARTITION)))).toEqual({
      errors: [],
      commitAcknowledged: false,
    });
  });
});

describe('kafkaErrorType', () => {
  it('finds the broker error through kafkajs\'s and geowindow\'s wrappers', () => {
    expect(kafkaErrorType(new ProduceError('out', retriesExceeded(CODE.UNKNOWN_TOPIC_OR_PARTITION)))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(kafkaErrorType(createErrorFromCode(CODE.TOPIC_AUTHORIZATION_FAILED))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(kafkaErrorType(new kafkajsErrors.KafkaJSConnectionError('Connection timeout'))).toBeUndefined();
    expect(kafkaErrorType('UNKNOWN_TOPIC_OR_PARTITION')).toBeUndefined();
    const loop = new Error('a', { cause: undefined });
    (loop as { cause?: unknown }).cause = loop;
    expect(kafkaErrorType(loop)).toBeUndefined();
  });
});

describe('InputConsumer while its topic is missing', () => {
  /** The consumer's kafkajs configuration and event handlers, from a fake client. */
  function fakeConsumer() {
    let config: ConsumerConfig | undefined;
    const handlers = new Map<string, (event: { payload: unknown }) => void>();
    const consumer = {
      events: { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' },
      on: (event: string, handler: (event: { payload: unknown }) => void) => void handlers.set(event, handler),
      connect: async () => undefined,
      subscribe: async () => undefined,
      run: async () => undefined,
    };
    const kafka = {
      consumer: (options: ConsumerConfig) => {
        config = options;
        return consumer as unknown as Consumer;
      },
    } as unknown as Kafka;
    const input = new InputConsumer(kafka, { groupId: 'g', topic: 'in', startFrom: 'earliest', maxBytes: 1, maxBytesPerPartition: 1, sessionTimeoutMs: 30_000 });
    const restart = (error: Error) => config!.retry!.restartOnFailure!(error);
    return { input, config: config!, handlers, restart };
  }

  it(`lets kafkajs restart it ${MAX_TOPIC_RESTARTS} times in a row for a missing topic, then gives up; a join starts the count again`, async () => {
    const { input, config, handlers, restart } = fakeConsumer();
    // kafkajs's own retries per request are kept.
    expect(config.retry!.retries).toBe(5);
    const missing = retriesExceeded(CODE.UNKNOWN_TOPIC_OR_PARTITION);
    const answers: boolean[] = [];
    for (let i = 0; i <= MAX_TOPIC_RESTARTS; i++) answers.push(await restart(missing));
    expect(answers).toEqual([...Array<boolean>(MAX_TOPIC_RESTARTS).fill(true), false]);
    // Other retriable crashes (a coordinator loading) are restarted from as kafkajs would.
    expect(await restart(new kafkajsErrors.KafkaJSConnectionError('Connection timeout'))).toBe(true);

    await input.start({ handleBatch: async () => undefined, onJoin: () => undefined, onCrash: () => undefined });
    handlers.get('consumer.group_join')!({ payload: { memberAssignment: { in: [0] } } });
    expect(await restart(missing)).toBe(true);
  });
});

describe('the client\'s crash lines for a missing topic', () => {
  it('drop the stack (the service names the topic itself); other crash lines keep it', () => {
    const lines: string[] = [];
    const log = kafkaLogCreator(pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) }))(0);
    const crash = (message: string): LogEntry => ({
      namespace: 'Consumer',
      level: 1,
      label: 'ERROR',
      log: { timestamp: '2026-12-02T00:00:00.000Z', message, groupId: 'g', retryCount: 0, stack: 'KafkaJSProtocolError: at x (y.js:1:1)' },
    });
    log(crash('Crash: KafkaJSProtocolError: This server does not host this topic-partition'));
    log(crash('Crash: KafkaJSNumberOfRetriesExceeded: This server does not host this topic-partition'));
    log(crash("Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group"));
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((l) => [l.level, l.groupId, 'stack' in l])).toEqual([
      [40, 'g', false],
      [40, 'g', false],
      [40, 'g', true],
    ]);
  });
});
