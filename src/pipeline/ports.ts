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

/** The input partition a written record comes from: exactly-once writes it in that partition's transaction. */
export interface SourcePartition {
  readonly topic: string;
  readonly partition: number;
}

export interface RecordSink {
  /** Resolves once the broker has acknowledged the record. */
  send(topic: string, record: OutgoingRecord, source: SourcePartition): Promise<void>;
}

/**
 * EXACTLY_ONCE=true: each input partition's writes go in a Kafka
 * transaction, committed with the partition's offset; commits go through
 * here instead of the consumer.
 */
export interface Transactions {
  /** Before a partition's first record: takes the partition's transactional id, fencing any earlier owner still writing. */
  fence(source: SourcePartition): Promise<void>;
  /** Commits each partition's transaction with its offset and checkpoint; rejects if any cannot be (the pipeline stops). */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** The assignment changed: open transactions are aborted, and their records read again by the partitions' owners. */
  abort(): Promise<void>;
}

export interface OffsetCommitter {
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** The partition's committed offset (the next to read), undefined when none. */
  committedOffset(topic: string, partition: number): Promise<number | undefined>;
  /** The metadata committed with the partition's offset (the event-time checkpoint), null when none. */
  committedMetadata(topic: string, partition: number): Promise<string | null>;
}

export interface EndOffsets {
  /** The partition's end offset (the next offset to be written), by partition. */
  endOffsets(topic: string): Promise<Map<number, number>>;
}
