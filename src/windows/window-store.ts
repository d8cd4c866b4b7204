import { PartialReader, type PartialsWire } from '../shared/aggregate/partial-wire.js';
import { KEY_KINDS } from '../shared/keys.js';
import { TimeWindow, type TimeCloseReason } from './time-window.js';

/** Per-partition bounds on window state (WINDOW_MAX_OPEN, WINDOW_MAX_KEYS, TRACK_MAX_POINTS, READING_COLUMNS). */
export interface WindowCaps {
  readonly maxOpen: number;
  readonly maxKeys: number;
  readonly maxTrackPoints: number;
  readonly maxReadingNames: number;
}

/**
 * The caps a store can hit; label values of geowindow_window_cap_hits_total.
 * `memory`: the memory guard, paused above its high-water mark, shed the
 * oldest windows (see memory/guard.ts).
 */
export const WINDOW_CAPS = ['open_windows', 'keys', 'track_points', 'state_bytes', 'memory'] as const;
export type WindowCap = (typeof WINDOW_CAPS)[number];

/**
 * The state budget every partition's windows share: the window-state share of
 * the memory plan, in estimated bytes.
 */
export class StateBudget {
  readonly limitBytes: number;
  /** Open windows: what the share bounds (past it the oldest is emitted early). */
  usedBytes = 0;
  /**
   * Closed windows whose aggregates are still being written: freed key by
   * key as they are. Not held against the share (emitting more windows
   * early would only add to it); the memory plan reserves room for it.
   */
  closingBytes = 0;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  get exceeded(): boolean {
    return this.usedBytes > this.limitBytes;
  }
}

export interface ClosedWindow {
  readonly window: TimeWindow;
  readonly closedBy: TimeCloseReason;
}

/**
 * The open event-time windows of one partition and its watermark. The
 * watermark only moves forward: by the largest event time merged (minus the
 * grace), by the wall clock when the partition is idle, or to the end of a
 * window a cap emitted early. A window closes when the watermark reaches its
 * end; nothing is kept for it afterwards, so keys that go quiet leave no
 * state behind.
 */
export class WindowStore {
  readonly #caps: WindowCaps;
  readonly #budget: StateBudget;
  readonly #open = new Map<number, TimeWindow>();
  #watermark: number;

  constructor(caps: WindowCaps, budget: StateBudget, watermark = Number.NEGATIVE_INFINITY) {
    this.#caps = caps;
    this.#budget = budget;
    this.#watermark = watermark;
  }

  get watermark(): number {
    return this.#watermark;
  }

  get openCount(): number {
    return this.#open.size;
  }

  /** The first offset of the oldest record an open window holds, +Infinity when none. */
  get firstOpenOffset(): number {
    let first = Number.POSITIVE_INFINITY;
    for (const window of this.#open.values()) if (window.firstOffset < first) first = window.firstOffset;
    return first;
  }

  /** The end of the window that closes first, +Infinity when none is open. */
  get oldestEnd(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const window of this.#open.values()) if (window.end < oldest) oldest = window.end;
    return oldest;
  }

  /** Estimated bytes held by this partition's open windows. */
  get bytes(): number {
    let bytes = 0;
    for (const window of this.#open.values()) bytes += window.bytes;
    return bytes;
  }

  /**
   * Merges one chunk's partials (rows mapped to offsets by `offsetOf`);
   * windows the watermark already passed are skipped (their rows are late,
   * found by the caller). Returns the readings dropped by the name cap.
   */
  merge(partials: PartialsWire, offsetOf: (row: number) => number): number {
    const wire = new PartialReader(partials);
    let dropped = 0;
    while (!wire.done) {
      const start = wire.number();
      const end = wire.number();
      const keys = wire.number();
      // An open window always ends after the watermark: one that ends at or before it was closed and is skipped.
      let window = end <= this.#watermark ? undefined : this.#open.get(start);
      if (window === undefined && end > this.#watermark) {
        window = new TimeWindow(start, end);
        this.#open.set(start, window);
      }
      const before = window?.bytes ?? 0;
      for (let k = 0; k < keys; k++) {
        const by = KEY_KINDS[wire.number()];
        const id = wire.string();
        const firstRow = wire.number();
        const lastRow = wire.number();
        const partial = wire.partial();
        if (by === undefined) throw new RangeError('partials wire names no key kind');
        if (window !== undefined) dropped += window.merge(by, id, partial, offsetOf(firstRow), offsetOf(lastRow), this.#caps.maxReadingNames);
      }
      if (window !== undefined) this.#budget.usedBytes += window.bytes - before;
    }
    return dropped;
  }

  /** Moves the watermark to `to` (if later) and closes, oldest first, every window it reaches. */
  advance(to: number, closedBy: TimeCloseReason): ClosedWindow[] {
    if (to <= this.#watermark) return [];
    this.#watermark = to;
    const closed: ClosedWindow[] = [];
    for (const window of this.#open.values()) if (window.end <= to) closed.push({ window, closedBy });
    closed.sort((a, b) => a.window.end - b.window.end || a.window.start - b.window.start);
    for (const { window } of closed) {
      this.#forget(window);
      this.#budget.closingBytes += window.bytes;
    }
    return closed;
  }

  /** The first per-partition cap the open windows pass, if any. */
  capHit(): WindowCap | undefined {
    if (this.#open.size > this.#caps.maxOpen) return 'open_windows';
    for (const window of this.#open.values()) {
      if (window.keyCount > this.#caps.maxKeys) return 'keys';
      if (window.maxTrackPoints > this.#caps.maxTrackPoints) return 'track_points';
    }
    return undefined;
  }

  /**
   * Emits the oldest window early: the watermark jumps to its end, so the
   * records still to come for it are late, as for any closed window.
   */
  closeOldest(): ClosedWindow[] {
    return this.advance(this.oldestEnd, 'cap');
  }

  /** Emits early, as closeOldest does, every open window ending at or before `end`. */
  closeUpTo(end: number): ClosedWindow[] {
    return this.oldestEnd <= end ? this.advance(end, 'cap') : [];
  }

  /** Drops every open window (the partition was revoked); their records are read again by the next owner. */
  clear(): void {
    for (const window of [...this.#open.values()]) this.#forget(window);
  }

  #forget(window: TimeWindow): void {
    this.#open.delete(window.start);
    this.#budget.usedBytes -= window.bytes;
  }
}
