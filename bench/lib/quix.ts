/**
 * The Quix Streams peer of the zone-window benchmark: a Python venv outside
 * git with bench/quix/requirements.txt, and one run of
 * bench/quix/zone_windows.py on the data set from a fresh consumer group.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HwmSampler, ROOT, lastJson, round, run, say, start, which } from './common.js';
import { cleanUp, withAdmin } from './dataset.js';
import { MissingTool, type Measurement, type RunContext } from './systems.js';
import { OUTPUT_TOPIC_CONFIG } from './window-check.js';

const REQUIREMENTS = join(ROOT, 'bench', 'quix', 'requirements.txt');
const SCRIPT = join(ROOT, 'bench', 'quix', 'zone_windows.py');
/** The venv's record of what it was built from: requirements and interpreter. */
const STAMP_FILE = '.geowindow-bench-stamp';

/** Where the venv lives: $GEOWINDOW_QUIX_VENV, else ~/.cache/geowindow/quix-venv (XDG_CACHE_HOME respected). */
export function quixVenvDir(): string {
  return process.env.GEOWINDOW_QUIX_VENV ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'geowindow', 'quix-venv');
}

function pythonVersion(python: string): string | undefined {
  try {
    return execFileSync(python, ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/**
 * The venv's python, created and filled on first use and again whenever the
 * requirements or the system's python3 change (a stamp file says what it
 * was built from). Throws MissingTool, with what to install, when it cannot.
 */
export async function ensureQuixVenv(outDir: string): Promise<string> {
  const dir = quixVenvDir();
  const python = join(dir, 'bin', 'python');
  if (which('python3') === undefined) throw new MissingTool('python3 is not installed (the Quix Streams peer needs Python 3.9 or later)');
  const systemVersion = pythonVersion('python3');
  const stamp = createHash('sha256').update(readFileSync(REQUIREMENTS)).update(systemVersion ?? '').digest('hex');
  const stampPath = join(dir, STAMP_FILE);
  if (existsSync(python) && existsSync(stampPath) && readFileSync(stampPath, 'utf8').trim() === stamp) {
    say(`quix: venv ${dir} is up to date`);
    return python;
  }
  const log = join(outDir, 'quix-venv.log');
  if (!existsSync(python)) {
    say(`quix: creating a venv in ${dir} (python3 ${systemVersion})`);
    mkdirSync(dir, { recursive: true });
    try {
      await run('python3', ['-m', 'venv', dir], { label: 'venv', stderrFile: log, stdoutFile: log });
    } catch {
      rmSync(dir, { recursive: true, force: true });
      throw new MissingTool(`python3 -m venv ${dir} failed (see ${log}): apt-get install -y python3-venv (Debian/Ubuntu)`);
    }
  }
  say(`quix: pip install -r bench/quix/requirements.txt into ${dir} (about 30 s the first time)`);
  try {
    await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', '-r', REQUIREMENTS], {
      label: 'pip',
      stderrFile: log,
      onStdout: (chunk) => {
        for (const line of chunk.toString().split('\n')) if (/^(Collecting|Successfully installed)/.test(line.trim())) say(`pip: ${line.trim()}`);
      },
    });
  } catch {
    throw new MissingTool(`pip install -r bench/quix/requirements.txt failed (see ${log}): is PyPI reachable?`);
  }
  writeFileSync(stampPath, `${stamp}\n`);
  return python;
}

export interface QuixOptions {
  readonly zonesFile: string;
  readonly windowMs: number;
  readonly graceMs: number;
}

interface QuixSummary {
  records: number;
  matched: number;
  windowed: number;
  late: number;
  seconds: number;
  records_per_second: number;
  cpu_seconds: number;
  main_thread_cpu_seconds: number;
  maxrss_bytes: number;
  versions: { python: string; quixstreams: string; shapely: string };
}

export type QuixMeasurement = Omit<Measurement, 'system'> & { readonly system: 'quix'; readonly outputTopic: string };

/**
 * Runs the Quix job on the data set: a fresh group, a fresh state folder and
 * output topic. The output topic is left for the caller to check and delete;
 * the group, the state and Quix's own topics (repartition, changelogs) are
 * removed here.
 */
export async function measureQuix(ctx: RunContext, python: string, options: QuixOptions): Promise<QuixMeasurement> {
  const id = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const group = `bench-quix-${id}`;
  const outputTopic = `bench-quix-out-${id}`;
  const stateDir = join(tmpdir(), `geowindow-bench-quix-state-${id}`);
  await withAdmin(ctx.brokers, (admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic: outputTopic, numPartitions: 3, replicationFactor: -1, configEntries: OUTPUT_TOPIC_CONFIG }] }));
  const args = [
    SCRIPT,
    '--brokers', ctx.brokers.join(','),
    '--input', ctx.dataset.topic,
    '--output', outputTopic,
    '--group', group,
    '--zones', options.zonesFile,
    '--expect', String(ctx.dataset.size),
    '--window-ms', String(options.windowMs),
    '--grace-ms', String(options.graceMs),
    '--state-dir', stateDir,
    '--progress-seconds', String(ctx.progressSeconds),
  ];
  say(`quix: python ${args.map((a) => a.replace(`${ROOT}/`, '')).join(' ')}`);
  const log = join(ctx.outDir, 'quix.log');
  const child = start(python, args, { label: 'quix', stderrFile: log, relay: (line) => /^(zones|progress|stopped):/.test(line) || /Error|Traceback|Exception/.test(line) });
  const memory = new HwmSampler(child.pid);
  try {
    const code = await child.exited;
    memory.stop();
    if (code !== 0) throw new Error(`the Quix job exited with ${code} (see ${log})`);
    const summary = lastJson<QuixSummary>(child.stdout());
    const peak = Math.max(summary.maxrss_bytes, memory.peakBytes);
    const v = summary.versions;
    say(`quix: ${summary.records_per_second} rec/s over ${summary.seconds} s, peak RSS ${round(peak / 1048576, 1)} MB, ${summary.late} late records dropped`);
    return {
      system: 'quix',
      label: `Quix Streams ${v.quixstreams} (Python ${v.python}, shapely ${v.shapely} STRtree): group_by(zone), tumbling_window().agg().final()`,
      records: summary.records,
      seconds: summary.seconds,
      recordsPerSecond: summary.records_per_second,
      peakRssBytes: peak,
      peakRssMethod: 'getrusage ru_maxrss of the process at its end (and VmHWM polled by the harness; the larger)',
      timing: 'first record read to the last record folded into a window, after the repartition topic (in-process monotonic clock)',
      cpuSeconds: summary.cpu_seconds,
      mainThreadCpuSeconds: summary.main_thread_cpu_seconds,
      outputTopic,
      detail: { ...summary, group, outputTopic, graceMs: options.graceMs, logFile: log },
    };
  } finally {
    memory.stop();
    if (child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGKILL');
      await child.exited;
    }
    rmSync(stateDir, { recursive: true, force: true });
    const internal = await withAdmin(ctx.brokers, async (admin) => (await admin.listTopics()).filter((t) => t.includes(group)));
    await cleanUp(ctx.brokers, [group], internal);
  }
}
