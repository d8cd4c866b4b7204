import { ExactSum } from './exact-sum.js';
import type { PartialAggregate } from './partial.js';
import { PartialReader, PartialWriter } from './partial-wire.js';
import { planarHull } from './planar-hull.js';
import { sortedTrack } from './track.js';

/**
 * Reading values enter their sum expansion times 2^-64: a window's sum then
 * cannot overflow a double however large its finite readings (below 2^1024,
 * so below 2^960 scaled; 2^53 of them sum below 2^1013), and the scaling is
 * exact for any value above 2^-958 in magnitude. Below that a value rounds on
 * scaling, the same way wherever it is added, so sums stay independent of
 * the split.
 */
export const READING_SUM_SCALE = 2 ** -64;
/** Points the column buffers hold before their first growth; they double after. */
const INITIAL_POINT_CAPACITY = 64;

/** A reading's statistics while records are added. */
interface RunningReading {
  count: number;
  min: number;
  max: number;
  sum: ExactSum;
}

/**
 * Folds the records of one chunk for one (window, key) into a partial
 * aggregate. The point columns hold every record's point until finish (8 B a
 * point, 16 B with a track). Each add writes into them and into running numbers:
 * it allocates only when a buffer doubles, a device or reading name is new, or
 * a sum expansion grows longer than before. Sorting (hull, track) waits for
 * finish. finish leaves the builder as it was; reset empties it and keeps its
 * buffers, for the next (window, key).
 */
export class PartialBuilder {
  readonly #track: boolean;
  readonly #maxReadingNames: number;
  #count = 0;
  #lon = new Float32Array(INITIAL_POINT_CAPACITY);
  #lat = new Float32Array(INITIAL_POINT_CAPACITY);
  #ts: Float64Array;
  readonly #sumLon = new ExactSum();
  readonly #sumLat = new ExactSum();
  #west = Infinity;
  #south = Infinity;
  #east = -Infinity;
  #north = -Infinity;
  #tsMin = Infinity;
  #tsMax = -Infinity;
  readonly #devices = new Set<string>();
  /** The id added last: a device's records come in runs, so most adds skip the set. */
  #lastDevice: string | null = null;
  readonly #readings = new Map<string, RunningReading>();
  /**
   * Per reading position of a record, the name seen there last and its
   * statistics: records of one kind list their readings in the same order,
   * so most readings skip the map lookup (names are interned: === is cheap).
   */
  readonly #slotNames: (string | null)[] = [];
  readonly #slotReadings: (RunningReading | null)[] = [];

  constructor(options: { track: boolean; maxReadingNames: number }) {
    this.#track = options.track;
    this.#maxReadingNames = options.maxReadingNames;
    this.#ts = new Float64Array(options.track ? INITIAL_POINT_CAPACITY : 0);
  }

  get count(): number {
    return this.#count;
  }

  /**
   * Folds one record in. `names`/`values`: its first `readingCount` readings,
   * NaN where the sensor reported null (skipped); coordinates, time and
   * values are otherwise finite (the decoder checks). Coordinates are taken
   * as float32 and -0 as 0 (so which of two equal zeros came first cannot show).
   * Returns how many readings were dropped because the builder already holds
   * `maxReadingNames` names and theirs is not one of them.
   */
  add(lon: number, lat: number, ts: number, deviceId: string, names: readonly string[], values: readonly number[], readingCount: number): number {
    const x = Math.fround(lon) + 0;
    const y = Math.fround(lat) + 0;
    const t = ts + 0;
    const n = this.#count;
    if (n === this.#lon.length) this.#grow();
    this.#lon[n] = x;
    this.#lat[n] = y;
    if (this.#track) this.#ts[n] = t;
    this.#count = n + 1;
    this.#sumLon.add(x);
    this.#sumLat.add(y);
    if (x < this.#west) this.#west = x;
    if (x > this.#east) this.#east = x;
    if (y < this.#south) this.#south = y;
    if (y > this.#north) this.#north = y;
    if (t < this.#tsMin) this.#tsMin = t;
    if (t > this.#tsMax) this.#tsMax = t;
    if (deviceId !== this.#lastDevice) {
      this.#devices.add(deviceId);
      this.#lastDevice = deviceId;
    }
    let dropped = 0;
    for (let i = 0; i < readingCount; i++) {
      const raw = values[i]!;
      if (Number.isNaN(raw)) continue;
      const value = raw + 0;
      const name = names[i]!;
      let running = i < this.#slotNames.length && this.#slotNames[i] === name ? this.#slotReadings[i]! : this.#readings.get(name);
      if (running === undefined) {
        if (this.#readings.size >= this.#maxReadingNames) {
          dropped++;
          continue;
        }
        running = { count: 0, min: value, max: value, sum: new ExactSum() };
        this.#readings.set(name, running);
      }
      this.#remember(i, name, running);
      running.count++;
      if (value < running.min) running.min = value;
      if (value > running.max) running.max = value;
      running.sum.add(value * READING_SUM_SCALE);
    }
    return dropped;
  }

  /** The partial of every record added since the last reset, in object form (as the main thread reads it from the wire). */
  finish(): PartialAggregate {
    const writer = new PartialWriter();
    this.writeTo(writer);
    return new PartialReader(writer.take()).partial();
  }

  /** Writes the partial of every record added since the last reset (layout: partial-wire.ts). */
  writeTo(out: PartialWriter): void {
    const n = this.#count;
    out.number(n);
    out.list(this.#sumLon.toArray());
    out.list(this.#sumLat.toArray());
    out.number(this.#west);
    out.number(this.#south);
    out.number(this.#east);
    out.number(this.#north);
    out.number(this.#tsMin);
    out.number(this.#tsMax);
    const devices = [...this.#devices].sort();
    out.number(devices.length);
    for (const id of devices) out.string(id);
    out.list(planarHull(this.#lon, this.#lat, n));
    out.number(this.#readings.size);
    for (const name of [...this.#readings.keys()].sort()) {
      const { count, min, max, sum } = this.#readings.get(name)!;
      out.string(name);
      out.number(count);
      out.number(min);
      out.number(max);
      out.list(sum.toArray());
    }
    out.track(this.#track ? sortedTrack(this.#lon, this.#lat, this.#ts, n) : null);
  }

  /** Empties the builder for the next (window, key), keeping its buffers. */
  reset(): void {
    this.#count = 0;
    this.#sumLon.reset();
    this.#sumLat.reset();
    this.#west = Infinity;
    this.#south = Infinity;
    this.#east = -Infinity;
    this.#north = -Infinity;
    this.#tsMin = Infinity;
    this.#tsMax = -Infinity;
    this.#devices.clear();
    this.#lastDevice = null;
    this.#readings.clear();
    this.#slotNames.fill(null);
    this.#slotReadings.fill(null);
  }

  #remember(slot: number, name: string, running: RunningReading): void {
    if (this.#slotReadings[slot] === running) return;
    while (this.#slotNames.length <= slot) {
      this.#slotNames.push(null);
      this.#slotReadings.push(null);
    }
    this.#slotNames[slot] = name;
    this.#slotReadings[slot] = running;
  }

  #grow(): void {
    const capacity = this.#lon.length * 2;
    this.#lon = grown(new Float32Array(capacity), this.#lon);
    this.#lat = grown(new Float32Array(capacity), this.#lat);
    if (this.#track) this.#ts = grown(new Float64Array(capacity), this.#ts);
  }
}

function grown<T extends Float32Array | Float64Array>(bigger: T, old: T): T {
  bigger.set(old);
  return bigger;
}
