import type { Chunk } from '../chunks/chunk.js';
import type { DeadLetterReason } from '../decode/reasons.js';
import { copyHeaders } from './headers.js';
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
    ...(record.headers === undefined ? undefined : copyHeaders(record.headers)),
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
 * A row of a chunk that a worker could not read, or whose worker failed: the
 * original key, value and headers, copied out of the chunk, plus why and
 * where from.
 */
export function chunkRowDeadLetter(
  chunk: Chunk,
  row: number,
  topic: string,
  partition: number,
  reason: DeadLetterReason,
  detail: string,
): OutgoingRecord {
  const headers: Headers = {
    ...chunk.headersAt(row),
    [DLQ_HEADERS.reason]: reason,
    [DLQ_HEADERS.detail]: detail,
    [DLQ_HEADERS.topic]: topic,
    [DLQ_HEADERS.partition]: String(partition),
    [DLQ_HEADERS.offset]: String(chunk.offsetAt(row)),
    [DLQ_HEADERS.timestamp]: String(chunk.timestampAt(row)),
  };
  return { key: chunk.keyAt(row), value: chunk.valueAt(row), headers };
}
