import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { INSTALLED_KAFKAJS, PATCH_SCRIPT } from '../support/kafkajs-copies.js';

const QUEUE_FILE = join('src', 'network', 'requestQueue', 'index.js');
/** Every file the script patches. */
const FILES = [
  QUEUE_FILE,
  join('src', 'protocol', 'encoder.js'),
  join('src', 'protocol', 'recordBatch', 'crc32C', 'crc32C.js'),
  join('src', 'protocol', 'recordBatch', 'record', 'v0', 'index.js'),
  join('src', 'protocol', 'requests', 'produce', 'v3', 'request.js'),
];
const MARK = "Patched by geowindow's scripts/patch-kafkajs.mjs";

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
  cpSync(INSTALLED_KAFKAJS, copy, { recursive: true });
  const reverted = patch(copy, '--revert');
  expect(reverted.code, reverted.stderr).toBe(0);
  return copy;
}

function patch(kafkajsDir: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [PATCH_SCRIPT, '--dir', kafkajsDir, ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const queueSource = (kafkajsDir: string) => readFileSync(join(kafkajsDir, QUEUE_FILE), 'utf8');
/** The text of every file the script patches, by file. */
const sources = (kafkajsDir: string) => Object.fromEntries(FILES.map((file) => [file, readFileSync(join(kafkajsDir, file), 'utf8')]));

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
  it('patches every file of kafkajs 2.2.4 as published, a second run changes nothing, and --revert restores each byte for byte', () => {
    const copy = publishedCopy();
    const published = sources(copy);
    expect(patch(copy, '--check').code).toBe(1);

    const first = patch(copy);
    expect(first.code, first.stderr).toBe(0);
    const patched = sources(copy);
    for (const file of FILES) {
      expect(first.stdout).toContain(`${join(copy, file)}: patched (`);
      expect(patched[file]).not.toBe(published[file]);
      expect(patched[file]).toContain(MARK);
    }
    expect(patched[QUEUE_FILE]).toContain('if (this.throttleCheckTimeoutId || this.pending.length === 0) return');

    const second = patch(copy);
    expect(second.code, second.stderr).toBe(0);
    for (const file of FILES) expect(second.stdout).toContain(`${join(copy, file)}: already patched`);
    expect(sources(copy)).toEqual(patched);
    const check = patch(copy, '--check');
    expect(check.code).toBe(0);
    for (const file of FILES) expect(check.stdout).toContain(`${join(copy, file)}: patched`);

    expect(patch(copy, '--revert').code).toBe(0);
    expect(sources(copy)).toEqual(published);
    const again = patch(copy, '--revert');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(': already published');
    expect(sources(copy)).toEqual(published);
  });

  it('patches the rest of a copy whose request queue the earlier script patched', () => {
    const copy = publishedCopy();
    const published = sources(copy);
    const full = publishedCopy();
    expect(patch(full).code).toBe(0);
    writeFileSync(join(copy, QUEUE_FILE), queueSource(full));
    expect(patch(copy, '--check').code).toBe(1);

    const result = patch(copy);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${join(copy, QUEUE_FILE)}: already patched`);
    expect(result.stdout).toContain(`${join(copy, FILES[1]!)}: patched (`);
    expect(sources(copy)).toEqual(sources(full));
    expect(patch(copy, '--revert').code).toBe(0);
    expect(sources(copy)).toEqual(published);
  });

  it('refuses, changing no file, when one is neither published nor patched: patching, checking or reverting', () => {
    const copy = publishedCopy();
    expect(patch(copy).code).toBe(0);
    const encoder = join(copy, FILES[1]!);
    writeFileSync(encoder, readFileSync(encoder, 'utf8').replace('const DOUBLE_SIZE = 8', 'const DOUBLE_SIZE = 8 // edited'));
    // The request queue, read before the encoder, is put back as published: a run that patched file by file would patch it.
    writeFileSync(join(copy, QUEUE_FILE), queueSource(publishedCopy()));
    const before = sources(copy);

    for (const args of [[], ['--check'], ['--revert']]) {
      const result = patch(copy, ...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toContain(`ERROR: ${encoder} is neither kafkajs 2.2.4's published file nor the patched one`);
      expect(sources(copy)).toEqual(before);
    }
    for (const file of FILES) expect(existsSync(join(copy, `${file}.geowindow-tmp`))).toBe(false);
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
