import { createServer } from 'node:net';
import { GenericContainer, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';

/** Same version as scripts/kafka.sh and docker-compose.yml. */
export const KAFKA_IMAGE = 'apache/kafka:4.1.1';

export interface Broker {
  readonly brokers: string;
  stop(): Promise<void>;
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * The broker the integration tests use: KAFKA_BROKERS when set (CI and the
 * local script), else a fresh single-node KRaft broker in Docker.
 */
export async function startBroker(env: NodeJS.ProcessEnv = process.env): Promise<Broker> {
  const configured = env.KAFKA_BROKERS?.trim();
  if (configured) return { brokers: configured, stop: async () => undefined };
  if (!(await dockerAnswers())) throw new Error(NO_BROKER_MESSAGE);
  // The advertised address must be the one the tests dial, so the host port is fixed before start.
  const port = await freePort();
  const host = env.TESTCONTAINERS_HOST_OVERRIDE ?? 'localhost';
  const container: StartedTestContainer = await new GenericContainer(KAFKA_IMAGE)
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
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
  return { brokers: `${host}:${port}`, stop: async () => void (await container.stop()) };
}
