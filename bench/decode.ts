/**
 * `npm run bench:decode`: the workers' per-record decode on its own, one
 * thread, no broker: the `JSON.parse` path (`decodeReadingSlow`, the decoder
 * before the byte reader) against what the workers run now (`decodeReadingAt`:
 * the byte reader, `JSON.parse` for what it steps aside on), on the same
 * fleet records laid out back to back as in a chunk. Rounds alternate so a
 * drift of the machine's speed hits both; the median round is reported, with
 * the young-generation collections per million records as the measure of
 * what each allocates.
 */
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeReadingAt, decodeReadingSlow, emptyReading, type DecodeLimits } from '../src/decode/decode-reading.js';
import { Fleet } from '../src/fleet/messages.js';
import { median } from './lib/builds.js';
import { fmtInt, markdownTable, say } from './lib/common.js';
import { parseFlags, positiveInteger } from './lib/options.js';
import { beginRun, publishSection } from './lib/report.js';

const USAGE = `Usage: npm run bench:decode -- [options]

Per-record decode cost of the workers' reader against the JSON.parse path, in one thread.

  --records N           fleet records decoded per round (default 20000; 1% bad, as in npm run bench)
  --rounds R            timed rounds of each decoder, alternating (default 15)
  --no-append           do not append to bench/RESULTS.md`;

const values = parseFlags({ records: { type: 'string' }, rounds: { type: 'string' } }, USAGE);
const count = positiveInteger('records', values.records, 20_000);
const rounds = positiveInteger('rounds', values.rounds, 15);
const run = beginRun('decode', 'npm run bench:decode');

// The benchmark's data: the same fleet, seed and share of bad records; bad ones too large for a chunk are left out.
const fleet = new Fleet({ devices: 1000, seed: 1, oversizeBytes: 70_000 });
const records: Buffer[] = [];
for (let i = 0; i < count; i++) {
  const message = i % 100 === 99 ? fleet.bad(1_700_000_000_000 + i) : fleet.good(1_700_000_000_000 + i);
  if (message.value.length <= 65_536) records.push(message.value);
}
const bytes = Buffer.concat(records);
const starts = new Int32Array(records.length + 1);
for (let i = 0; i < records.length; i++) starts[i + 1] = starts[i]! + records[i]!.length;
const limits: DecodeLimits = { maxBytes: Number.POSITIVE_INFINITY, maxReadings: 64 };
const out = emptyReading();

let scavenges = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
  }
});
observer.observe({ entryTypes: ['gc'] });

type Decoder = (row: number) => string | null;
const decoders: Record<string, Decoder> = {
  'JSON.parse path (decodeReadingSlow)': (row) => decodeReadingSlow(bytes.subarray(starts[row]!, starts[row + 1]!), limits, out),
  'byte reader, JSON.parse for the rest (decodeReadingAt)': (row) => decodeReadingAt(bytes, starts[row]!, starts[row + 1]!, limits, out),
};

// Same verdict, record by record, before any timing.
{
  const [slowDecode, fastDecode] = Object.values(decoders) as [Decoder, Decoder];
  for (let row = 0; row < records.length; row++) {
    const expected = slowDecode(row);
    const actual = fastDecode(row);
    if (expected !== actual) throw new Error(`record ${row}: ${String(actual)} where the JSON.parse path says ${String(expected)}`);
  }
}

async function round(decode: Decoder): Promise<{ ns: number; scavenges: number; bad: number }> {
  // GC entries reach the observer a little later: let the previous round's be counted first.
  await sleep(20);
  const before = scavenges;
  let bad = 0;
  const t0 = process.hrtime.bigint();
  for (let row = 0; row < records.length; row++) if (decode(row) !== null) bad++;
  const ns = Number(process.hrtime.bigint() - t0) / records.length;
  await sleep(20);
  return { ns, scavenges: scavenges - before, bad };
}

const results = new Map<string, { ns: number[]; scavenges: number; bad: number }>();
for (const name of Object.keys(decoders)) results.set(name, { ns: [], scavenges: 0, bad: 0 });
for (let r = -3; r < rounds; r++) {
  for (const [name, decode] of Object.entries(decoders)) {
    const result = await round(decode);
    if (r < 0) continue; // warm-up: the JIT settles
    const entry = results.get(name)!;
    entry.ns.push(result.ns);
    entry.scavenges += result.scavenges;
    entry.bad = result.bad;
  }
  if (r >= 0 && (r + 1) % 5 === 0) say(`round ${r + 1}/${rounds}`);
}
observer.disconnect();

const [slowName, fastName] = Object.keys(decoders) as [string, string];
const slow = results.get(slowName)!;
const perMillion = (n: number) => ((n / (rounds * records.length)) * 1e6).toFixed(1);
const table = markdownTable(
  ['Decoder', 'ns/record (median round)', 'fastest / slowest round', 'Young-generation GCs per million records', 'vs JSON.parse path'],
  [slowName, fastName].map((name) => {
    const r = results.get(name)!;
    return [
      name,
      fmtInt(median(r.ns)),
      `${fmtInt(Math.min(...r.ns))} / ${fmtInt(Math.max(...r.ns))}`,
      perMillion(r.scavenges),
      `${(median(r.ns) / median(slow.ns)).toFixed(2)}x`,
    ];
  }),
);
const avgBytes = bytes.length / records.length;
publishSection(run, {
  title: 'Worker decode, one thread',
  text: `${fmtInt(records.length)} records of the benchmark's fleet (seed 1, 1000 devices, ${fmtInt(slow.bad)} bad, ${avgBytes.toFixed(0)} bytes on average) ` +
    `back to back in one buffer as in a chunk; ${rounds} timed rounds of each decoder, alternating, after 3 warm-up rounds. Both give the same verdict on every record.`,
  table,
  rawFile: 'decode.json',
  raw: { records: records.length, rounds, results: Object.fromEntries(results) },
  append: values['no-append'] !== true,
});
