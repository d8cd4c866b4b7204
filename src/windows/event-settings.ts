import type { Config } from '../config/config.js';
import type { MemoryPlan } from '../memory/plan.js';
import type { OffsetCommitter } from '../pipeline/ports.js';
import type { EventTimeSettings } from '../pipeline/stream-context.js';
import { loadZones, type ZoneSet } from '../shared/zones/zone-set.js';
import { StateBudget } from './window-store.js';

/**
 * Heap a worker holds for the zones: their ids and the index object. The
 * index's arrays are shared memory outside the worker heaps (the main thread
 * shares its index, so no worker parses the file); an id of the us-atlas
 * counties takes about 40 B with its array slot, so this is generous.
 */
const ZONE_HEAP_PER_ZONE_BYTES = 128;

/**
 * The zones file of KEY_BY=zone, read and checked once at start-up on the
 * main thread (a bad file stops the service with exit code 3 before any
 * record is read); undefined without zone keys.
 */
export function checkZones(config: Config): ZoneSet | undefined {
  if (!config.keyBy.includes('zone') || config.zonesFile === undefined) return undefined;
  return loadZones(config.zonesFile, config.zoneIdProperty);
}

/** Heap each worker needs for the zones the main thread shares with it (checkZones), in bytes. */
export function zoneHeapBytes(zones: ZoneSet | undefined): number {
  return zones === undefined ? 0 : zones.size * ZONE_HEAP_PER_ZONE_BYTES;
}

/** One chunk being folded and one waiting, per worker: a worker never waits for the main thread to copy its next chunk. */
const CHUNKS_AT_WORKERS_PER_WORKER = 2;

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
    maxChunksAtWorkers: CHUNKS_AT_WORKERS_PER_WORKER * config.workers,
  };
}
