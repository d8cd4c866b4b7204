import type * as os from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ConfigErrors } from '../../src/errors.js';

const BROKERS = { KAFKA_BROKERS: 'localhost:9092' };

/** The problems loadConfig reports for `env`, as `variable: message` pairs. */
function problemsOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigErrors);
    const errors = error as ConfigErrors;
    expect(errors.code).toBe('GW_CONFIG_INVALID');
    for (const problem of errors.problems) {
      expect(problem.code).toBe('GW_CONFIG_INVALID');
      // The summary message lists every problem.
      expect(errors.message).toContain(problem.message);
    }
    return errors.problems.map((p) => ({ variable: p.variable, message: p.message }));
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('loadConfig', () => {
  it('fills every other setting with its default when only KAFKA_BROKERS is set', () => {
    const config = loadConfig({ KAFKA_BROKERS: 'kafka-0:9092, kafka-1:9093' });
    const { workers, ...rest } = config;
    expect(rest).toEqual({
      brokers: ['kafka-0:9092', 'kafka-1:9093'],
      clientId: 'geowindow',
      ssl: false,
      sslCaFile: undefined,
      sslCertFile: undefined,
      sslKeyFile: undefined,
      sslKeyPassword: undefined,
      sslKeyPasswordFile: undefined,
      sslRejectUnauthorized: true,
      saslMechanism: undefined,
      saslUsername: undefined,
      saslPassword: undefined,
      saslPasswordFile: undefined,
      inputTopic: 'sensor-readings',
      outputTopic: 'sensor-aggregates',
      dlqTopic: 'sensor-readings.dlq',
      createTopics: false,
      createTopicsPartitions: 6,
      createTopicsReplication: 'auto',
      groupId: 'geowindow',
      exactlyOnce: false,
      transactionalIdPrefix: 'auto',
      startFrom: 'earliest',
      chunkSize: 'auto',
      chunkPoolSize: 'auto',
      readingColumns: 16,
      windowIdleMs: 5000,
      window: 'count',
      windowSize: 60_000,
      windowAdvance: undefined,
      windowGrace: 0,
      idlePartitionMs: 30_000,
      keyBy: ['partition'],
      zonesFile: undefined,
      zoneIdProperty: 'id',
      zoneUnmatched: 'drop',
      h3Resolution: 7,
      lateRecords: 'dead-letter',
      outputSchema: undefined,
      windowMaxOpen: 64,
      windowMaxKeys: 50_000,
      trackMaxPoints: 5000,
      maxMessageBytes: 65536,
      sessionTimeoutMs: 30000,
      commitIntervalMs: 1000,
      shutdownGraceMs: 20000,
      memoryLimitMb: 'auto',
      memoryHighWater: 0.85,
      memoryLowWater: 0.7,
      memorySampleMs: 250,
      memoryStuckMs: 30000,
      metricsPort: 9464,
      metricsHost: '0.0.0.0',
      logLevel: 'info',
      testOomDevice: undefined,
      testHoldMb: 0,
    });
    expect(Number.isInteger(workers)).toBe(true);
    expect(workers).toBeGreaterThanOrEqual(1);
    expect(workers).toBeLessThanOrEqual(4);
  });

  it('reads only the env object it is given', () => {
    vi.stubEnv('CHUNK_SIZE', 'not a number');
    try {
      expect(loadConfig({ ...BROKERS }).chunkSize).toBe('auto');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('takes explicit values, trimmed', () => {
    const config = loadConfig({
      ...BROKERS,
      CHUNK_SIZE: ' 500 ',
      START_FROM: 'latest',
      LOG_LEVEL: 'debug',
      INPUT_TOPIC: 'in.topic_1',
      WORKERS: '2',
      CHUNK_POOL_SIZE: '3',
    });
    expect(config).toMatchObject({
      chunkSize: 500,
      startFrom: 'latest',
      logLevel: 'debug',
      inputTopic: 'in.topic_1',
      workers: 2,
      chunkPoolSize: 3,
    });
  });

  it('treats an empty or blank value as unset', () => {
    expect(loadConfig({ ...BROKERS, CHUNK_SIZE: '', LOG_LEVEL: '   ' })).toMatchObject({ chunkSize: 'auto', logLevel: 'info' });
  });

  it('names KAFKA_BROKERS when it is missing', () => {
    const envs: Record<string, string>[] = [{}, { KAFKA_BROKERS: '' }, { KAFKA_BROKERS: '  ' }];
    for (const env of envs) {
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]!.variable).toBe('KAFKA_BROKERS');
      expect(problems[0]!.message).toMatch(/^KAFKA_BROKERS: is required/);
    }
  });

  it.each([
    ['CHUNK_SIZE', '0', /auto or an integer from 1 to 1000000/],
    ['CHUNK_SIZE', 'abc', /integer from 1 to 1000000/],
    ['CHUNK_SIZE', '1e3', /integer from 1 to 1000000/],
    ['WORKERS', '1.5', /integer from 1 to 256/],
    ['START_FROM', 'middle', /one of earliest, latest/],
    ['METRICS_PORT', '70000', /integer from 0 to 65535/],
    ['LOG_LEVEL', 'loud', /one of fatal, error, warn, info, debug, trace, silent/],
    ['KAFKA_BROKERS', 'nohost', /comma-separated list of host:port/],
    ['KAFKA_BROKERS', 'a:9092,b:0', /comma-separated list of host:port/],
    ['INPUT_TOPIC', 'sensor readings', /Kafka topic name \(1-249 characters of A-Z a-z 0-9 \. _ -\)/],
    ['OUTPUT_TOPIC', '..', /Kafka topic name/],
  ])('refuses %s=%j, naming the variable, the accepted values and the bad value', (variable, value, accepted) => {
    const problems = problemsOf({ ...BROKERS, [variable]: value });
    expect(problems).toHaveLength(1);
    const [problem] = problems;
    expect(problem!.variable).toBe(variable);
    expect(problem!.message.startsWith(`${variable}: `)).toBe(true);
    expect(problem!.message).toMatch(accepted);
    // The bad value is quoted back (the broker list names the bad entry).
    const quoted = variable === 'KAFKA_BROKERS' ? value.split(',').at(-1)! : value;
    expect(problem!.message).toContain(JSON.stringify(quoted));
  });

  it('reports every bad value at once', () => {
    const problems = problemsOf({
      CHUNK_SIZE: '0',
      WORKERS: '1.5',
      START_FROM: 'middle',
      METRICS_PORT: '70000',
      LOG_LEVEL: 'loud',
      INPUT_TOPIC: 'a b',
    });
    expect(problems.map((p) => p.variable).sort()).toEqual(
      ['CHUNK_SIZE', 'INPUT_TOPIC', 'KAFKA_BROKERS', 'LOG_LEVEL', 'METRICS_PORT', 'START_FROM', 'WORKERS'].sort(),
    );
  });

  it('refuses a CHUNK_POOL_SIZE smaller than WORKERS + 1', () => {
    const problems = problemsOf({ ...BROKERS, WORKERS: '4', CHUNK_POOL_SIZE: '4' });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.variable).toBe('CHUNK_POOL_SIZE');
    expect(problems[0]!.message).toContain('WORKERS + 1 (5)');
    expect(problems[0]!.message).toContain('got 4');
    // One more is enough.
    expect(loadConfig({ ...BROKERS, WORKERS: '4', CHUNK_POOL_SIZE: '5' }).chunkPoolSize).toBe(5);
  });

  it('refuses an INPUT_TOPIC equal to OUTPUT_TOPIC', () => {
    const problems = problemsOf({ ...BROKERS, INPUT_TOPIC: 'same', OUTPUT_TOPIC: 'same' });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.variable).toBe('OUTPUT_TOPIC');
    expect(problems[0]!.message).toContain('must differ from INPUT_TOPIC');
  });

  it('refuses a DLQ_TOPIC equal to the input (a dead letter would be read again)', () => {
    const problems = problemsOf({ ...BROKERS, DLQ_TOPIC: 'sensor-readings' });
    expect(problems.map((p) => p.variable)).toEqual(['DLQ_TOPIC']);
    expect(problems[0]!.message).toContain('must differ from INPUT_TOPIC');
  });

  it('compares topics after trimming', () => {
    const problems = problemsOf({ ...BROKERS, INPUT_TOPIC: 'same', OUTPUT_TOPIC: ' same ' });
    expect(problems.map((p) => p.variable)).toEqual(['OUTPUT_TOPIC']);
  });

  it('returns a frozen config, brokers included', () => {
    const config = loadConfig({ ...BROKERS });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.brokers)).toBe(true);
    expect(() => {
      (config as { chunkSize: number }).chunkSize = 1;
    }).toThrow(TypeError);
    expect(() => (config.brokers as string[]).push('evil:1')).toThrow(TypeError);
    expect(config.chunkSize).toBe('auto');
  });
});

describe('default WORKERS', () => {
  afterEach(() => {
    vi.doUnmock('node:os');
    vi.resetModules();
  });

  // One core is left to the consumer's main thread, and no more than 4 workers by default.
  it.each([
    [1, 1],
    [2, 1],
    [3, 2],
    [5, 4],
    [64, 4],
  ])('is %d cores -> %d workers', async (cores, expected) => {
    vi.resetModules();
    vi.doMock('node:os', async (importOriginal) => ({
      ...(await importOriginal<typeof os>()),
      availableParallelism: () => cores,
    }));
    const { loadConfig: load } = await import('../../src/config/config.js');
    expect(load({ ...BROKERS }).workers).toBe(expected);
  });
});
