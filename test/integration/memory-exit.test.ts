import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LogLine, ServiceProcess } from '../support/cli.js';
import { committedOffsets, endOffsets, waitFor } from '../support/kafka.js';
import { reconcile, type Reconciliation } from '../support/reconcile.js';
import {
  produceFleet,
  readScenario,
  scenarioTopics,
  serviceErrors,
  startService,
  waitForCommittedEnd,
  type ScenarioTopics,
} from '../support/scenario.js';

const GOOD = 40_000;
const BAD = 400;
/**
 * A 256 MB budget with one worker, and from the first batch on 300 MB held
 * on the main thread (GEOWINDOW_TEST_HOLD_MB), as a leak would: RSS passes
 * the budget, the guard pauses, the windows in flight drain and a collection
 * frees nothing, so after MEMORY_STUCK_MS the service commits what is
 * acknowledged and exits with code 4.
 */
const BUDGET_MB = 256;
const HOLD_MB = 300;
const STUCK_MS = 1500;

describe('a memory budget the process cannot get back under', () => {
  const brokers = inject('kafkaBrokers');
  let topics: ScenarioTopics;
  let leaking: ServiceProcess;
  let leakingExit: number | null;
  let committedAtExit: Map<number, number>;
  let ends: Map<number, number>;
  let restarted: ServiceProcess;
  let restartedExit: number | null;
  let result: Reconciliation;

  beforeAll(async () => {
    topics = await scenarioTopics(brokers);
    await produceFleet(brokers, topics.in, { good: GOOD, bad: BAD, devices: 300 });
    ends = await endOffsets(brokers, topics.in);
    leaking = await startService(
      brokers,
      topics,
      {
        MEMORY_LIMIT_MB: String(BUDGET_MB),
        MEMORY_SAMPLE_MS: '100',
        MEMORY_STUCK_MS: String(STUCK_MS),
        GEOWINDOW_TEST_HOLD_MB: String(HOLD_MB),
        WORKERS: '1',
        LOG_LEVEL: 'info',
      },
      ['--expose-gc'],
    );
    leakingExit = await waitFor(
      'the service to exit on its own',
      async () => (leaking.child.exitCode === null && leaking.child.signalCode === null ? undefined : leaking.child.exitCode),
      60_000,
    );
    committedAtExit = await committedOffsets(brokers, topics.group, topics.in);
    // The next instance, without the leak, takes over from what was committed.
    restarted = await startService(brokers, topics, { WORKERS: '1', LOG_LEVEL: 'warn' });
    await waitForCommittedEnd(brokers, topics, restarted);
    restartedExit = await restarted.stop('SIGTERM');
    const records = await readScenario(brokers, topics);
    result = reconcile(topics.in, records.inputs, records.outputs, records.deadLetters);
  });

  afterAll(async () => {
    await leaking?.stop('SIGKILL');
    await restarted?.stop('SIGKILL');
  });

  const logged = (message: string) => (line: LogLine) => line.msg === message;

  it('pauses, and exits with code 4 once RSS has stayed above the budget for MEMORY_STUCK_MS', () => {
    expect(leakingExit).toBe(4);
    expect(leaking.logs.some(logged('testing: holding memory from now on (GEOWINDOW_TEST_HOLD_MB)'))).toBe(true);
    const stopping = leaking.logs.find(logged('stopping without committing unprocessed offsets'));
    expect(stopping?.reason).toBe('memory budget exceeded');
    expect(leaking.logs.find(logged('stopped'))?.exitCode).toBe(4);
  });

  it('committed what was acknowledged before it stopped, and left the rest for the restart', () => {
    const committed = [...ends].map(([partition]) => committedAtExit.get(partition) ?? 0);
    expect(committed.some((offset) => offset > 0)).toBe(true);
    const behind = [...ends].filter(([partition, end]) => (committedAtExit.get(partition) ?? 0) < end);
    expect(behind.length).toBeGreaterThan(0);
  });

  it('loses nothing across the exit: every record is in one aggregate or the dead-letter topic', () => {
    expect(restartedExit).toBe(0);
    expect(serviceErrors(restarted)).toEqual([]);
    expect(result.aggregated).toBe(GOOD);
    expect([...result.deadLettered.values()].reduce((a, b) => a + b, 0)).toBe(BAD);
  });
});
