import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'patch-kafkajs.mjs');
const INSTALLED = dirname(createRequire(join(ROOT, 'package.json')).resolve('kafkajs/package.json'));
const QUEUE_FILE = join('src', 'network', 'requestQueue', 'index.js');

const dir = mkdtempSync(join(tmpdir(), 'geowindow-patch-kafkajs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

let copies = 0;
/**
 * A copy of the installed kafkajs, put back as published by the script itself
 * (the installed one is patched after npm ci; either state is accepted).
 */
function publishedCopy(): string {
  const copy = join(dir, `kafkajs-${copies++}`);
  cpSync(INSTALLED, copy, { recursive: true });
  const reverted = patch(copy, '--revert');
  expect(reverted.code, reverted.stderr).toBe(0);
  return copy;
}

function patch(kafkajsDir: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [SCRIPT, '--dir', kafkajsDir, ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const queueSource = (kafkajsDir: string) => readFileSync(join(kafkajsDir, QUEUE_FILE), 'utf8');

/** The parts of kafkajs's RequestQueue the test drives. */
interface RequestQueue {
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}
type RequestQueueClass = new (options: Record<string, unknown>) => RequestQueue;

function requestQueue(kafkajsDir: string): RequestQueue {
  const Queue = createRequire(join(kafkajsDir, 'index.js'))(`./${QUEUE_FILE}`) as RequestQueueClass;
  const logger = { debug: () => undefined, warn: () => undefined };
  return new Queue({ maxInFlightRequests: null, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'localhost:9092', logger });
}

/** The delays of the timers `work` sets. */
function timerDelays(work: () => void): number[] {
  const spy = vi.spyOn(globalThis, 'setTimeout');
  work();
  const delays = spy.mock.calls.map((call) => Number(call[1]));
  spy.mockRestore();
  return delays;
}

describe('scripts/patch-kafkajs.mjs', () => {
  it('patches kafkajs 2.2.4 as published, and a second run changes nothing', () => {
    const copy = publishedCopy();
    const published = queueSource(copy);
    expect(patch(copy, '--check').code).toBe(1);

    const first = patch(copy);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(': patched');
    const patched = queueSource(copy);
    expect(patched).not.toBe(published);
    expect(patched).toContain('if (this.throttleCheckTimeoutId || this.pending.length === 0) return');

    const second = patch(copy);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(': already patched');
    expect(queueSource(copy)).toBe(patched);
    expect(patch(copy, '--check').code).toBe(0);

    expect(patch(copy, '--revert').code).toBe(0);
    expect(queueSource(copy)).toBe(published);
  });

  it('refuses a request queue that is neither the published file nor the patched one, and leaves it alone', () => {
    const copy = publishedCopy();
    const changed = queueSource(copy).replace('const CHECK_PENDING_REQUESTS_INTERVAL = 10', 'const CHECK_PENDING_REQUESTS_INTERVAL = 20');
    writeFileSync(join(copy, QUEUE_FILE), changed);

    const result = patch(copy);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ERROR: .*index\.js is neither kafkajs 2\.2\.4's published file nor the patched one/);
    expect(queueSource(copy)).toBe(changed);
    expect(existsSync(join(copy, `${QUEUE_FILE}.geowindow-tmp`))).toBe(false);
  });

  it('refuses another kafkajs version, naming it and what to do', () => {
    const copy = publishedCopy();
    const manifest = join(copy, 'package.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"version": "2.2.4"', '"version": "2.2.5"'));
    const before = queueSource(copy);

    const result = patch(copy);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is kafkajs 2.2.5; this patch is for 2.2.4 only');
    expect(result.stderr).toContain('update or remove scripts/patch-kafkajs.mjs');
    expect(queueSource(copy)).toBe(before);
  });
});

describe('the request queue, published and patched', () => {
  it('as published, an idle queue sets a timer of minus the epoch time, which re-arms itself', () => {
    const queue = requestQueue(publishedCopy());
    const delays = timerDelays(() => queue.checkPendingRequests());
    queue.destroy();
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeLessThan(-1_000_000_000_000);
  });

  it('patched, an idle queue sets no timer', () => {
    const copy = publishedCopy();
    expect(patch(copy).code).toBe(0);
    const queue = requestQueue(copy);
    expect(timerDelays(() => queue.checkPendingRequests())).toEqual([]);
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('patched, a request waiting out a broker throttle is checked when the throttle ends, at least 10 ms on', () => {
    const copy = publishedCopy();
    expect(patch(copy).code).toBe(0);
    const queue = requestQueue(copy);
    queue.maybeThrottle(200);
    queue.pending.push({ correlationId: 1 });
    const throttled = timerDelays(() => queue.checkPendingRequests());
    queue.destroy();
    expect(throttled).toHaveLength(1);
    expect(throttled[0]).toBeGreaterThan(150);
    expect(throttled[0]).toBeLessThanOrEqual(200);

    // A throttle that has just ended (tulios/kafkajs#1532): checked again after the queue's 10 ms interval, not never.
    const ended = requestQueue(copy);
    ended.pending.push({ correlationId: 2 });
    const marginal = timerDelays(() => ended.scheduleCheckPendingRequests());
    ended.destroy();
    expect(marginal).toEqual([10]);
  });
});
