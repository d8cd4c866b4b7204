import type { ChunkPool } from '../chunks/chunk-pool.js';
import type { Metrics } from '../metrics.js';
import type { KeySpec } from '../protocol/messages.js';
import type { TimeWindowSpec } from '../shared/windows/assign.js';
import type { StateBudget, WindowCaps } from '../windows/window-store.js';
import type { Aggregator, OffsetCommitter, RecordSink } from './ports.js';

/** Event-time windows (WINDOW=tumbling|hopping): how records are windowed, keyed and bounded. */
export interface EventTimeSettings {
  readonly window: TimeWindowSpec;
  /** KEY_BY and what its kinds need; the partition is filled in per stream. */
  readonly keys: Omit<KeySpec, 'partition'>;
  readonly caps: WindowCaps;
  /** Shared by every partition: the window-state share of the memory plan. */
  readonly budget: StateBudget;
  /** Late records: dead-lettered (reason `late`) or dropped. */
  readonly deadLetterLate: boolean;
  /** Where a partition's checkpoint (the watermark of its committed offset) is read from. */
  readonly checkpoints: OffsetCommitter;
  /**
   * Chunks sent to the workers and not yet merged, at most: past it a batch
   * waits for one to come back before it takes another chunk. More queued
   * would not fold sooner, only touch more of the chunk pool's memory.
   */
  readonly maxChunksAtWorkers: number;
}

/** Work the pipeline holds that a pause lets drain; shared by every partition. */
export interface InFlight {
  deadLetters: number;
  deadLetterBytes: number;
  /** Event time: bytes of aggregates sent and not yet acknowledged. */
  outputBytes: number;
}

export interface StreamContext {
  readonly pool: ChunkPool;
  readonly aggregator: Aggregator;
  readonly sink: RecordSink;
  readonly metrics: Metrics;
  readonly outputTopic: string;
  readonly dlqTopic: string;
  readonly windowSize: number;
  /** Most readings per record, and distinct reading names per window. */
  readonly maxReadings: number;
  /** Called when an output cannot be written or a chunk cannot be aggregated: the service must stop. */
  readonly fail: (error: unknown) => void;
  readonly now: () => number;
  readonly inFlight: InFlight;
  /** Event time: aggregates in flight above which closed windows wait to be written (a window's keys go out in slices). */
  readonly outputBytesLimit: number;
  /** Aggregates were acknowledged: every partition writes more of its closed windows. */
  readonly pumpOutputs: () => void;
  /** Window state grew or shrank (event time): the pipeline checks the shared budget and its gauges. */
  readonly stateChanged: () => void;
  /** Commit soon (a time-closed window was acknowledged and holds later windows back). */
  readonly requestCommit: () => void;
  /** EXACTLY_ONCE=true: writes are visible only with the commit that passes their records. */
  readonly exactlyOnce: boolean;
  /** Count windows: write schema v2 instead of v1 (OUTPUT_SCHEMA=v2). */
  readonly countOutputV2: boolean;
  /** Set for event-time windows; undefined for count windows. */
  readonly eventTime: EventTimeSettings | undefined;
  /** Testing only (GEOWINDOW_TEST_OOM_DEVICE): chunks holding a record keyed by this device make their worker run out of memory. */
  readonly testOomDevice: string | undefined;
}
