import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../src/net/free-port.js';

const KAFKA_SH = fileURLToPath(new URL('../../../scripts/kafka.sh', import.meta.url));
/** Smaller heaps than the shared broker's: these brokers hold one case's topics. */
const CONTROLLER_HEAP = '-Xms128m -Xmx512m';
const FOLLOWER_HEAP = '-Xms64m -Xmx256m';
/** The broker that is the cluster's controller and leads every partition. */
export const LEADER_ID = 1;
/** The broker that is registered once and then stays down: a replica on it is never in sync. */
export const FOLLOWER_ID = 2;

/** One `bash scripts/kafka.sh <command>` with this node's environment; rejects with its output on failure. */
function kafkaSh(command: 'up' | 'down', env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [KAFKA_SH, command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    child.stderr.on('data', (data: Buffer) => (output += data.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`kafka.sh ${command} exited with ${code}:\n${output}`))));
  });
}

/** A Kafka cluster id: 16 random bytes, base64url, not starting with '-' (as scripts/kafka.sh makes them). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * A Kafka cluster of the fault cases' own, apart from the shared broker:
 * broker 1 (controller too) on free ports in its own directory, which a case
 * may stop and start again with its data; and broker 2, started once so it is
 * registered, then stopped for good, so a topic can have a replica on it that
 * is never in sync. Both are scripts/kafka.sh instances (KAFKA_RUN_DIR and
 * ports of their own; `down` stops only its own).
 */
export class FaultCluster {
  readonly brokers: string;
  readonly #dir: string;
  readonly #leader: NodeJS.ProcessEnv;
  readonly #follower: NodeJS.ProcessEnv;

  private constructor(dir: string, ports: number[], id: string) {
    const [port, saslPort, controllerPort, followerPort, followerSaslPort] = ports.map(String);
    this.#dir = dir;
    this.brokers = `127.0.0.1:${port}`;
    this.#leader = {
      KAFKA_RUN_DIR: join(dir, 'broker-1'),
      KAFKA_PORT: port,
      KAFKA_SASL_PORT: saslPort,
      KAFKA_CONTROLLER_PORT: controllerPort,
      KAFKA_NODE_ID: String(LEADER_ID),
      KAFKA_CLUSTER_ID: id,
      KAFKA_HEAP_OPTS: CONTROLLER_HEAP,
    };
    this.#follower = {
      KAFKA_RUN_DIR: join(dir, 'broker-2'),
      KAFKA_PORT: followerPort,
      KAFKA_SASL_PORT: followerSaslPort,
      KAFKA_NODE_ID: String(FOLLOWER_ID),
      KAFKA_JOIN_CONTROLLER: `127.0.0.1:${controllerPort}`,
      KAFKA_CLUSTER_ID: id,
      KAFKA_HEAP_OPTS: FOLLOWER_HEAP,
    };
  }

  /** Starts both brokers together, then stops broker 2. */
  static async start(): Promise<FaultCluster> {
    const ports: number[] = [];
    while (ports.length < 5) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const cluster = new FaultCluster(mkdtempSync(join(tmpdir(), 'gw-fault-cluster-')), ports, clusterId());
    try {
      await Promise.all([kafkaSh('up', cluster.#leader), kafkaSh('up', cluster.#follower)]);
      await kafkaSh('down', cluster.#follower);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  /** Stops broker 1 (SIGTERM, a controlled shutdown): the cluster is down. */
  stopBroker(): Promise<void> {
    return kafkaSh('down', this.#leader);
  }

  /** Starts broker 1 again on its data (topics, offsets and groups kept); resolves once it serves requests. */
  startBroker(): Promise<void> {
    return kafkaSh('up', { ...this.#leader, KAFKA_KEEP_DATA: 'true' });
  }

  /** Stops both brokers and removes their directories. */
  async destroy(): Promise<void> {
    await Promise.allSettled([kafkaSh('down', this.#leader), kafkaSh('down', this.#follower)]);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
