import { freePort } from '../../src/net/free-port.js';
import { GenericContainer, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';

/** Same version as scripts/kafka.sh and docker-compose.yml. */
export const KAFKA_IMAGE = 'apache/kafka:4.1.1';

export interface Broker {
  readonly brokers: string;
  /** The same broker's SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; user SASL_USER). */
  readonly saslBrokers: string;
  stop(): Promise<void>;
}

/** The SASL user of scripts/kafka.sh and of the container below; test credentials only. */
export const SASL_USER = 'geowindow';
export const SASL_PASSWORD = 'geowindow-secret';

/** The SASL listener's settings. Values with `=` cannot be passed as environment variables to apache/kafka (its renderer drops them), so they go in a file. */
const SASL_LISTENER_PROPERTIES = [
  'listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
  `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER}="${SASL_PASSWORD}";`,
  'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
  'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
  '',
].join('\n');

/**
 * Where the SASL listener of a broker given by KAFKA_BROKERS is: KAFKA_SASL_BROKERS,
 * else the first broker's host on KAFKA_SASL_PORT (9094), as scripts/kafka.sh runs it.
 */
export function saslBrokersFor(brokers: string, env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.KAFKA_SASL_BROKERS?.trim();
  if (configured) return configured;
  const first = brokers.split(',')[0]!.trim();
  const host = first.slice(0, first.lastIndexOf(':'));
  return `${host}:${env.KAFKA_SASL_PORT?.trim() || '9094'}`;
}

export const NO_BROKER_MESSAGE =
  'No Kafka broker for the integration tests. Either start one and point the tests at it ' +
  '(npm run kafka:up, then KAFKA_BROKERS=127.0.0.1:9092 npm test), or run a Docker engine so that ' +
  `testcontainers can start ${KAFKA_IMAGE}.`;

async function dockerAnswers(): Promise<boolean> {
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}


/**
 * The broker the integration tests use: KAFKA_BROKERS when set (CI and the
 * local script), else a fresh single-node KRaft broker in Docker.
 */
export async function startBroker(env: NodeJS.ProcessEnv = process.env): Promise<Broker> {
  const configured = env.KAFKA_BROKERS?.trim();
  if (configured) return { brokers: configured, saslBrokers: saslBrokersFor(configured, env), stop: async () => undefined };
  if (!(await dockerAnswers())) throw new Error(NO_BROKER_MESSAGE);
  // The advertised address must be the one the tests dial, so the host port is fixed before start.
  const port = await freePort();
  const saslPort = await freePort();
  const host = env.TESTCONTAINERS_HOST_OVERRIDE ?? 'localhost';
  const container: StartedTestContainer = await new GenericContainer(KAFKA_IMAGE)
    .withExposedPorts({ container: 9092, host: port }, { container: 9094, host: saslPort })
    // The image appends the environment's settings to a server.properties found here
    // (copied, then appended to: it must stay writable by its owner).
    .withCopyContentToContainer([{ content: SASL_LISTENER_PROPERTIES, target: '/mnt/shared/config/server.properties', mode: 0o644 }])
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      // INTERNAL is for the admin tool run inside the container below, which cannot reach the host's ports.
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,SASL_PLAINTEXT://:9094,INTERNAL://:19092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port},SASL_PLAINTEXT://${host}:${saslPort},INTERNAL://localhost:19092`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT',
      // The image's start script insists on KAFKA_OPTS once a SASL listener is advertised;
      // the JAAS settings are per listener (above), so it carries nothing.
      KAFKA_OPTS: '-Dgeowindow.sasl=listener-jaas',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(120_000)
    .start();
  // SCRAM users live in the cluster metadata. The image formats storage itself, with
  // no way to add them then, so they are added now through the INTERNAL listener
  // (the controller quorum does not take this admin request; one mechanism per request).
  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    const result = await container.exec([
      '/opt/kafka/bin/kafka-configs.sh',
      '--bootstrap-server',
      'localhost:19092',
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      SASL_USER,
      '--add-config',
      `${mechanism}=[password=${SASL_PASSWORD}]`,
    ]);
    if (result.exitCode !== 0) {
      await container.stop();
      throw new Error(`could not create the ${mechanism} user in ${KAFKA_IMAGE}: ${result.output}`);
    }
  }
  return { brokers: `${host}:${port}`, saslBrokers: `${host}:${saslPort}`, stop: async () => void (await container.stop()) };
}
