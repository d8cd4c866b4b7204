import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SASL_PASSWORD, SASL_USER } from '../support/broker.js';
import { runCli, type CliResult, type ServiceProcess } from '../support/cli.js';
import { waitFor } from '../support/kafka.js';
import { reconcile } from '../support/reconcile.js';
import {
  produceFleet,
  readScenario,
  scenarioTopics,
  serviceErrors,
  startService,
  waitForCommittedEnd,
  type ScenarioTopics,
} from '../support/scenario.js';

const GOOD = 3000;
const BAD = 30;
const KEY_PASSWORD = 'test-key-passphrase';
const TLS = new URL('../fixtures/tls/', import.meta.url).pathname;

/** Every place a secret could show: the service's log lines, its stderr, and anything else given. */
function everything(service: ServiceProcess, ...more: string[]): string {
  return [...service.logs.map((line) => JSON.stringify(line)), service.stderr, ...more].join('\n');
}

function expectNoSecret(text: string, secrets: readonly string[]): void {
  for (const secret of secrets) {
    expect(text.includes(secret), `a secret appears in: ${text.slice(Math.max(0, text.indexOf(secret) - 300), text.indexOf(secret) + 300)}`).toBe(false);
  }
}

async function exitWithin(service: ServiceProcess, ms: number): Promise<number | null> {
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
  const result = await Promise.race([service.exited, timeout]);
  if (result === 'timeout') {
    await service.stop('SIGKILL');
    throw new Error(`the service did not exit within ${ms} ms; logs: ${everything(service).slice(-3000)}`);
  }
  return result;
}

describe('TLS and SASL against a real broker', () => {
  const brokers = inject('kafkaBrokers');
  const saslBrokers = inject('kafkaSaslBrokers');
  const dir = mkdtempSync(join(tmpdir(), 'geowindow-security-'));
  const passwordFile = join(dir, 'sasl-password');
  /** The service and the fleet through SCRAM-SHA-512, the password from a file as a mounted secret would give it. */
  let saslEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    writeFileSync(passwordFile, `${SASL_PASSWORD}\n`);
    saslEnv = {
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: SASL_USER,
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
    };
    // Fail fast, and say why, when the broker predates the SASL listener.
    const admin = new Kafka({
      brokers: saslBrokers.split(','),
      clientId: 'geowindow-test',
      logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'scram-sha-512', username: SASL_USER, password: SASL_PASSWORD },
      retry: { retries: 2 },
    }).admin();
    try {
      await waitFor('the SASL listener', async () => (await admin.connect(), true), 30_000);
    } catch (error) {
      throw new Error(
        `no SASL listener answering at ${saslBrokers} for ${SASL_USER} (${String(error)}). A broker started by an older ` +
          'scripts/kafka.sh has none: npm run kafka:down && npm run kafka:up; or set KAFKA_SASL_BROKERS.',
      );
    } finally {
      await admin.disconnect();
    }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('the broker takes the test user with %s', async (mechanism) => {
    const admin = new Kafka({
      brokers: saslBrokers.split(','),
      clientId: 'geowindow-test',
      logLevel: logLevel.NOTHING,
      sasl: { mechanism, username: SASL_USER, password: SASL_PASSWORD } as SASLOptions,
    }).admin();
    await admin.connect();
    try {
      expect(Array.isArray(await admin.listTopics())).toBe(true);
    } finally {
      await admin.disconnect();
    }
  });

  describe('with the right password (SCRAM-SHA-512)', () => {
    let topics: ScenarioTopics;
    let service: ServiceProcess;
    let exitCode: number | null;
    let metricsText: string;
    const produced: CliResult[] = [];

    beforeAll(async () => {
      // Topics are made and read back over the PLAINTEXT listener of the same broker.
      topics = await scenarioTopics(brokers, 3);
      await produceFleet(saslBrokers, topics.in, { good: GOOD, bad: BAD, devices: 60 }, saslEnv);
      // A separate produce run, kept to look into its output (produceFleet checks its own).
      produced.push(
        await runCli(['produce', '--topic', topics.in, '--count', '1', '--rate', '0', '--seed', '9'], {
          KAFKA_BROKERS: saslBrokers,
          ...saslEnv,
        }),
      );
      service = await startService(saslBrokers, topics, { ...saslEnv, LOG_LEVEL: 'debug', CHUNK_SIZE: '500' });
      await waitForCommittedEnd(brokers, topics, service);
      metricsText = await service.metrics();
      exitCode = await service.stop('SIGTERM');
    });

    afterAll(async () => {
      await service?.stop('SIGKILL');
    });

    it('consumes, aggregates and commits everything, reconciled exactly', async () => {
      expect(exitCode).toBe(0);
      expect(serviceErrors(service)).toEqual([]);
      expect(produced[0]!.code, produced[0]!.stderr).toBe(0);
      const { inputs, outputs, deadLetters } = await readScenario(brokers, topics);
      expect(inputs).toHaveLength(GOOD + BAD + 1);
      const result = reconcile(topics.in, inputs, outputs, deadLetters);
      expect(result.aggregated).toBe(GOOD + 1);
      expect([...result.deadLettered.values()].reduce((a, b) => a + b, 0)).toBe(BAD);
      expect(result.duplicates).toBe(0);
    });

    it('shows the password nowhere: not in the logs (at debug), not in /metrics, not in produce\'s output', () => {
      expect(service.logs.some((line) => line.msg === 'joined the consumer group')).toBe(true);
      const text = everything(service, metricsText, produced[0]!.stdout, produced[0]!.stderr);
      expectNoSecret(text, [SASL_PASSWORD]);
      // Nothing even tried to log it: the last-resort mask never had to act.
      expect(text).not.toContain('***');
    });
  });

  it('does not start with a wrong password, exits non-zero, and never prints the password', async () => {
    const wrong = 'Wrong-Passw0rd-for-geowindow';
    const topics = await scenarioTopics(brokers, 1);
    const service = await startService(saslBrokers, topics, {
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: SASL_USER,
      KAFKA_SASL_PASSWORD: wrong,
      LOG_LEVEL: 'debug',
    });
    const code = await exitWithin(service, 90_000);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const failure = service.logs.find((line) => line.msg === 'could not start');
    expect(failure, everything(service)).toBeDefined();
    expect(JSON.stringify(failure)).toMatch(/SASL|[Aa]uthentication/);
    expectNoSecret(everything(service), [wrong, SASL_PASSWORD]);
    // produce, too, fails without printing it.
    const produce = await runCli(['produce', '--topic', topics.in, '--count', '1'], {
      KAFKA_BROKERS: saslBrokers,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: SASL_USER,
      KAFKA_SASL_PASSWORD: wrong,
    });
    expect(produce.code).not.toBe(0);
    expectNoSecret(`${produce.stdout}\n${produce.stderr}`, [wrong]);
  });

  it('keeps a TLS key password and the key out of the logs when TLS fails', async () => {
    // The SASL listener speaks no TLS, so the handshake fails after the key was decrypted
    // and handed to the client: every kafkajs connection error is logged on the way out.
    const topics = await scenarioTopics(brokers, 1);
    const service = await startService(saslBrokers, topics, {
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: `${TLS}ca-cert.pem`,
      KAFKA_SSL_CERT_FILE: `${TLS}client-cert.pem`,
      KAFKA_SSL_KEY_FILE: `${TLS}client-key-encrypted.pem`,
      KAFKA_SSL_KEY_PASSWORD: KEY_PASSWORD,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: SASL_USER,
      KAFKA_SASL_PASSWORD: SASL_PASSWORD,
      LOG_LEVEL: 'debug',
    });
    const code = await exitWithin(service, 150_000);
    expect(code).toBe(1);
    expect(service.logs.some((line) => line.msg === 'could not start')).toBe(true);
    expectNoSecret(everything(service), [KEY_PASSWORD, SASL_PASSWORD, 'ENCRYPTED PRIVATE KEY']);
  });
});
