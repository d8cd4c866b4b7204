/**
 * `npm run bench:output`: what writing one closed window's key costs the main
 * thread, no broker: finishing its merged partial, building its v2 record,
 * `JSON.stringify` and its Kafka key. Keys shaped like the zone-window
 * benchmark's (nine records of three stationary devices, one reading) or the
 * fleet's (two or three readings per device kind). With `--baseline DIR`
 * another checkout's build (its dist/) runs the same rounds, alternating,
 * each round a fresh process; `--runtime` picks the Node.js that runs them.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildsToRun, isBaseline, median } from './lib/builds.js';
import { fmtInt, markdownTable, say } from './lib/common.js';
import { parseFlags, positiveInteger } from './lib/options.js';
import { beginRun, publishSection } from './lib/report.js';

const USAGE = `Usage: npm run bench:output -- [options]

Nanoseconds per aggregate to finish a closed window's key, build its v2 record,
serialize it and make its Kafka key: no broker.

  --keys N              keys per round (default 20000)
  --rounds R            rounds per build, each a fresh process (default 5)
  --runtime PATH        the Node.js binary that runs the rounds (default: this one)
  --baseline DIR        another checkout's dist/ to run alternating with this one
  --no-append           do not append to bench/RESULTS.md`;

/** Nanoseconds per aggregate, each step on its own and all together. */
interface Round {
  finishNs: number;
  recordNs: number;
  stringifyNs: number;
  keyNs: number;
  allNs: number;
  bytes: number;
}

const WINDOW = { start: 1_764_000_060_000, end: 1_764_000_120_000 };
/** The fleet's reading names per kind (src/fleet/devices.ts); the zone benchmark's devices report pm25 only. */
const FLEET_KINDS: readonly (readonly string[])[] = [
  ['temp_c', 'humidity', 'pressure_hpa'],
  ['water_level_m', 'flow_m3s'],
  ['pm25', 'pm10', 'no2'],
  ['speed_kmh', 'battery_v'],
];
const DEVICES_PER_KEY = 3;
const RECORDS_PER_DEVICE = 3;
/** Passes over the keys per step: enough to time, few enough for a round of seconds. */
const PASSES = 5;

// Only the API every build since the v2 records shares.
interface KeyState {
  by: string;
  id: string;
  partial: unknown;
  firstOffset: number;
  lastOffset: number;
  bytes: number;
}
interface Modules {
  PartialBuilder: new (o: { track: boolean; maxReadingNames: number }) => {
    add(lon: number, lat: number, ts: number, device: string, names: readonly string[], values: readonly number[], count: number): number;
    finish(): unknown;
    reset(): void;
  };
  finishAggregate(p: unknown): unknown;
  timeWindowRecord(kind: string, window: typeof WINDOW, key: KeyState, closedBy: string, topic: string, partition: number, now: number): object;
  aggregateV2Key(record: object): string;
}

async function load(dist: string): Promise<Modules> {
  const from = (path: string) => import(pathToFileURL(join(dist, 'src', path)).href) as Promise<Record<string, unknown>>;
  const [partial, finish, v2] = await Promise.all([from('shared/aggregate/partial.js'), from('shared/aggregate/finish.js'), from('output/aggregate-v2.js')]);
  return { ...partial, ...finish, ...v2 } as unknown as Modules;
}

/** Keys as a closed window holds them: each the merge of its devices' records. */
function makeKeys(m: Modules, count: number, shape: 'zone' | 'fleet'): KeyState[] {
  const builder = new m.PartialBuilder({ track: false, maxReadingNames: 16 });
  const keys: KeyState[] = [];
  for (let k = 0; k < count; k++) {
    builder.reset();
    for (let d = 0; d < DEVICES_PER_KEY; d++) {
      const device = k * DEVICES_PER_KEY + d;
      const names = shape === 'zone' ? ['pm25'] : FLEET_KINDS[device % FLEET_KINDS.length]!;
      // Stationary devices a few km apart inside one county-sized area.
      const lon = -120 + (k % 200) * 0.25 + d * 0.013;
      const lat = 30 + Math.floor(k / 200) * 0.1 + d * 0.007;
      for (let r = 0; r < RECORDS_PER_DEVICE; r++) {
        const values = names.map((_, i) => Math.round((5 + ((device * 7 + r * 13 + i * 3) % 400) / 10) * 100) / 100);
        builder.add(lon, lat, WINDOW.start + ((device * 997 + r * 10_000) % 60_000), `dev-${String(device).padStart(6, '0')}`, names, values, names.length);
      }
    }
    keys.push({ by: 'zone', id: String(1001 + k), partial: builder.finish(), firstOffset: 10 * k, lastOffset: 10 * k + 9, bytes: 0 });
  }
  return keys;
}

/** Nanoseconds per call of `step` over keys 0 to n - 1, PASSES times (its results are summed so none is optimized away). */
function timed(n: number, step: (k: number) => number): { ns: number; sum: number } {
  let sum = 0;
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < PASSES; p++) for (let k = 0; k < n; k++) sum += step(k);
  return { ns: Number(process.hrtime.bigint() - t0) / (PASSES * n), sum };
}

/** One round in this process. */
async function measure(dist: string, count: number, shape: 'zone' | 'fleet'): Promise<Round> {
  const m = await load(dist);
  const keys = makeKeys(m, count, shape);
  const record = (key: KeyState) => m.timeWindowRecord('tumbling', WINDOW, key, 'watermark', 'sensors.readings', 3, WINDOW.end + 2500);
  const records = keys.map(record);
  const all = (k: number) => {
    const r = record(keys[k]!);
    return JSON.stringify(r).length + m.aggregateV2Key(r).length;
  };
  // A warm-up pass, so every step is timed compiled.
  const warm = timed(count, all);
  return {
    finishNs: timed(count, (k) => (m.finishAggregate(keys[k]!.partial) === null ? 1 : 0)).ns,
    recordNs: timed(count, (k) => (record(keys[k]!) === null ? 1 : 0)).ns,
    stringifyNs: timed(count, (k) => JSON.stringify(records[k]).length).ns,
    keyNs: timed(count, (k) => m.aggregateV2Key(records[k]!).length).ns,
    allNs: timed(count, all).ns,
    bytes: warm.sum / (PASSES * count),
  };
}

const values = parseFlags(
  { keys: { type: 'string' }, rounds: { type: 'string' }, runtime: { type: 'string' }, baseline: { type: 'string' }, child: { type: 'string' }, shape: { type: 'string' } },
  USAGE,
);
const count = positiveInteger('keys', values.keys, 20_000);

if (values.child !== undefined) {
  const shape = values.shape === 'fleet' ? 'fleet' : 'zone';
  process.stdout.write(`${JSON.stringify(await measure(values.child, count, shape))}\n`);
} else {
  const rounds = positiveInteger('rounds', values.rounds, 5);
  const runtime = values.runtime ?? process.execPath;
  const version = execFileSync(runtime, ['--version'], { encoding: 'utf8' }).trim();
  const builds = buildsToRun(values.baseline, 'output/aggregate-v2.js');
  const shapes = ['zone', 'fleet'] as const;
  const run = beginRun('output', values.runtime === undefined ? 'npm run bench:output' : `npm run bench:output -- --runtime ${runtime}`);
  const results = new Map<string, Round[]>();
  for (let r = 0; r < rounds; r++) {
    for (const shape of shapes) {
      for (const [name, dist] of builds) {
        const out = execFileSync(runtime, [process.argv[1]!, '--child', dist, '--keys', String(count), '--shape', shape], { encoding: 'utf8' });
        const row = `${name}|${shape}`;
        results.set(row, [...(results.get(row) ?? []), JSON.parse(out) as Round]);
      }
    }
    say(`round ${r + 1}/${rounds}`);
  }

  const of = (rs: Round[], field: keyof Round) => median(rs.map((x) => x[field]));
  const rows = [...results].map(([row, rs]) => {
    const [name, shape] = row.split('|') as [string, string];
    const base = [...results].find(([other]) => isBaseline(other) && other.endsWith(`|${shape}`))?.[1];
    const vs = base === undefined ? '-' : `${(of(rs, 'allNs') / of(base, 'allNs')).toFixed(2)}x`;
    return [name, shape, fmtInt(of(rs, 'bytes')), fmtInt(of(rs, 'finishNs')), fmtInt(of(rs, 'recordNs')), fmtInt(of(rs, 'stringifyNs')), fmtInt(of(rs, 'keyNs')), fmtInt(of(rs, 'allNs')), vs];
  });
  const table = markdownTable(
    ['Build', 'Keys shaped like', 'JSON bytes', 'finishAggregate ns', 'v2 record ns (finish included)', 'JSON.stringify ns', 'Kafka key ns', 'Record, JSON and key ns', 'vs baseline'],
    rows,
  );
  publishSection(run, {
    title: `Writing an aggregate, one thread (${version})`,
    text:
      `${fmtInt(count)} keys of a closed 60 s window, each the merge of ${DEVICES_PER_KEY} stationary devices' ${RECORDS_PER_DEVICE} records; ` +
      "`zone`: one reading (pm25), as in the zone-window benchmark; `fleet`: the fleet's two or three readings per device kind. " +
      `Per aggregate, medians of ${rounds} rounds per build and shape, each round a fresh process${builds.size > 1 ? ', builds alternating' : ''}, ` +
      `each step timed over ${PASSES} passes after a warm-up pass.`,
    table,
    rawFile: 'output.json',
    raw: { keys: count, rounds, runtime: version, results: Object.fromEntries(results) },
    append: values['no-append'] !== true,
  });
}
