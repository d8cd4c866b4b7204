/*
 * Partial aggregates as they cross from a worker to the main thread: one
 * Float64Array of numbers and one array of the strings they name (key ids,
 * device ids, reading names, each once per chunk). Structured clone of the
 * object form costs about 15 µs per partial (serialize and deserialize, a
 * dozen small objects each); a chunk's partials as two flat values cross in
 * one copy of their bytes, and the main thread reads them back into arrays
 * made at their length.
 *
 * One partial, in order (n: a length, [n]: n numbers, s: a string index):
 *   count, n sumLon[n], n sumLat[n], west, south, east, north,
 *   tsMin, tsMax, n devices(s)[n], n hull[n],
 *   n readings (s name, count, min, max, n sum[n])[n] with names sorted,
 *   track: -1 for none, else n, then n (ts, lon, lat) fixes
 */
import type { PartialAggregate } from './partial.js';
import { FIX_STRIDE, type TrackPartial } from './track.js';

/** What a worker returns: plain data, cloned as two values whatever the number of partials. */
export interface PartialsWire {
  readonly numbers: Float64Array;
  readonly strings: string[];
}

const INITIAL_NUMBERS = 4096;
const NO_TRACK = -1;

/** Writes numbers and strings into a growing buffer; `take` hands them over and starts again. */
export class PartialWriter {
  #numbers = new Float64Array(INITIAL_NUMBERS);
  #length = 0;
  #strings: string[] = [];
  readonly #stringIndex = new Map<string, number>();

  number(x: number): void {
    if (this.#length === this.#numbers.length) {
      const bigger = new Float64Array(this.#numbers.length * 2);
      bigger.set(this.#numbers);
      this.#numbers = bigger;
    }
    this.#numbers[this.#length++] = x;
  }

  /** A length, then the values. */
  list(values: ArrayLike<number>): void {
    this.number(values.length);
    for (let i = 0; i < values.length; i++) this.number(values[i]!);
  }

  /** A string, as its index in this wire's string table. */
  string(s: string): void {
    let index = this.#stringIndex.get(s);
    if (index === undefined) {
      index = this.#strings.length;
      this.#strings.push(s);
      this.#stringIndex.set(s, index);
    }
    this.number(index);
  }

  track(track: TrackPartial | null): void {
    if (track === null) {
      this.number(NO_TRACK);
      return;
    }
    this.number(track.length / FIX_STRIDE);
    for (let i = 0; i < track.length; i++) this.number(track[i]!);
  }

  /** The numbers and strings written since the last take (a copy of just the used numbers). */
  take(): PartialsWire {
    const wire = { numbers: this.#numbers.slice(0, this.#length), strings: this.#strings };
    this.clear();
    return wire;
  }

  /** Drops what was written since the last take: a task that failed midway leaves nothing for the next. */
  clear(): void {
    this.#length = 0;
    this.#strings = [];
    this.#stringIndex.clear();
  }
}

/** Name lists a reader remembers, to hand out one array for partials with the same reading names. */
const RECENT_NAME_LISTS = 8;

/** Reads a wire front to back. */
export class PartialReader {
  readonly #numbers: Float64Array;
  readonly #strings: readonly string[];
  #at = 0;
  /** Reading-name lists handed out, most recent last: keys of a chunk mostly share a few, and window state keeps one per key. */
  readonly #nameLists: (readonly string[])[] = [];
  readonly #names: string[] = [];
  readonly #stats: number[] = [];

  constructor(wire: PartialsWire) {
    this.#numbers = wire.numbers;
    this.#strings = wire.strings;
  }

  get done(): boolean {
    return this.#at >= this.#numbers.length;
  }

  number(): number {
    if (this.#at >= this.#numbers.length) throw new RangeError('partials wire ended early');
    return this.#numbers[this.#at++]!;
  }

  string(): string {
    const s = this.#strings[this.number()];
    if (s === undefined) throw new RangeError('partials wire names a string it does not hold');
    return s;
  }

  /** Arrays are made at their exact length: pushing onto [] reserves 17 slots, which tripled the heap of a small partial. */
  list(): number[] {
    return this.#numbersOf(this.number());
  }

  partial(): PartialAggregate {
    const count = this.number();
    const sumLon = this.list();
    const sumLat = this.list();
    const bounds = this.#numbersOf(6);
    const devices = new Array<string>(this.number());
    for (let i = 0; i < devices.length; i++) devices[i] = this.string();
    const hull = this.list();
    const names = this.#names;
    const stats = this.#stats;
    names.length = 0;
    stats.length = 0;
    for (let n = this.number(); n > 0; n--) {
      names.push(this.string());
      stats.push(this.number(), this.number(), this.number());
      const terms = this.number();
      stats.push(terms);
      for (let k = 0; k < terms; k++) stats.push(this.number());
    }
    const readingNames = this.#nameList(names);
    const readingStats = stats.slice();
    const fixes = this.number();
    const track = fixes === NO_TRACK ? null : this.#numbersOf(fixes * FIX_STRIDE);
    return { count, sumLon, sumLat, bounds, devices, hull, readingNames, readingStats, track };
  }

  #numbersOf(n: number): number[] {
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.number();
    return out;
  }

  /** A list equal to `names`: one handed out recently, else a copy remembered for the next partials. */
  #nameList(names: readonly string[]): readonly string[] {
    const lists = this.#nameLists;
    for (let l = lists.length - 1; l >= 0; l--) {
      const list = lists[l]!;
      if (list.length !== names.length) continue;
      let same = true;
      for (let k = 0; k < names.length && same; k++) same = list[k] === names[k];
      if (same) return list;
    }
    const list = names.slice();
    if (lists.length === RECENT_NAME_LISTS) lists.shift();
    lists.push(list);
    return list;
  }
}
