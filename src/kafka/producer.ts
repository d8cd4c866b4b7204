import type { Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { ProduceError } from '../errors.js';
import { partitioner } from './partitioner.js';
import type { RecordSink } from '../pipeline/ports.js';
import type { OutgoingRecord } from '../pipeline/records.js';
import { whilePassing } from './transient.js';

interface Queued {
  readonly message: Message;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Enough records per request to amortise a round trip, few enough to keep requests small. */
const MAX_RECORDS_PER_REQUEST = 2000;
/**
 * Bytes of record values per request, well under the broker's default
 * message.max.bytes (1 MiB), which bounds a partition's whole record batch:
 * a few oversized dead letters together would otherwise be refused.
 */
const MAX_REQUEST_BYTES = 768 * 1024;

/** Bytes of key, value and headers: what a request carries for the record. */
export function recordBytes(record: OutgoingRecord): number {
  let bytes = (record.value?.length ?? 0) + (record.key?.length ?? 0);
  for (const name in record.headers) {
    const value = record.headers[name];
    bytes += name.length + (Array.isArray(value) ? value.reduce((n, v) => n + v.length, 0) : (value?.length ?? 0));
  }
  return bytes;
}

/**
 * The pipeline's record sink: a producer that waits for all in-sync
 * replicas, and gathers the records sent in one turn of the event loop into
 * one request. Each record's promise settles with its request. Not
 * idempotent on purpose: a retried window is a duplicate with the same
 * identity, which downstream de-duplicates anyway after any replay.
 */
export class BatchingSink implements RecordSink {
  readonly #producer: Producer;
  #queue = new Map<string, Queued[]>();
  #queued = 0;
  #queuedBytes = 0;
  #scheduled = false;
  #inFlight = new Set<Promise<void>>();
  /** Set by abandon(): requests are not sent again. */
  #abandoned = false;
  readonly #requested: ((bytes: number) => void) | undefined;

  /** `requested`: told the bytes of each request handed to kafkajs (memory/young-collector.ts frees its encoding buffers). */
  constructor(kafka: Kafka, options: { requested?: (bytes: number) => void } = {}) {
    this.#requested = options.requested;
    this.#producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: partitioner,
    });
  }

  connect(): Promise<void> {
    return this.#producer.connect();
  }

  send(topic: string, record: OutgoingRecord): Promise<void> {
    const bytes = recordBytes(record);
    if (this.#queuedBytes + bytes > MAX_REQUEST_BYTES) this.#flush();
    return new Promise((resolve, reject) => {
      this.#queuedBytes += bytes;
      let queue = this.#queue.get(topic);
      if (queue === undefined) {
        queue = [];
        this.#queue.set(topic, queue);
      }
      queue.push({ message: record as Message, resolve, reject });
      if (++this.#queued >= MAX_RECORDS_PER_REQUEST) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#queued === 0) return;
    const batch = this.#queue;
    const bytes = this.#queuedBytes;
    this.#queue = new Map();
    this.#queued = 0;
    this.#queuedBytes = 0;
    const topicMessages: TopicMessages[] = [];
    for (const [topic, queued] of batch) topicMessages.push({ topic, messages: queued.map((q) => q.message) });
    const request = this.#send(topicMessages).then(
      () => {
        for (const queued of batch.values()) for (const q of queued) q.resolve();
      },
      (error: unknown) => {
        for (const [topic, queued] of batch) for (const q of queued) q.reject(new ProduceError(topic, error));
      },
    );
    this.#inFlight.add(request);
    void request.finally(() => this.#inFlight.delete(request));
    this.#requested?.(bytes);
  }

  /** One request, sent again while kafkajs gives up for reasons that pass (transient.ts). */
  async #send(topicMessages: TopicMessages[]): Promise<void> {
    await whilePassing(() => this.#producer.sendBatch({ topicMessages, acks: -1 }), { stop: () => this.#abandoned });
  }

  /** Sends what is queued and waits for every request in flight. */
  async flush(): Promise<void> {
    this.#flush();
    await Promise.all(this.#inFlight);
  }

  async disconnect(): Promise<void> {
    await this.flush();
    await this.#producer.disconnect();
  }

  /**
   * Closes the producer without sending what is queued or waiting for
   * requests in flight: after a topic was lost they retry against it until
   * the client's retries run out, and nothing written after the final
   * commit would count.
   */
  async abandon(): Promise<void> {
    this.#abandoned = true;
    this.#queue = new Map();
    this.#queued = 0;
    this.#queuedBytes = 0;
    await this.#producer.disconnect();
  }
}
