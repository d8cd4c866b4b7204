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
  return { key: record.key, value: record.value, headers };
}
