import { mergePartial, partialBytes, type PartialAggregate } from '../shared/aggregate/partial.js';
import { trackPoints } from '../shared/aggregate/track.js';
import type { KeyKind } from '../shared/keys.js';

/** What closed an event-time window. Only `watermark` closes are reproduced exactly by a replay. */
export const TIME_CLOSE_REASONS = [
  /** The partition's watermark (largest event time seen minus the grace) reached the window's end. */
  'watermark',
  /** The partition was read to its end and got nothing for IDLE_PARTITION_MS: the wall clock stood in for event time. */
  'idle',
  /** A state cap (open windows, keys, track points, the memory plan's share) emitted the oldest window early. */
  'cap',
] as const;

export type TimeCloseReason = (typeof TIME_CLOSE_REASONS)[number];

/**
 * What a key costs beside its partial: the KeyState object and its entry in
 * the window's map (with the map's growth slack; the id is the partial's). With
 * it the estimate bounds the heap of a window's keys from above
 * (`npm run bench:state`).
 */
const KEY_STATE_BYTES = 64;

/** One key's state in an open window. */
export interface KeyState {
  readonly by: KeyKind;
  readonly id: string;
  readonly partial: PartialAggregate;
  firstOffset: number;
  lastOffset: number;
  /** partialBytes(partial) and KEY_STATE_BYTES, kept so a merge measures the partial once. */
  bytes: number;
}

/**
 * An open event-time window of one partition: `[start, end)` in epoch ms,
 * a mergeable partial aggregate per key, and the offsets it covers (for the
 * commit rule and the output's `source`).
 */
export class TimeWindow {
  readonly start: number;
  readonly end: number;
  /** Keys by kind, then by id (ids of two kinds may be equal): no name string made per key and merge. */
  readonly #keys = new Map<KeyKind, Map<string, KeyState>>();
  #keyCount = 0;
  firstOffset = Number.POSITIVE_INFINITY;
  lastOffset = Number.NEGATIVE_INFINITY;
  /** Estimated heap bytes of the keys (see partialBytes and KEY_STATE_BYTES). */
  bytes = 0;
  /** The largest track one key holds, in points. */
  maxTrackPoints = 0;

  constructor(start: number, end: number) {
    this.start = start;
    this.end = end;
  }

  /**
   * Merges one chunk's partial for a key. Returns the readings dropped because
   * the key's partial already held `maxReadingNames` names.
   */
  merge(by: KeyKind, id: string, partial: PartialAggregate, firstOffset: number, lastOffset: number, maxReadingNames: number): number {
    let ids = this.#keys.get(by);
    if (ids === undefined) {
      ids = new Map();
      this.#keys.set(by, ids);
    }
    const state = ids.get(id);
    let dropped = 0;
    if (state === undefined) {
      const bytes = KEY_STATE_BYTES + partialBytes(partial);
      ids.set(id, { by, id, partial, firstOffset, lastOffset, bytes });
      this.#keyCount++;
      this.bytes += bytes;
    } else {
      dropped = mergePartial(state.partial, partial, maxReadingNames);
      const bytes = KEY_STATE_BYTES + partialBytes(state.partial);
      this.bytes += bytes - state.bytes;
      state.bytes = bytes;
      if (firstOffset < state.firstOffset) state.firstOffset = firstOffset;
      if (lastOffset > state.lastOffset) state.lastOffset = lastOffset;
    }
    const track = (state?.partial ?? partial).track;
    if (track !== null && trackPoints(track) > this.maxTrackPoints) this.maxTrackPoints = trackPoints(track);
    if (firstOffset < this.firstOffset) this.firstOffset = firstOffset;
    if (lastOffset > this.lastOffset) this.lastOffset = lastOffset;
    return dropped;
  }

  /** Keys held. */
  get keyCount(): number {
    return this.#keyCount;
  }

  /** Every key's state, kind by kind; forgetting the key just visited is safe. */
  *keyStates(): Generator<KeyState, void, undefined> {
    for (const ids of this.#keys.values()) yield* ids.values();
  }

  /** Drops a key whose aggregate is built, so a closing window frees its state as it is written. */
  forget(key: KeyState): void {
    if (this.#keys.get(key.by)?.delete(key.id) === true) this.#keyCount--;
  }
}
