import type { Polygon, Position } from 'geojson';
import type { DeadLetterReason } from '../decode/reasons.js';

/**
 * The messages that cross between the main thread and the aggregation
 * workers, defined once. Only the SharedArrayBuffer reference crosses for the
 * records; they are never copied between threads.
 */
export interface AggregateTask {
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
