/**
 * What a window is keyed by. A record counts once under each configured kind
 * (KEY_BY), so one deployment can write zone, cell and device windows at once.
 */
export const KEY_KINDS = ['partition', 'zone', 'h3', 'device'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];
