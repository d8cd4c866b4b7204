/**
 * CREATE_TOPICS and its settings: each bad value has its own message naming
 * the variable and what it accepts; these tests pin every message, and the
 * values accepted at the edges.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, renderConfig } from '../../src/config/config.js';
import { ConfigErrors } from '../../src/errors.js';
import { topicPlan } from '../../src/kafka/topic-check.js';

const BROKERS = { KAFKA_BROKERS: 'localhost:9092' };

/** Every problem loadConfig reports for `env` (brokers added), as messages. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...BROKERS, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigErrors);
    return (error as ConfigErrors).problems.map((p) => p.message);
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('CREATE_TOPICS', () => {
  it('is off by default, with 6 partitions and the broker\'s replication factor for what it would create', () => {
    const config = loadConfig(BROKERS);
    expect(config).toMatchObject({ createTopics: false, createTopicsPartitions: 6, createTopicsReplication: 'auto' });
    expect(renderConfig(config)).toMatchObject({ CREATE_TOPICS: false, CREATE_TOPICS_PARTITIONS: 6, CREATE_TOPICS_REPLICATION: 'auto' });
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    [' false ', false],
  ])('reads CREATE_TOPICS=%j as %s', (raw, value) => {
    expect(loadConfig({ ...BROKERS, CREATE_TOPICS: raw }).createTopics).toBe(value);
  });

  it.each(['yes', '1', 'on'])('refuses CREATE_TOPICS=%j, naming true and false', (raw) => {
    expect(problemsOf({ CREATE_TOPICS: raw })).toEqual([`CREATE_TOPICS: expected true or false, got ${JSON.stringify(raw)}`]);
  });

  it.each([
    ['1', 1],
    ['12', 12],
    ['10000', 10_000],
  ])('accepts CREATE_TOPICS_PARTITIONS=%j', (raw, value) => {
    expect(loadConfig({ ...BROKERS, CREATE_TOPICS: 'true', CREATE_TOPICS_PARTITIONS: raw }).createTopicsPartitions).toBe(value);
  });

  it.each(['0', '10001', 'six', '1.5', '-3', 'auto'])('refuses CREATE_TOPICS_PARTITIONS=%j with its range', (raw) => {
    expect(problemsOf({ CREATE_TOPICS_PARTITIONS: raw })).toEqual([
      `CREATE_TOPICS_PARTITIONS: expected an integer from 1 to 10000, got ${JSON.stringify(raw)}`,
    ]);
  });

  it.each([
    ['auto', 'auto'],
    ['1', 1],
    ['3', 3],
    ['32767', 32_767],
  ])('accepts CREATE_TOPICS_REPLICATION=%j', (raw, value) => {
    expect(loadConfig({ ...BROKERS, CREATE_TOPICS_REPLICATION: raw }).createTopicsReplication).toBe(value);
  });

  it.each(['0', '-1', '32768', 'three', 'default'])('refuses CREATE_TOPICS_REPLICATION=%j, naming auto and the range', (raw) => {
    expect(problemsOf({ CREATE_TOPICS_REPLICATION: raw })).toEqual([
      `CREATE_TOPICS_REPLICATION: expected auto or an integer from 1 to 32767, got ${JSON.stringify(raw)}`,
    ]);
  });

  it('reports every bad topic setting at once', () => {
    expect(problemsOf({ CREATE_TOPICS: 'maybe', CREATE_TOPICS_PARTITIONS: '0', CREATE_TOPICS_REPLICATION: 'x' })).toEqual([
      'CREATE_TOPICS: expected true or false, got "maybe"',
      'CREATE_TOPICS_PARTITIONS: expected an integer from 1 to 10000, got "0"',
      'CREATE_TOPICS_REPLICATION: expected auto or an integer from 1 to 32767, got "x"',
    ]);
  });

  it('gives the start-up check the three topics with what each is used for, and how to create them', () => {
    const config = loadConfig({
      ...BROKERS,
      INPUT_TOPIC: 'in',
      OUTPUT_TOPIC: 'out',
      DLQ_TOPIC: 'dlq',
      GROUP_ID: 'g',
      CREATE_TOPICS: 'true',
      CREATE_TOPICS_PARTITIONS: '3',
      CREATE_TOPICS_REPLICATION: '2',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'geowindow',
      KAFKA_SASL_PASSWORD: 'not-a-real-secret',
    });
    expect(topicPlan(config)).toEqual({
      roles: [
        { variable: 'INPUT_TOPIC', topic: 'in', use: 'read' },
        { variable: 'OUTPUT_TOPIC', topic: 'out', use: 'write' },
        { variable: 'DLQ_TOPIC', topic: 'dlq', use: 'write' },
      ],
      groupId: 'g',
      saslUsername: 'geowindow',
      create: true,
      partitions: 3,
      replication: 2,
    });
  });
});
