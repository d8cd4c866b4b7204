import type { Polygon, Position } from 'geojson';
import type { ChunkAggregate, ReadingStats } from '../protocol/messages.js';
import type { CountWindow, WindowCloseReason } from './count-window.js';

export const AGGREGATE_SCHEMA = 'geowindow.aggregate.v1';

/** One output record; `schema/aggregate.v1.schema.json` describes it for consumers. */
export interface AggregateRecord {
  readonly schema: typeof AGGREGATE_SCHEMA;
  readonly window: {
    readonly type: 'count';
    readonly size: number;
    readonly partial: boolean;
    readonly closedBy: WindowCloseReason;
  };
  readonly key: { readonly partition: number };
  readonly source: {
    readonly topic: string;
    readonly partition: number;
    readonly firstOffset: number;
    readonly lastOffset: number;
  };
  readonly count: number;
  readonly devices: number;
  readonly centroid: Position;
  readonly bbox: [number, number, number, number];
  readonly hull: Polygon | null;
  readonly hullAreaM2: number;
  readonly eventTime: { readonly min: number; readonly max: number };
  readonly readings: Readonly<Record<string, ReadingStats>>;
  readonly emittedAt: number;
}

export function aggregateRecord(
  window: CountWindow,
  size: number,
  closedBy: WindowCloseReason,
  aggregate: ChunkAggregate,
  now: number,
): AggregateRecord {
  return {
    schema: AGGREGATE_SCHEMA,
    window: { type: 'count', size, partial: closedBy !== 'count', closedBy },
    key: { partition: window.partition },
    source: {
      topic: window.topic,
      partition: window.partition,
      firstOffset: window.firstOffset,
      lastOffset: window.lastOffset,
    },
    count: aggregate.count,
    devices: aggregate.devices,
    centroid: aggregate.centroid,
    bbox: aggregate.bbox,
    hull: aggregate.hull,
    hullAreaM2: aggregate.hullAreaM2,
    eventTime: aggregate.eventTime,
    readings: aggregate.readings,
    emittedAt: now,
  };
}

/**
 * The Kafka key of an aggregate: the window's start. A replayed window keeps
 * it, so a compacted topic keeps one aggregate per window.
 */
export function aggregateKey(window: CountWindow): string {
  return `${window.topic}:${window.partition}:${window.firstOffset}`;
}
