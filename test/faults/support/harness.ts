import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli, type ServiceProcess } from '../../support/cli.js';
import { RefZones } from '../../support/event-reference.js';
import { committedOffsets, endOffsets, readAll, waitFor } from '../../support/kafka.js';
import { startService, type ScenarioTopics } from '../../support/scenario.js';
import { Fleet } from './fleet.js';
import { deleteTopics, faultTopics } from './kafka-io.js';
import type { DeliveryMode, FleetContext, WindowKind } from './modes.js';
import { describeExit } from './probes.js';
import { reconcileCountWindows, reconcileZoneWindows, zoneReference, type CaseRecords, type Duplicates, type ReconciledCounts } from './verify.js';

const MINUTE_MS = 60_000;
/** Zone fleets start this far back, on a whole minute: a case's whole stream is in the past, so the idle close ends every window. */
const EVENT_TIME_BACK_MS = 3 * 3_600_000;

/**
 * The group forgets a killed instance after this long (the crash tests' 10 s
 * instead of 30 s): every restart and takeover waits for it.
 */
const SESSION_TIMEOUT_MS = 10_000;

/** As the image runs it (Dockerfile): the memory guard may collect garbage while paused. */
const SERVICE_NODE_ARGS = ['--expose-gc'];

/** A fleet context with the US counties written by the CLI, and the test's own index of them. */
export interface CaseContext extends FleetContext {
  readonly zones: RefZones;
}

/** Writes the counties zones file (as users would, with the CLI) and loads the test's reference index of it. */
export async function prepareContext(): Promise<CaseContext> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-faults-'));
  const zonesFile = join(dir, 'counties.geojson');
  const result = await runCli(['zones', 'us-counties', '--out', zonesFile]);
  expect(result.code, result.stderr).toBe(0);
  const back = Date.now() - EVENT_TIME_BACK_MS;
  return { zonesFile, startTs: back - (back % MINUTE_MS), zones: new RefZones(JSON.parse(readFileSync(zonesFile, 'utf8'))) };
}

/** Removes what prepareContext wrote. */
export function disposeContext(context: CaseContext | undefined): void {
  if (context !== undefined) rmSync(join(context.zonesFile, '..'), { recursive: true, force: true });
}

/**
 * What one fault case starts (services, fleets, topics), so that afterAll
 * kills and deletes all of it whatever happened, and the case's own steps:
 * start a kind's service, read back and reconcile.
 */
export class FaultCase {
  readonly #services: ServiceProcess[] = [];
  readonly #fleets: Fleet[] = [];
  readonly #topics: { brokers: string; names: string[] }[] = [];

  /** Fresh topics for one kind of this case (see faultTopics). */
  async topics(brokers: string, label: string, outputReplicas?: readonly number[]): Promise<ScenarioTopics> {
    const topics = await faultTopics(brokers, label, outputReplicas);
    this.#topics.push({ brokers, names: [topics.in, topics.out, topics.dlq] });
    return topics;
  }

  fleet(brokers: string, topics: ScenarioTopics, kind: WindowKind, context: FleetContext, options: { seed: number; devices?: number }): Fleet {
    const fleet = new Fleet(brokers, topics.in, kind, context, options);
    this.#fleets.push(fleet);
    return fleet;
  }

  /** The service with the kind's settings and budget, the mode's, then `env`. */
  async start(brokers: string, topics: ScenarioTopics, kind: WindowKind, mode: DeliveryMode, context: FleetContext, env: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> {
    const service = await startService(brokers, topics, {
      MEMORY_LIMIT_MB: String(kind.budgetMb),
      SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
      ...kind.serviceEnv(context),
      ...mode.env,
      ...env,
    }, SERVICE_NODE_ARGS);
    this.#services.push(service);
    return service;
  }

  /** Kills every process the case started and deletes its topics (its afterAll). */
  async cleanup(): Promise<void> {
    for (const fleet of this.#fleets) fleet.kill();
    await Promise.all(this.#services.map((service) => service.stop('SIGKILL')));
    await Promise.all(this.#topics.map(({ brokers, names }) => deleteTopics(brokers, names)));
  }
}

/** Reads a case's input, output and dead-letter topics (the last two with the mode's isolation level). */
export async function readCase(brokers: string, topics: ScenarioTopics, mode: DeliveryMode): Promise<CaseRecords> {
  const [inputs, outputs, deadLetters] = await Promise.all([
    readAll(brokers, topics.in, 'read_uncommitted'),
    readAll(brokers, topics.out, mode.isolation),
    readAll(brokers, topics.dlq, mode.isolation),
  ]);
  return { inputs, outputs, deadLetters };
}

/** Reconciles what a kind's service wrote against its input (see verify.ts); duplicates identical unless `rule` says otherwise. */
export function reconcileKind(
  kind: WindowKind,
  topics: ScenarioTopics,
  records: CaseRecords,
  mode: DeliveryMode,
  context: CaseContext,
  rule: Duplicates = 'identical',
): ReconciledCounts {
  return kind.name === 'count'
    ? reconcileCountWindows(topics.in, records, mode, rule)
    : reconcileZoneWindows(topics.in, records, mode, zoneReference(records.inputs, context.zones), rule);
}

/** Waits until the group has committed the end of every input partition; fails at once if one of `services` exits. */
export async function waitForCommittedEnd(brokers: string, topics: ScenarioTopics, services: readonly ServiceProcess[], timeoutMs: number): Promise<void> {
  const ends = await endOffsets(brokers, topics.in);
  await waitFor(
    `${topics.group}: committed offsets at the end of every partition`,
    async () => {
      const committed = await committedOffsets(brokers, topics.group, topics.in);
      return [...ends].every(([partition, end]) => committed.get(partition) === end) ? true : undefined;
    },
    timeoutMs,
    () => {
      const exited = services.find((s) => s.child.exitCode !== null);
      return exited === undefined ? undefined : `a service stopped: ${describeExit(exited)}`;
    },
  );
}

/** Sum of the end offsets of a topic's partitions: records written to it so far. */
export async function recordsInTopic(brokers: string, topic: string): Promise<number> {
  return [...(await endOffsets(brokers, topic)).values()].reduce((a, b) => a + b, 0);
}
