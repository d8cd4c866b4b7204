import { statSync } from 'node:fs';
import type { Config } from '../config/config.js';
import type { MemoryPlan } from '../memory/plan.js';
import type { OffsetCommitter } from '../pipeline/ports.js';
import type { EventTimeSettings } from '../pipeline/stream-context.js';
import { loadZones, type ZoneSet } from '../shared/zones/zone-set.js';
import { StateBudget } from './window-store.js';

/**
 * A parsed zones file takes several times its bytes of heap in each worker
 * (GeoJSON objects, the flat rings, the index); measured about 3x on the US
 * counties, doubled for garbage while loading.
 */
const ZONE_HEAP_PER_FILE_BYTE = 6;

/**
 * The zones file of KEY_BY=zone, read and checked once at start-up on the
 * main thread (a bad file stops the service with exit code 3 before any
 * record is read); undefined without zone keys.
 */
export function checkZones(config: Config): ZoneSet | undefined {
  if (!config.keyBy.includes('zone') || config.zonesFile === undefined) return undefined;
  return loadZones(config.zonesFile, config.zoneIdProperty);
}

/** Heap each worker needs for its copy of the zone index, in bytes. */
export function zoneHeapBytes(config: Config): number {
  if (!config.keyBy.includes('zone') || config.zonesFile === undefined) return 0;
  return statSync(config.zonesFile).size * ZONE_HEAP_PER_FILE_BYTE;
}

/** How event-time windows run, from the configuration and the memory plan; undefined for count windows. */
export function eventTimeSettings(config: Config, plan: MemoryPlan, checkpoints: OffsetCommitter): EventTimeSettings | undefined {
  if (config.window === 'count') return undefined;
  const kind = config.window;
  return {
    window: {
      kind,
      sizeMs: config.windowSize,
      advanceMs: kind === 'hopping' ? config.windowAdvance! : config.windowSize,
      graceMs: config.windowGrace,
    },
    keys: {
      by: config.keyBy,
      zones: config.zonesFile === undefined ? null : { file: config.zonesFile, idProperty: config.zoneIdProperty },
      zoneUnmatched: config.zoneUnmatched === 'drop' ? null : config.zoneUnmatched,
      h3Resolution: config.h3Resolution,
    },
    caps: {
      maxOpen: config.windowMaxOpen,
      maxKeys: config.windowMaxKeys,
      maxTrackPoints: config.trackMaxPoints,
      maxReadingNames: config.readingColumns,
    },
    budget: new StateBudget(plan.windowStateBytes),
    deadLetterLate: config.lateRecords === 'dead-letter',
    checkpoints,
  };
}
