/** Text for the console and bench/RESULTS.md. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT, appendResults, commandLine, fmtInt, machine, packageVersion, round, say, stamp, writeJson, type Machine } from './common.js';
import type { Dataset } from './dataset.js';
import { kcatVersion, pythonVersions } from './systems.js';

export interface Environment {
  readonly machine: Machine;
  readonly python: string | undefined;
  readonly kcat: string | undefined;
  readonly kafkajs: string;
  readonly platformatic: string;
}

export function environment(): Environment {
  return {
    machine: machine(),
    python: pythonVersions(),
    kcat: kcatVersion(),
    kafkajs: packageVersion('kafkajs'),
    platformatic: packageVersion('@platformatic/kafka'),
  };
}

export interface Run {
  readonly startedAt: Date;
  /** bench/results/<kind>-<stamp>/ */
  readonly outDir: string;
  readonly env: Environment;
}

/** The start of every benchmark command: the service must be built; the machine is said once. */
export function beginRun(kind: 'bench' | 'profile' | 'scale' | 'floor' | 'decode' | 'windows' | 'wire' | 'state' | 'output', npmScript: string): Run {
  if (!existsSync(CLI)) {
    process.stderr.write(`dist/src/cli.js is missing: run npm run build (${npmScript} does)\n`);
    process.exit(1);
  }
  const startedAt = new Date();
  const env = environment();
  say(machineLine(env));
  return { startedAt, outDir: join(ROOT, 'bench', 'results', `${kind}-${stamp(startedAt)}`), env };
}

export function machineLine(env: Environment): string {
  const m = env.machine;
  const parts = [
    `${m.cores} cores (${m.cpuModel})`,
    `${m.memoryGiB} GiB`,
    `Linux ${m.kernel}`,
    `Node.js ${m.node}`,
    `kafkajs ${env.kafkajs}`,
    `@platformatic/kafka ${env.platformatic}`,
    env.python ?? 'Python: not found',
    env.kcat ?? 'kcat: not installed',
  ];
  return `Machine: ${parts.join(', ')}; Kafka broker on loopback (\`scripts/kafka.sh\`).`;
}

export function datasetLine(dataset: Dataset): string {
  const oversized = dataset.badRatio > 0 ? '; one bad record in 12 is an oversized 70 kB message' : '';
  return (
    `Data set: topic \`${dataset.topic}\`, ${fmtInt(dataset.size)} readings from \`geowindow produce\` ` +
    `(seed ${dataset.seed}, ${dataset.devices} devices, ${round(dataset.badRatio * 100, 2)}% bad records${oversized}), ` +
    `${dataset.partitions} partitions, ${dataset.produced ? `produced in this run (${dataset.produceSeconds} s)` : 'reused from an earlier run'}.`
  );
}

export const mbText = (bytes: number) => (bytes > 0 ? (bytes / 1048576).toFixed(1) : '-');
export const ratioText = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '-' : `${value.toFixed(2)}x`);
export const msText = (value: number | undefined) => (value === undefined ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(1));

export function dateOnly(date = new Date()): string {
  return date.toISOString().slice(0, 10);
}

/** The first lines of a RESULTS.md section: `## <title>: <date><suffix>`, the machine, the command that ran. */
export function sectionHead(title: string, run: Run, suffix = ''): string[] {
  return [`## ${title}: ${dateOnly(run.startedAt)}${suffix}`, '', machineLine(run.env), '', '```sh', commandLine(), '```', ''];
}

/** A one-thread benchmark's section and raw data (see publishSection). */
export interface Section {
  readonly title: string;
  /** What was measured and how, before the table. */
  readonly text: string;
  readonly table: string;
  /** File name in the run's folder for `raw`. */
  readonly rawFile: string;
  readonly raw: unknown;
  /** Append to bench/RESULTS.md (false with --no-append). */
  readonly append: boolean;
}

/**
 * The end of a one-thread benchmark: its section (head, what was measured,
 * the table, where the raw data is) printed and appended to RESULTS.md unless
 * `append` is false, the raw data written in the run's folder.
 */
export function publishSection(run: Run, { title, text, table, rawFile, raw, append }: Section): void {
  const section = [...sectionHead(title, run), text, '', table, '', `Raw data: \`results/${run.outDir.split('/').pop()}/\`.`, ''].join('\n');
  writeJson(join(run.outDir, rawFile), raw);
  process.stdout.write(`\n${section}`);
  if (append) appendResults(section);
}
