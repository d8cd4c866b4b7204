import { latLngToCell } from 'h3-js';
import type { KeySpec } from '../../src/protocol/messages.js';
import { KEY_KINDS, type KeyKind } from '../../src/shared/keys.js';
import { loadZones, type ZoneSet } from '../../src/shared/zones/zone-set.js';

/** The zones of the last task, kept for the life of the worker: every task of a deployment names the same file. */
let zones: { readonly file: string; readonly idProperty: string; readonly set: ZoneSet } | undefined;

function zoneSet(spec: NonNullable<KeySpec['zones']>): ZoneSet {
  if (zones === undefined || zones.file !== spec.file || zones.idProperty !== spec.idProperty) {
    zones = { file: spec.file, idProperty: spec.idProperty, set: loadZones(spec.file, spec.idProperty) };
  }
  return zones.set;
}

/**
 * Turns a reading into its key ids, one per configured kind, into `ids`
 * (null where the record has no key of that kind: a point in no zone when
 * unmatched points are dropped). The ids are strings the zone set, h3-js and
 * the decoder's string table already hold, so a record allocates at most the
 * H3 cell's id.
 */
export class Keyer {
  readonly kinds: readonly KeyKind[];
  /** One slot per kind, in `kinds` order; rewritten by every `keys` call. */
  readonly ids: (string | null)[];
  readonly #partitionId: string;
  readonly #zones: ZoneSet | undefined;
  readonly #zoneUnmatched: string | null;
  readonly #h3Resolution: number;
  readonly #kindCodes: Uint8Array;

  constructor(spec: KeySpec) {
    this.kinds = spec.by;
    this.ids = spec.by.map(() => null);
    this.#partitionId = String(spec.partition);
    this.#zones = spec.zones === null ? undefined : zoneSet(spec.zones);
    this.#zoneUnmatched = spec.zoneUnmatched;
    this.#h3Resolution = spec.h3Resolution;
    this.#kindCodes = Uint8Array.from(spec.by, (kind) => KEY_KINDS.indexOf(kind));
  }

  /** Fills `ids` for a point; returns false when the point fell in no zone and was not grouped (it still counts under the other kinds). */
  keys(lon: number, lat: number, deviceId: string): boolean {
    let zoned = true;
    for (let k = 0; k < this.#kindCodes.length; k++) {
      switch (KEY_KINDS[this.#kindCodes[k]!]) {
        case 'partition':
          this.ids[k] = this.#partitionId;
          break;
        case 'zone': {
          const zone = this.#zones!.lookup(lon, lat);
          if (zone < 0) {
            zoned = false;
            this.ids[k] = this.#zoneUnmatched;
          } else {
            this.ids[k] = this.#zones!.id(zone);
          }
          break;
        }
        case 'h3':
          this.ids[k] = latLngToCell(lat, lon, this.#h3Resolution);
          break;
        case 'device':
          this.ids[k] = deviceId;
          break;
      }
    }
    return zoned;
  }
}
