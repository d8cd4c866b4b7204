import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DEAD_LETTER_REASONS } from './decode/reasons.js';
import { WINDOW_CLOSE_REASONS } from './windows/count-window.js';
import { TIME_CLOSE_REASONS } from './windows/time-window.js';
import { WINDOW_CAPS } from './windows/window-store.js';

/** Latency buckets from 1 ms to ~30 s: windows close in milliseconds but wait behind backpressure. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A window waits for CHUNK_SIZE records or WINDOW_IDLE_MS, so end-to-end latency runs from milliseconds to minutes. */
const END_TO_END_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Every metric geowindow exports, created once on the registry passed in,
 * with help text. Workers do not touch these: they report in their results.
 */
export interface PoolGauges {
  readonly free: number;
  readonly inUse: number;
}

export interface WorkerGauges {
  readonly utilization: number;
  readonly queueSize: number;
  readonly heap: { readonly usedBytes: number; readonly totalBytes: number };
}

/**
 * prom-client samples event-loop delay every 10 ms by default: 180 of the
 * service's 220 wake-ups a second when idle. A tenth of a second still
 * resolves the delays that matter here (fetches and commits stall for longer).
 */
const EVENT_LOOP_MONITORING_PRECISION_MS = 100;

export function createMetrics(registry: Registry = new Registry(), pool?: PoolGauges, workers?: WorkerGauges) {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS });
  const registers = [registry];
  const metrics = {
    registry,
    firstBatchTime: new Gauge({
      name: 'geowindow_first_batch_timestamp_seconds',
      help: 'Unix time at which the first batch of input records reached the pipeline; 0 until then.',
      registers,
    }),
    recordsIn: new Counter({
      name: 'geowindow_records_in_total',
      help: 'Records read from the input topic.',
      registers,
    }),
    deadLettered: new Counter({
      name: 'geowindow_records_dead_lettered_total',
      help: 'Records written to the dead-letter topic, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    windowsEmitted: new Counter({
      name: 'geowindow_windows_emitted_total',
      help: 'Window aggregates written to the output topic and acknowledged, by what closed the window.',
      labelNames: ['closed_by'] as const,
      registers,
    }),
    recordsAggregated: new Counter({
      name: 'geowindow_records_aggregated_total',
      help: 'Records counted in acknowledged window aggregates.',
      registers,
    }),
    windowLatency: new Histogram({
      name: 'geowindow_window_processing_seconds',
      help: 'Time from closing a window to the acknowledgement of its aggregate.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    endToEndLatency: new Histogram({
      name: 'geowindow_end_to_end_latency_seconds',
      help: 'From the event time of the newest reading in a window to the acknowledgement of its aggregate.',
      buckets: END_TO_END_BUCKETS,
      registers,
    }),
    consumerLag: new Gauge({
      name: 'geowindow_consumer_lag',
      help: 'Records between the last record read and the end of the partition, as of the last fetch.',
      labelNames: ['topic', 'partition'] as const,
      registers,
    }),
    rebalances: new Counter({
      name: 'geowindow_rebalances_total',
      help: 'Times this instance joined its consumer group (the first join included).',
      registers,
    }),
    workerUtilization: new Gauge({
      name: 'geowindow_worker_pool_utilization',
      help: 'Share of the worker pool busy since start (piscina utilization, 0 to 1).',
      registers,
      collect() {
        if (workers !== undefined) this.set(workers.utilization);
      },
    }),
    workerQueueDepth: new Gauge({
      name: 'geowindow_worker_pool_queue_depth',
      help: 'Chunks waiting for a free worker.',
      registers,
      collect() {
        if (workers !== undefined) this.set(workers.queueSize);
      },
    }),
    workerHeapUsed: new Gauge({
      name: 'geowindow_worker_heap_used_bytes',
      help: 'V8 heap in use in the aggregation workers, summed, as each last reported it after a chunk.',
      registers,
      collect() {
        if (workers !== undefined) this.set(workers.heap.usedBytes);
      },
    }),
    workerHeapTotal: new Gauge({
      name: 'geowindow_worker_heap_total_bytes',
      help: 'V8 heap reserved by the aggregation workers (their resident share beyond the runtime), summed, as last reported.',
      registers,
      collect() {
        if (workers !== undefined) this.set(workers.heap.totalBytes);
      },
    }),
    aggregationSeconds: new Histogram({
      name: 'geowindow_aggregation_seconds',
      help: 'Time a worker took to aggregate one chunk, queueing included.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    commits: new Counter({
      name: 'geowindow_commits_total',
      help: 'Offset commits, by result.',
      labelNames: ['result'] as const,
      registers,
    }),
    chunksInUse: new Gauge({
      name: 'geowindow_chunk_pool_in_use',
      help: 'Chunks of the fixed pool holding records (open or being aggregated).',
      registers,
      collect() {
        if (pool !== undefined) this.set(pool.inUse);
      },
    }),
    chunksFree: new Gauge({
      name: 'geowindow_chunk_pool_free',
      help: 'Chunks of the fixed pool free for new windows.',
      registers,
      collect() {
        if (pool !== undefined) this.set(pool.free);
      },
    }),
    budgetBytes: new Gauge({
      name: 'geowindow_memory_budget_bytes',
      help: 'The memory budget (MEMORY_LIMIT_MB, else 90% of the cgroup limit, else the default).',
      registers,
    }),
    rssBytes: new Gauge({
      name: 'geowindow_memory_rss_bytes',
      help: 'Resident set size of the process (worker threads included), as the memory guard last sampled it.',
      registers,
    }),
    heapUsedBytes: new Gauge({
      name: 'geowindow_memory_heap_used_bytes',
      help: 'V8 heap in use on the main thread, as the memory guard last sampled it.',
      registers,
    }),
    arrayBufferBytes: new Gauge({
      name: 'geowindow_memory_array_buffers_bytes',
      help: 'Memory of ArrayBuffers and SharedArrayBuffers (chunks, fetched bytes), as last sampled.',
      registers,
    }),
    paused: new Gauge({
      name: 'geowindow_consumer_paused',
      help: '1 while the memory guard holds the consumer paused, else 0.',
      registers,
    }),
    pauses: new Counter({
      name: 'geowindow_consumer_pauses_total',
      help: 'Times the memory guard paused the consumer.',
      registers,
    }),
    pausedSeconds: new Counter({
      name: 'geowindow_consumer_paused_seconds_total',
      help: 'Time spent paused by the memory guard.',
      registers,
    }),
    forcedCollections: new Counter({
      name: 'geowindow_gc_forced_total',
      help: 'Garbage collections the memory guard forced while paused (needs --expose-gc).',
      registers,
    }),
    youngCollections: new Counter({
      name: 'geowindow_gc_young_forced_total',
      help: 'Minor garbage collections forced after produce requests, to free the buffers kafkajs encoded them through (needs --expose-gc).',
      registers,
    }),
    workerRestarts: new Counter({
      name: 'geowindow_worker_restarts_total',
      help: 'Aggregation workers that died (out of memory or crashed) and were replaced.',
      registers,
    }),
    workerRetries: new Counter({
      name: 'geowindow_worker_retries_total',
      help: 'Chunks retried on a fresh worker after their worker died.',
      registers,
    }),
    recordsLate: new Counter({
      name: 'geowindow_records_late_total',
      help: 'Records whose every event-time window had closed when they arrived (dead-lettered as late, or dropped with LATE_RECORDS=drop), by partition.',
      labelNames: ['partition'] as const,
      registers,
    }),
    lateAssignments: new Counter({
      name: 'geowindow_late_window_assignments_total',
      help: 'Hopping windows a record was not counted in because they had closed (the record counts in its open ones).',
      registers,
    }),
    settledSkipped: new Counter({
      name: 'geowindow_settled_assignments_skipped_total',
      help: 'After a takeover: window assignments (and dead letters) of re-read records that the previous owner had already written.',
      registers,
    }),
    unzoned: new Counter({
      name: 'geowindow_records_unzoned_total',
      help: 'Records in no zone, not counted under a zone key (ZONE_UNMATCHED=drop).',
      registers,
    }),
    readingsDropped: new Counter({
      name: 'geowindow_readings_dropped_total',
      help: 'Readings not kept because their window key already held READING_COLUMNS reading names.',
      registers,
    }),
    windowCapHits: new Counter({
      name: 'geowindow_window_cap_hits_total',
      help: 'Event-time windows emitted early (closedBy cap) because a state cap was passed, by cap.',
      labelNames: ['cap'] as const,
      registers,
    }),
    aggregatesWritten: new Counter({
      name: 'geowindow_aggregates_written_total',
      help: 'Aggregate records written and acknowledged (one per window for count windows, one per window and key for event time).',
      registers,
    }),
    idleAdvances: new Counter({
      name: 'geowindow_idle_partition_advances_total',
      help: 'Times an idle partition (read to its end, nothing for IDLE_PARTITION_MS) closed windows by the wall clock.',
      registers,
    }),
    openWindows: new Gauge({
      name: 'geowindow_windows_open',
      help: 'Event-time windows open, all partitions.',
      registers,
    }),
    windowStateBytes: new Gauge({
      name: 'geowindow_window_state_bytes',
      help: 'Estimated heap bytes held by open event-time windows (bounded by the memory plan\'s window-state share).',
      registers,
    }),
    windowClosingBytes: new Gauge({
      name: 'geowindow_window_closing_bytes',
      help: 'Estimated heap bytes held by closed event-time windows whose aggregates are still being written.',
      registers,
    }),
    watermark: new Gauge({
      name: 'geowindow_partition_watermark_seconds',
      help: 'Event-time watermark of each assigned partition, Unix seconds.',
      labelNames: ['partition'] as const,
      registers,
    }),
    chunkWaits: new Counter({
      name: 'geowindow_chunk_pool_waits_total',
      help: 'Times a batch waited for a free chunk (backpressure).',
      registers,
    }),
  };
  for (const reason of DEAD_LETTER_REASONS) metrics.deadLettered.inc({ reason }, 0);
  for (const closedBy of [...WINDOW_CLOSE_REASONS, ...TIME_CLOSE_REASONS]) metrics.windowsEmitted.inc({ closed_by: closedBy }, 0);
  for (const cap of WINDOW_CAPS) metrics.windowCapHits.inc({ cap }, 0);
  for (const result of ['ok', 'failed']) metrics.commits.inc({ result }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
