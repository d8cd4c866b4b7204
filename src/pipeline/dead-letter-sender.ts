import type { DeadLetterReason } from '../decode/reasons.js';
import type { SourcePartition } from './ports.js';
import type { StreamContext } from './stream-context.js';
import type { OutgoingRecord } from './records.js';

/**
 * Sends one dead letter, counting its bytes as in flight until it is
 * acknowledged (a batch waits while too many are). Resolves false, after
 * failing the pipeline, when it cannot be written.
 */
export function sendDeadLetter(ctx: StreamContext, record: OutgoingRecord, reason: DeadLetterReason, source: SourcePartition): Promise<boolean> {
  const { sink, dlqTopic, metrics, fail, inFlight } = ctx;
  const value = record.value;
  const bytes = value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  inFlight.deadLetters++;
  inFlight.deadLetterBytes += bytes;
  return sink.send(dlqTopic, record, source).then(
    () => {
      inFlight.deadLetters--;
      inFlight.deadLetterBytes -= bytes;
      metrics.deadLettered.inc({ reason });
      return true;
    },
    (error: unknown) => {
      fail(error);
      return false;
    },
  );
}
