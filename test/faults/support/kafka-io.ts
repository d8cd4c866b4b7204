import { randomUUID } from 'node:crypto';
import { ConfigResourceTypes } from 'kafkajs';
import { kafkaFor, waitFor } from '../../support/kafka.js';
import type { ScenarioTopics } from '../../support/scenario.js';


/** How long new topics may take to have a leader on every partition. */
const LEADERS_TIMEOUT_MS = 30_000;
/** Partitions of every input topic of the suite: enough for three instances to share. */
export const INPUT_PARTITIONS = 6;


/** A committed offset and the metadata committed with it (the event-time checkpoint). */
export interface Committed {
  readonly offset: number;
  readonly metadata: string | null;
}

/** The group's committed offsets of a topic, with their metadata; partitions without a commit are left out. */
export async function committedWithMetadata(brokers: string, groupId: string, topic: string): Promise<Map<number, Committed>> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = new Map<number, Committed>();
    for (const p of result?.partitions ?? []) {
      if (Number(p.offset) >= 0) committed.set(p.partition, { offset: Number(p.offset), metadata: p.metadata ?? null });
    }
    return committed;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Fresh input (INPUT_PARTITIONS), output (3) and dead-letter (1) topics and a
 * group id for one case, named after `label` and unique. `outputReplicas` places every output partition on
 * those brokers (the first leads); otherwise the broker places all of them.
 */
export async function faultTopics(brokers: string, label: string, outputReplicas?: readonly number[]): Promise<ScenarioTopics> {
  const run = `gw-fault-${label}-${randomUUID().slice(0, 8)}`;
  const topics: ScenarioTopics = { in: `${run}-in`, out: `${run}-out`, dlq: `${run}-dlq`, group: `${run}-group` };
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    const output = outputReplicas === undefined
      ? { topic: topics.out, numPartitions: 3, replicationFactor: 1 }
      : { topic: topics.out, replicaAssignment: [0, 1, 2].map((partition) => ({ partition, replicas: [...outputReplicas] })) };
    await admin.createTopics({
      // kafkajs waits only through LEADER_NOT_AVAILABLE; a broker whose metadata lags a moment answers UNKNOWN_TOPIC_OR_PARTITION.
      waitForLeaders: false,
      topics: [
        { topic: topics.in, numPartitions: INPUT_PARTITIONS, replicationFactor: 1 },
        output,
        { topic: topics.dlq, numPartitions: 1, replicationFactor: 1 },
      ],
    });
    const names = [topics.in, topics.out, topics.dlq];
    await waitFor(`leaders of ${names.join(', ')}`, async () => {
      const { topics: described } = await admin.fetchTopicMetadata({ topics: names });
      return described.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)) ? true : undefined;
    }, LEADERS_TIMEOUT_MS, undefined, 100);
  } finally {
    await admin.disconnect();
  }
  return topics;
}

/** Deletes a case's topics (cleanup; a broker that is gone by now is not an error). */
export async function deleteTopics(brokers: string, topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = kafkaFor(brokers).admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics: [...topics] });
  } catch {
    // Cleanup only.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Sets a topic's min.insync.replicas. */
export async function setMinInsyncReplicas(brokers: string, topic: string, value: number): Promise<void> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'min.insync.replicas', value: String(value) }] }],
    });
  } finally {
    await admin.disconnect();
  }
}
