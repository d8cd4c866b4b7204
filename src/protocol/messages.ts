import type { Polygon, Position } from 'geojson';

/**
 * The messages that cross between the main thread and the aggregation
 * workers, defined once. Only the SharedArrayBuffer reference crosses for the
 * columns; the records themselves are never copied.
 */
export interface AggregateTask {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly readingColumns: number;
  /** Rows filled, from 0. */
  readonly count: number;
  /** Name of reading column c at index c; unused columns are absent. */
  readonly readingNames: readonly string[];
  /** Testing only: the worker allocates past its resourceLimits instead of aggregating. */
  readonly testAllocateBeyondLimit?: boolean;
}

export interface ReadingStats {
  /** Rows where the reading was present (not NaN). */
  readonly count: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

export interface ChunkAggregate {
  readonly count: number;
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
