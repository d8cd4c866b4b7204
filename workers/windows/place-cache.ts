/**
 * The last place of each device, with the zone and H3 cell it was keyed to.
 * Fixed sensors (weather stations, probes, air-quality monitors) report the
 * same coordinates reading after reading, and a zone lookup or an H3 cell
 * costs far more than a map lookup by the device id the decoder already
 * interned. A hit needs the same float32 longitude and latitude, so it gives
 * exactly what the lookup would: keys never depend on the cache.
 */

import { PLACE_CACHE_DEVICES } from '../../src/shared/keys.js';

/** What a device's last place was keyed to. */
interface Place {
  lon: number;
  lat: number;
  /** Zone index (ZoneSet.lookup: -1 for none), or NOT_LOOKED_UP. */
  zone: number;
  /** H3 cell at the cache's resolution, or null until asked for. */
  h3: string | null;
}

/** A zone not yet looked up for the current place. */
export const NOT_LOOKED_UP = -2;


/** Holds PLACE_CACHE_DEVICES devices at most; then starts over, so a fleet larger than that costs lookups, never memory. */
export class PlaceCache {
  readonly #places = new Map<string, Place>();
  readonly #maxDevices: number;
  #current: Place | undefined;

  constructor(maxDevices = PLACE_CACHE_DEVICES) {
    this.#maxDevices = maxDevices;
  }

  get size(): number {
    return this.#places.size;
  }

  /**
   * Makes the device's place current: its cached keys if it has not moved,
   * else a fresh entry with none. Read and fill them with the accessors below.
   */
  at(deviceId: string, lon: number, lat: number): void {
    let place = this.#places.get(deviceId);
    if (place === undefined) {
      if (this.#places.size >= this.#maxDevices) this.#places.clear();
      place = { lon, lat, zone: NOT_LOOKED_UP, h3: null };
      this.#places.set(deviceId, place);
    } else if (place.lon !== lon || place.lat !== lat) {
      place.lon = lon;
      place.lat = lat;
      place.zone = NOT_LOOKED_UP;
      place.h3 = null;
    }
    this.#current = place;
  }

  get zone(): number {
    return this.#current!.zone;
  }

  set zone(zone: number) {
    this.#current!.zone = zone;
  }

  get h3(): string | null {
    return this.#current!.h3;
  }

  set h3(cell: string | null) {
    this.#current!.h3 = cell;
  }
}
