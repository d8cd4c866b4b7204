/**
 * `npm run bench:state`: what window state costs the main thread per key, no
 * broker. One 10 s window of the churn soak's shape (devices walking through
 * zones: a track per device, an H3 cell per device, a zone per seven devices,
 * two or three readings a record) is merged from three chunks' partials into
 * a WindowStore; measured are the heap the store then holds per key (after a
 * full collection), the store's own estimate of it (what the state share
 * counts), and the merge time per (key, chunk). With `--baseline DIR` another
 * checkout's build (its dist/) runs the same rounds, alternating, each round
 * in a fresh process: a ratio from one run, on one machine state.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildsToRun, isBaseline, median } from './lib/builds.js';
import { fmtInt, markdownTable, say } from './lib/common.js';
import { parseFlags, positiveInteger } from './lib/options.js';
import { beginRun, publishSection } from './lib/report.js';

const USAGE = `Usage: npm run bench:state -- [options]

Heap bytes per key of window state, the estimate the state share counts, and
merge time per (key, chunk): one soak-shaped window, no broker.

  --devices N           devices in the window (default 20000: keys are N device, N H3 and N/7 zone keys)
  --rounds R            rounds per build, each a fresh process (default 5)
  --baseline DIR        another checkout's dist/ to run alternating with this one
  --no-append           do not append to bench/RESULTS.md`;

/** What one round measures. */
interface Round {
  keys: number;
  heapBytesPerKey: number;
  estimatedBytesPerKey: number;
  mergeUsPerKeyChunk: number;
}

const CHUNKS = 3;
const WINDOW_START = 1_764_000_000_000;
const WINDOW_MS = 10_000;
/** The fleet's reading names per kind (src/fleet/devices.ts). */
const KINDS: readonly (readonly string[])[] = [
  ['temp_c', 'humidity', 'pressure_hpa'],
  ['water_level_m', 'flow_m3s'],
  ['pm25', 'pm10', 'no2'],
  ['speed_kmh', 'battery_v'],
];
const DEVICES_PER_ZONE = 7;

// Only the API both layouts share: PartialBuilder, PartialWriter, StateBudget, WindowStore, KEY_KINDS.
interface Builder {
  add(lon: number, lat: number, ts: number, device: string, names: readonly string[], values: readonly number[], count: number): number;
  writeTo(writer: Writer): void;
}
interface Writer {
  number(x: number): void;
  string(s: string): void;
  take(): unknown;
}
interface Modules {
  PartialBuilder: new (o: { track: boolean; maxReadingNames: number }) => Builder;
  PartialWriter: new () => Writer;
  StateBudget: new (limit: number) => { usedBytes: number };
  WindowStore: new (caps: object, budget: object) => { merge(wire: unknown, offsetOf: (row: number) => number): number };
  KEY_KINDS: readonly string[];
}

async function load(dist: string): Promise<Modules> {
  const from = (path: string) => import(pathToFileURL(join(dist, 'src', path)).href) as Promise<Record<string, unknown>>;
  const [partial, wire, store, keys] = await Promise.all([
    from('shared/aggregate/partial.js'),
    from('shared/aggregate/partial-wire.js'),
    from('windows/window-store.js'),
    from('shared/keys.js'),
  ]);
  return { ...partial, ...wire, ...store, ...keys } as unknown as Modules;
}

/** One chunk's partials for every key of the window: each device reports once per chunk. */
function chunkWire(m: Modules, devices: number, chunk: number): unknown {
  const writer = new m.PartialWriter();
  const zones = Math.ceil(devices / DEVICES_PER_ZONE);
  writer.number(WINDOW_START);
  writer.number(WINDOW_START + WINDOW_MS);
  writer.number(2 * devices + zones);
  const position = (d: number) => [-100 + (d % 400) * 0.05 + chunk * 2e-4, 35 + Math.floor(d / 400) * 0.05 + chunk * 1e-4] as const;
  const fold = (builder: Builder, d: number) => {
    const [lon, lat] = position(d);
    const names = KINDS[d % KINDS.length]!;
    const values = names.map((_, i) => Math.round((10 + ((d * 7 + i * 13 + chunk * 3) % 50) + 0.37 * i) * 100) / 100);
    builder.add(lon, lat, WINDOW_START + chunk * 3000 + (d % 2000), `dev-${String(d).padStart(6, '0')}`, names, values, names.length);
  };
  let row = 0;
  const key = (by: string, id: string, track: boolean, members: readonly number[]) => {
    const builder = new m.PartialBuilder({ track, maxReadingNames: 16 });
    for (const d of members) fold(builder, d);
    writer.number(m.KEY_KINDS.indexOf(by));
    writer.string(id);
    writer.number(row);
    writer.number(row + members.length - 1);
    row += members.length;
    builder.writeTo(writer);
  };
  for (let d = 0; d < devices; d++) key('device', `dev-${String(d).padStart(6, '0')}`, true, [d]);
  for (let d = 0; d < devices; d++) key('h3', `89283082${(d * 64).toString(16).padStart(7, '0')}`, false, [d]);
  for (let z = 0; z < zones; z++) {
    const members = Array.from({ length: DEVICES_PER_ZONE }, (_, i) => z * DEVICES_PER_ZONE + i).filter((d) => d < devices);
    key('zone', String(1000 + z), false, members);
  }
  return writer.take();
}

/** One round in this process (run with --expose-gc). */
async function measure(dist: string, devices: number): Promise<Round> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the round needs --expose-gc');
  const m = await load(dist);
  const wires = Array.from({ length: CHUNKS }, (_, c) => chunkWire(m, devices, c));
  const keys = 2 * devices + Math.ceil(devices / DEVICES_PER_ZONE);
  const budget = new m.StateBudget(Number.MAX_SAFE_INTEGER);
  const store = new m.WindowStore({ maxOpen: 64, maxKeys: Number.MAX_SAFE_INTEGER, maxTrackPoints: 1_000_000, maxReadingNames: 16 }, budget);
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (const wire of wires) store.merge(wire, (row) => row);
  const ns = Number(process.hrtime.bigint() - t0);
  wires.length = 0;
  gc();
  gc();
  const held = process.memoryUsage().heapUsed - before;
  return { keys, heapBytesPerKey: held / keys, estimatedBytesPerKey: budget.usedBytes / keys, mergeUsPerKeyChunk: ns / 1000 / (keys * CHUNKS) };
}

const values = parseFlags({ devices: { type: 'string' }, rounds: { type: 'string' }, baseline: { type: 'string' }, child: { type: 'string' } }, USAGE);
const devices = positiveInteger('devices', values.devices, 20_000);

if (values.child !== undefined) {
  process.stdout.write(`${JSON.stringify(await measure(values.child, devices))}\n`);
} else {
  const rounds = positiveInteger('rounds', values.rounds, 5);
  const builds = buildsToRun(values.baseline, 'windows/window-store.js');
  const run = beginRun('state', 'npm run bench:state');
  const results = new Map<string, Round[]>([...builds.keys()].map((name) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, dist] of builds) {
      const out = execFileSync(process.execPath, ['--expose-gc', process.argv[1]!, '--child', dist, '--devices', String(devices)], { encoding: 'utf8' });
      results.get(name)!.push(JSON.parse(out) as Round);
    }
    say(`round ${r + 1}/${rounds}`);
  }

  const summary = [...results].map(([name, rs]) => ({
    name,
    heap: median(rs.map((r) => r.heapBytesPerKey)),
    estimate: median(rs.map((r) => r.estimatedBytesPerKey)),
    merge: median(rs.map((r) => r.mergeUsPerKeyChunk)),
  }));
  const base = summary.find((s) => isBaseline(s.name));
  const vs = (x: number, y: number | undefined) => (y === undefined ? '-' : `${(x / y).toFixed(2)}x`);
  const table = markdownTable(
    ['Build', 'Heap bytes per key', 'vs baseline', 'Estimate per key (state share)', 'Estimate / heap', 'Merge µs per (key, chunk)', 'vs baseline'],
    summary.map((s) => [s.name, fmtInt(s.heap), vs(s.heap, base?.heap), fmtInt(s.estimate), (s.estimate / s.heap).toFixed(2), s.merge.toFixed(2), vs(s.merge, base?.merge)]),
  );
  const keys = results.values().next().value![0]!.keys;
  publishSection(run, {
    title: 'Window state per key, one thread',
    text: `One 10 s window of the churn soak's shape: ${fmtInt(devices)} devices, ${fmtInt(keys)} keys (a device key with its track, an H3 cell per device, ` +
      `a zone per ${DEVICES_PER_ZONE} devices), each device one record per chunk with the fleet's two or three readings of its kind, ${CHUNKS} chunks merged. ` +
      `Medians of ${rounds} rounds per build, each round a fresh process${base === undefined ? '' : ', builds alternating'}. ` +
      'Heap: what the store holds after a full collection; estimate: what the window-state share counts for the same keys.',
    table,
    rawFile: 'state.json',
    raw: { devices, rounds, results: Object.fromEntries(results) },
    append: values['no-append'] !== true,
  });
}
