import type { OffsetCommitter, RecordSink } from '../../src/pipeline/ports.js';
import type { OutgoingRecord, TopicPartitionOffset } from '../../src/pipeline/records.js';
import { deferred, type Deferred } from './helpers.js';

export interface Sent {
  readonly topic: string;
  readonly record: OutgoingRecord;
  readonly ack: Deferred<undefined>;
}

/** Records every send; acknowledges at once in `auto` mode, else when the test says. */
export class RecordingSink implements RecordSink {
  readonly sent: Sent[] = [];
  constructor(private readonly mode: 'auto' | 'manual' = 'auto') {}

  send(topic: string, record: OutgoingRecord): Promise<void> {
    const ack = deferred<undefined>();
    this.sent.push({ topic, record, ack });
    if (this.mode === 'auto') ack.resolve(undefined);
    return ack.promise;
  }

  to(topic: string): Sent[] {
    return this.sent.filter((s) => s.topic === topic);
  }
}

/** Records every commit; serves the committed metadata back as a broker would. */
export class RecordingCommitter implements OffsetCommitter {
  readonly commits: (readonly TopicPartitionOffset[])[] = [];

  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.commits.push(offsets);
    return Promise.resolve();
  }

  /** The partition's latest committed offset, undefined when none was committed. */
  committedOffset(topic: string, partition: number): Promise<number | undefined> {
    return Promise.resolve(this.commits.flat().findLast((o) => o.topic === topic && o.partition === partition)?.offset);
  }

  /** The metadata of the partition's latest commit, null when none was committed or it carried none. */
  committedMetadata(topic: string, partition: number): Promise<string | null> {
    const latest = this.commits.flat().findLast((o) => o.topic === topic && o.partition === partition);
    return Promise.resolve(latest?.metadata ?? null);
  }

  /** Every offset committed for one partition, in order. */
  offsetsFor(topic: string, partition: number): number[] {
    return this.commits.flat().filter((o) => o.topic === topic && o.partition === partition).map((o) => o.offset);
  }
}
