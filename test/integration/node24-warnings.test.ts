import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/net/free-port.js';
import { CLI, type LogLine } from '../support/cli.js';
import { createTopics, uniqueTopics, waitFor } from '../support/kafka.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Idle time after joining the group: every request queue has answered many requests by then (fetches every 500 ms). */
const IDLE_MS = 5_000;
const JOIN_TIMEOUT_MS = 60_000;

/** The pinned Node.js 24 from scripts/node24.sh, or why there is none. */
function node24(): { node: string } | { reason: string } {
  try {
    return { node: execFileSync('bash', [join(ROOT, 'scripts', 'node24.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim() };
  } catch (error) {
    return { reason: `Node.js 24 could not be installed by scripts/node24.sh (${(error as Error).message.split('\n')[0]})` };
  }
}

interface IdleRun {
  readonly code: number | null;
  readonly stderr: string;
  /** The start-up line of the memory plan. */
  readonly budget: LogLine | undefined;
}

/**
 * `geowindow run` on `node`, joined to its group on an empty topic, left idle
 * for IDLE_MS, then stopped with SIGTERM. Warnings are left on: the variables
 * that silence them are not passed on.
 */
async function startIdleAndStop(node: string, brokers: string): Promise<IdleRun> {
  const topics = uniqueTopics('in', 'out', 'dlq');
  await createTopics(brokers, { [topics.in]: 3, [topics.out]: 1, [topics.dlq]: 1 });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: brokers,
    INPUT_TOPIC: topics.in,
    OUTPUT_TOPIC: topics.out,
    DLQ_TOPIC: topics.dlq,
    GROUP_ID: `${topics.in}-group`,
    WORKERS: '2',
    METRICS_HOST: '127.0.0.1',
    METRICS_PORT: String(await freePort()),
  };
  delete env.NODE_NO_WARNINGS;
  delete env.NODE_OPTIONS;
  delete env.MALLOC_ARENA_MAX;
  delete env.MALLOC_MMAP_THRESHOLD_;
  const child = spawn(node, [CLI, 'run'], { env, stdio: 'pipe' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  const lines = () => stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
  const joined = () => lines().some((line) => line.msg === 'joined the consumer group');
  try {
    await waitFor('the service to join its group', async () => (joined() ? true : undefined), JOIN_TIMEOUT_MS, () =>
      child.exitCode === null ? undefined : `the service exited with ${child.exitCode}: ${stderr}`,
    200);
    await sleep(IDLE_MS);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
  const code = await exited;
  return { code, stderr, budget: lines().find((line) => line.msg.startsWith('memory budget ')) };
}

/**
 * The heap limit the workers reported at start-up is the one their
 * resourceLimits give (old generation, young generation and V8's few MB of
 * its own), not one a process-wide V8 flag set.
 */
function expectWorkerHeapsWithinLimits(budget: LogLine | undefined): void {
  const limits = budget?.workerLimits as { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } | undefined;
  expect(limits).toBeDefined();
  expect(budget?.workerHeapLimitMb).toBeGreaterThanOrEqual(limits!.maxOldGenerationSizeMb);
  expect(budget?.workerHeapLimitMb).toBeLessThanOrEqual(limits!.maxOldGenerationSizeMb + limits!.maxYoungGenerationSizeMb + 8);
}

describe('kafkajs without warnings on the supported runtimes', () => {
  const brokers = inject('kafkaBrokers');

  it('the installed kafkajs carries the request-queue patch (npm ci runs scripts/patch-kafkajs.mjs)', () => {
    const check = spawnSync(process.execPath, [join(ROOT, 'scripts', 'patch-kafkajs.mjs'), '--check'], { encoding: 'utf8' });
    expect(check.status, `${check.stdout}${check.stderr}: run node scripts/patch-kafkajs.mjs`).toBe(0);
  });

  it(`starts and idles on this Node.js (${process.version}) with nothing on stderr`, async () => {
    const run = await startIdleAndStop(process.execPath, brokers);
    expect(run.stderr).not.toContain('TimeoutNegativeWarning');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // Node 20 cannot start itself again (no process.execve): glibc's malloc keeps its default arenas, V8 its heap limit.
    expectWorkerHeapsWithinLimits(run.budget);
    if (Number(process.versions.node.split('.')[0]) < 22) {
      expect(run.budget?.mallocArenaMax).toBeNull();
      expect(run.budget?.mallocMmapThreshold).toBeNull();
      expect(run.budget?.mainOldSpaceMb).toBeNull();
    }
  });

  it('starts and idles on the pinned Node.js 24 with nothing on stderr: no TimeoutNegativeWarning', async (context) => {
    const found = node24();
    if ('reason' in found) return context.skip(found.reason);
    const version = execFileSync(found.node, ['--version'], { encoding: 'utf8' }).trim();
    expect(version).toMatch(/^v24\./);
    const run = await startIdleAndStop(found.node, brokers);
    expect(run.stderr).not.toContain('TimeoutNegativeWarning');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // Started without the flag, run started itself again (same pid) with it, and with the malloc settings.
    expect(run.budget?.mainSemiSpaceFrom).toBe('flag');
    expect(run.budget?.mainSemiSpaceMb).toBe(16);
    expect(run.budget?.mallocArenaMax).toBe('2');
    expect(run.budget?.mallocMmapThreshold).toBe('131072');
    // The default budget (1,024 MB, no container limit): the main heap's limit from the plan, not from the host's memory.
    expect(run.budget?.mainOldSpaceMb).toBeGreaterThanOrEqual(256);
    expect(run.budget?.mainOldSpaceMb).toBeLessThan(1024);
    expect(run.budget?.mainHeapLimitMb).toBeLessThan(1024 + 128);
    // Its --max-old-space-size and --max-semi-space-size are the main thread's: the workers' heaps stay within their resourceLimits.
    expectWorkerHeapsWithinLimits(run.budget);
  });
});
