import { getHeapStatistics } from 'node:v8';

export interface ProcessMemory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapLimit: number;
  readonly arrayBuffers: number;
}

/** The V8 heap limit is fixed for the life of the process. */
const HEAP_LIMIT = getHeapStatistics().heap_size_limit;

/** RSS covers the whole process, worker threads and shared chunks included. */
export function processMemory(): ProcessMemory {
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed, heapLimit: HEAP_LIMIT, arrayBuffers: usage.arrayBuffers };
}
