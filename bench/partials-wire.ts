/**
 * `npm run bench:wire`: what one chunk's partial aggregates cost to cross
 * from a worker to the main thread, in one thread, no broker. Before: the
 * partials as objects, structured-cloned as postMessage does. Now: the wire
 * (partial-wire.ts) structured-cloned and every partial read back. Building
 * the objects and writing the wire do the same work (hulls, sorted devices,
 * sums), so both are left out of those two, and writing is timed on its own.
 * Keys of the zone benchmark's shape: a few readings of three devices each.
 * Rounds alternate so a drift of the machine's speed hits all paths; the
 * median round is reported.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PartialBuilder, type PartialAggregate } from '../src/shared/aggregate/partial.js';
import { PartialReader, PartialWriter } from '../src/shared/aggregate/partial-wire.js';
import { fmtInt, markdownTable, say } from './lib/common.js';
import { parseFlags, positiveInteger } from './lib/options.js';
import { beginRun, publishSection } from './lib/report.js';

const USAGE = `Usage: npm run bench:wire -- [options]

Cost of one chunk's partial aggregates crossing threads: structured clone of the
objects against the partials wire, in one thread.

  --keys N              partials per chunk (default 1150: the zone benchmark's 10,000-row chunks)
  --records R           records per partial (default 9)
  --rounds R            timed rounds of each path, alternating (default 15)
  --no-append           do not append to bench/RESULTS.md`;

const values = parseFlags({ keys: { type: 'string' }, records: { type: 'string' }, rounds: { type: 'string' } }, USAGE);
const keys = positiveInteger('keys', values.keys, 1150);
const perKey = positiveInteger('records', values.records, 9);
const rounds = positiveInteger('rounds', values.rounds, 15);
const run = beginRun('wire', 'npm run bench:wire');

const builders = Array.from({ length: keys }, (_, k) => {
  const builder = new PartialBuilder({ track: false, maxReadingNames: 16 });
  for (let r = 0; r < perKey; r++) {
    builder.add(-100 + k * 0.01 + (r % 3) * 1e-3, 40 + (r % 4) * 2e-3, 1_764_000_000_000 + r * 997, `dev-${String(k * 3 + (r % 3)).padStart(5, '0')}`, ['pm25'], [8 + (r % 13) / 4], 1);
  }
  return builder;
});
const objects: PartialAggregate[] = builders.map((b) => b.finish());
const writer = new PartialWriter();
const write = () => {
  for (const b of builders) b.writeTo(writer);
  return writer.take();
};
const wire = write();

type Path = () => unknown;
const paths: Record<string, Path> = {
  'objects, structured clone (before)': () => structuredClone(objects),
  'partials wire: structured clone, read back (now)': () => {
    const reader = new PartialReader(structuredClone(wire));
    const read: PartialAggregate[] = [];
    while (!reader.done) read.push(reader.partial());
    return read;
  },
  'writing the wire, in the worker (as building the objects was)': write,
};

// The two crossings give the same partials before any timing.
{
  const [before, now] = Object.values(paths).map((path) => JSON.stringify(path())) as [string, string];
  if (before !== now) throw new Error('the wire does not give back the partials that structured clone does');
}

const results = new Map<string, number[]>(Object.keys(paths).map((name) => [name, []]));
for (let r = -3; r < rounds; r++) {
  for (const [name, path] of Object.entries(paths)) {
    await sleep(10);
    const t0 = process.hrtime.bigint();
    path();
    const us = Number(process.hrtime.bigint() - t0) / 1000 / keys;
    if (r >= 0) results.get(name)!.push(us);
  }
  if (r >= 0 && (r + 1) % 5 === 0) say(`round ${r + 1}/${rounds}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const [beforeName] = Object.keys(paths) as [string];
const baseline = median(results.get(beforeName)!);
const table = markdownTable(
  ['Path', 'µs per partial (median round)', 'fastest / slowest round', 'vs structured clone'],
  [...results].map(([name, us]) => [name, median(us).toFixed(2), `${Math.min(...us).toFixed(2)} / ${Math.max(...us).toFixed(2)}`, `${(median(us) / baseline).toFixed(2)}x`]),
);
publishSection(run, {
  title: 'Partials crossing threads, one thread',
  text: `${fmtInt(keys)} partials of ${perKey} records each (three devices, one reading), as one chunk of the zone benchmark carries; ` +
    `${rounds} timed rounds of each path, alternating, after 3 warm-up rounds. The two crossings give the same partials; writing the wire is the worker's share, ` +
    'which building the objects was before.',
  table,
  rawFile: 'wire.json',
  raw: { keys, perKey, rounds, results: Object.fromEntries(results) },
  append: values['no-append'] !== true,
});
