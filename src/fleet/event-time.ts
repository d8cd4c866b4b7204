import { Random } from './random.js';

/**
 * Mixed into the fleet's seed for the disorder stream, so that shuffling
 * event times leaves the devices and their readings as they were.
 */
const DISORDER_SEED_SALT = 0x9e3779b9;

export interface EventTimeOptions {
  /** Event time of record 0 (epoch ms); undefined: every record carries the wall clock when it is sent. */
  readonly startTs: number | undefined;
  /** Event time between two records, in ms (may be fractional); used with `startTs`. */
  readonly stepMs: number;
  /** Good records are moved back in event time by a seeded uniform whole number of ms in [0, disorderMs]. */
  readonly disorderMs: number;
  /** How far back late records are moved, in ms. */
  readonly lateByMs: number;
}

/**
 * The event time (`ts`) of each record the fleet sends. Record i gets
 * start + floor(i × step) when a start is given, else the wall clock; a good
 * record is then moved back by up to `disorderMs` (so event times within that
 * bound arrive out of order), and a late one by `lateByMs` more.
 */
export class EventTimes {
  readonly #options: EventTimeOptions;
  readonly #random: Random;

  constructor(options: EventTimeOptions, seed: number) {
    this.#options = options;
    this.#random = new Random(seed ^ DISORDER_SEED_SALT);
  }

  /** Record `index`'s event time before any shift; `now` is the wall clock at send time. */
  base(index: number, now: number): number {
    const { startTs, stepMs } = this.#options;
    return startTs === undefined ? now : startTs + Math.floor(index * stepMs);
  }

  /** A good record's event time: its base, moved back by a uniform whole number of ms in [0, disorderMs]. */
  good(index: number, now: number): number {
    const base = this.base(index, now);
    const disorder = this.#options.disorderMs;
    return disorder === 0 ? base : base - Math.floor(this.#random.next() * (disorder + 1));
  }

  /** A late record's event time: what `good` gives, moved back `lateByMs` more. */
  late(index: number, now: number): number {
    return this.good(index, now) - this.#options.lateByMs;
  }
}
