import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { WorkerTaskError } from '../errors.js';
import type { Aggregator } from '../pipeline/ports.js';
import type { AggregateTask, ChunkAggregate } from '../protocol/messages.js';

/** The compiled worker entry, beside this module's compiled output (dist/src -> dist/workers). */
const WORKER_ENTRY = fileURLToPath(new URL('../../workers/aggregate-chunk.js', import.meta.url));

export interface WorkerPoolOptions {
  readonly threads: number;
  readonly logger: Logger;
  readonly filename?: string;
}

/**
 * The piscina pool that aggregates chunks. Its queue needs no bound of its
 * own: a task holds a chunk, so the chunk pool bounds the tasks.
 */
export class WorkerPool implements Aggregator {
  readonly #pool: Piscina<AggregateTask, ChunkAggregate>;

  constructor(options: WorkerPoolOptions) {
    this.#pool = new Piscina({
      filename: options.filename ?? WORKER_ENTRY,
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Number.POSITIVE_INFINITY,
    });
    // A worker error outside a task must not crash the process; piscina replaces the worker.
    this.#pool.on('error', (error: unknown) => options.logger.error({ err: error }, 'aggregation worker failed'));
  }

  async aggregate(task: AggregateTask): Promise<ChunkAggregate> {
    try {
      return await this.#pool.run(task);
    } catch (error) {
      throw new WorkerTaskError(`aggregating a chunk of ${task.count} records failed`, error);
    }
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
