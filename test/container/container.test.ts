import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINER_RESERVE_SHARE } from '../../src/memory/budget.js';
import { freePort } from '../../src/net/free-port.js';
import { metricValue } from '../support/cli.js';
import { committedOffsets, endOffsets, header, waitFor } from '../support/kafka.js';
import { reconcile } from '../support/reconcile.js';
import { produceFleet, readScenario, scenarioTopics } from '../support/scenario.js';
import { REPO_ROOT, baseImage, containerLogs, containerSkipReason, containerState, docker, type ContainerLogs } from './docker.js';

const GOOD = 29_700;
const BAD = 300;
const TOTAL = GOOD + BAD;
/** `--memory` of the run: the service's budget is this less the container reserve. */
const MEMORY_MB = 288;
/** What the container runs as: the Dockerfile's USER 1000:1000. */
const SERVICE_UID = '1000';
/** `docker stop --time`: above SHUTDOWN_GRACE_MS (20 s), as the compose file's stop_grace_period. */
const STOP_TIMEOUT_S = 30;
/** Windows never close by idleness during the test, so the shutdown drain is what writes the last ones. */
const WINDOW_IDLE_MS = 600_000;
const IMAGE = 'geowindow:container-test';
const BUILD_TIMEOUT_MS = 900_000;
const DOCKER_MS = 60_000;

const BASE = baseImage();
const skipReason = await containerSkipReason(BASE);
if (skipReason !== undefined) console.warn(`[container test] skipped: ${skipReason}`);

/** geowindow's own log lines at error level or above (the Kafka client's warnings are its own business). */
function serviceErrors(logs: ContainerLogs) {
  return logs.lines.filter((line) => line.level >= 50 && line.component !== 'kafkajs');
}

/** What a process in the container runs as and with: /proc/<pid>/status and cmdline, read inside it. */
async function processInContainer(name: string, pid: number): Promise<{ uids: string[]; gids: string[]; cmdline: string[] }> {
  const status = await docker(['exec', name, 'cat', `/proc/${pid}/status`], DOCKER_MS);
  expect(status.code, status.stderr).toBe(0);
  const field = (key: string) => status.stdout.split('\n').find((line) => line.startsWith(`${key}:`))!.split(/\s+/).slice(1, 5);
  const cmdline = await docker(['exec', name, 'cat', `/proc/${pid}/cmdline`], DOCKER_MS);
  expect(cmdline.code, cmdline.stderr).toBe(0);
  return { uids: field('Uid'), gids: field('Gid'), cmdline: cmdline.stdout.split('\0').filter((arg) => arg !== '') };
}

describe.skipIf(skipReason !== undefined)(`the image built from the Dockerfile on ${BASE}`, () => {
  // The host's broker; the container shares the host's network, so the same address works inside.
  const brokers = process.env.KAFKA_BROKERS?.trim() || '127.0.0.1:9092';
  const name = `geowindow-container-test-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const started = Date.now();
    const build = await docker(['build', '--build-arg', `NODE_IMAGE=${BASE}`, '-t', IMAGE, REPO_ROOT], BUILD_TIMEOUT_MS);
    expect(build.code, `docker build failed:\n${build.stdout.slice(-4000)}\n${build.stderr.slice(-4000)}`).toBe(0);
    console.info(`[container test] docker build took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await docker(['rm', '--force', name], DOCKER_MS);
  });

  it('reads its budget from the cgroup, runs as uid 1000 under tini, drains on SIGTERM, and every record is aggregated or dead-lettered', async () => {
    const topics = await scenarioTopics(brokers);
    await produceFleet(brokers, topics.in, { good: GOOD, bad: BAD });
    const metricsPort = await freePort();

    // As the compose file runs it: no swap beyond the limit, read-only root, no capabilities.
    const run = await docker(
      ['run', '--detach', '--name', name, '--memory', `${MEMORY_MB}m`, '--network', 'host',
        '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges:true',
        '-e', `KAFKA_BROKERS=${brokers}`, '-e', `INPUT_TOPIC=${topics.in}`, '-e', `OUTPUT_TOPIC=${topics.out}`,
        '-e', `DLQ_TOPIC=${topics.dlq}`, '-e', `GROUP_ID=${topics.group}`, '-e', `METRICS_PORT=${metricsPort}`,
        '-e', 'COMMIT_INTERVAL_MS=200', '-e', `WINDOW_IDLE_MS=${WINDOW_IDLE_MS}`, IMAGE],
      DOCKER_MS,
    );
    expect(run.code, run.stderr).toBe(0);
    const exitedEarly = async () => {
      const state = await containerState(name);
      return state.running ? undefined : `the container exited with ${state.exitCode}: ${(await containerLogs(name)).stderr}`;
    };

    // The start-up line: the budget is the container's memory limit, read from the cgroup, less the reserve.
    const budgetLine = await waitFor('the memory budget line', async () => {
      const early = await exitedEarly();
      if (early !== undefined) return { early };
      const line = (await containerLogs(name)).lines.find((l) => l.msg.startsWith('memory budget '));
      return line === undefined ? undefined : { line };
    }, 60_000);
    expect(budgetLine.early).toBeUndefined();
    const budget = /^memory budget (\d+) MB from (.+)$/.exec(budgetLine.line!.msg);
    expect(budget?.[1]).toBe(String(Math.round(MEMORY_MB * (1 - CONTAINER_RESERVE_SHARE))));
    expect(budget?.[2]).toMatch(/^cgroup v[12]$/);
    expect(budgetLine.line!.containerLimitMb).toBe(MEMORY_MB);

    // tini is PID 1; node, its child, runs as 1000:1000 with --expose-gc.
    const init = await processInContainer(name, 1);
    expect(init.cmdline[0]).toBe('/usr/bin/tini');
    const node = await processInContainer(name, budgetLine.line!.pid as number);
    expect(node.uids).toEqual([SERVICE_UID, SERVICE_UID, SERVICE_UID, SERVICE_UID]);
    expect(node.gids).toEqual([SERVICE_UID, SERVICE_UID, SERVICE_UID, SERVICE_UID]);
    expect(node.cmdline[0]).toMatch(/(^|\/)node$/);
    expect(node.cmdline).toContain('--expose-gc');
    // The memory plan's main young generation, set by the image so that run need not restart itself.
    expect(node.cmdline).toContain('--max-semi-space-size=16');
    expect(node.cmdline.slice(-2)).toEqual([expect.stringMatching(/dist\/src\/cli\.js$/), 'run']);
    // The glibc malloc settings the image sets (src/memory/malloc-settings.ts), as the start-up line reports.
    expect(budgetLine.line!.mallocArenaMax).toBe('2');
    expect(budgetLine.line!.mallocMmapThreshold).toBe('131072');

    // Every record read; the last windows are still open (WINDOW_IDLE_MS), so the stop must write them.
    const readAll = await waitFor('every record read', async () => {
      const early = await exitedEarly();
      if (early !== undefined) return { early };
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return (metricValue(text, 'geowindow_records_in_total') ?? 0) >= TOTAL ? { early: undefined } : undefined;
    }, 120_000, undefined, 200);
    expect(readAll.early).toBeUndefined();

    // SIGTERM to tini, which passes it to node: drain, commit, exit 0 within the grace period.
    const stopStarted = Date.now();
    const stop = await docker(['stop', '--time', String(STOP_TIMEOUT_S), name], (STOP_TIMEOUT_S + 30) * 1000);
    expect(stop.code, stop.stderr).toBe(0);
    expect(Date.now() - stopStarted).toBeLessThan(STOP_TIMEOUT_S * 1000);
    const state = await containerState(name);
    expect(state).toEqual({ running: false, exitCode: 0, oomKilled: false });
    const logs = await containerLogs(name);
    expect(logs.lines.find((l) => l.msg === 'stopping: draining open windows')?.reason).toBe('SIGTERM');
    // The service's own last line (kafkajs may log its consumer's "Stopped" once more while its fetch loop winds down).
    expect(logs.lines.filter((l) => l.component !== 'kafkajs').at(-1)).toMatchObject({ msg: 'stopped', exitCode: 0 });
    expect(serviceErrors(logs)).toEqual([]);
    // kafkajs patched in the image too: no TimeoutNegativeWarning (nor any other) from Node 24.
    expect(logs.stderr).toBe('');

    // A clean stop commits the end of every partition, and every record is in exactly one place.
    const ends = await endOffsets(brokers, topics.in);
    expect(await committedOffsets(brokers, topics.group, topics.in)).toEqual(ends);
    const all = await readScenario(brokers, topics);
    expect(all.inputs).toHaveLength(TOTAL);
    const result = reconcile(topics.in, all.inputs, all.outputs, all.deadLetters);
    const deadLettered = [...result.deadLettered.values()].reduce((n, c) => n + c, 0);
    expect(result.aggregated).toBe(GOOD);
    expect(deadLettered).toBe(BAD);
    expect(all.inputs.filter((r) => header(r, 'geowindow-fleet-expect') !== undefined)).toHaveLength(BAD);
    expect(result.duplicates).toBe(0);
    expect(result.deadLetterDuplicates).toBe(0);
    expect(result.aggregates.filter((a) => a.window.closedBy === 'shutdown').length).toBeGreaterThan(0);
  });
});
