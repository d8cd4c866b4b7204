import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import type * as H3 from 'h3-js';
import type { KeySpec, WorkerData } from '../../src/protocol/messages.js';
import { KEY_KINDS, type KeyKind } from '../../src/shared/keys.js';
import { loadZones, zonesFromShared, type ZoneSet } from '../../src/shared/zones/zone-set.js';
import { NOT_LOOKED_UP, PlaceCache } from './place-cache.js';

type LatLngToCell = typeof H3.latLngToCell;

/**
 * h3-js, loaded by the first keyer with an `h3` kind. Its emscripten heap is
 * a 32 MB ArrayBuffer, 6-8 MB of it resident once loaded, in every thread
 * that imports it: a worker keying only zones or devices paid that for nothing.
 * Loaded through require (its CommonJS build) because a task runs synchronously.
 */
let h3Cell: LatLngToCell | undefined;

function loadLatLngToCell(): LatLngToCell {
  h3Cell ??= (createRequire(import.meta.url)('h3-js') as typeof H3).latLngToCell;
  return h3Cell;
}

/** The zones of the last task, kept for the life of the worker: every task of a deployment names the same file. */
let zones: { readonly file: string; readonly idProperty: string; readonly set: ZoneSet } | undefined;

/** The main thread's index when it shared the same file and id property, else (a pool started without it) the file itself. */
export function zonesFor(spec: NonNullable<KeySpec['zones']>, given: WorkerData['zones'] | undefined, load = loadZones): ZoneSet {
  return given?.file === spec.file && given.idProperty === spec.idProperty ? zonesFromShared(given.shared) : load(spec.file, spec.idProperty);
}

function zoneSet(spec: NonNullable<KeySpec['zones']>): ZoneSet {
  if (zones === undefined || zones.file !== spec.file || zones.idProperty !== spec.idProperty) {
    zones = { file: spec.file, idProperty: spec.idProperty, set: zonesFor(spec, (workerData as WorkerData | null | undefined)?.zones) };
  }
  return zones.set;
}

/** Devices' last places, for the zone set and H3 resolution they were keyed with; kept across tasks (a Keyer lives for one partition's spec). */
let places: { readonly zones: ZoneSet | undefined; readonly h3Resolution: number; readonly cache: PlaceCache } | undefined;

function placeCache(zoneSet: ZoneSet | undefined, h3Resolution: number): PlaceCache {
  if (places === undefined || places.zones !== zoneSet || places.h3Resolution !== h3Resolution) {
    places = { zones: zoneSet, h3Resolution, cache: new PlaceCache() };
  }
  return places.cache;
}

/**
 * Turns a reading into its key ids, one per configured kind, into `ids`
 * (null where the record has no key of that kind: a point in no zone when
 * unmatched points are dropped). The ids are strings the zone set, h3-js and
 * the decoder's string table already hold, so a record allocates at most the
 * H3 cell's id, and a device that has not moved reuses its last zone and
 * cell (place-cache.ts).
 */
export class Keyer {
  readonly kinds: readonly KeyKind[];
  /** One slot per kind, in `kinds` order; rewritten by every `keys` call. */
  readonly ids: (string | null)[];
  readonly #partitionId: string;
  readonly #zones: ZoneSet | undefined;
  readonly #zoneUnmatched: string | null;
  readonly #h3Resolution: number;
  /** Only when an `h3` kind is configured. */
  readonly #h3Cell: LatLngToCell | undefined;
  readonly #kindCodes: Uint8Array;
  /** Only when a zone or H3 kind is configured: the other kinds cost less than the cache. */
  readonly #places: PlaceCache | undefined;

  constructor(spec: KeySpec) {
    this.kinds = spec.by;
    this.ids = spec.by.map(() => null);
    this.#partitionId = String(spec.partition);
    this.#zones = spec.zones === null ? undefined : zoneSet(spec.zones);
    this.#zoneUnmatched = spec.zoneUnmatched;
    this.#h3Resolution = spec.h3Resolution;
    this.#h3Cell = spec.by.includes('h3') ? loadLatLngToCell() : undefined;
    this.#kindCodes = Uint8Array.from(spec.by, (kind) => KEY_KINDS.indexOf(kind));
    this.#places = spec.by.includes('zone') || spec.by.includes('h3') ? placeCache(this.#zones, this.#h3Resolution) : undefined;
  }

  /** Fills `ids` for a point; returns false when the point fell in no zone and was not grouped (it still counts under the other kinds). */
  keys(lon: number, lat: number, deviceId: string): boolean {
    let zoned = true;
    const places = this.#places;
    places?.at(deviceId, lon, lat);
    for (let k = 0; k < this.#kindCodes.length; k++) {
      switch (KEY_KINDS[this.#kindCodes[k]!]) {
        case 'partition':
          this.ids[k] = this.#partitionId;
          break;
        case 'zone': {
          let zone = places!.zone;
          if (zone === NOT_LOOKED_UP) {
            zone = this.#zones!.lookup(lon, lat);
            places!.zone = zone;
          }
          if (zone < 0) {
            zoned = false;
            this.ids[k] = this.#zoneUnmatched;
          } else {
            this.ids[k] = this.#zones!.id(zone);
          }
          break;
        }
        case 'h3':
          this.ids[k] = places!.h3 ??= this.#h3Cell!(lat, lon, this.#h3Resolution);
          break;
        case 'device':
          this.ids[k] = deviceId;
          break;
      }
    }
    return zoned;
  }
}
