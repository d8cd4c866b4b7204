/**
 * `npm run bench:zones`: point-in-zone lookups per second on one thread, by
 * the number of zones, on real boundaries: the us-atlas counties (1:10m).
 * Subsets are the N counties nearest the middle of the conterminous states
 * (a region's zones file), kept in file order; the last row is all 3,231.
 * Two point sets per row: uniform in the zones' extent (clipped to the
 * conterminous states' box, as the territories stretch the full extent
 * round the globe), and points known to be inside a zone. Rounds alternate
 * so a drift of the machine's speed hits both; the median round is
 * reported, with the young-generation collections per million lookups as
 * the check that a lookup allocates nothing. Prints a RESULTS.md section;
 * appends nothing.
 */
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseZones, zonesFromGeoJson, type ZoneSet } from '../src/shared/zones/zone-set.js';
import { Random } from '../src/fleet/random.js';
import { usCounties, type UsAreas } from '../src/tools/us-counties.js';
import { commandLine, fmtInt, machine, markdownTable, say } from './lib/common.js';
import { dateOnly } from './lib/report.js';

const USAGE = `Usage: npm run bench:zones -- [options]

Zone lookups per second on one thread, by number of zones (us-atlas counties).

  --sizes LIST     zone counts, comma-separated; "all" for every county (default 100,1000,all)
  --points N       points of each kind per round (default 200000)
  --rounds R       timed rounds of each kind, alternating (default 7)
  --seed S         seed of the points (default 1)`;

let values;
try {
  ({ values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      sizes: { type: 'string', default: '100,1000,all' },
      points: { type: 'string', default: '200000' },
      rounds: { type: 'string', default: '7' },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
function whole(name: string, raw: string): number {
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`--${name}: expected a whole number >= 1, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return value;
}
const pointCount = whole('points', values.points);
const rounds = whole('rounds', values.rounds);
const seed = whole('seed', values.seed);

/** The middle of the conterminous states (Lebanon, Kansas): subsets grow around it. */
const CENTRE = [-98.58, 39.83] as const;
/** [west, south, east, north] of the conterminous states, where random points are drawn. */
const CONTERMINOUS = [-124.8, 24.5, -66.9, 49.4] as const;
/** Loads timed per row; the median is reported. */
const LOADS = 3;
/** Warm-up rounds of each kind before timing, for the JIT to settle. */
const WARM_UP_ROUNDS = 2;

const counties = usCounties();
const allCounties = zonesFromGeoJson(counties, 'us-atlas counties', 'id');
const sizes = values.sizes.split(',').map((raw) => (raw.trim() === 'all' ? counties.features.length : Math.min(whole('sizes', raw.trim()), counties.features.length)));

/** The n counties whose box centres lie nearest the centre, in file order. */
function nearest(n: number): UsAreas {
  const centres = counties.features.map((_, i) => {
    const [w, s, e, north] = allCounties.bbox(i);
    return { i, distance: Math.hypot((w + e) / 2 - CENTRE[0], (s + north) / 2 - CENTRE[1]) };
  });
  const chosen = new Set(centres.sort((a, b) => a.distance - b.distance).slice(0, n).map((c) => c.i));
  return { type: 'FeatureCollection', features: counties.features.filter((_, i) => chosen.has(i)) };
}

let scavenges = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
  }
});
observer.observe({ entryTypes: ['gc'] });

interface Points {
  readonly xs: Float64Array;
  readonly ys: Float64Array;
}

/** Uniform in the zones' extent clipped to the conterminous box. */
function randomPoints(zones: ZoneSet, random: Random): Points {
  const [w, s, e, n] = zones.extent;
  const [west, south, east, north] = [Math.max(w, CONTERMINOUS[0]), Math.max(s, CONTERMINOUS[1]), Math.min(e, CONTERMINOUS[2]), Math.min(n, CONTERMINOUS[3])];
  const xs = new Float64Array(pointCount);
  const ys = new Float64Array(pointCount);
  for (let i = 0; i < pointCount; i++) {
    xs[i] = random.between(west, east);
    ys[i] = random.between(south, north);
  }
  return { xs, ys };
}

/** Points drawn in the box of a zone picked at random, kept only when some zone holds them. */
function insidePoints(zones: ZoneSet, random: Random): Points {
  const xs = new Float64Array(pointCount);
  const ys = new Float64Array(pointCount);
  for (let i = 0; i < pointCount; ) {
    const [w, s, e, n] = zones.bbox(random.int(zones.size));
    const x = random.between(w, e);
    const y = random.between(s, n);
    if (zones.lookup(x, y) < 0) continue;
    xs[i] = x;
    ys[i] = y;
    i++;
  }
  return { xs, ys };
}

interface Round {
  readonly nsPerLookup: number;
  readonly hits: number;
  readonly scavenges: number;
}

async function round(zones: ZoneSet, points: Points): Promise<Round> {
  // GC entries reach the observer a little later: let the previous round's be counted first.
  await sleep(20);
  const before = scavenges;
  const { xs, ys } = points;
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < xs.length; i++) if (zones.lookup(xs[i]!, ys[i]!) >= 0) hits++;
  const nsPerLookup = Number(process.hrtime.bigint() - t0) / xs.length;
  await sleep(20);
  return { nsPerLookup, hits, scavenges: scavenges - before };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: string[][] = [];
for (const size of sizes) {
  const subset = size === counties.features.length ? counties : nearest(size);
  const text = JSON.stringify(subset);
  const loads: number[] = [];
  let zones: ZoneSet | undefined;
  for (let i = 0; i < LOADS; i++) {
    const t0 = performance.now();
    zones = parseZones(text, `${size} counties`, 'id');
    loads.push(performance.now() - t0);
  }
  const set = zones!;
  const random = new Random(seed);
  const kinds = { random: randomPoints(set, random), inside: insidePoints(set, random) };
  const results = { random: [] as Round[], inside: [] as Round[] };
  say(`${fmtInt(set.size)} zones (${fmtInt(set.parts)} polygons, ${fmtInt(set.positions)} positions): loaded in ${median(loads).toFixed(0)} ms, timing lookups`);
  for (let r = -WARM_UP_ROUNDS; r < rounds; r++) {
    for (const kind of ['random', 'inside'] as const) {
      const result = await round(set, kinds[kind]);
      if (r >= 0) results[kind].push(result);
    }
    if (r >= 0) say(`  round ${r + 1}/${rounds}: ${fmtInt(1e9 / results.random.at(-1)!.nsPerLookup)} random, ${fmtInt(1e9 / results.inside.at(-1)!.nsPerLookup)} inside lookups/s`);
  }
  const perSecond = (kind: Round[]) => fmtInt(1e9 / median(kind.map((k) => k.nsPerLookup)));
  const gcsPerMillion = (kind: Round[]) => ((kind.reduce((sum, k) => sum + k.scavenges, 0) / (kind.length * pointCount)) * 1e6).toFixed(2);
  rows.push([
    fmtInt(set.size),
    fmtInt(set.parts),
    fmtInt(set.positions),
    median(loads).toFixed(0),
    perSecond(results.random),
    `${((100 * results.random[0]!.hits) / pointCount).toFixed(1)}%`,
    perSecond(results.inside),
    `${gcsPerMillion(results.random)} / ${gcsPerMillion(results.inside)}`,
  ]);
}
observer.disconnect();

const m = machine();
const section = [
  `## Zone lookups, one thread: ${dateOnly()}`,
  '',
  `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Linux ${m.kernel}, Node.js ${m.node}; no broker.`,
  '',
  '```sh',
  commandLine(),
  '```',
  '',
  `us-atlas counties (1:10m), the N nearest the middle of the conterminous states, in file order; the last row all of them. ` +
    `Load: JSON text to index (parse, checks, oddities, R-tree), median of ${LOADS}. ` +
    `${fmtInt(pointCount)} points of each kind per round, ${rounds} timed rounds alternating after ${WARM_UP_ROUNDS} warm-up rounds, median round. ` +
    `Random points are uniform in the zones' extent clipped to the conterminous states' box; inside points lie in some zone.`,
  '',
  markdownTable(
    ['Zones', 'Polygons', 'Positions', 'Load ms', 'Random points: lookups/s', 'in a zone', 'Inside points: lookups/s', 'Young GCs per million lookups (random / inside)'],
    rows,
  ),
  '',
].join('\n');
process.stdout.write(`\n${section}`);
