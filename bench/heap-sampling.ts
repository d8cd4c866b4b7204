/**
 * A preload for the service's main thread: V8's sampling heap profiler,
 * keeping the samples of objects that died in full collections (what reached
 * the old generation and had to be marked and swept there), dropping those
 * that died young. At exit it writes the profile and its allocation sites by
 * bytes. With a bench's `--node-args`, e.g.
 *
 *   HEAP_SAMPLE_OUT=/tmp/zone node dist/bench/zones-windows.js --only zone --no-append \
 *     --node-args="--import ./dist/bench/heap-sampling.js"
 *
 * writes /tmp/zone.<pid>.heapprofile (Chrome DevTools opens it) and
 * /tmp/zone.<pid>.top.txt. Sampling costs little (one sample per 16 KiB).
 * With HEAP_SAMPLE_ALL=1 the objects that died young are kept too: every
 * allocation, by site (what makes the scavenges).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { isMainThread } from 'node:worker_threads';

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  callFrame: Frame;
  selfSize: number;
  children: ProfileNode[];
}

const SAMPLING_INTERVAL_BYTES = 16 * 1024;
const TOP = 30;

/** Bytes sampled per allocating function, largest first. */
function topSites(root: ProfileNode, what: string): string {
  const bytes = new Map<string, number>();
  const stack = [root];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const { functionName, url, lineNumber } = node.callFrame;
    const site = `${functionName || '(anonymous)'} ${url.replace(/^file:\/\//, '')}:${lineNumber + 1}`;
    if (node.selfSize > 0) bytes.set(site, (bytes.get(site) ?? 0) + node.selfSize);
    stack.push(...node.children);
  }
  const total = [...bytes.values()].reduce((sum, b) => sum + b, 0);
  const lines = [...bytes].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  return [
    `${(total / 1048576).toFixed(1)} MiB sampled (${what})`,
    ...lines.map(([site, b]) => `${(b / 1048576).toFixed(1).padStart(8)} MiB ${((100 * b) / total).toFixed(1).padStart(5)}%  ${site}`),
  ].join('\n');
}

const out = process.env.HEAP_SAMPLE_OUT;
const all = process.env.HEAP_SAMPLE_ALL === '1';
if (isMainThread && out !== undefined && out !== '') {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: SAMPLING_INTERVAL_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: all,
  });
  process.on('exit', () => {
    // An in-process session answers synchronously, so this runs before the process is gone.
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error !== null) return;
      const profile = (result as { profile: { head: ProfileNode } }).profile;
      writeFileSync(`${out}.${process.pid}.heapprofile`, JSON.stringify(profile));
      const what = all ? 'every allocation' : 'objects alive at exit or collected by full collections';
      writeFileSync(`${out}.${process.pid}.top.txt`, `${topSites(profile.head, what)}\n`);
    });
  });
}
