import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { OutgoingRecord } from '../pipeline/records.js';

/** Writes records to a topic in batches, each acknowledged by all in-sync replicas. */
export class RecordWriter {
  readonly #producer: Producer;

  constructor(kafka: Kafka) {
    this.#producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  }

  connect(): Promise<void> {
    return this.#producer.connect();
  }

  async write(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    await this.#producer.send({ topic, messages: [...records], acks: -1 });
  }

  disconnect(): Promise<void> {
    return this.#producer.disconnect();
  }
}
