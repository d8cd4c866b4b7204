import type { AggregateTask, ChunkResult, EventChunkResult, EventTask } from '../protocol/messages.js';
import type { OutgoingRecord, TopicPartitionOffset } from './records.js';

/**
 * What the pipeline needs from the outside world. The service wires in the
 * worker pool and the Kafka adapter; unit tests wire in fakes.
 */
export interface Aggregator {
  /** A count window: the chunk is the window. */
  aggregate(task: AggregateTask): Promise<ChunkResult>;
  /** Event-time windows: the chunk's partial aggregates per (window, key). */
  fold(task: EventTask): Promise<EventChunkResult>;
}

export interface RecordSink {
  /** Resolves once the broker has acknowledged the record. */
  send(topic: string, record: OutgoingRecord): Promise<void>;
}

export interface OffsetCommitter {
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** The metadata committed with the partition's offset (the event-time checkpoint), null when none. */
  committedMetadata(topic: string, partition: number): Promise<string | null>;
}

export interface EndOffsets {
  /** The partition's end offset (the next offset to be written), by partition. */
  endOffsets(topic: string): Promise<Map<number, number>>;
}
