/**
 * Small builders shared by the unit tests. Nothing here talks to Kafka or
 * starts a thread.
 */
import type { Chunk } from '../../src/chunks/chunk.js';
import type { AggregateTask, ChunkResult, EventChunkResult, EventTask } from '../../src/protocol/messages.js';
import runTask from '../../workers/aggregate-chunk.js';

/** The task a PartitionStream hands to the aggregator for a chunk. */
export function taskOf(chunk: Chunk, maxReadings: number): AggregateTask {
  return {
    kind: 'count',
    buffer: chunk.buffer,
    capacity: chunk.layout.capacity,
    byteCapacity: chunk.layout.byteCapacity,
    count: chunk.count,
    maxReadings,
  };
}

/** What the worker entry answers to a chunk task, computed on this thread, without the heap report. */
function resultOf(task: AggregateTask | EventTask): ChunkResult | EventChunkResult {
  const reply = runTask(task);
  if (!('result' in reply)) throw new TypeError('the worker answered a chunk task with a warm-up result');
  return reply.result;
}

/** The worker's result for a count-window task, computed on this thread (the worker entry answers both task kinds). */
export function aggregateCount(task: AggregateTask): ChunkResult {
  const result = resultOf(task);
  if (!('aggregate' in result)) throw new TypeError('the worker answered a count-window task with an event-time result');
  return result;
}

/** The worker's result for an event-time task, computed on this thread. */
export function foldEvent(task: EventTask): EventChunkResult {
  const result = resultOf(task);
  if (!('partials' in result)) throw new TypeError('the worker answered an event-time task with a count-window result');
  return result;
}

/** UTF-8 bytes of a JSON value, as a record value. */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every promise callback already queued (and those they queue) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Whether a promise has settled, without waiting for it. */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await settle();
  return settled;
}
