/**
 * The records the pipeline reads and writes, in its own words. The Kafka
 * adapter (src/kafka/) hands over its messages as these shapes, without
 * copying them.
 */
export type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;
export type Headers = Record<string, HeaderValue>;

export interface SourceRecord {
  /** Offset as the client gives it: a decimal string (Kafka offsets are int64). */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Headers;
  readonly timestamp: string;
}

/** The records of one partition fetched together. */
export interface RecordBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly SourceRecord[];
  /** The partition's end offset as of this fetch, for the lag. */
  readonly highWatermark: string;
  /** Keeps the group membership alive while the batch waits. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or the partition must be re-read. */
  isActive(): boolean;
  /** Marks records up to `offset` as read, so they are not fetched again. */
  markRead(offset: string): void;
}

export interface OutgoingRecord {
  readonly key: string | Buffer | null;
  readonly value: string | Buffer | null;
  readonly headers?: Headers;
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: number;
  /** Committed with the offset: the partition's event-time checkpoint (see windows/checkpoint.ts). */
  readonly metadata?: string;
}
