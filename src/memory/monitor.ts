import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { MemoryGuard } from './guard.js';
import type { ProcessMemory } from './probe.js';

export interface MonitorActions {
  pause(): void;
  resume(): void;
  /** Emit the oldest open windows early; returns how many closed. */
  shed(): number;
  shutdown(): void;
}

export interface MonitorOptions {
  readonly guard: MemoryGuard;
  readonly probe: () => ProcessMemory;
  /** Work that a pause lets drain: chunks being aggregated, outputs and dead letters not yet acknowledged. */
  readonly inFlight: () => number;
  /** Event-time window state a shed would free, in estimated bytes. */
  readonly sheddable?: () => number;
  readonly intervalMs: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly actions: MonitorActions;
  /** `global.gc` when the process runs with --expose-gc. */
  readonly gc: (() => void) | undefined;
  readonly now?: () => number;
}

/**
 * Samples memory a few times per second, feeds the guard, and carries out
 * its decisions through the actions the service gives it. Keeps the memory
 * metrics current as it goes.
 */
export class MemoryMonitor {
  readonly #options: MonitorOptions;
  #timer: NodeJS.Timeout | undefined;
  #lastTick: number | undefined;

  constructor(options: MonitorOptions) {
    this.#options = options;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.tick(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  get paused(): boolean {
    return this.#options.guard.paused;
  }

  tick(): void {
    const { guard, probe, inFlight, metrics, logger, actions, gc } = this.#options;
    const now = (this.#options.now ?? Date.now)();
    const memory = probe();
    const wasPaused = guard.paused;
    if (wasPaused && this.#lastTick !== undefined) metrics.pausedSeconds.inc((now - this.#lastTick) / 1000);
    this.#lastTick = now;
    metrics.rssBytes.set(memory.rss);
    metrics.heapUsedBytes.set(memory.heapUsed);
    metrics.arrayBufferBytes.set(memory.arrayBuffers);
    const sheddable = this.#options.sheddable?.() ?? 0;
    const action = guard.update({ ...memory, inFlight: inFlight(), sheddable }, now);
    const fields = { rssMb: Math.round(memory.rss / 1048576), heapMb: Math.round(memory.heapUsed / 1048576), usage: guard.usage };
    switch (action) {
      case 'pause':
        metrics.pauses.inc();
        metrics.paused.set(1);
        logger.warn(fields, 'memory above the high-water mark: pausing the consumer');
        actions.pause();
        break;
      case 'resume':
        metrics.paused.set(0);
        logger.info(fields, 'memory back under the water mark: resuming the consumer');
        actions.resume();
        break;
      case 'collect':
        if (gc !== undefined) {
          metrics.forcedCollections.inc();
          gc();
        }
        break;
      case 'shed': {
        const stateMb = Math.round((sheddable / 1048576) * 10) / 10;
        const windows = actions.shed();
        logger.warn({ ...fields, windows, stateMb }, 'memory still above the high-water mark while paused: emitting the oldest windows early');
        break;
      }
      case 'shutdown':
        logger.fatal(fields, 'memory stayed above the budget while paused: shutting down before the kernel kills the process');
        this.stop();
        actions.shutdown();
        break;
      case 'none':
        break;
    }
  }
}
