/**
 * Summarises V8 CPU profiles (node --cpu-prof) into where the time goes per
 * record: each sample is given to the innermost frame of its stack that
 * belongs to a known part of the pipeline (fetch and protocol decode, JSON
 * decode, packing, worker messaging, aggregation, produce, commit, ...);
 * Node internals and unknown libraries count for whoever called them.
 *
 *   node dist/bench/profile-summary.js DIR [--records N]
 *
 * DIR holds CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile files; thread 0
 * is the main thread, the others are worker threads (summed together).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export const CATEGORIES = [
  'fetch and protocol decode (Kafka client)',
  'Kafka client network and protocol, unattributed',
  'socket I/O (Node net)',
  'JSON decode',
  'packing (chunks, windows, pipeline)',
  'worker messaging (piscina, MessagePort)',
  'aggregation (workers, turf)',
  'produce (aggregates and dead letters)',
  'commit (offsets)',
  'application (count only)',
  'service housekeeping (metrics, logs, memory guard)',
  'garbage collection',
  'program (native, unattributed)',
  'other',
  'idle',
] as const;
export type Category = (typeof CATEGORIES)[number];

const FETCH: Category = 'fetch and protocol decode (Kafka client)';
const KAFKAJS: Category = 'Kafka client network and protocol, unattributed';
const SOCKET: Category = 'socket I/O (Node net)';
const DECODE: Category = 'JSON decode';
const PACKING: Category = 'packing (chunks, windows, pipeline)';
const MESSAGING: Category = 'worker messaging (piscina, MessagePort)';
const AGGREGATION: Category = 'aggregation (workers, turf)';
const PRODUCE: Category = 'produce (aggregates and dead letters)';
const COMMIT: Category = 'commit (offsets)';
const APPLICATION: Category = 'application (count only)';
const HOUSEKEEPING: Category = 'service housekeeping (metrics, logs, memory guard)';
const GC: Category = 'garbage collection';
const PROGRAM: Category = 'program (native, unattributed)';
const OTHER: Category = 'other';
const IDLE: Category = 'idle';

/** A frame's own verdict: a category, "ask the caller", or "kafkajs plumbing: ask the caller, else unattributed". */
type Verdict = Category | 'inherit' | 'kafkajs';

const KAFKAJS_CONTEXTS: ReadonlySet<Category> = new Set([FETCH, PRODUCE, COMMIT, KAFKAJS]);

/** The rules, by url (path) and function name. Order matters: the first match wins. */
export function classifyFrame(frame: CallFrame): Verdict {
  const { functionName: name, url } = frame;
  if (url === '') {
    if (name === '(garbage collector)') return GC;
    if (name === '(idle)') return IDLE;
    if (name === '(program)') return PROGRAM;
    if (name === '(root)') return OTHER;
    return 'inherit'; // builtins and natives (JSON.parse, Buffer methods, ...) count for their caller
  }
  const path = url.replace(/^file:\/\//, '');
  if (path.includes('/node_modules/kafkajs/')) {
    if (/\/src\/producer\/|\/protocol\/requests\/produce\//.test(path)) return PRODUCE;
    if (/\/consumer\/offsetManager\/|\/protocol\/requests\/offset(Commit|Fetch)\//.test(path)) return COMMIT;
    if (/\/src\/consumer\/|\/protocol\/requests\/fetch\/|\/protocol\/recordBatch\/|\/protocol\/messageSet\/|\/protocol\/message\//.test(path)) return FETCH;
    return 'kafkajs';
  }
  if (path.includes('/node_modules/@platformatic/kafka/')) {
    if (/\/producer\//.test(path)) return PRODUCE;
    if (/\/consumer\/|\/protocol\/records|\/apis\/consumer\/fetch/.test(path)) return FETCH;
    return 'kafkajs'; // the same role: client plumbing
  }
  // A piscina worker waiting for its next task blocks in Atomics.wait, which the profiler shows as this JS frame.
  if (path.includes('/node_modules/piscina/')) return name === 'atomicsWaitLoop' ? IDLE : MESSAGING;
  if (/\/node_modules\/(@turf\/|concaveman|robust-predicates|rbush|quickselect|tinyqueue|point-in-polygon)/.test(path)) return AGGREGATION;
  if (/\/node_modules\/(prom-client|pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free)\//.test(path)) return HOUSEKEEPING;
  if (path.includes('/node_modules/')) return 'inherit';
  if (path.startsWith('node:')) {
    if (/^node:internal\/(worker|per_context\/messageport)/.test(path) || path === 'node:worker_threads') return MESSAGING;
    if (/^node:(net|internal\/net|internal\/stream_base_commons)/.test(path)) return SOCKET;
    return 'inherit';
  }
  // The project's own code (dist/src, dist/workers, dist/bench).
  if (/\/src\/decode\//.test(path)) return DECODE;
  if (/\/src\/pipeline\/offset-tracker/.test(path)) return COMMIT;
  if (/\/src\/pipeline\/dead-letter|\/src\/windows\/aggregate-record|\/src\/kafka\/(producer|record-writer)/.test(path)) return PRODUCE;
  if (/\/src\/kafka\/consumer/.test(path)) return FETCH;
  if (/\/src\/(chunks|windows|pipeline)\//.test(path)) return PACKING;
  if (/\/src\/aggregation\//.test(path)) return MESSAGING;
  if (/\/src\/protocol\//.test(path)) return 'inherit';
  if (/\/src\/(memory|metrics|http|logger|redact)/.test(path)) return HOUSEKEEPING;
  if (/\/workers\//.test(path)) return AGGREGATION;
  if (/\/bench\/raw-/.test(path)) return APPLICATION;
  return OTHER;
}

export interface FunctionCost {
  readonly name: string;
  readonly where: string;
  readonly ms: number;
}

export interface ThreadSummary {
  readonly files: readonly string[];
  /** Sampled time inside the window (see `windowed`), in ms. */
  readonly totalMs: number;
  /** Everything but idle. */
  readonly busyMs: number;
  readonly byCategory: Readonly<Record<Category, number>>;
  /** The functions with the most self time (busy only). */
  readonly topFunctions: readonly FunctionCost[];
  /** True when the samples before the thread's first real work (start-up, group join) were left out. */
  readonly windowed: boolean;
}

/** The window starts at the thread's first sample of real work: a fetch, a decode, an aggregation, the raw count. */
const WORK_STARTS: ReadonlySet<Category> = new Set([FETCH, DECODE, AGGREGATION, APPLICATION]);

function shortWhere(frame: CallFrame): string {
  const path = frame.url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('/node_modules/');
  const short = modules >= 0 ? path.slice(modules + 14) : path.includes('/dist/') ? path.slice(path.indexOf('/dist/') + 6) : path;
  return `${short}:${frame.lineNumber + 1}`;
}

export function summarizeProfiles(profiles: readonly { file: string; profile: CpuProfile }[]): ThreadSummary {
  const byCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  const byFunction = new Map<string, FunctionCost & { ms: number }>();
  let windowed = false;
  for (const { profile } of profiles) {
    const nodes = new Map<number, ProfileNode>();
    const parent = new Map<number, number>();
    for (const node of profile.nodes) {
      nodes.set(node.id, node);
      for (const child of node.children ?? []) parent.set(child, node.id);
    }
    const memo = new Map<number, Category>();
    // Module loading runs the top level of kafkajs's consumer and protocol files too: it is not work yet.
    const loadingMemo = new Map<number, boolean>();
    const loading = (id: number): boolean => {
      const chain: number[] = [];
      let cursor: number | undefined = id;
      let found = false;
      while (cursor !== undefined) {
        const cached = loadingMemo.get(cursor);
        if (cached !== undefined) {
          found = cached;
          break;
        }
        if (nodes.get(cursor)!.callFrame.url.startsWith('node:internal/modules/')) {
          found = true;
          chain.push(cursor);
          break;
        }
        chain.push(cursor);
        cursor = parent.get(cursor);
      }
      for (const nodeId of chain) loadingMemo.set(nodeId, found);
      return found;
    };
    const categoryOf = (id: number): Category => {
      const known = memo.get(id);
      if (known !== undefined) return known;
      // Iterative walk up to the nearest known ancestor (stacks can be deep).
      const chain: number[] = [];
      let cursor: number | undefined = id;
      let resolved: Category | undefined;
      while (cursor !== undefined) {
        const cached = memo.get(cursor);
        if (cached !== undefined) {
          resolved = cached;
          break;
        }
        chain.push(cursor);
        cursor = parent.get(cursor);
      }
      let below: Category = resolved ?? OTHER;
      for (let i = chain.length - 1; i >= 0; i--) {
        const nodeId = chain[i]!;
        const verdict = classifyFrame(nodes.get(nodeId)!.callFrame);
        const category = verdict === 'inherit' ? below : verdict === 'kafkajs' ? (KAFKAJS_CONTEXTS.has(below) ? below : KAFKAJS) : verdict;
        memo.set(nodeId, category);
        below = category;
      }
      return memo.get(id)!;
    };
    const { samples, timeDeltas } = profile;
    // Each sample stands for the interval up to the next one (as Chrome DevTools counts it).
    let first = 0;
    for (let i = 0; i < samples.length; i++) {
      if (WORK_STARTS.has(categoryOf(samples[i]!)) && !loading(samples[i]!)) {
        first = i;
        break;
      }
    }
    if (first > 0) windowed = true;
    for (let i = first; i < samples.length; i++) {
      const id = samples[i]!;
      const ms = (timeDeltas[i + 1] ?? 0) / 1000;
      if (ms <= 0) continue;
      const category = categoryOf(id);
      byCategory[category] += ms;
      if (category === IDLE) continue;
      const frame = nodes.get(id)!.callFrame;
      const key = `${frame.functionName}|${frame.url}|${frame.lineNumber}`;
      const entry = byFunction.get(key);
      if (entry === undefined) byFunction.set(key, { name: frame.functionName || '(anonymous)', where: frame.url === '' ? '' : shortWhere(frame), ms });
      else entry.ms += ms;
    }
  }
  const totalMs = Object.values(byCategory).reduce((a, b) => a + b, 0);
  const topFunctions = [...byFunction.values()].sort((a, b) => b.ms - a.ms).slice(0, 15).map((f) => ({ ...f, ms: Math.round(f.ms) }));
  return {
    files: profiles.map((p) => basename(p.file)),
    totalMs,
    busyMs: totalMs - byCategory[IDLE],
    byCategory,
    topFunctions,
    windowed,
  };
}

export interface ProfileSet {
  readonly main: ThreadSummary | undefined;
  readonly workers: ThreadSummary | undefined;
  readonly workerThreads: number;
}

/** Reads every .cpuprofile in `dir`: thread 0 is the main thread, the others worker threads. */
export function summarizeDir(dir: string): ProfileSet {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  const load = (file: string) => ({ file, profile: JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile });
  const thread = (file: string) => Number(/^CPU\.\d+\.\d+\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] ?? 0);
  const mainFiles = files.filter((f) => thread(f) === 0);
  const workerFiles = files.filter((f) => thread(f) !== 0);
  return {
    main: mainFiles.length === 0 ? undefined : summarizeProfiles(mainFiles.map(load)),
    workers: workerFiles.length === 0 ? undefined : summarizeProfiles(workerFiles.map(load)),
    workerThreads: workerFiles.length,
  };
}

/** A markdown table: ms, share of the thread's time and of its busy time, µs per record. */
export function categoryTable(summary: ThreadSummary, records: number): string {
  const rows = CATEGORIES.filter((c) => summary.byCategory[c] >= 0.5).map((c) => {
    const ms = summary.byCategory[c];
    const busy = c === IDLE ? '-' : `${((ms / summary.busyMs) * 100).toFixed(1)}%`;
    return `| ${c} | ${Math.round(ms).toLocaleString('en-US')} | ${((ms / summary.totalMs) * 100).toFixed(1)}% | ${busy} | ${((ms * 1000) / records).toFixed(2)} |`;
  });
  const busyUs = ((summary.busyMs * 1000) / records).toFixed(2);
  return [
    '| Category | ms | % of thread time | % of busy time | µs/record |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    `| **busy (all but idle)** | **${Math.round(summary.busyMs).toLocaleString('en-US')}** | **${((summary.busyMs / summary.totalMs) * 100).toFixed(1)}%** | 100% | **${busyUs}** |`,
  ].join('\n');
}

export function topFunctionsList(summary: ThreadSummary, count = 10): string {
  return summary.topFunctions
    .slice(0, count)
    .map((f) => `\`${f.name}\` ${f.where === '' ? '(native)' : `(${f.where})`} ${f.ms} ms`)
    .join('; ');
}

/** The markdown for one profiled process. */
export function profileMarkdown(title: string, set: ProfileSet, records: number): string {
  const parts: string[] = [];
  if (set.main !== undefined) {
    parts.push(`**${title}, main thread** (${(set.main.totalMs / 1000).toFixed(1)} s sampled${set.main.windowed ? ' from its first fetch' : ''}):`, '', categoryTable(set.main, records), '');
    parts.push(`Top self time, main thread: ${topFunctionsList(set.main)}.`, '');
  }
  if (set.workers !== undefined) {
    parts.push(
      `**${title}, ${set.workerThreads} worker thread${set.workerThreads === 1 ? '' : 's'} together** (${(set.workers.totalMs / 1000).toFixed(1)} s sampled${set.workers.windowed ? ' from each one\'s first aggregation' : ''}):`,
      '',
      categoryTable(set.workers, records),
      '',
    );
    parts.push(`Top self time, workers: ${topFunctionsList(set.workers)}.`, '');
  }
  return parts.join('\n');
}

// Command line: summarise a folder of profiles.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { records: { type: 'string' } } });
  const dir = positionals[0];
  if (dir === undefined) {
    process.stderr.write('Usage: node dist/bench/profile-summary.js DIR [--records N]\n');
    process.exit(2);
  }
  const records = Number(values.records ?? 1);
  process.stdout.write(`${profileMarkdown(basename(dir), summarizeDir(dir), records)}\n`);
}
