/**
 * What a window is keyed by. A record counts once under each configured kind
 * (KEY_BY), so one deployment can write zone, cell and device windows at once.
 */
export const KEY_KINDS = ['partition', 'zone', 'h3', 'device'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

/**
 * Devices whose last place a worker remembers (workers/windows/place-cache.ts)
 * when windows are keyed by zone or H3 cell: at about 190 B a device (its
 * entry, a map slot, an H3 id) about 6 MB, planned in each worker's heap
 * (memory/plan.ts). Past it the cache starts over.
 */
export const PLACE_CACHE_DEVICES = 32_768;
export const PLACE_CACHE_BYTES_PER_DEVICE = 192;

/** Whether keying by these kinds looks places up, so each worker holds a place cache. */
export function keysLookUpPlaces(kinds: readonly KeyKind[]): boolean {
  return kinds.includes('zone') || kinds.includes('h3');
}
