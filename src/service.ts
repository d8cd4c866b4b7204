import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { WorkerPool } from './aggregation/worker-pool.js';
import { ChunkPool } from './chunks/chunk-pool.js';
import { chunkRows, type Config } from './config/config.js';
import { ConfigErrors, EXIT } from './errors.js';
import { startHttpServer } from './http/server.js';
import { createKafka } from './kafka/client.js';
import { InputConsumer } from './kafka/consumer.js';
import { BatchingSink } from './kafka/producer.js';
import { TransactionalSink } from './kafka/transactional-sink.js';
import { checkTopics, lostTopics, topicPlan } from './kafka/topic-check.js';
import { createMetrics } from './metrics.js';
import { MB } from './memory/budget.js';
import { MemoryGuard } from './memory/guard.js';
import { MemoryMonitor } from './memory/monitor.js';
import { measureFloor } from './memory/floor.js';
import type { MemoryPlan } from './memory/plan.js';
import { describePlan, memoryPlanFor } from './memory/service-plan.js';
import { describeMainHeap } from './memory/main-heap.js';
import { youngGeneration } from './memory/young-generation.js';
import { processMemory } from './memory/probe.js';
import { minorCollection, YoungCollector } from './memory/young-collector.js';
import { Pipeline } from './pipeline/pipeline.js';
import { checkZones, eventTimeSettings, zoneHeapBytes } from './windows/event-settings.js';

/**
 * `global.gc` when the process runs with --expose-gc, as a last-resort full
 * collection: on Node 24 (V8 13) a regular one leaves the pages it frees
 * resident in V8's page pool (a heap of 42 MB in 551 MB of RSS, in a test
 * that had grown it to 193 MB), while the last-resort flavour returns them
 * (71 MB). Node 20 releases them either way.
 */
const gc = typeof globalThis.gc === 'function' ? () => globalThis.gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' }) : undefined;

/** V8's own share of a worker's heap limit beyond the old and young generations it was given (4 MB measured). */
const WORKER_HEAP_SLACK_BYTES = 16 * MB;

/** Idle windows are looked for this often at most, so a short WINDOW_IDLE_MS is honoured closely. */
const MAX_IDLE_SWEEP_MS = 1000;

/** A stop after a topic was lost (see lostTopics): writes in flight are dropped; acknowledged work is committed or not. */
interface AfterTopicLost {
  readonly commitAcknowledged: boolean;
}

/**
 * Wires the service together and runs it until a signal or a failure.
 * Resolves with the process exit code.
 */
export async function runService(config: Config, logger: Logger): Promise<number> {
  // Throw ConfigErrors naming ZONES_FILE (a bad zones file) or MEMORY_LIMIT_MB (a budget too small for this configuration).
  const zones = checkZones(config);
  // Worker limits depend on the configuration only; the runtime's share is measured once the workers are up.
  const estimate = memoryPlanFor(config, zoneHeapBytes(zones));
  const kafka = createKafka({ brokers: config.brokers, clientId: config.clientId, logger, security: config });
  // The topic checks handle every broker answer about a topic themselves: the client's warnings would only repeat them.
  const topicKafka = createKafka({ brokers: config.brokers, clientId: config.clientId, logger: logger.child({}, { level: 'error' }), security: config });
  const topics = topicPlan(config);
  try {
    // Throws ConfigErrors naming each topic that is missing or not visible (exit 3); CREATE_TOPICS creates missing ones.
    await checkTopics(topicKafka, topics, logger);
  } catch (error) {
    if (error instanceof ConfigErrors) throw error;
    logger.fatal({ err: error }, 'could not start');
    return EXIT.failure;
  }
  const workers: WorkerPool = new WorkerPool({
    threads: config.workers,
    limits: estimate.worker,
    workerData: { zones: zones === undefined ? null : { file: config.zonesFile!, idProperty: config.zoneIdProperty, shared: zones.toShared() } },
    logger,
    events: {
      workerDied: (outOfMemory) => {
        metrics.workerRestarts.inc();
        logger.warn({ outOfMemory }, 'an aggregation worker died and was replaced');
      },
      retried: () => metrics.workerRetries.inc(),
    },
  });
  let plan: MemoryPlan;
  let workerHeapLimitBytes = 0;
  try {
    const floorBytes = await measureFloor(async () => {
      workerHeapLimitBytes = (await workers.warmUp()).heapLimitBytes;
    }, gc);
    plan = memoryPlanFor(config, zoneHeapBytes(zones), floorBytes);
  } catch (error) {
    await workers.destroy();
    throw error;
  }
  const plannedWorkerBytes = plan.workerHeapBytes / config.workers;
  if (workerHeapLimitBytes > plannedWorkerBytes + WORKER_HEAP_SLACK_BYTES) {
    logger.warn(
      { workerHeapLimitMb: Math.round(workerHeapLimitBytes / MB), plannedMb: Math.round(plannedWorkerBytes / MB) },
      'the aggregation workers report a larger heap limit than the memory plan gave them: a V8 flag may be overriding their resourceLimits',
    );
  }
  const chunks = new ChunkPool(plan.chunkPool.chunks, chunkRows(config), plan.chunkPool.byteCapacity);
  const metrics = createMetrics(new Registry(), chunks, workers);
  metrics.budgetBytes.set(plan.budget.bytes);
  // ArrayBuffers the plan expects: the chunk pool, fetched batches, dead letters and aggregates in flight.
  const expectedBuffers = plan.chunkPool.bytes + plan.fetch.reserveBytes + 2 * plan.deadLetterBytes;
  const young = new YoungCollector(minorCollection(), { limitBytes: expectedBuffers, collected: () => metrics.youngCollections.inc() });
  const requested = (bytes: number) => young.requested(bytes);
  const transactions = config.exactlyOnce
    ? new TransactionalSink(kafka, {
        groupId: config.groupId,
        transactionalIdPrefix: config.transactionalIdPrefix === 'auto' ? config.groupId : config.transactionalIdPrefix,
        requested,
      })
    : undefined;
  const sink = transactions ?? new BatchingSink(kafka, { requested });
  const consumer = new InputConsumer(kafka, {
    groupId: config.groupId,
    topic: config.inputTopic,
    startFrom: config.startFrom,
    maxBytes: plan.fetch.maxBytes,
    maxBytesPerPartition: plan.fetch.maxBytesPerPartition,
    sessionTimeoutMs: config.sessionTimeoutMs,
  });
  const pipeline = new Pipeline({
    pool: chunks,
    aggregator: workers,
    sink,
    committer: consumer,
    metrics,
    logger,
    outputTopic: config.outputTopic,
    dlqTopic: config.dlqTopic,
    windowSize: chunkRows(config),
    windowIdleMs: config.windowIdleMs,
    maxMessageBytes: config.maxMessageBytes,
    maxReadings: config.readingColumns,
    deadLetterBytesLimit: plan.deadLetterBytes,
    countOutputV2: config.outputSchema === 'v2',
    eventTime: eventTimeSettings(config, plan, consumer),
    testOomDevice: config.testOomDevice,
    ...(transactions === undefined ? {} : { transactions }),
  });
  logger.info(
    {
      inputTopic: config.inputTopic,
      outputTopic: config.outputTopic,
      dlqTopic: config.dlqTopic,
      groupId: config.groupId,
      exactlyOnce: config.exactlyOnce,
      workers: config.workers,
      chunkSize: chunkRows(config),
      window: config.window === 'count'
        ? { kind: 'count', size: chunkRows(config) }
        : {
            kind: config.window,
            sizeMs: config.windowSize,
            advanceMs: config.windowAdvance ?? config.windowSize,
            graceMs: config.windowGrace,
            idlePartitionMs: config.idlePartitionMs,
          },
      keyBy: config.keyBy,
      ...(zones === undefined
        ? {}
        : { zones: { file: zones.source, zones: zones.size, parts: zones.parts, positions: zones.positions, oddities: zones.oddities } }),
    },
    'starting geowindow',
  );
  logger.info(
    { ...describePlan(plan), workerHeapLimitMb: Math.round(workerHeapLimitBytes / MB), mainSemiSpaceMb: youngGeneration().semiSpaceMb, mainSemiSpaceFrom: youngGeneration().source, ...describeMainHeap(), mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null, mallocMmapThreshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? null },
    `memory budget ${Math.round(plan.budget.bytes / MB)} MB from ${plan.budget.source}`,
  );

  let crashed = false;
  const http = await startHttpServer({
    host: config.metricsHost,
    port: config.metricsPort,
    registry: metrics.registry,
    live: () => !crashed && !pipeline.failed,
    ready: () => consumer.joined && consumer.connected && !pipeline.failed,
  });
  logger.info({ port: http.port }, 'serving /metrics, /healthz and /readyz');

  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];

  const stop = async (reason: string, code: number, topicLost?: AfterTopicLost): Promise<void> => {
    if (stopping) return;
    stopping = true;
    monitor.stop();
    const clean = code === EXIT.ok;
    logger.info({ reason }, clean ? 'stopping: draining open windows' : 'stopping without committing unprocessed offsets');
    // Step 1: stop fetching and let the batch in progress finish.
    try {
      consumer.pauseAll();
    } catch {
      // Not running yet: nothing to pause.
    }
    await pipeline.stopAccepting();
    // Step 2: emit open windows as partial and wait for every acknowledgement.
    // Step 3: commit what is acknowledged. Neither happens after a failure
    // (but a lost output topic, where acknowledged work stays acknowledged):
    // the records are read again by whoever takes the partitions next.
    if (clean && !pipeline.failed) {
      pipeline.closeAllWindows('shutdown');
      const drained = await pipeline.drain(config.shutdownGraceMs);
      if (!drained) logger.warn({ graceMs: config.shutdownGraceMs }, 'grace time over before every window was written');
      await pipeline.commit();
    } else if (code === EXIT.memory && !pipeline.failed) {
      // Out of memory: open windows stay unwritten (that would take memory);
      // what is already acknowledged is committed, the rest is read again.
      await pipeline.commit();
    } else if (topicLost?.commitAcknowledged === true) {
      // An output topic is gone: what was acknowledged before stays so, and is committed.
      await pipeline.commitAcknowledged();
    }
    for (const timer of timers) clearInterval(timer);
    // Step 4: close everything; a failure to close is logged, not fatal. Writes to a lost topic are not waited for.
    const closeSink = topicLost === undefined ? sink.disconnect() : sink.abandon();
    const results = await Promise.allSettled([consumer.disconnect(), closeSink, workers.destroy(), http.close()]);
    for (const result of results) if (result.status === 'rejected') logger.warn({ err: result.reason }, 'error while closing');
    logger.info({ exitCode: code }, 'stopped');
    resolveExit(code);
  };

  const monitor = new MemoryMonitor({
    guard: new MemoryGuard({
      budgetBytes: plan.budget.bytes,
      highWater: config.memoryHighWater,
      lowWater: config.memoryLowWater,
      stuckMs: config.memoryStuckMs,
    }),
    probe: processMemory,
    inFlight: () => pipeline.inFlight,
    sheddable: () => pipeline.sheddableBytes,
    intervalMs: config.memorySampleMs,
    metrics,
    logger,
    gc,
    actions: {
      pause: () => consumer.pauseAll(),
      resume: () => {
        if (!stopping) consumer.resumeAll();
      },
      shed: () => pipeline.shedWindows(),
      shutdown: () => void stop('memory budget exceeded', EXIT.memory),
    },
  });
  monitor.start();

  const onSignal = (signal: NodeJS.Signals) => void stop(signal, EXIT.ok);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  /**
   * A failure that may be a topic lost while running: one fatal line per
   * lost topic, naming it and the fix (no stack: the cause is known);
   * otherwise the failure's own line.
   */
  const failed = async (error: unknown, message: string, reason: string): Promise<void> => {
    const lost = await lostTopics(topicKafka, topics, error).catch(() => undefined);
    if (lost === undefined || lost.errors.length === 0) {
      logger.fatal({ err: error }, message);
      return stop(reason, EXIT.failure);
    }
    for (const topic of lost.errors) logger.fatal({ code: topic.code, variable: topic.variable, topic: topic.topic, problem: topic.problem }, topic.message);
    return stop('topic lost', EXIT.failure, { commitAcknowledged: lost.commitAcknowledged });
  };
  pipeline.onFailure((error) => void failed(error, 'an output could not be written; stopping without committing', 'pipeline failure'));

  try {
    await sink.connect();
    timers.push(setInterval(() => void pipeline.commit(), config.commitIntervalMs));
    // Idle means no record came although the consumer could fetch one: nothing closes by the clock while
    // it is out of its group or the brokers do not answer (a broker restarting), nor until it has been
    // back for the idle time. A window the clock closes may come back different on replay, and an idle
    // partition's wall-clock watermark makes the records held up by the outage late.
    const quietFor = (idleMs: number) => consumer.joined && consumer.connectedForMs >= idleMs;
    const sweepMs = Math.max(10, Math.min(MAX_IDLE_SWEEP_MS, Math.floor(config.windowIdleMs / 4)));
    timers.push(
      setInterval(() => {
        if (quietFor(config.windowIdleMs)) pipeline.closeIdleWindows();
      }, sweepMs),
    );
    if (config.window !== 'count') {
      // Idle partitions: looked for a few times per IDLE_PARTITION_MS, one end-offset request at a time.
      let looking = false;
      const idleSweepMs = Math.max(50, Math.min(MAX_IDLE_SWEEP_MS, Math.floor(config.idlePartitionMs / 4)));
      timers.push(
        setInterval(() => {
          if (looking || stopping || !quietFor(config.idlePartitionMs)) return;
          looking = true;
          pipeline
            .closeIdlePartitions(consumer, config.idlePartitionMs)
            .catch((error: unknown) => logger.warn({ err: error }, 'could not read end offsets for the idle-partition check; will retry'))
            .finally(() => (looking = false));
        }, idleSweepMs),
      );
    }
    // Testing only (GEOWINDOW_TEST_HOLD_MB): memory the process keeps, as a leak would, to drive the guard to exit 4.
    let held: Buffer | undefined;
    await consumer.start({
      handleBatch: (batch) => {
        if (held === undefined && config.testHoldMb > 0) {
          held = Buffer.alloc(config.testHoldMb * MB, 1);
          logger.warn({ mb: config.testHoldMb }, 'testing: holding memory from now on (GEOWINDOW_TEST_HOLD_MB)');
        }
        return pipeline.handleBatch(batch);
      },
      onJoin: (assigned) => {
        logger.info({ assigned }, 'joined the consumer group');
        metrics.rebalances.inc();
        metrics.consumerLag.reset();
        metrics.watermark.reset();
        pipeline.resetAssignment();
      },
      onCrash: (error) => {
        crashed = true;
        void failed(error, 'the Kafka consumer crashed', 'consumer crash');
      },
    });
  } catch (error) {
    logger.fatal({ err: error }, 'could not start');
    void stop('start-up failure', EXIT.failure);
  }
  const code = await exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
