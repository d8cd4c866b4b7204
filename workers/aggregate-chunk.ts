/**
 * Worker-thread entry of the aggregation pool.
 *
 *   main thread                         worker thread (this file)
 *   fills a chunk's columns ──SAB ref──▶ reads the columns in place
 *   merges into the window  ◀──result── count, centroid, bbox, hull, readings
 *
 * Only the SharedArrayBuffer reference crosses; no record is copied.
 */
import type { AggregateTask, ChunkAggregate } from '../src/protocol/messages.js';
import { chunkColumns, chunkLayout } from '../src/protocol/chunk-layout.js';
import { convexHull } from './aggregate/hull.js';
import { summarizePoints } from './aggregate/points.js';
import { summarizeReadings } from './aggregate/readings.js';

export default function aggregateChunk(task: AggregateTask): ChunkAggregate {
  if (task.testAllocateBeyondLimit === true) allocateBeyondLimit();
  const columns = chunkColumns(task.buffer, chunkLayout(task.capacity, task.readingColumns));
  const points = summarizePoints(columns.lon, columns.lat, columns.ts, task.count);
  const { hull, areaM2 } = convexHull(columns.lon, columns.lat, task.count);
  return {
    count: task.count,
    centroid: points.centroid,
    bbox: points.bbox,
    hull,
    hullAreaM2: areaM2,
    eventTime: points.eventTime,
    readings: summarizeReadings(columns.readings, task.capacity, task.count, task.readingNames),
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
