import { EventTimes } from './event-time.js';
import { Fleet, type FleetMessage } from './messages.js';
import { exactSchedule, ratioSchedule, type Schedule } from './schedule.js';
import type { PlacementZones } from './zone-placement.js';

/** Late records go an hour back: far past any window's grace, so the service must call them late. */
export const DEFAULT_LATE_BY_MS = 3_600_000;

export interface FleetRunOptions {
  readonly devices: number;
  readonly seed: number;
  readonly oversizeBytes: number;
  readonly zones?: PlacementZones;
  /** Records in the run, when known: bad and late records are then exact counts. */
  readonly count: number | undefined;
  /** Share of all records that are bad. */
  readonly badRatio: number;
  /** Share of all records sent late, taken from the good ones; bad plus late must not exceed 1. */
  readonly lateRatio: number;
  /** Event time of record 0 (epoch ms); undefined: the wall clock when each record is sent. */
  readonly startTs: number | undefined;
  /** Event time between two records, in ms (with `startTs`). */
  readonly stepMs: number;
  readonly disorderMs: number;
  readonly lateByMs: number;
}

/** What a record of the run is: a good reading, a bad record, or a good reading sent late. */
export type RecordClass = 'good' | 'bad' | 'late';

/**
 * Which records are bad, by their index in the run: spread evenly, and
 * exactly round(count × ratio) of them when the count is known.
 */
export function badSchedule(badRatio: number, count: number | undefined): Schedule {
  return count === undefined ? ratioSchedule(badRatio) : exactSchedule(Math.round(count * badRatio), count);
}

/**
 * Which good records are late, by their index among the good ones: spread
 * evenly over them, and a share `lateRatio` of all records (exactly
 * round(count × ratio) of them when the count is known).
 */
export function lateSchedule(badRatio: number, lateRatio: number, count: number | undefined): Schedule {
  if (count === undefined) return badRatio >= 1 ? () => false : ratioSchedule(lateRatio / (1 - badRatio));
  return exactSchedule(Math.round(count * lateRatio), count - Math.round(count * badRatio));
}

/**
 * The records of one run of the fleet, in order: which are bad or late, and
 * the event time of each. Pure apart from the wall clock passed in, so the
 * same options give the same records.
 */
export class FleetRun {
  readonly #fleet: Fleet;
  readonly #times: EventTimes;
  readonly #isBad: Schedule;
  readonly #isLate: Schedule;
  #index = 0;
  #goodIndex = 0;

  constructor(options: FleetRunOptions) {
    this.#fleet = new Fleet(options);
    this.#times = new EventTimes(options, options.seed);
    this.#isBad = badSchedule(options.badRatio, options.count);
    this.#isLate = lateSchedule(options.badRatio, options.lateRatio, options.count);
  }

  /** The fleet the records come from. */
  get fleet(): Fleet {
    return this.#fleet;
  }

  /** The next record, sent at wall-clock time `now` (epoch ms). */
  next(now: number): { readonly message: FleetMessage; readonly kind: RecordClass } {
    const index = this.#index++;
    if (this.#isBad(index)) return { message: this.#fleet.bad(this.#times.base(index, now)), kind: 'bad' };
    if (this.#isLate(this.#goodIndex++)) return { message: this.#fleet.good(this.#times.late(index, now), true), kind: 'late' };
    return { message: this.#fleet.good(this.#times.good(index, now)), kind: 'good' };
  }
}
