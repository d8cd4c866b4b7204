/** Benchmarks that run this checkout's build against another's, round by round, in fresh processes. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './common.js';

/** The name of the baseline build in a benchmark's table. */
export const isBaseline = (name: string): boolean => name.startsWith('baseline');

/**
 * The builds to run, by name: this checkout's dist/, and with `--baseline
 * DIR` that one too. `probe` is a file every comparable build's dist/src/
 * holds (the module the benchmark loads); a DIR without it is refused.
 */
export function buildsToRun(baseline: string | undefined, probe: string): Map<string, string> {
  const builds = new Map<string, string>([['this checkout', join(ROOT, 'dist')]]);
  if (baseline !== undefined) {
    const dist = resolve(baseline);
    if (!existsSync(join(dist, 'src', probe))) throw new Error(`--baseline ${dist}: no src/${probe} in it (a checkout's dist/)`);
    builds.set(`baseline (${dist})`, dist);
  }
  return builds;
}

/** The middle value (the upper one of an even count): what a benchmark of rounds reports. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
