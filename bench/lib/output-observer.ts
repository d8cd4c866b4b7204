/**
 * A read_committed reader of geowindow's output topic that runs beside the
 * service and times each aggregate twice: when the broker appended it (the
 * record timestamp, the topic being created with LogAppendTime) and when the
 * reader first received it (Date.now() on arrival of its batch). Both minus
 * the aggregate's own `emittedAt`, on the same machine's clock, are the
 * "close to visible" latencies of bench:eos. It also sums the aggregates'
 * counts and their keys, so a run shows whether every record was seen once.
 */
import { randomBytes } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { nowMs, say, until } from './common.js';
import { benchKafka, cleanUp } from './dataset.js';

/** Configuration of the observed output topic: the broker stamps each record with its append time. */
export const LOG_APPEND_TIME_CONFIG = [
  { name: 'message.timestamp.type', value: 'LogAppendTime' },
  { name: 'retention.ms', value: '-1' },
  { name: 'retention.bytes', value: '-1' },
];

/**
 * The reader's longest fetch wait. A read_committed fetch may wait this long
 * after a transaction commits before the broker answers, so it bounds the
 * error of the "seen" time; short waits cost a request per partition leader
 * every 50 ms, nothing next to the service's own traffic.
 */
const FETCH_MAX_WAIT_MS = 50;
/** How long the reader waits for its group to form before the service starts. */
const JOIN_TIMEOUT_MS = 60_000;
/** After the service stopped: the longest the reader waits for the counts to add up. */
const DRAIN_TIMEOUT_MS = 60_000;
/** Once the counts add up, a little longer, so a duplicate written at the very end would still be seen. */
const SETTLE_MS = 1000;
/** Fields read from the tail and head of an aggregate's JSON without parsing the whole of it (hulls can be large). */
const EMITTED_AT = /"emittedAt":(\d+)\}$/;
const FIRST_COUNT = /"count":(\d+)/;

/** What the reader saw of one run's output. */
export interface Observed {
  /** Output records received (each aggregate once per delivery). */
  readonly records: number;
  /** Distinct Kafka keys among them: an aggregate's identity, so records - distinct = duplicates. */
  readonly distinctKeys: number;
  /** Sum of the aggregates' top-level `count`: every input record once when nothing is lost or doubled. */
  readonly countSum: number;
  /** Records whose emittedAt or count could not be read. */
  readonly unreadable: number;
  /** Broker append time - emittedAt, ms, one per record (receipt order). */
  readonly appendedMs: Float64Array;
  /** Receipt by this read_committed reader - emittedAt, ms, one per record. */
  readonly seenMs: Float64Array;
  /** True when countSum reached the expected count before the drain timed out. */
  readonly complete: boolean;
}

/** A growable Float64Array: up to a few hundred thousand latencies per run, without boxing each one. */
class Samples {
  #values = new Float64Array(4096);
  #length = 0;
  push(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = value;
  }
  get length(): number {
    return this.#length;
  }
  last(): number | undefined {
    return this.#length === 0 ? undefined : this.#values[this.#length - 1];
  }
  values(): Float64Array {
    return this.#values.slice(0, this.#length);
  }
}

export class OutputObserver {
  readonly #consumer: Consumer;
  readonly #group: string;
  readonly #brokers: readonly string[];
  readonly #keys = new Set<string>();
  readonly #appended = new Samples();
  readonly #seen = new Samples();
  #records = 0;
  #countSum = 0;
  #unreadable = 0;

  private constructor(brokers: readonly string[], readonly topic: string) {
    this.#brokers = brokers;
    this.#group = `bench-eos-observer-${randomBytes(4).toString('hex')}`;
    this.#consumer = benchKafka(brokers, 'geowindow-bench-eos-observer').consumer({
      groupId: this.#group,
      readUncommitted: false,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      maxBytes: 16 * 1024 * 1024,
    });
  }

  /** Subscribes from the beginning of `topic` and resolves once the reader holds its partitions. */
  static async start(brokers: readonly string[], topic: string): Promise<OutputObserver> {
    const observer = new OutputObserver(brokers, topic);
    try {
      await observer.#run();
    } catch (error) {
      await observer.abandon();
      throw error;
    }
    return observer;
  }

  async #run(): Promise<void> {
    const consumer = this.#consumer;
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const seenAt = Date.now();
        for (const message of batch.messages) this.#take(message.key?.toString('utf8') ?? '', message.value?.toString('utf8') ?? '', Number(message.timestamp), seenAt);
      },
    });
    await until(`the observer of ${this.topic} to join its group`, JOIN_TIMEOUT_MS, 50, () => (joined ? true : undefined));
  }

  #take(key: string, value: string, appendedAt: number, seenAt: number): void {
    this.#records++;
    this.#keys.add(key);
    const emitted = EMITTED_AT.exec(value);
    const count = FIRST_COUNT.exec(value);
    if (emitted === null || count === null) {
      this.#unreadable++;
      return;
    }
    const emittedAt = Number(emitted[1]);
    this.#countSum += Number(count[1]);
    this.#appended.push(appendedAt - emittedAt);
    this.#seen.push(seenAt - emittedAt);
  }

  get records(): number {
    return this.#records;
  }

  /** A progress phrase: records seen and the latest receipt latency. */
  progress(): string {
    const last = this.#seen.last();
    return `${this.#records} outputs seen (read_committed), counts ${this.#countSum}${last === undefined ? '' : `, latest seen ${Math.round(last)} ms after emittedAt`}`;
  }

  /**
   * Call once the service has exited: waits until the aggregates' counts add
   * up to `expectedCount` (or stop growing for the drain timeout), then stops
   * the reader and deletes its group.
   */
  async finish(expectedCount: number): Promise<Observed> {
    const begin = nowMs();
    let complete = false;
    try {
      for (;;) {
        if (this.#countSum >= expectedCount) {
          complete = true;
          break;
        }
        if (nowMs() - begin > DRAIN_TIMEOUT_MS) {
          say(`observer: gave up after ${DRAIN_TIMEOUT_MS / 1000} s with counts ${this.#countSum} of ${expectedCount}`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, FETCH_MAX_WAIT_MS));
      }
      if (complete) await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    } finally {
      await this.#consumer.disconnect();
      await cleanUp(this.#brokers, [this.#group], []);
    }
    return {
      records: this.#records,
      distinctKeys: this.#keys.size,
      countSum: this.#countSum,
      unreadable: this.#unreadable,
      appendedMs: this.#appended.values(),
      seenMs: this.#seen.values(),
      complete,
    };
  }

  /** Stops the reader without waiting (the run failed). */
  async abandon(): Promise<void> {
    await this.#consumer.disconnect().catch(() => undefined);
    await cleanUp(this.#brokers, [this.#group], []);
  }
}
