import type { Kafka, Message, Producer, TopicMessages, Transaction } from 'kafkajs';
import { ProduceError, TransactionAbortedError } from '../errors.js';
import { recordBytes } from './producer.js';
import { partitioner } from './partitioner.js';
import type { RecordSink, SourcePartition, Transactions } from '../pipeline/ports.js';
import type { OutgoingRecord, TopicPartitionOffset } from '../pipeline/records.js';

interface Queued {
  readonly topic: string;
  readonly message: Message;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** As BatchingSink: enough records per request to amortise a round trip. */
const MAX_RECORDS_PER_REQUEST = 2000;
/** As BatchingSink: well under the broker's message.max.bytes, which bounds a partition's record batch. */
const MAX_REQUEST_BYTES = 768 * 1024;
/** Attempts after the first, as BatchingSink, so a broker restart is ridden out inside the transaction timeout. */
const PRODUCE_RETRIES = 10;

/**
 * One input partition's writes: its own transactional producer, so that the
 * partition's next owner, starting a producer with the same transactional
 * id, fences this one (Kafka aborts its open transaction and refuses its
 * writes). kafkajs has no KIP-447 (one producer fenced by group generation),
 * hence a producer per partition, as Kafka Streams did before it.
 */
class Lane {
  readonly producer: Producer;
  readonly ready: Promise<void>;
  #transaction: Promise<Transaction> | undefined;
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #scheduled = false;
  /** Every request and commit, in order: a commit waits for the writes before it, a write after it goes in the next transaction. */
  #chain: Promise<unknown> = Promise.resolve();

  readonly #requested: ((bytes: number) => void) | undefined;

  constructor(kafka: Kafka, transactionalId: string, requested: ((bytes: number) => void) | undefined) {
    this.#requested = requested;
    this.producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: partitioner,
      retry: { retries: PRODUCE_RETRIES },
    });
    // Connecting initialises the transactional id: the fence.
    this.ready = this.producer.connect();
    this.ready.catch(() => undefined);
  }

  send(topic: string, record: OutgoingRecord): Promise<void> {
    const bytes = recordBytes(record);
    if (this.#queuedBytes + bytes > MAX_REQUEST_BYTES) this.#flush();
    return new Promise((resolve, reject) => {
      this.#queuedBytes += bytes;
      this.#queue.push({ topic, message: record as Message, resolve, reject });
      if (this.#queue.length >= MAX_RECORDS_PER_REQUEST) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    const bytes = this.#queuedBytes;
    this.#queue = [];
    this.#queuedBytes = 0;
    const byTopic = new Map<string, Message[]>();
    for (const q of batch) {
      let messages = byTopic.get(q.topic);
      if (messages === undefined) byTopic.set(q.topic, (messages = []));
      messages.push(q.message);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    this.#chain = this.#chain.then(async () => {
      try {
        const transaction = await this.#current();
        const sent = transaction.sendBatch({ topicMessages, acks: -1 });
        this.#requested?.(bytes);
        await sent;
        for (const q of batch) q.resolve();
      } catch (error) {
        for (const q of batch) q.reject(new ProduceError(q.topic, error));
      }
    });
  }

  #current(): Promise<Transaction> {
    this.#transaction ??= this.ready.then(() => this.producer.transaction());
    return this.#transaction;
  }

  /** Commits the writes so far with the partition's offset; later writes go in the next transaction. */
  commit(groupId: string, offset: TopicPartitionOffset): Promise<void> {
    this.#flush();
    const done = this.#chain.then(async () => {
      const transaction = await this.#current();
      this.#transaction = undefined;
      await transaction.sendOffsets({
        consumerGroupId: groupId,
        topics: [
          {
            topic: offset.topic,
            partitions: [{ partition: offset.partition, offset: String(offset.offset), ...(offset.metadata === undefined ? {} : { metadata: offset.metadata }) }],
          },
        ],
      });
      await transaction.commit();
    });
    this.#chain = done.catch(() => undefined);
    return done;
  }

  /** Drops what is queued and aborts the open transaction; none of it is ever visible to read_committed readers. */
  async abort(): Promise<void> {
    const queued = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const q of queued) q.reject(new TransactionAbortedError());
    await this.#chain;
    const open = this.#transaction;
    this.#transaction = undefined;
    if (open !== undefined) {
      const transaction = await open.catch(() => undefined);
      if (transaction?.isActive() === true) await transaction.abort().catch(() => undefined);
    }
    await this.producer.disconnect().catch(() => undefined);
  }
}

export interface TransactionalSinkOptions {
  /** The consumer group whose offsets the transactions commit. */
  readonly groupId: string;
  /** Transactional ids are `<prefix>-<topic>-<partition>`: stable across restarts and rebalances. */
  readonly transactionalIdPrefix: string;
  /** Told the bytes of each request handed to kafkajs (memory/young-collector.ts frees its encoding buffers). */
  readonly requested?: (bytes: number) => void;
}

/**
 * EXACTLY_ONCE=true: every aggregate and dead letter of an input partition
 * is written in that partition's Kafka transaction, and committed together
 * with the partition's offset and checkpoint, so a read_committed consumer
 * sees each window and each bad record once, whatever crashes.
 */
export class TransactionalSink implements RecordSink, Transactions {
  readonly #kafka: Kafka;
  readonly #options: TransactionalSinkOptions;
  readonly #lanes = new Map<string, Lane>();

  constructor(kafka: Kafka, options: TransactionalSinkOptions) {
    this.#kafka = kafka;
    this.#options = options;
  }

  #lane(topic: string, partition: number): Lane {
    const key = `${topic}\u0000${partition}`;
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = new Lane(this.#kafka, `${this.#options.transactionalIdPrefix}-${topic}-${partition}`, this.#options.requested);
      this.#lanes.set(key, lane);
    }
    return lane;
  }

  send(topic: string, record: OutgoingRecord, source: SourcePartition): Promise<void> {
    return this.#lane(source.topic, source.partition).send(topic, record);
  }

  fence(source: SourcePartition): Promise<void> {
    return this.#lane(source.topic, source.partition).ready;
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    await Promise.all(offsets.map((offset) => this.#lane(offset.topic, offset.partition).commit(this.#options.groupId, offset)));
  }

  async abort(): Promise<void> {
    const lanes = [...this.#lanes.values()];
    this.#lanes.clear();
    await Promise.all(lanes.map((lane) => lane.abort()));
  }

  /** Producers connect per partition, on its first record (the fence). */
  connect(): Promise<void> {
    return Promise.resolve();
  }

  /** Open transactions are aborted, not committed: the pipeline commits at its own points only. */
  disconnect(): Promise<void> {
    return this.abort();
  }

  /** After a topic was lost: as disconnect; nothing uncommitted is ever visible. */
  abandon(): Promise<void> {
    return this.abort();
  }
}
