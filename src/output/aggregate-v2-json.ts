import type { Polygon } from 'geojson';
import type { ReadingSummary } from '../shared/aggregate/finish.js';
import type { AggregateV2 } from './aggregate-v2.js';

/**
 * The JSON text of a v2 aggregate, the same string JSON.stringify gives for
 * it, written field by field. Event-time windows write one aggregate per key
 * and window (one per 9 records on the zone benchmark), and JSON.stringify's
 * walk over the nested objects was most of their serialization time on the
 * main thread; here only numbers and strings are formatted.
 */
export function aggregateV2Json(record: AggregateV2): string {
  const { window, key, source, bbox, eventTime } = record;
  let text =
    `{"schema":${JSON.stringify(record.schema)}` +
    `,"window":{"kind":${JSON.stringify(window.kind)},"start":${num(window.start)},"end":${num(window.end)},"closedBy":${JSON.stringify(window.closedBy)}}` +
    `,"key":{"by":${JSON.stringify(key.by)},"id":${JSON.stringify(key.id)}}` +
    `,"source":{"topic":${JSON.stringify(source.topic)},"partition":${num(source.partition)},"firstOffset":${num(source.firstOffset)},"lastOffset":${num(source.lastOffset)}}` +
    `,"count":${num(record.count)},"devices":${num(record.devices)}` +
    `,"centroid":${numbers(record.centroid)}` +
    `,"bbox":[${num(bbox[0])},${num(bbox[1])},${num(bbox[2])},${num(bbox[3])}]` +
    `,"hull":${hull(record.hull)},"hullAreaM2":${num(record.hullAreaM2)}` +
    `,"readings":${readings(record.readings)}` +
    `,"eventTime":{"min":${num(eventTime.min)},"max":${num(eventTime.max)}}`;
  // JSON.stringify leaves out a property whose value is undefined.
  if (record.track !== undefined) text += `,"track":${JSON.stringify(record.track)}`;
  return `${text},"emittedAt":${num(record.emittedAt)}}`;
}

/** As JSON.stringify writes a number: null for NaN and ±Infinity (and for null itself). */
function num(value: number | null): string {
  return value !== null && Number.isFinite(value) ? String(value) : 'null';
}

function numbers(values: readonly number[]): string {
  let text = '[';
  for (let i = 0; i < values.length; i++) text += (i === 0 ? '' : ',') + num(values[i]!);
  return `${text}]`;
}

function hull(polygon: Polygon | null): string {
  if (polygon === null) return 'null';
  let rings = '';
  for (let r = 0; r < polygon.coordinates.length; r++) {
    const ring = polygon.coordinates[r]!;
    let positions = '';
    for (let i = 0; i < ring.length; i++) positions += (i === 0 ? '' : ',') + numbers(ring[i]!);
    rings += `${r === 0 ? '' : ','}[${positions}]`;
  }
  return `{"type":"Polygon","coordinates":[${rings}]}`;
}

/** Object.keys gives JSON.stringify's order: integer-like names first, ascending, then the rest as inserted. */
function readings(byName: Readonly<Record<string, ReadingSummary>>): string {
  let text = '';
  for (const name of Object.keys(byName)) {
    const { count, min, max, mean, sum } = byName[name]!;
    text += `${text === '' ? '' : ','}${JSON.stringify(name)}:{"count":${num(count)},"min":${num(min)},"max":${num(max)},"mean":${num(mean)},"sum":${num(sum)}}`;
  }
  return `{${text}}`;
}
