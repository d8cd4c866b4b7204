import type { AggregateTask, ChunkResult } from '../protocol/messages.js';
import type { OutgoingRecord, TopicPartitionOffset } from './records.js';

/**
 * What the pipeline needs from the outside world. The service wires in the
 * worker pool and the Kafka adapter; unit tests wire in fakes.
 */
export interface Aggregator {
  aggregate(task: AggregateTask): Promise<ChunkResult>;
}

export interface RecordSink {
  /** Resolves once the broker has acknowledged the record. */
  send(topic: string, record: OutgoingRecord): Promise<void>;
}

export interface OffsetCommitter {
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
}
