import { KafkaJSConnectionError, KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { passes, whilePassing } from '../../src/kafka/transient.js';

// kafkajs's constructors take more than its type declarations say (a broker error's fields, a cause): typed here as its JavaScript reads them.
const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, options: { cause: Error }) => Error;
const Protocol = KafkaJSProtocolError as unknown as new (e: { message: string; type: string; code: number; retriable: boolean }) => Error;
const CoordinatorNotFound = KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error;

/** What kafkajs throws once its own retries of a request are spent: the last error, wrapped as final. */
const spent = (cause: Error) => new NonRetriable(cause, { cause });
const broker = (type: string, code: number, retriable: boolean) => new Protocol({ message: type, type, code, retriable });

describe('errors that pass', () => {
  it('are a broker that does not answer, a coordinator not there yet, and retriable broker answers, however deeply wrapped', () => {
    expect(passes(spent(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092')))).toBe(true);
    // What a consumer read after a broker restart: kafkajs calls it final, the broker is only loading its offsets topic.
    expect(passes(spent(new CoordinatorNotFound('Failed to find group coordinator')))).toBe(true);
    expect(passes(spent(spent(broker('COORDINATOR_LOAD_IN_PROGRESS', 14, true))))).toBe(true);
  });

  it('are not a missing topic, a refused answer or a bug', () => {
    expect(passes(spent(broker('UNKNOWN_TOPIC_OR_PARTITION', 3, true)))).toBe(false);
    expect(passes(spent(broker('TOPIC_AUTHORIZATION_FAILED', 29, false)))).toBe(false);
    expect(passes(new TypeError('offsets is not iterable'))).toBe(false);
  });
});

describe('whilePassing', () => {
  it('asks again after errors that pass and returns the first answer', async () => {
    let calls = 0;
    const answer = await whilePassing(
      () => {
        calls++;
        return calls < 3 ? Promise.reject(spent(new CoordinatorNotFound('Failed to find group coordinator'))) : Promise.resolve('offsets');
      },
      { backoffMs: 1 },
    );
    expect(answer).toBe('offsets');
    expect(calls).toBe(3);
  });

  it('throws at once an error that does not pass, or any error once told to stop', async () => {
    let calls = 0;
    const bug = new TypeError('bug');
    await expect(whilePassing(() => (calls++, Promise.reject(bug)), { backoffMs: 1 })).rejects.toBe(bug);
    expect(calls).toBe(1);
    const down = spent(new KafkaJSConnectionError('Connection error'));
    await expect(whilePassing(() => (calls++, Promise.reject(down)), { backoffMs: 1, stop: () => true })).rejects.toBe(down);
    expect(calls).toBe(2);
  });

  it('gives up with the last error once its time is spent', async () => {
    let calls = 0;
    const started = Date.now();
    const down = spent(new KafkaJSConnectionError('Connection error'));
    await expect(whilePassing(() => (calls++, Promise.reject(down)), { timeoutMs: 50, backoffMs: 10 })).rejects.toBe(down);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(calls).toBeGreaterThan(1);
  });
});
