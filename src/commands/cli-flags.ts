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
