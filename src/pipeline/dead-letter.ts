import type { Chunk } from '../chunks/chunk.js';
import type { DeadLetterReason } from '../decode/reasons.js';
import type { Headers, OutgoingRecord, SourceRecord } from './records.js';

/** Headers geowindow adds to a dead-lettered record; its own headers are kept. */
export const DLQ_HEADERS = {
  reason: 'geowindow-dlq-reason',
  detail: 'geowindow-dlq-detail',
  topic: 'geowindow-source-topic',
  partition: 'geowindow-source-partition',
  offset: 'geowindow-source-offset',
  timestamp: 'geowindow-source-timestamp',
} as const;

/** The original key, value and headers, plus headers that say why and where from. */
export function deadLetterRecord(
  record: SourceRecord,
  topic: string,
  partition: number,
  reason: DeadLetterReason,
  detail: string,
): OutgoingRecord {
  const headers: Headers = {
    ...record.headers,
    [DLQ_HEADERS.reason]: reason,
    [DLQ_HEADERS.detail]: detail,
    [DLQ_HEADERS.topic]: topic,
    [DLQ_HEADERS.partition]: String(partition),
    [DLQ_HEADERS.offset]: record.offset,
    [DLQ_HEADERS.timestamp]: record.timestamp,
  };
  // A copy, so a dead letter in flight does not keep the whole fetched batch alive.
  return { key: record.key, value: record.value === null ? null : Buffer.from(record.value), headers };
}

/**
 * A record whose original bytes are gone (its chunk's worker failed), rebuilt
 * from the chunk's columns: the values as geowindow read them, float32
 * coordinates and readings included.
 */
export function rebuiltDeadLetter(
  chunk: Chunk,
  row: number,
  topic: string,
  partition: number,
  reason: DeadLetterReason,
): OutgoingRecord {
  const { columns, layout, readingNames } = chunk;
  const readings: Record<string, number> = Object.create(null) as Record<string, number>;
  for (let column = 0; column < readingNames.length; column++) {
    const value = columns.readings[column * layout.capacity + row]!;
    if (value === value) readings[readingNames[column]!] = value;
  }
  const deviceId = chunk.deviceIdAt(row);
  const value = JSON.stringify({ device_id: deviceId, ts: columns.ts[row], lat: columns.lat[row], lon: columns.lon[row], readings });
  const headers: Headers = {
    [DLQ_HEADERS.reason]: reason,
    [DLQ_HEADERS.detail]: 'rebuilt from the chunk columns; the original bytes were not kept',
    [DLQ_HEADERS.topic]: topic,
    [DLQ_HEADERS.partition]: String(partition),
    [DLQ_HEADERS.offset]: String(chunk.offsetAt(row)),
  };
  return { key: deviceId, value, headers };
}
