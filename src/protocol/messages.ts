import type { Polygon, Position } from 'geojson';
import type { DeadLetterReason } from '../decode/reasons.js';
import type { PartialsWire } from '../shared/aggregate/partial-wire.js';
import type { KeyKind } from '../shared/keys.js';
import type { TimeWindowSpec } from '../shared/windows/assign.js';
import type { SharedZoneIndex } from '../shared/zones/zone-set.js';

/**
 * The messages that cross between the main thread and the aggregation
 * workers, defined once. Only the SharedArrayBuffer reference crosses for the
 * records; they are never copied between threads.
 */
export interface AggregateTask {
  readonly kind: 'count';
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly byteCapacity: number;
  /** Rows filled, from 0. */
  readonly count: number;
  /** Most readings one record may carry, and distinct reading names one window keeps. */
  readonly maxReadings: number;
  /** Testing only: the worker allocates past its resourceLimits instead of aggregating. */
  readonly testAllocateBeyondLimit?: boolean;
}

export interface ReadingStats {
  /** Records where the reading was present (not null). */
  readonly count: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  /** So results can be merged downstream (sum of sums over count of counts). */
  readonly sum: number | null;
}

export interface ChunkAggregate {
  /** Valid readings in the window. */
  readonly count: number;
  /** Distinct device ids among them. */
  readonly devices: number;
  /** Mean of the points, [lon, lat]. */
  readonly centroid: Position;
  /** [west, south, east, north]. */
  readonly bbox: [number, number, number, number];
  /** Convex hull, or null when the points do not span an area. */
  readonly hull: Polygon | null;
  readonly hullAreaM2: number;
  readonly eventTime: { readonly min: number; readonly max: number };
  readonly readings: Readonly<Record<string, ReadingStats>>;
}

/** A row the worker could not read, with why: the main thread dead-letters it. */
export interface BadRow {
  readonly row: number;
  readonly reason: DeadLetterReason;
  readonly detail: string;
}

export interface ChunkResult {
  /** Null when no row of the chunk was a valid reading. */
  readonly aggregate: ChunkAggregate | null;
  /** In row order. */
  readonly bad: readonly BadRow[];
}

/** How a worker keys records (KEY_BY and what each kind needs). */
/**
 * What every worker gets when it starts (piscina's workerData): the zones the
 * main thread loaded and checked, on shared memory, so no worker reads and
 * parses the file again.
 */
export interface WorkerData {
  readonly zones: { readonly file: string; readonly idProperty: string; readonly shared: SharedZoneIndex } | null;
}

export interface KeySpec {
  readonly by: readonly KeyKind[];
  /** The source partition: the id of `partition` keys. */
  readonly partition: number;
  /** With `zone`: the GeoJSON file and its id property; each worker loads it once. */
  readonly zones: { readonly file: string; readonly idProperty: string } | null;
  /** Points in no zone: null drops them (counted), else the key id they are grouped under. */
  readonly zoneUnmatched: string | null;
  readonly h3Resolution: number;
}

/**
 * One chunk of one partition to fold into event-time windows: decode every
 * row, key it, assign its windows, and return a mergeable partial aggregate
 * per (window, key). The worker writes each row's event time into the
 * chunk's `times` column (NaN for rows it did not fold).
 */
export interface EventTask {
  readonly kind: 'event';
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly byteCapacity: number;
  readonly count: number;
  readonly maxReadings: number;
  readonly window: TimeWindowSpec;
  readonly keys: KeySpec;
  /**
   * The partition's watermark as the main thread knew it when the chunk was
   * sent: a lower bound of the watermark before the chunk's first row (an
   * earlier chunk may still be in another worker). Windows ending at or
   * before it are not folded.
   */
  readonly watermark: number;
  /**
   * Leading rows before the checkpoint the previous owner of the partition
   * settled at: they count only in windows ending after `watermark`, and are
   * neither late nor dead-lettered again (that was done and acknowledged).
   */
  readonly settledRows: number;
}

/**
 * The partials of one chunk (partial-wire.ts), per window: start, end, the
 * number of keys, then per key: its kind (index in KEY_KINDS), its id (a
 * string), the first and last row folded into it, and its partial.
 */
export interface EventChunkResult {
  readonly partials: PartialsWire;
  /** Rows that are not readings, or late for every window they fall in (reason `late`), in row order. */
  readonly bad: readonly BadRow[];
  /** Largest event time of a valid row (late ones included), -Infinity when none: moves the watermark. */
  readonly maxTs: number;
  /** Smallest `lastWindowEnd` of a folded row: when it is not above the true watermark, the main thread looks for late rows. */
  readonly minLastEnd: number;
  /** Window assignments not folded because that window had closed (hopping windows: the record counts in its open ones). */
  readonly lateAssignments: number;
  /** Window assignments of settled rows skipped because the previous owner wrote them (see EventTask.settledRows). */
  readonly settledSkipped: number;
  /** Rows in no zone, dropped (ZONE_UNMATCHED=drop). */
  readonly unzoned: number;
  /** Readings not kept because a partial already held READING_COLUMNS names. */
  readonly readingsDropped: number;
}

/**
 * A start-up task that occupies a worker for `holdMs`, so that one sent to
 * each worker at once reaches every worker: the memory floor is measured only
 * when all of them are up with their modules loaded.
 */
export interface WarmUpTask {
  readonly kind: 'warm-up';
  readonly holdMs: number;
}

/** A worker's V8 heap right after a task, so the main thread can export it (workers have no /metrics of their own). */
export interface WorkerHeap {
  readonly threadId: number;
  readonly usedBytes: number;
  /** What V8 has reserved for the heap: the worker's share of RSS beyond its runtime. */
  readonly totalBytes: number;
}

/** What the worker entry answers to a chunk: the result, and its heap after computing it. */
export interface WorkerReply<T> {
  readonly result: T;
  readonly heap: WorkerHeap;
}

export interface WarmUpResult {
  readonly threadId: number;
  /** V8's heap limit of this worker (old and young generation), from its resourceLimits. */
  readonly heapLimitBytes: number;
}
