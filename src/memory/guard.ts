/** One reading of the process's memory and of the work it still holds. */
export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapLimit: number;
  /** Chunks and dead letters not yet acknowledged: what a pause lets drain. */
  readonly inFlight: number;
  /** Event-time window state a shed would free (open windows), in estimated bytes; 0 when there is none. */
  readonly sheddable?: number;
}

/** What the service must do after a sample. The guard itself touches nothing. */
export type GuardAction =
  | 'none'
  /** Stop fetching every assigned partition. */
  | 'pause'
  /** Fetch again. */
  | 'resume'
  /** In-flight work has drained while paused: collect garbage once, if the runtime allows it. */
  | 'collect'
  /**
   * Drained and collected, and still above the high-water mark with open
   * windows: emit the oldest early. While paused no record comes, so event
   * time stands still and no window would ever close by itself.
   */
  | 'shed'
  /** Over budget for too long even while paused: stop without committing unprocessed offsets. */
  | 'shutdown';

export interface GuardOptions {
  readonly budgetBytes: number;
  /** Pause at this share of the budget (or of the V8 heap limit). */
  readonly highWater: number;
  /** Resume below this share. */
  readonly lowWater: number;
  /** How long RSS may stay above the budget while paused before the service gives up. */
  readonly stuckMs: number;
}

/**
 * A pause shorter than this achieves nothing (a fetch round trip, a worker
 * task) and lets the consumer flap between states.
 */
export const MIN_PAUSE_MS = 1000;

/**
 * When a drained pause leaves usage above the high-water mark, the next pause
 * comes only this much (a share of the budget) above what was left: records
 * must have grown it, not the runtime's floor.
 */
export const FLOOR_MARGIN = 0.05;

/**
 * The memory circuit breaker's state machine: running or paused, with
 * hysteresis between the high and low water marks. Usage is the larger of
 * RSS against the budget and V8 heap against its limit.
 *
 * RSS does not always fall after a collection (freed pages may stay
 * mapped), and part of it is the runtime's own. So once a pause has drained
 * everything in flight and collected garbage, what remains is not held for
 * records and a longer pause would free nothing: the guard resumes while RSS
 * is within the budget, rather than wait for a low-water mark that may never
 * come and stall the stream. If usage is still above the high-water mark,
 * that level is the process's floor: the next pause comes at FLOOR_MARGIN
 * above it (until usage falls below the low-water mark again), so the guard
 * does not flap around it. Above the budget it stays paused and the stuck
 * rule applies.
 *
 * Event-time windows hold state that no pause frees: with the consumer
 * paused no record arrives, so no watermark moves and no window closes. So
 * before the guard settles for a floor (or gives up), it sheds: while open
 * windows hold state, each drained and collected pause that leaves usage at
 * or above the high-water mark emits the oldest windows early, then drains
 * and collects again. A shed that frees memory restarts the stuck clock;
 * only when nothing is left to shed does an over-budget process stop.
 */
export class MemoryGuard {
  readonly #options: GuardOptions;
  #paused = false;
  #pausedAt = 0;
  #collected = false;
  #overBudgetSince: number | undefined;
  #usage = 0;
  /** Usage left after a drained pause, when that is above the high-water mark. */
  #floor: number | undefined;
  /** Usage at the last shed of this pause: a shed after it that finds usage lower made progress. */
  #shedUsage: number | undefined;

  constructor(options: GuardOptions) {
    if (!(options.lowWater > 0 && options.lowWater < options.highWater && options.highWater <= 1)) {
      throw new RangeError(`memory water marks must satisfy 0 < low < high <= 1, got ${options.lowWater} and ${options.highWater}`);
    }
    this.#options = options;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** The last usage seen, as a share of the budget (may exceed 1). */
  get usage(): number {
    return this.#usage;
  }

  update(sample: MemorySample, now: number): GuardAction {
    const { budgetBytes, highWater, lowWater, stuckMs } = this.#options;
    const usage = Math.max(sample.rss / budgetBytes, sample.heapUsed / sample.heapLimit);
    this.#usage = usage;
    if (usage < lowWater) this.#floor = undefined;
    if (!this.#paused) {
      const pauseAt = this.#floor === undefined ? highWater : Math.max(highWater, this.#floor + FLOOR_MARGIN);
      if (usage < pauseAt) return 'none';
      this.#paused = true;
      this.#pausedAt = now;
      this.#collected = false;
      this.#shedUsage = undefined;
      this.#overBudgetSince = sample.rss > budgetBytes ? now : undefined;
      return 'pause';
    }
    if (sample.rss > budgetBytes) {
      this.#overBudgetSince ??= now;
      if (now - this.#overBudgetSince >= stuckMs) return 'shutdown';
    } else {
      this.#overBudgetSince = undefined;
    }
    if (now - this.#pausedAt < MIN_PAUSE_MS) return 'none';
    const drained = sample.inFlight === 0;
    if (usage < lowWater) {
      this.#paused = false;
      return 'resume';
    }
    if (drained && this.#collected && usage >= highWater && (sample.sheddable ?? 0) > 0) {
      this.#collected = false;
      // Progress, not a stuck process: the next drained pause measures what the shed freed.
      if (this.#shedUsage === undefined || usage < this.#shedUsage) this.#overBudgetSince = sample.rss > budgetBytes ? now : undefined;
      this.#shedUsage = usage;
      return 'shed';
    }
    if (drained && this.#collected && sample.rss <= budgetBytes) {
      // What is left is the process's floor, not records: pause again only
      // if usage grows past it, instead of flapping around it.
      if (usage >= highWater) this.#floor = usage;
      this.#paused = false;
      return 'resume';
    }
    if (drained && !this.#collected) {
      this.#collected = true;
      return 'collect';
    }
    return 'none';
  }
}
