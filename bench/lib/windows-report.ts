/** The table, targets and notes of `npm run bench:windows`, for the console and bench/RESULTS.md. */
import { execFileSync } from 'node:child_process';
import { MAX_OUTPUT_IN_FLIGHT_BYTES } from '../../src/pipeline/pipeline.js';
import { ROOT, commandLine, fmtInt, markdownTable, round, stamp } from './common.js';
import type { QuixMeasurement } from './quix.js';
import { mbText, ratioText, sectionHead, type Run } from './report.js';
import type { Measurement } from './systems.js';
import type { Expected, WindowCheck } from './window-check.js';
import type { ZoneDataset } from './zone-dataset.js';

/**
 * The rows, in the order they run: the baseline first, then event time keyed
 * by partition (the same windows without zones), the zone rows (zone-5m: the
 * same with 5-minute windows, four times fewer aggregates per record), the
 * peer last.
 */
export const WINDOW_ROWS = ['count', 'partition', 'zone', 'zone-5m', 'zone-h3', 'quix'] as const;
export type WindowRow = (typeof WINDOW_ROWS)[number];
/** What runs without --only: zone,h3 costs a few minutes more (H3 cells in the workers), so it is asked for by name. */
export const DEFAULT_WINDOW_ROWS: readonly WindowRow[] = ['count', 'partition', 'zone', 'zone-5m', 'quix'];

/** The zone row's aggregates written once more, alone (bench/write-aggregates.ts's summary line). */
export interface OutputAlone {
  readonly records: number;
  readonly valueBytes: number;
  readonly seconds: number;
  /** CPU of the writing process, all threads. */
  readonly cpuSeconds: number;
  readonly mainThreadCpuSeconds: number;
  /** null on Node 20, whose threads cannot be told apart. */
  readonly backgroundThreadsCpuSeconds: number | null;
}

export interface RowResult {
  readonly row: WindowRow;
  readonly measurement: Measurement | QuixMeasurement;
  /** Output records read for the check, and what closed the checked windows among them. */
  readonly emitted?: { readonly messages: number; readonly windowMessages: number; readonly closedBy: Record<string, number> };
  readonly check?: WindowCheck;
  /** Records in the dead-letter topic (late ones, for event-time windows). */
  readonly deadLettered?: number;
  /** The zone row only: its output written again, alone. */
  readonly outputAlone?: OutputAlone;
}

/** How busy the whole machine was while a row ran (its set-up and check included): other work shows here. */
export interface MachineLoad {
  readonly wallSeconds: number;
  /** CPU seconds of every process on the machine over the row (/proc/stat). */
  readonly busySeconds: number;
  /** The 1-minute load average at the row's end. */
  readonly loadAverage: number;
}

export interface WindowsReportInput {
  readonly run: Run;
  readonly dataset: ZoneDataset;
  readonly counties: number;
  readonly selected: readonly WindowRow[];
  readonly results: readonly RowResult[];
  readonly failures: ReadonlyMap<WindowRow, string>;
  readonly skipped: ReadonlyMap<WindowRow, string>;
  readonly windowMs: number;
  readonly graceMs: number;
  readonly quixGraceMs: number;
  readonly idlePartitionMs: number;
  readonly workers: number;
  /** WORKERS' default on this machine (src/config/config.ts). */
  readonly defaultWorkers: number;
  readonly machineLoad: ReadonlyMap<WindowRow, MachineLoad>;
  readonly expected: Expected | undefined;
}

/** The zone keying may cost at most this share of count-window throughput. */
const MAX_ZONE_COST = 0.15;
/** geowindow's zone windows against the Python peer. */
const MIN_RATIO_TO_QUIX = 10;

interface Check {
  readonly name: string;
  readonly pass: boolean | undefined;
  readonly detail: string;
}

/** The service code measured: the commit, and whether src/ or workers/ had changes not in it. */
export function codeVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'workers') !== '';
    return `commit ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes in src/ or workers/' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** The check that every window of a geowindow row is right. */
function allRight(key: 'zone' | 'partition', result: RowResult | undefined, what = ''): Check {
  const check = result?.check;
  return {
    name: `every geowindow ${key} window${what} right (count, pm25 sum/min/max)`,
    pass: check?.pass,
    detail: check === undefined ? 'not measured' : `${fmtInt(check.right)} of ${fmtInt(check.checked)}, ${fmtInt(check.extra)} extra`,
  };
}

const verdict = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? 'PASS' : 'FAIL');

function cpuRecords(m: Measurement | QuixMeasurement): number {
  return typeof m.detail.cpuRecords === 'number' ? m.detail.cpuRecords : m.records;
}

const perRecord = (seconds: number | undefined, records: number) =>
  seconds === undefined || !Number.isFinite(seconds) ? '-' : ((seconds * 1e6) / records).toFixed(1);

function windowsText(check: WindowCheck | undefined): string {
  if (check === undefined) return '-';
  const wrong = check.checked - check.right;
  return `${fmtInt(check.right)} / ${fmtInt(check.checked)}${wrong + check.extra > 0 ? ` (${fmtInt(wrong)} wrong, ${fmtInt(check.extra)} extra)` : ''}`;
}

/**
 * The CPU per record a zone row may spend to pass, at the cores it kept
 * busy (with the broker on the same cores, it cannot take many more), and
 * how much of that count windows' whole cost and the output alone already
 * take: what is left is all the zone keying itself may cost.
 */
function outputBudgetNote(count: Measurement | QuixMeasurement, zone: Measurement | QuixMeasurement, alone: OutputAlone, records: number): string {
  const zoneCores = zone.cpuSeconds! / zone.seconds;
  const neededUs = (zoneCores / ((1 - MAX_ZONE_COST) * count.recordsPerSecond)) * 1e6;
  const countUs = (count.cpuSeconds! * 1e6) / cpuRecords(count);
  const outputUs = (alone.cpuSeconds * 1e6) / records;
  const leftUs = neededUs - countUs - outputUs;
  const background = alone.backgroundThreadsCpuSeconds === null ? '' : `, V8 background ${alone.backgroundThreadsCpuSeconds.toFixed(2)}`;
  const left =
    leftUs > 0
      ? `leaving ${leftUs.toFixed(2)} µs per record (${((leftUs * records) / alone.records).toFixed(1)} µs per aggregate) for everything zone keying adds: ` +
        'the zone lookups, the per-key partials and their merging, and building and serializing each aggregate (`npm run bench:output` times that last step alone)'
      : 'leaving nothing: on these cores the output alone puts the target out of reach';
  return (
    `The output alone: the zone row's ${fmtInt(alone.records)} aggregates (${mbText(alone.valueBytes)} MB of JSON), written again already serialized through the service's sink ` +
    `(acks=all, ${MAX_OUTPUT_IN_FLIGHT_BYTES / 1048576} MiB in flight; \`bench/write-aggregates.ts\`, nothing read, keyed or aggregated), took ${alone.seconds.toFixed(2)} s and ${alone.cpuSeconds.toFixed(2)} s of CPU ` +
    `(${((alone.cpuSeconds * 1e6) / alone.records).toFixed(1)} µs per aggregate; main thread ${alone.mainThreadCpuSeconds.toFixed(2)}${background}), the broker's aside. ` +
    `At the ${zoneCores.toFixed(2)} cores the zone row kept busy, ${ratioText(1 - MAX_ZONE_COST)} of count windows' records/s allows ${neededUs.toFixed(2)} µs of CPU per record; ` +
    `count windows' whole run costs ${countUs.toFixed(2)} and writing these aggregates ${outputUs.toFixed(2)} more, ${left}.`
  );
}

export function windowsSection(input: WindowsReportInput): { markdown: string; summary: Record<string, unknown> } {
  const { results, dataset } = input;
  const by = new Map(results.map((r) => [r.row, r]));
  const count = by.get('count')?.measurement;
  const partition = by.get('partition');
  const zone = by.get('zone');
  const quix = by.get('quix');

  const rows: string[][] = [];
  for (const row of input.selected) {
    const r = by.get(row);
    if (r === undefined) {
      rows.push([row, 'not measured', '-', '-', '-', '-', '-', '-', '-', '-']);
      continue;
    }
    const m = r.measurement;
    rows.push([
      m.label,
      fmtInt(m.recordsPerSecond),
      count === undefined ? '-' : ratioText(m.recordsPerSecond / count.recordsPerSecond),
      quix === undefined || row === 'quix' ? '-' : ratioText(m.recordsPerSecond / quix.measurement.recordsPerSecond),
      perRecord(m.cpuSeconds, cpuRecords(m)),
      perRecord(m.mainThreadCpuSeconds, cpuRecords(m)),
      perRecord(m.backgroundThreadsCpuSeconds, cpuRecords(m)),
      mbText(m.peakRssBytes),
      r.emitted === undefined ? '-' : fmtInt(r.emitted.windowMessages),
      windowsText(r.check),
    ]);
  }
  const table = markdownTable(
    ['Row', 'Records/s', 'vs count windows', 'vs Quix', 'CPU µs/record', 'of it, main thread', 'of it, V8 background threads', 'Peak RSS (MB)', 'Windows written', 'Windows right / checked'],
    rows,
  );

  const checks: Check[] = [];
  const zm = zone?.measurement;
  const qm = quix?.measurement;
  checks.push({
    name: `zone keying costs at most ${MAX_ZONE_COST * 100}% of count-window records/s`,
    pass: zm && count ? zm.recordsPerSecond >= (1 - MAX_ZONE_COST) * count.recordsPerSecond : undefined,
    detail: zm && count ? `${ratioText(zm.recordsPerSecond / count.recordsPerSecond)} (${fmtInt(zm.recordsPerSecond)} vs ${fmtInt(count.recordsPerSecond)} rec/s)` : 'not measured',
  });
  checks.push({
    name: `geowindow zone windows >= ${MIN_RATIO_TO_QUIX}x Quix Streams' records/s`,
    pass: zm && qm ? zm.recordsPerSecond >= MIN_RATIO_TO_QUIX * qm.recordsPerSecond : undefined,
    detail: zm && qm ? `${ratioText(zm.recordsPerSecond / qm.recordsPerSecond)} (${fmtInt(zm.recordsPerSecond)} vs ${fmtInt(qm.recordsPerSecond)} rec/s)` : 'not measured',
  });
  checks.push({
    name: "geowindow zone windows' peak RSS < Quix Streams'",
    pass: zm && qm ? zm.peakRssBytes < qm.peakRssBytes : undefined,
    detail: zm && qm ? `${mbText(zm.peakRssBytes)} vs ${mbText(qm.peakRssBytes)} MB` : 'not measured',
  });
  checks.push(allRight('zone', zone));
  const zone5m = by.get('zone-5m');
  if (zone5m !== undefined) checks.push(allRight('zone', zone5m, ' of 5 minutes'));
  if (partition !== undefined) checks.push(allRight('partition', partition));

  const notes: string[] = [];
  const pm = partition?.measurement;
  if (count !== undefined && pm !== undefined && zm !== undefined) {
    const cpu = (m: Measurement | QuixMeasurement) => perRecord(m.cpuSeconds, cpuRecords(m));
    const outputs = (r: RowResult | undefined) => fmtInt(r?.emitted?.messages ?? 0);
    notes.push(
      `Where the zone row's cost comes from: the same event-time windows keyed by partition run at ${ratioText(pm.recordsPerSecond / count.recordsPerSecond)} of count windows' records/s ` +
        `(${outputs(partition)} aggregates), and keying them by zone at ${ratioText(zm.recordsPerSecond / pm.recordsPerSecond)} of that (${outputs(zone)} aggregates); ` +
        `CPU µs per record: count ${cpu(count)}, partition ${cpu(pm)}, zone ${cpu(zm)}.`,
    );
  }
  const z5 = zone5m?.measurement;
  if (count !== undefined && zm !== undefined && z5 !== undefined) {
    const perAggregate = (r: RowResult) => (r.emitted === undefined || r.emitted.messages === 0 ? '-' : (dataset.size / r.emitted.messages).toFixed(1));
    notes.push(
      `Records per aggregate: zone windows of ${input.windowMs / 1000} s write one aggregate per ${perAggregate(zone!)} records and run at ${ratioText(zm.recordsPerSecond / count.recordsPerSecond)} of count windows' records/s; ` +
        `of 5 minutes, one per ${perAggregate(zone5m!)} records, at ${ratioText(z5.recordsPerSecond / count.recordsPerSecond)} (CPU µs per record ${perRecord(z5.cpuSeconds, cpuRecords(z5))}).`,
    );
  }
  const alone = zone?.outputAlone;
  if (count?.cpuSeconds !== undefined && zm?.cpuSeconds !== undefined && alone !== undefined && alone.records > 0) {
    notes.push(outputBudgetNote(count, zm, alone, dataset.size));
  }
  const e = input.expected;
  if (e !== undefined) {
    notes.push(
      `Expected (the benchmark's own count from the records it generated): ${fmtInt(e.windows.size)} (county, ${input.windowMs / 1000} s window) windows over ${fmtInt(e.records)} records; ` +
        (Number.isFinite(e.graceMs) ? `${fmtInt(e.late)} late by geowindow's rule (window end <= the partition's largest earlier ts - ${e.graceMs} ms).` : 'none of them late.'),
    );
  }
  for (const r of results) {
    const c = r.check;
    if (c === undefined || r.emitted === undefined) continue;
    const closed = Object.entries(r.emitted.closedBy).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ');
    const key = r.row === 'partition' ? 'partition' : 'zone';
    const parts = [
      `${r.row}: ${fmtInt(r.emitted.messages)} output records (${fmtInt(r.emitted.windowMessages)} ${key} windows${closed === '' ? '' : `, closed by ${closed}`}), summed over source partitions into ${fmtInt(c.emittedWindows)} (${key}, window) windows`,
      `records counted in checked windows ${fmtInt(c.recordsCounted)} of ${fmtInt(c.recordsExpected)} expected`,
      `${fmtInt(c.countWrong)} with a wrong count, ${fmtInt(c.statsWrong)} with wrong pm25 statistics, ${fmtInt(c.missing)} missing, ${fmtInt(c.extra)} extra`,
    ];
    if (c.openAtEnd > 0) parts.push(`${fmtInt(c.openAtEnd)} still open when it stopped (left out of the check)`);
    if (r.deadLettered !== undefined) parts.push(`${fmtInt(r.deadLettered)} dead-lettered`);
    if (r.row === 'quix') {
      const d = r.measurement.detail;
      parts.push(
        `${fmtInt(Number(d.late))} records dropped as late by Quix (grace ${input.quixGraceMs} ms; ` +
          `the farthest a record reached the window step behind its zone's latest event time, after the repartition topic: ${round(Number(d.max_lag_ms) / 1000, 1)} s)`,
      );
    }
    notes.push(`${parts.join('; ')}.${c.examples.length > 0 ? ` First differences: ${c.examples.join('; ')}.` : ''}`);
  }
  for (const [row, reason] of [...input.skipped, ...input.failures]) notes.push(`${row} not measured: ${reason}`);
  const coresUsed = (row: WindowRow) => {
    const m = by.get(row)?.measurement;
    return m?.cpuSeconds === undefined ? '-' : (m.cpuSeconds / m.seconds).toFixed(2);
  };
  notes.push(
    `Other work on the machine: cores the system measured used over its timed span / cores the whole machine was busy during the row ` +
      `(the broker, the harness and anything else included; ${input.run.env.machine.cores} cores) / 1-minute load average at the row's end: ` +
      [...input.machineLoad].map(([row, l]) => `${row} ${coresUsed(row)} / ${(l.busySeconds / l.wallSeconds).toFixed(2)} / ${l.loadAverage.toFixed(1)}`).join(', ') +
      '. A load average well above the cores means the rows waited for CPU.',
  );

  const o = dataset.options;
  const datasetText =
    `Data set: topic \`${dataset.topic}\`, ${fmtInt(dataset.size)} readings (\`{"device_id","ts","lat","lon","kind","readings":{"pm25"}}\`) from ` +
    `${fmtInt(dataset.devices)} stationary devices in ${fmtInt(dataset.countiesUsed)} of the ${fmtInt(input.counties)} US counties (us-atlas counties-10m; ` +
    `each device at least ~10 m inside its county), ${dataset.partitions} partitions by device, one reading per ${o.stepMs} ms of event time from ${new Date(o.startTs).toISOString()} ` +
    `moved back by up to ${o.disorderMs} ms, written by the benchmark with kafkajs ` +
    `(${dataset.produced ? `in this run, ${dataset.produceSeconds} s` : 'reused from an earlier run'}).`;
  const method = [
    'How it is measured: one row at a time, each reading the whole topic from a fresh consumer group.',
    `geowindow rows: \`node --expose-gc dist/src/cli.js run\`, WORKERS=${input.workers}${input.workers === input.defaultWorkers ? " (the service's default on this machine: cores - 1)" : ''}, timed as in \`npm run bench\` (records/s from the first /metrics sample`,
    'with records in to the committed offsets reaching the end offsets; CPU over the same span up to all records read, of it the main thread and',
    "V8's background threads (named V8Worker from Node 22 on, '-' on Node 20: concurrent garbage collection of every isolate, and compilation); peak RSS: VmHWM).",
    'Count windows end at SIGTERM (the last partial windows close at shutdown); the event-time rows',
    `(WINDOW=tumbling WINDOW_SIZE=${input.windowMs} WINDOW_GRACE=${input.graceMs} OUTPUT_SCHEMA=v2, the zone rows with ZONES_FILE=<the counties>) end when`,
    `the partitions, read to their end, idle for IDLE_PARTITION_MS=${input.idlePartitionMs} and close their last windows by the wall clock: that wait is in their clock.`,
    `Quix Streams: \`bench/quix/zone_windows.py\` in a venv of \`bench/quix/requirements.txt\`: shapely STRtree lookup (first county in file order),`,
    `\`group_by\` zone (through its repartition topic), \`tumbling_window(${input.windowMs}, grace_ms=${input.quixGraceMs}).agg(count, pm25 sum/min/max).final()\`,`,
    'default closing strategy (per key), state in RocksDB with changelog topics (its defaults); timed in-process from the first record read to the last',
    'record folded into a window; CPU of the process and of its main thread over that span; peak RSS: getrusage at its end.',
    "Check: each system's output topic is read back and its zone windows summed over source partitions per (county, window start) (the partition row's per (partition, window start));",
    "count, pm25 sum, min and max must equal the benchmark's own. Quix leaves the windows its key's stream time has not passed (end + grace) open at the end:",
    'those are left out of its check and counted apart. MB are MiB.',
  ].join(' ');
  const markdown = [
    ...sectionHead('Zone windows', input.run, ` (${fmtInt(dataset.size)} readings, ${fmtInt(input.counties)} counties)`),
    datasetText,
    '',
    `Service code: ${codeVersion()}.`,
    '',
    table,
    '',
    'Targets (ratios from this run):',
    '',
    checks.map((c) => `- ${verdict(c.pass)}: ${c.name}: ${c.detail}`).join('\n'),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    method,
    '',
    `Raw data: \`results/windows-${stamp(input.run.startedAt)}/\`.`,
  ].join('\n');
  const summary = {
    startedAt: input.run.startedAt.toISOString(),
    command: commandLine(),
    code: codeVersion(),
    environment: input.run.env,
    dataset: { ...dataset, devicesPlaced: dataset.devicesPlaced.length },
    windowMs: input.windowMs,
    graceMs: input.graceMs,
    quixGraceMs: input.quixGraceMs,
    idlePartitionMs: input.idlePartitionMs,
    workers: input.workers,
    machineLoad: Object.fromEntries(input.machineLoad),
    expected: e === undefined ? undefined : { windows: e.windows.size, records: e.records, late: e.late, graceMs: e.graceMs },
    checks,
    secondsPerRow: Object.fromEntries(results.map((r) => [r.row, round(r.measurement.seconds, 3)])),
    markdown,
  };
  return { markdown, summary };
}
