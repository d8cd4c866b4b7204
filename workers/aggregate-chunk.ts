/**
 * Worker-thread entry of the aggregation pool.
 *
 *   main thread                          worker thread (this file)
 *   copies fetched records' bytes ─SAB─▶ decodes and validates each record,
 *   into a chunk's byte region           folds the valid ones into points and
 *                                        reading statistics, turf hull
 *                                        (count windows), or into partial
 *                                        aggregates per event-time window and
 *                                        key (windows/fold-event-chunk.ts)
 *   merges partials into open windows,
 *   writes aggregates, dead letters ◀─── result + the rows it could not read
 *
 * Only the SharedArrayBuffer reference crosses; the records are decoded here,
 * in parallel, so the main thread only fetches, copies and writes.
 */
import { decodeReading, decodeReadingAt, emptyReading, type DecodeLimits } from '../src/decode/decode-reading.js';
import {
  chunkLayout,
  chunkViews,
  INDEX_SLOTS,
  VALUE_LENGTH,
  VALUE_START,
} from '../src/protocol/chunk-layout.js';
import { getHeapStatistics } from 'node:v8';
import { threadId } from 'node:worker_threads';
import type {
  AggregateTask,
  BadRow,
  ChunkResult,
  EventChunkResult,
  EventTask,
  WarmUpResult,
  WarmUpTask,
  WorkerReply,
} from '../src/protocol/messages.js';
import { convexHull } from './aggregate/hull.js';
import { summarizePoints } from './aggregate/points.js';
import { ReadingStatsAccumulator } from './aggregate/readings.js';
import { foldEventChunk } from './windows/fold-event-chunk.js';

/** Columns of the valid points, reused from task to task (a worker runs one task at a time). */
let lon = new Float32Array(0);
let lat = new Float32Array(0);
let ts = new Float64Array(0);
const scratch = emptyReading();

function ensureCapacity(rows: number): void {
  if (lon.length >= rows) return;
  lon = new Float32Array(rows);
  lat = new Float32Array(rows);
  ts = new Float64Array(rows);
}

export default function runTask(
  task: AggregateTask | EventTask | WarmUpTask,
): WorkerReply<ChunkResult> | WorkerReply<EventChunkResult> | WarmUpResult {
  switch (task.kind) {
    case 'event':
      return withHeap(foldEventChunk(task));
    case 'count':
      return withHeap(aggregateChunk(task));
    case 'warm-up':
      return warmUp(task);
  }
}

function withHeap<T>(result: T): WorkerReply<T> {
  const heap = getHeapStatistics();
  return { result, heap: { threadId, usedBytes: heap.used_heap_size, totalBytes: heap.total_heap_size } };
}

/** Holds this worker so the other warm-up tasks go to the others. */
function warmUp(task: WarmUpTask): WarmUpResult {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, task.holdMs);
  return { threadId, heapLimitBytes: getHeapStatistics().heap_size_limit };
}

/** A count window: the whole chunk is one window of one partition. */
function aggregateChunk(task: AggregateTask): ChunkResult {
  if (task.testAllocateBeyondLimit === true) allocateBeyondLimit();
  const layout = chunkLayout(task.capacity, task.byteCapacity);
  const { index } = chunkViews(task.buffer, layout);
  const bytes = Buffer.from(task.buffer, layout.bytesOffset, layout.byteCapacity);
  // Oversized records never reach a chunk: the main thread dead-letters them.
  const limits: DecodeLimits = { maxBytes: Number.POSITIVE_INFINITY, maxReadings: task.maxReadings };
  ensureCapacity(task.count);
  const readings = new ReadingStatsAccumulator(task.maxReadings);
  const devices = new Set<string>();
  const bad: BadRow[] = [];
  let valid = 0;
  for (let row = 0; row < task.count; row++) {
    const start = index[row * INDEX_SLOTS + VALUE_START]!;
    const length = index[row * INDEX_SLOTS + VALUE_LENGTH]!;
    const reason =
      length < 0 ? decodeReading(null, limits, scratch) : decodeReadingAt(bytes, start, start + length, limits, scratch);
    if (reason !== null) {
      bad.push({ row, reason, detail: scratch.detail });
      continue;
    }
    if (!readings.add(scratch.readingNames, scratch.readingValues, scratch.readingCount)) {
      bad.push({ row, reason: 'too_many_readings', detail: `more than ${task.maxReadings} reading names in the window` });
      continue;
    }
    lon[valid] = scratch.lon;
    lat[valid] = scratch.lat;
    ts[valid] = scratch.ts;
    devices.add(scratch.deviceId);
    valid++;
  }
  if (valid === 0) return { aggregate: null, bad };
  const points = summarizePoints(lon, lat, ts, valid);
  const { hull, areaM2 } = convexHull(lon, lat, valid);
  return {
    aggregate: {
      count: valid,
      devices: devices.size,
      centroid: points.centroid,
      bbox: points.bbox,
      hull,
      hullAreaM2: areaM2,
      eventTime: points.eventTime,
      readings: readings.result(),
    },
    bad,
  };
}

/**
 * Testing only: grows the heap until V8's resourceLimits stop the worker,
 * the way an aggregation gone wrong would. Never returns.
 */
function allocateBeyondLimit(): never {
  const hoard: number[][] = [];
  for (;;) hoard.push(new Array<number>(1_000_000).fill(hoard.length));
}
