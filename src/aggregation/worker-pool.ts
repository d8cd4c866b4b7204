import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { WorkerTaskError } from '../errors.js';
import { clearHeapFlagsForWorkers } from '../memory/worker-heap-flags.js';
import type { Aggregator } from '../pipeline/ports.js';
import type {
  AggregateTask,
  ChunkResult,
  EventChunkResult,
  EventTask,
  WarmUpResult,
  WarmUpTask,
  WorkerData,
  WorkerHeap,
  WorkerReply,
} from '../protocol/messages.js';

/** The compiled worker entry, beside this module's compiled output (dist/src -> dist/workers). */
const WORKER_ENTRY = fileURLToPath(new URL('../../workers/aggregate-chunk.js', import.meta.url));

export interface WorkerLimits {
  readonly maxOldGenerationSizeMb: number;
  readonly maxYoungGenerationSizeMb: number;
}

export interface WorkerPoolEvents {
  /** A worker died with a task (out of memory, or crashed) and piscina replaced it. */
  workerDied(outOfMemory: boolean): void;
  /** A chunk is tried again on another worker. */
  retried(): void;
}

export interface WorkerPoolOptions {
  readonly threads: number;
  readonly limits: WorkerLimits;
  readonly logger: Logger;
  readonly events: WorkerPoolEvents;
  readonly filename?: string;
  /** Given to every worker as it starts, a replaced one included. */
  readonly workerData?: WorkerData;
}

/** How long a warm-up task holds its worker: long enough for the others to be handed out elsewhere. */
const WARM_UP_HOLD_MS = 50;
const WARM_UP_ATTEMPTS = 5;

/** Node's code for a worker that went past its resourceLimits. */
const OUT_OF_MEMORY = 'ERR_WORKER_OUT_OF_MEMORY';

function isOutOfMemory(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === OUT_OF_MEMORY;
}

/** piscina's own message when a worker exits with a task in hand. */
function workerExited(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('worker exited with code');
}

/**
 * The piscina pool that aggregates chunks, each worker under V8
 * resourceLimits. Its queue needs no bound of its own: a task holds a chunk,
 * so the chunk pool bounds the tasks. A failed chunk is tried once more on a
 * fresh worker before the caller is told.
 */
export class WorkerPool implements Aggregator {
  readonly #pool: Piscina<AggregateTask | EventTask | WarmUpTask, WorkerReply<ChunkResult | EventChunkResult> | WarmUpResult>;
  readonly #options: WorkerPoolOptions;
  /** Each worker's heap as its last task left it, by thread id. */
  readonly #heaps = new Map<number, WorkerHeap>();

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    clearHeapFlagsForWorkers();
    this.#pool = new Piscina({
      filename: options.filename ?? WORKER_ENTRY,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      resourceLimits: options.limits,
      workerData: options.workerData ?? { zones: null },
    });
    // A worker error outside a task must not crash the process; piscina replaces the worker.
    this.#pool.on('error', (error: unknown) => options.logger.error({ err: error }, 'aggregation worker failed'));
  }

  /**
   * Resolves once every worker has run a task, so each is up with its modules
   * loaded; the memory floor is measured after it. Returns the workers seen
   * and the largest heap limit one of them reports.
   */
  async warmUp(): Promise<{ readonly workers: number; readonly heapLimitBytes: number }> {
    const seen = new Set<number>();
    let heapLimitBytes = 0;
    for (let attempt = 0; attempt < WARM_UP_ATTEMPTS && seen.size < this.#options.threads; attempt++) {
      const task: WarmUpTask = { kind: 'warm-up', holdMs: WARM_UP_HOLD_MS * (attempt + 1) };
      const results = await Promise.all(
        Array.from({ length: this.#options.threads }, () => this.#pool.run(task) as Promise<WarmUpResult>),
      );
      for (const result of results) {
        seen.add(result.threadId);
        heapLimitBytes = Math.max(heapLimitBytes, result.heapLimitBytes);
      }
    }
    return { workers: seen.size, heapLimitBytes };
  }

  aggregate(task: AggregateTask): Promise<ChunkResult> {
    return this.#runWithRetry(task) as Promise<ChunkResult>;
  }

  fold(task: EventTask): Promise<EventChunkResult> {
    return this.#runWithRetry(task) as Promise<EventChunkResult>;
  }

  async #runWithRetry(task: AggregateTask | EventTask): Promise<ChunkResult | EventChunkResult> {
    try {
      return await this.#run(task);
    } catch (first) {
      this.#options.events.retried();
      this.#options.logger.warn({ err: first, records: task.count }, 'aggregation failed; retrying the chunk once');
      try {
        return await this.#run(task);
      } catch (second) {
        throw new WorkerTaskError(
          `aggregating a chunk of ${task.count} records failed twice`,
          second,
          isOutOfMemory(first) && isOutOfMemory(second),
        );
      }
    }
  }

  async #run(task: AggregateTask | EventTask): Promise<ChunkResult | EventChunkResult> {
    try {
      const reply = (await this.#pool.run(task)) as WorkerReply<ChunkResult | EventChunkResult>;
      this.#heaps.set(reply.heap.threadId, reply.heap);
      return reply.result;
    } catch (error) {
      if (isOutOfMemory(error) || workerExited(error)) this.#options.events.workerDied(isOutOfMemory(error));
      throw error;
    }
  }

  /** The workers' heaps summed, as each last reported it (a replaced worker's report is dropped). */
  get heap(): { readonly usedBytes: number; readonly totalBytes: number } {
    let usedBytes = 0;
    let totalBytes = 0;
    const live = new Set(this.#pool.threads.map((thread) => thread.threadId));
    for (const [threadId, heap] of this.#heaps) {
      if (!live.has(threadId)) {
        this.#heaps.delete(threadId);
        continue;
      }
      usedBytes += heap.usedBytes;
      totalBytes += heap.totalBytes;
    }
    return { usedBytes, totalBytes };
  }

  get queueSize(): number {
    return this.#pool.queueSize;
  }

  get utilization(): number {
    return this.#pool.utilization;
  }

  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}
