/** Command-line flags shared by the benchmark entry points. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { DatasetOptions } from './dataset.js';

export const COMMON_FLAGS = {
  size: { type: 'string' },
  seed: { type: 'string', default: '1' },
  partitions: { type: 'string', default: '6' },
  'bad-ratio': { type: 'string', default: '0.01' },
  devices: { type: 'string', default: '1000' },
  brokers: { type: 'string' },
  'progress-seconds': { type: 'string', default: '5' },
  'no-append': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export const COMMON_USAGE = `  --size N              readings in the data set (default ${'2000000'})
  --seed S              seed of the synthetic fleet (default 1); the topic is bench-<size>-s<seed>
  --partitions P        partitions of the data set topic (default 6)
  --bad-ratio F         share of bad records (default 0.01)
  --devices D           devices in the fleet (default 1000)
  --brokers B           host:port list (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
  --progress-seconds S  seconds between progress lines (default 5)
  --no-append           do not append to bench/RESULTS.md (raw JSON is still written)`;

export function parseFlags<O extends ParseArgsConfig['options']>(options: O, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({ args: process.argv.slice(2), options: { ...COMMON_FLAGS, ...options }, strict: true, allowPositionals: false });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    process.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed.values;
}

export function positiveInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`--${name}: expected a whole number >= 1, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return value;
}

export interface CommonValues {
  readonly seed?: string | boolean;
  readonly partitions?: string | boolean;
  readonly 'bad-ratio'?: string | boolean;
  readonly devices?: string | boolean;
  readonly brokers?: string | boolean;
  readonly 'progress-seconds'?: string | boolean;
}

const str = (value: string | boolean | undefined) => (typeof value === 'string' ? value : undefined);

export function brokersOf(values: CommonValues): string[] {
  return (str(values.brokers) ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
}

export function datasetOptions(values: CommonValues, size: number): DatasetOptions {
  const badRatio = Number(str(values['bad-ratio']) ?? '0.01');
  if (!Number.isFinite(badRatio) || badRatio < 0 || badRatio > 1) {
    process.stderr.write('--bad-ratio: expected a number from 0 to 1\n');
    process.exit(2);
  }
  return {
    brokers: brokersOf(values),
    size,
    seed: positiveInteger('seed', str(values.seed), 1),
    partitions: positiveInteger('partitions', str(values.partitions), 6),
    badRatio,
    devices: positiveInteger('devices', str(values.devices), 1000),
  };
}

export function progressSeconds(values: CommonValues): number {
  return positiveInteger('progress-seconds', str(values['progress-seconds']), 5);
}
