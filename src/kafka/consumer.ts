import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { EndOffsets, OffsetCommitter } from '../pipeline/ports.js';
import type { RecordBatch, TopicPartitionOffset } from '../pipeline/records.js';
import { kafkaErrorType, TOPIC_MISSING } from './protocol-errors.js';
import { whilePassing } from './transient.js';

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topic: string;
  readonly startFrom: 'earliest' | 'latest';
  /** Bytes of one fetch response, all partitions together. */
  readonly maxBytes: number;
  readonly maxBytesPerPartition: number;
  /** How long the group waits for a silent member (a killed process) before giving its partitions to others. */
  readonly sessionTimeoutMs: number;
}

/** kafkajs's heartbeat interval, or a third of the session timeout when that is shorter, as Kafka advises. */
const HEARTBEAT_INTERVAL_MS = 3000;

/**
 * How long the broker may hold a fetch open waiting for records; short so
 * that pausing and stopping take effect quickly.
 */
const MAX_FETCH_WAIT_MS = 500;
/**
 * Longest time without a response from the brokers that still counts as
 * connected (for /readyz): fetches are answered every MAX_FETCH_WAIT_MS, and
 * heartbeats every 3 s even while paused or while a batch waits. The consumer
 * crashes (and is no longer joined) only once the client's retries are spent,
 * half a minute or more after a broker went away.
 */
const CONNECTED_WITHIN_MS = 10_000;

/** Retries of one consumer request: kafkajs's default for consumers, which passing restartOnFailure would drop. */
const CONSUMER_RETRIES = 5;

/**
 * Restarts in a row, with no join in between, while the input topic does not
 * exist (deleted while running) before the consumer gives up and crashes.
 * kafkajs would restart it every 200 ms for ever; a topic that only seemed
 * missing (metadata still spreading after its creation) is back long before.
 */
export const MAX_TOPIC_RESTARTS = 5;

export interface ConsumerHandlers {
  /** Handles one partition's batch; records not marked read are fetched again. */
  handleBatch(batch: RecordBatch): Promise<void>;
  /** The group was (re)joined: every assigned partition is read again from its committed offset. */
  onJoin(assigned: readonly number[]): void;
  /** The client gave up and will not restart. */
  onCrash(error: unknown): void;
}

/**
 * The input side of the Kafka adapter: a group member that hands batches to
 * the pipeline and commits only the offsets the pipeline names. Nothing is
 * committed automatically.
 */
export class InputConsumer implements OffsetCommitter, EndOffsets {
  readonly #consumer: Consumer;
  readonly #kafka: Kafka;
  readonly #options: ConsumerOptions;
  /** For committed metadata and end offsets; connected on first use. */
  #admin: Promise<Admin> | undefined;
  #joined = false;
  #paused = false;
  /** When a request of this consumer last got a response (Date.now()). */
  #lastResponseAt = 0;
  /** When the current run of responses began: the first one after CONNECTED_WITHIN_MS without any. */
  #connectedSince = 0;
  /** Restarts in a row for a missing input topic since the last join. */
  #topicRestarts = 0;

  constructor(kafka: Kafka, options: ConsumerOptions) {
    this.#options = options;
    this.#kafka = kafka;
    this.#consumer = kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      maxBytes: options.maxBytes,
      maxBytesPerPartition: options.maxBytesPerPartition,
      maxWaitTimeInMs: MAX_FETCH_WAIT_MS,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.min(HEARTBEAT_INTERVAL_MS, Math.floor(options.sessionTimeoutMs / 3)),
      retry: { retries: CONSUMER_RETRIES, restartOnFailure: (error) => Promise.resolve(this.#mayRestart(error)) },
    });
  }

  /** kafkajs restarts the consumer after a retriable crash if this says so; a missing input topic only a few times. */
  #mayRestart(error: Error): boolean {
    if (kafkaErrorType(error) !== TOPIC_MISSING) return true;
    this.#topicRestarts++;
    return this.#topicRestarts <= MAX_TOPIC_RESTARTS;
  }

  /** True once the consumer has joined its group and holds an assignment. */
  get joined(): boolean {
    return this.#joined;
  }

  /** True while the brokers answer: a response came within CONNECTED_WITHIN_MS. */
  get connected(): boolean {
    return Date.now() - this.#lastResponseAt <= CONNECTED_WITHIN_MS;
  }

  /** How long the brokers have answered without a gap; 0 while they do not. */
  get connectedForMs(): number {
    return this.connected ? Date.now() - this.#connectedSince : 0;
  }

  async start(handlers: ConsumerHandlers): Promise<void> {
    const consumer = this.#consumer;
    const { topic } = this.#options;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.#joined = true;
      this.#topicRestarts = 0;
      handlers.onJoin(payload.memberAssignment[topic] ?? []);
      // A pause holds across a rebalance: the new assignment is paused too.
      if (this.#paused) this.pauseAll();
    });
    consumer.on(consumer.events.REQUEST, () => {
      const now = Date.now();
      if (now - this.#lastResponseAt > CONNECTED_WITHIN_MS) this.#connectedSince = now;
      this.#lastResponseAt = now;
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.#joined = false;
      if (!payload.restart) handlers.onCrash(payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: this.#options.startFrom === 'earliest' });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: ({ batch, heartbeat, isRunning, isStale, resolveOffset }) =>
        handlers.handleBatch({
          topic: batch.topic,
          partition: batch.partition,
          records: batch.messages,
          highWatermark: batch.highWatermark,
          heartbeat,
          isActive: () => isRunning() && !isStale(),
          markRead: resolveOffset,
        }),
    });
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    await this.#consumer.commitOffsets(
      offsets.map(({ topic, partition, offset, metadata }) => ({ topic, partition, offset: String(offset), metadata: metadata ?? null })),
    );
  }

  async committedOffset(topic: string, partition: number): Promise<number | undefined> {
    const committed = await this.#committed(topic, partition);
    const offset = Number(committed?.offset ?? -1);
    return offset >= 0 ? offset : undefined;
  }

  async committedMetadata(topic: string, partition: number): Promise<string | null> {
    return (await this.#committed(topic, partition))?.metadata ?? null;
  }

  /**
   * The group's committed offset and metadata of a partition. Read inside a
   * batch, right after a broker came back: the group coordinator may not be
   * there yet, which kafkajs reports as final, so it is asked again while
   * the reason passes (transient.ts) instead of crashing the consumer.
   */
  async #committed(topic: string, partition: number): Promise<{ offset: string; metadata: string | null } | undefined> {
    const [offsets] = await whilePassing(async () => {
      const admin = await this.#connectedAdmin();
      return admin.fetchOffsets({ groupId: this.#options.groupId, topics: [topic] });
    });
    return offsets?.partitions.find((p) => p.partition === partition);
  }

  async endOffsets(topic: string): Promise<Map<number, number>> {
    const admin = await this.#connectedAdmin();
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  }

  #connectedAdmin(): Promise<Admin> {
    if (this.#admin === undefined) {
      const admin = this.#kafka.admin();
      this.#admin = admin.connect().then(
        () => admin,
        (error: unknown) => {
          this.#admin = undefined;
          throw error;
        },
      );
    }
    return this.#admin;
  }

  /** Stops fetching every partition of the input topic; a batch in progress runs on. */
  pauseAll(): void {
    this.#paused = true;
    if (this.#joined) this.#consumer.pause([{ topic: this.#options.topic }]);
  }

  resumeAll(): void {
    this.#paused = false;
    if (this.#joined) this.#consumer.resume([{ topic: this.#options.topic }]);
  }

  /** Leaves the group and closes the connections. */
  async disconnect(): Promise<void> {
    this.#joined = false;
    const admin = this.#admin;
    this.#admin = undefined;
    await Promise.all([this.#consumer.disconnect(), admin?.then((a) => a.disconnect(), () => undefined)]);
  }
}
