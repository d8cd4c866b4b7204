import { chunkLayout } from '../protocol/chunk-layout.js';
import { ConfigError } from '../errors.js';
import { PLACE_CACHE_BYTES_PER_DEVICE, PLACE_CACHE_DEVICES } from '../shared/keys.js';
import { MB, type MemoryBudget } from './budget.js';

/**
 * The runtime's resident memory before any record, as estimated before the
 * service starts (`geowindow config`, the manifests' check): Node.js, V8,
 * kafkajs, prom-client and pino on the main thread (~70 MB on Node 20, ~85 MB
 * on Node 24), and one worker isolate with turf loaded (~14 MB), rounded up;
 * Node 24 measures above it, which the running service accounts for.
 * The running service measures it instead (MemoryPlanInput.floorBytes).
 */
const MAIN_RUNTIME_BYTES = 80 * MB;
const WORKER_RUNTIME_BYTES = 16 * MB;
/**
 * Worker heap per point of a chunk while turf builds the hull: the
 * MultiPoint's pairs and turf's own copies, about 200 bytes, doubled for
 * garbage not yet collected.
 */
const WORKER_HEAP_BYTES_PER_POINT = 400;
/**
 * Event time: worker heap per row and key kind of a chunk, for the worst
 * case where every row is its own key: a partial builder and the partial it
 * finishes, with the result on its way out. Measured by folding 3,333-row
 * and 1,666-row chunks of distinct devices keyed by zone, H3 cell and device
 * under shrinking old generations: the least that never ran out grows by
 * 3.6 KB per row and key kind. (With 3 KB the churn soak's workers ran out
 * of memory once their resourceLimits held: see worker-heap-flags.ts.)
 */
const WORKER_HEAP_BYTES_PER_ROW_AND_KEY = 4 * 1024;
const WORKER_OLD_GENERATION_MIN_MB = 16;
/**
 * A worker's young generation. 4 MB rather than 8: on the zone-window
 * benchmark (2 workers) peak RSS 280 against 291 MB, the mean of 6 alternating
 * runs and lower in each, at records/s within their spread; count windows
 * 201-206 against 209-213 MB. What a worker keeps across a chunk (its builders
 * and place cache) is long-lived anyway; the rest dies within the chunk.
 */
const WORKER_YOUNG_GENERATION_MB = 4;
/** Shares of the budget; the rest is the main thread's heap and headroom. */
const CHUNK_POOL_SHARE = 0.1;
/**
 * kafkajs fetch sizes, the same at any budget. Measured with the benchmark's
 * 2M readings (bench/RESULTS.md): 2 MiB fetches read as fast as 4 and 8 MiB
 * ones, or faster (less of the decoded batch survives into V8's old
 * generation), at 30-55 MB less peak RSS; 1 MiB fetches saved 30 MB more
 * but read 5-10% slower.
 */
export const FETCH_MAX_BYTES = 2 * MB;
export const FETCH_MAX_BYTES_PER_PARTITION = 512 * 1024;
const DEAD_LETTER_SHARE = 0.02;
/**
 * Event-time windows: the share of the budget open windows may hold (their
 * partial aggregates, estimated by partialBytes). Past it the oldest window
 * is emitted early, so state never outgrows the plan.
 */
const WINDOW_STATE_SHARE = 0.15;
/**
 * Closed windows keep their partials until their aggregates are written
 * (freed key by key as they go out). Windows of every partition close
 * together when their event time does, so at worst as much again as the
 * share: the churn soak's main heap held 140-150 MB live with 77 MB of open
 * state before closing windows were freed as written.
 */
const WINDOW_CLOSING_SHARE = WINDOW_STATE_SHARE;
/** A fetched batch as JavaScript objects (messages, offsets as strings, buffers) takes ~4x its bytes. */
const FETCH_EXPANSION = 4;
const MAX_AUTO_CHUNKS = 32;
/**
 * Event time: a chunk is held only while it fills and while a worker folds
 * it (count windows hold one per partition until the window's aggregate is
 * written), and its rows are five times as many, so fewer do: one filling per
 * partition of a typical assignment and a few per worker.
 */
const MAX_AUTO_CHUNKS_EVENT_TIME = 16;
/**
 * Bytes of key and value a chunk reserves per record: sensor readings as JSON
 * run 150-300 bytes, GeoJSON Features a little more.
 */
const RECORD_BYTES = 384;
/** The main thread needs at least this for decoding, aggregates in flight and the garbage between collections. */
const MIN_HEADROOM_BYTES = 32 * MB;

export interface MemoryPlanInput {
  readonly budget: MemoryBudget;
  readonly workers: number;
  readonly chunkSize: number;
  readonly maxMessageBytes: number;
  readonly chunkPoolSize: number | 'auto';
  /** Event-time windows: plan a window-state share. */
  readonly eventTime?: boolean;
  /** Heap each worker needs beyond its chunk (the zone index, say), in bytes. */
  readonly workerExtraBytes?: number;
  /** Event time: the KEY_BY kinds, each a partial per row at worst. */
  readonly keyKinds?: number;
  /** Event time keyed by zone or H3 cell: each worker holds a place cache (PLACE_CACHE_DEVICES). */
  readonly placeCache?: boolean;
  /** Resident memory measured with the workers up and no record read; without it, the runtime is estimated. */
  readonly floorBytes?: number;
  /** What the main thread's young generation can grow to (young-generation.ts); it is not in the floor. */
  readonly youngGenerationBytes: number;
}

/** How the budget is split; every bound below comes from it. */
export interface MemoryPlan {
  readonly budget: MemoryBudget;
  /** The runtime before any record: measured at start-up, or estimated. */
  readonly runtimeBytes: number;
  readonly runtimeSource: 'measured' | 'estimate';
  readonly youngGenerationBytes: number;
  readonly worker: { readonly maxOldGenerationSizeMb: number; readonly maxYoungGenerationSizeMb: number };
  readonly workerHeapBytes: number;
  readonly chunkPool: {
    readonly chunks: number;
    /** Bytes of records one chunk holds; a window closes early (`bytes_full`) when the next record does not fit. */
    readonly byteCapacity: number;
    readonly chunkBytes: number;
    readonly bytes: number;
  };
  readonly fetch: { readonly maxBytes: number; readonly maxBytesPerPartition: number; readonly reserveBytes: number };
  readonly deadLetterBytes: number;
  /** Event-time windows' state (0 for count windows). */
  readonly windowStateBytes: number;
  /** Closed event-time windows still being written (0 for count windows). */
  readonly windowClosingBytes: number;
  readonly headroomBytes: number;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** The parts of a budget of `B` bytes that grow with it, and everything committed before headroom. */
function split(B: number, input: MemoryPlanInput, fixedBytes: number, chunkBytes: number) {
  const chunks =
    input.chunkPoolSize === 'auto'
      ? clamp(
          Math.floor((B * CHUNK_POOL_SHARE) / chunkBytes),
          input.workers + 2,
          input.eventTime === true ? MAX_AUTO_CHUNKS_EVENT_TIME : MAX_AUTO_CHUNKS,
        )
      : input.chunkPoolSize;
  const fetch = {
    maxBytes: FETCH_MAX_BYTES,
    maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
    reserveBytes: FETCH_MAX_BYTES * FETCH_EXPANSION,
  };
  const deadLetterBytes = Math.floor(clamp(B * DEAD_LETTER_SHARE, MB, 16 * MB));
  const windowStateBytes = input.eventTime === true ? Math.floor(B * WINDOW_STATE_SHARE) : 0;
  const windowClosingBytes = input.eventTime === true ? Math.floor(B * WINDOW_CLOSING_SHARE) : 0;
  const committed = fixedBytes + chunks * chunkBytes + fetch.reserveBytes + deadLetterBytes + windowStateBytes + windowClosingBytes;
  return { chunks, fetch, deadLetterBytes, windowStateBytes, windowClosingBytes, committed };
}

export function planMemory(input: MemoryPlanInput): MemoryPlan {
  const { budget, workers, chunkSize, maxMessageBytes } = input;
  const B = budget.bytes;
  const runtimeBytes = input.floorBytes ?? MAIN_RUNTIME_BYTES + workers * WORKER_RUNTIME_BYTES;
  const runtimeSource = input.floorBytes === undefined ? 'estimate' : 'measured';
  const oldMb = Math.max(
    WORKER_OLD_GENERATION_MIN_MB,
    Math.ceil(
      (chunkSize * (WORKER_HEAP_BYTES_PER_POINT + (input.eventTime === true ? (input.keyKinds ?? 1) * WORKER_HEAP_BYTES_PER_ROW_AND_KEY : 0)) +
        (input.eventTime === true && input.placeCache === true ? PLACE_CACHE_DEVICES * PLACE_CACHE_BYTES_PER_DEVICE : 0) +
        (input.workerExtraBytes ?? 0)) /
        MB,
    ) + 8,
  );
  const worker = { maxOldGenerationSizeMb: oldMb, maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB };
  const workerHeapBytes = workers * (oldMb + WORKER_YOUNG_GENERATION_MB) * MB;
  // Room for typical records, and always for one record of the largest accepted size.
  const byteCapacity = Math.max(chunkSize * RECORD_BYTES, maxMessageBytes);
  // The shared index and bytes, plus each row's offset and timestamp kept on the main thread.
  const chunkBytes = chunkLayout(chunkSize, byteCapacity).byteLength + chunkSize * 2 * Float64Array.BYTES_PER_ELEMENT;
  const fixedBytes = runtimeBytes + input.youngGenerationBytes + workerHeapBytes;
  const { chunks, fetch, deadLetterBytes, windowStateBytes, windowClosingBytes, committed } = split(B, input, fixedBytes, chunkBytes);
  const headroomBytes = B - committed;
  if (headroomBytes < MIN_HEADROOM_BYTES) {
    // The auto chunk pool, the fetch reserve and the dead letters grow with the
    // budget (together by at most a fifth of it), so the least whole-MB budget
    // that works is found by iterating from the shortfall, and the split
    // reported is the one at that budget.
    let needMb = Math.ceil((committed + MIN_HEADROOM_BYTES) / MB);
    let need = split(needMb * MB, input, fixedBytes, chunkBytes);
    while (needMb * MB - need.committed < MIN_HEADROOM_BYTES) {
      needMb = Math.ceil((need.committed + MIN_HEADROOM_BYTES) / MB);
      need = split(needMb * MB, input, fixedBytes, chunkBytes);
    }
    const variable = budget.source === 'MEMORY_LIMIT_MB' ? 'MEMORY_LIMIT_MB' : `MEMORY_LIMIT_MB (from ${budget.source})`;
    throw new ConfigError(
      variable,
      `a budget of ${Math.floor(B / MB)} MB is too small for this configuration, which needs at least ${needMb} MB ` +
        `(runtime ${Math.ceil(runtimeBytes / MB)} MB ${runtimeSource === 'measured' ? 'measured' : 'estimated'}, ` +
        `main young generation ${input.youngGenerationBytes / MB} MB, ${workers} worker heaps ${workerHeapBytes / MB} MB, ` +
        `${need.chunks} chunks ${Math.ceil((need.chunks * chunkBytes) / MB)} MB, fetch ${Math.ceil(need.fetch.reserveBytes / MB)} MB, ` +
        `dead letters ${Math.ceil(need.deadLetterBytes / MB)} MB, ` +
        (need.windowStateBytes > 0
          ? `window state ${Math.ceil(need.windowStateBytes / MB)} MB, closing windows ${Math.ceil(need.windowClosingBytes / MB)} MB, `
          : '') +
        `headroom ${MIN_HEADROOM_BYTES / MB} MB); ` +
        'raise the limit or lower WORKERS, CHUNK_SIZE or CHUNK_POOL_SIZE',
    );
  }
  return {
    budget,
    runtimeBytes,
    runtimeSource,
    youngGenerationBytes: input.youngGenerationBytes,
    worker,
    workerHeapBytes,
    chunkPool: { chunks, byteCapacity, chunkBytes, bytes: chunks * chunkBytes },
    fetch,
    deadLetterBytes,
    windowStateBytes,
    windowClosingBytes,
    headroomBytes,
  };
}
