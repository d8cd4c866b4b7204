import { parseArgs } from 'node:util';
import { ConfigError, UsageError } from '../errors.js';

/**
 * A command-line flag's value read with one of the configuration's parsers;
 * its error names the flag (`--count: expected ...`) and is a usage error
 * (exit 2), not a configuration error. Undefined when the flag is absent.
 */
export function flag<T>(name: string, raw: string | undefined, parse: (variable: string, raw: string) => T): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return parse(`--${name}`, raw);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * The values of a command's `--name value` flags (no positionals, unknown
 * flags refused), each a string or undefined; a malformed command line is a
 * usage error.
 */
export function stringFlags<const N extends string>(args: readonly string[], names: readonly N[]): Record<N, string | undefined> {
  try {
    const { values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])),
    });
    // Every option is declared a string, so every value is a string or absent.
    return values as Record<N, string | undefined>;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
