/**
 * `npm run bench:profile`: the geowindow measurement of `npm run bench`
 * under `node --cpu-prof` (the main thread and each worker thread write a
 * .cpuprofile), and the raw kafkajs consumer likewise; then a summary of
 * where the time goes per record, printed and appended to bench/RESULTS.md.
 * Profiles and JSON go to bench/results/profile-<stamp>/ (the .cpuprofile
 * files are git-ignored; open them in Chrome DevTools or speedscope).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { appendResults, commandLine, fmtInt, ROOT, say, stamp, writeJson } from './lib/common.js';
import { ensureDataset } from './lib/dataset.js';
import { COMMON_USAGE, datasetOptions, parseFlags, positiveInteger, progressSeconds } from './lib/options.js';
import { beginRun, datasetLine, mbText, sectionHead } from './lib/report.js';
import { measureGeowindow, measureRawClient, type Measurement, type RunContext } from './lib/systems.js';
import { profileMarkdown, summarizeDir, type ProfileSet } from './profile-summary.js';

const USAGE = `Usage: npm run bench:profile -- [options]

CPU profiles (node --cpu-prof) of geowindow end to end (main thread and
workers) and of the raw kafkajs consumer on the benchmark's data set.

${COMMON_USAGE}
  --workers W           geowindow's WORKERS (default 2)
  --no-kafkajs          do not profile the raw kafkajs consumer
  --with-platformatic   also profile the raw @platformatic/kafka consumer
  --sampling-us N       sampling interval of the profiler (default 1000 µs)`;

const values = parseFlags(
  {
    workers: { type: 'string', default: '2' },
    'no-kafkajs': { type: 'boolean', default: false },
    'with-platformatic': { type: 'boolean', default: false },
    'sampling-us': { type: 'string', default: '1000' },
  },
  USAGE,
);
const size = positiveInteger('size', values.size, 2_000_000);
const workers = positiveInteger('workers', values.workers, 2);
const samplingUs = positiveInteger('sampling-us', values['sampling-us'], 1000);
const run = beginRun('profile', 'npm run bench:profile');
const { startedAt, outDir, env } = run;
const options = datasetOptions(values, size);
const dataset = await ensureDataset(options);
const ctx: RunContext = { brokers: options.brokers, dataset, outDir, progressSeconds: progressSeconds(values) };
const profFlags = (dir: string) => {
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${samplingUs}`];
};

const geowindowDir = join(outDir, 'geowindow');
const geowindow = await measureGeowindow(ctx, { workers, nodeArgs: profFlags(geowindowDir), tag: 'geowindow-profiled' });
writeJson(join(outDir, 'geowindow.json'), geowindow);
const geowindowProfiles = summarizeDir(geowindowDir);
if (geowindowProfiles.workers === undefined) say('no worker-thread profiles were written: the summary covers the main thread only');

let kafkajs: Measurement | undefined;
let kafkajsProfiles: ProfileSet | undefined;
if (values['no-kafkajs'] !== true) {
  const kafkajsDir = join(outDir, 'kafkajs');
  kafkajs = await measureRawClient(ctx, 'kafkajs', profFlags(kafkajsDir));
  writeJson(join(outDir, 'kafkajs.json'), kafkajs);
  kafkajsProfiles = summarizeDir(kafkajsDir);
}

let platformatic: Measurement | undefined;
let platformaticProfiles: ProfileSet | undefined;
if (values['with-platformatic'] === true) {
  const platformaticDir = join(outDir, 'platformatic');
  platformatic = await measureRawClient(ctx, 'platformatic', profFlags(platformaticDir));
  writeJson(join(outDir, 'platformatic.json'), platformatic);
  platformaticProfiles = summarizeDir(platformaticDir);
}

const rate = (m: Measurement) => `${fmtInt(m.recordsPerSecond)} rec/s and ${mbText(m.peakRssBytes)} MB peak RSS under the profiler`;
const parts = [
  ...sectionHead('CPU profile', run, ` (${fmtInt(size)} readings)`),
  datasetLine(dataset),
  '',
  `geowindow end to end with ${workers} workers, \`node --cpu-prof\` (sampling every ${samplingUs} µs): ${rate(geowindow)}. ` +
    'Each sample is given to the innermost frame of its stack that belongs to a known part (kafkajs consumer and fetch ' +
    'decoding, `src/decode` with the JSON.parse it calls, `src/chunks`/`src/windows`/`src/pipeline`, piscina and ' +
    'MessagePort, `workers/` and turf, kafkajs producer and the aggregate/dead-letter records, offset commits, metrics and ' +
    'logs); Node internals and other libraries count for their caller; kafkajs plumbing (connection, encoder/decoder) ' +
    'counts for the kafkajs request it serves, else stays "unattributed"; a piscina worker blocked in Atomics.wait for its next task is idle. Samples before the first fetch (start-up, group ' +
    'join) are left out; µs/record divides by every record of the data set.',
  '',
  profileMarkdown('geowindow', geowindowProfiles, size),
];
if (kafkajs !== undefined && kafkajsProfiles !== undefined) {
  parts.push(`Raw kafkajs consume ceiling (eachBatch, count only) under the same profiler: ${rate(kafkajs)}.`, '', profileMarkdown('kafkajs raw consume', kafkajsProfiles, size));
}
if (platformatic !== undefined && platformaticProfiles !== undefined) {
  parts.push(
    `Raw @platformatic/kafka consume ceiling (stream, count only) under the same profiler: ${rate(platformatic)}. Its client code is classed like kafkajs's (consumer and record decoding as fetch and protocol decode, the rest as client plumbing).`,
    '',
    profileMarkdown('@platformatic/kafka raw consume', platformaticProfiles, size),
  );
}
parts.push(`Profiles: \`results/profile-${stamp(startedAt)}/\` (.cpuprofile files are git-ignored; open them in Chrome DevTools).`);
const section = parts.join('\n');
writeJson(join(outDir, 'summary.json'), {
  startedAt: startedAt.toISOString(),
  command: commandLine(),
  environment: env,
  dataset,
  samplingUs,
  geowindow,
  geowindowProfiles,
  kafkajs,
  kafkajsProfiles,
  platformatic,
  platformaticProfiles,
  markdown: section,
});
process.stdout.write(`\n${section}\n`);
if (values['no-append'] !== true) {
  appendResults(section);
  say('appended to bench/RESULTS.md');
}
say(`profiles and JSON in ${outDir.replace(`${ROOT}/`, '')}`);
process.exit(0);
