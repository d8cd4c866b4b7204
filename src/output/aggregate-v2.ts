import type { Polygon, Position } from 'geojson';
import type { ChunkAggregate } from '../protocol/messages.js';
import { finishAggregate, type ReadingSummary, type TrackSummary } from '../shared/aggregate/finish.js';
import { setEntry } from '../shared/json-dictionary.js';
import type { KeyKind } from '../shared/keys.js';
import type { WindowKind } from '../shared/windows/assign.js';
import type { CountWindow, WindowCloseReason } from '../windows/count-window.js';
import type { KeyState, TimeCloseReason, TimeWindow } from '../windows/time-window.js';

export const AGGREGATE_V2_SCHEMA = 'geowindow.aggregate.v2';

/** One output record of schema v2; `schema/aggregate.v2.schema.json` describes it for consumers. */
export interface AggregateV2 {
  readonly schema: typeof AGGREGATE_V2_SCHEMA;
  readonly window: {
    readonly kind: WindowKind;
    /** Epoch ms, inclusive; null for count windows. */
    readonly start: number | null;
    /** Epoch ms, exclusive; null for count windows. */
    readonly end: number | null;
    readonly closedBy: TimeCloseReason | WindowCloseReason;
  };
  readonly key: { readonly by: KeyKind; readonly id: string };
  readonly source: { readonly topic: string; readonly partition: number; readonly firstOffset: number; readonly lastOffset: number };
  readonly count: number;
  readonly devices: number;
  readonly centroid: Position;
  readonly bbox: readonly [number, number, number, number];
  readonly hull: Polygon | null;
  readonly hullAreaM2: number;
  readonly readings: Readonly<Record<string, ReadingSummary>>;
  readonly eventTime: { readonly min: number; readonly max: number };
  readonly track?: TrackSummary;
  readonly emittedAt: number;
}

/**
 * The Kafka key of a v2 aggregate: its whole identity (key, window, source
 * partition), so a compacted topic or an upsert keeps each window once. The
 * key comes first so keys of one zone sort together.
 */
export function aggregateV2Key(record: Pick<AggregateV2, 'key' | 'window' | 'source'>): string {
  const { key, window, source } = record;
  const span = window.start === null ? `offset ${source.firstOffset}` : `${window.start}-${window.end}`;
  return `${key.by}:${key.id}|${span}|${source.topic}:${source.partition}`;
}

/** The record of one key of a closed event-time window. */
export function timeWindowRecord(
  kind: 'tumbling' | 'hopping',
  window: TimeWindow,
  key: KeyState,
  closedBy: TimeCloseReason,
  topic: string,
  partition: number,
  now: number,
): AggregateV2 {
  const finished = finishAggregate(key.partial);
  return {
    schema: AGGREGATE_V2_SCHEMA,
    window: { kind, start: window.start, end: window.end, closedBy },
    key: { by: key.by, id: key.id },
    source: { topic, partition, firstOffset: key.firstOffset, lastOffset: key.lastOffset },
    count: finished.count,
    devices: finished.devices,
    centroid: finished.centroid,
    bbox: finished.bbox,
    hull: finished.hull,
    hullAreaM2: finished.hullAreaM2,
    readings: finished.readings,
    eventTime: finished.eventTime,
    ...(finished.track === undefined ? {} : { track: finished.track }),
    emittedAt: now,
  };
}

/** A count window in schema v2 (OUTPUT_SCHEMA=v2 with WINDOW=count): keyed by its partition, no time bounds. */
export function countWindowRecord(window: CountWindow, closedBy: WindowCloseReason, aggregate: ChunkAggregate, now: number): AggregateV2 {
  const readings: Record<string, ReadingSummary> = {};
  for (const [name, stats] of Object.entries(aggregate.readings)) {
    setEntry(readings, name, { count: stats.count, min: stats.min ?? 0, max: stats.max ?? 0, mean: stats.mean ?? 0, sum: stats.sum ?? 0 });
  }
  return {
    schema: AGGREGATE_V2_SCHEMA,
    window: { kind: 'count', start: null, end: null, closedBy },
    key: { by: 'partition', id: String(window.partition) },
    source: { topic: window.topic, partition: window.partition, firstOffset: window.firstOffset, lastOffset: window.lastOffset },
    count: aggregate.count,
    devices: aggregate.devices,
    centroid: aggregate.centroid,
    bbox: aggregate.bbox,
    hull: aggregate.hull,
    hullAreaM2: aggregate.hullAreaM2,
    readings,
    eventTime: aggregate.eventTime,
    emittedAt: now,
  };
}
