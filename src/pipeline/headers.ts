import type { HeaderValue, Headers } from './records.js';

/**
 * A copy of a record's headers holding exactly what its producer sent, on an
 * object with no prototype. kafkajs gathers a fetched record's headers in a
 * plain object and tests `headers[name] === undefined` before adding one, so
 * a header named like a member of Object.prototype (`constructor`,
 * `toString`, `__proto__`) arrives as an array that holds the inherited
 * member before the real values; neither Buffer.from nor the producer takes
 * that, and one such header crashed the consumer. Buffers are copied, so a
 * copy kept for a dead letter does not pin the fetched batch.
 */
export function copyHeaders(headers: Headers): Headers {
  const copy = Object.create(null) as Headers;
  for (const name in headers) {
    const value = headers[name];
    if (Array.isArray(value)) {
      const values = value.filter(isSent).map(copyValue);
      if (values.length > 0) copy[name] = values.length === 1 ? values[0] : values;
    } else if (isSent(value)) {
      copy[name] = copyValue(value);
    }
  }
  return copy;
}

/** A header value a producer can have sent: bytes or text (not a member kafkajs inherited into the array). */
function isSent(value: HeaderValue | unknown): value is Buffer | string {
  return typeof value === 'string' || Buffer.isBuffer(value);
}

function copyValue(value: Buffer | string): Buffer | string {
  return typeof value === 'string' ? value : Buffer.from(value);
}
