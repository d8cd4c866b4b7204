import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { ConfigError } from '../errors.js';

/**
 * Parsers for configuration values. Each throws a ConfigError that names the
 * variable and the values it accepts.
 */
export type Parser<T> = (variable: string, raw: string) => T;

export function integer(min: number, max: number): Parser<number> {
  return (variable, raw) => {
    const text = raw.trim();
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(variable, `expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

export function oneOf<const T extends string>(values: readonly T[]): Parser<T> {
  return (variable, raw) => {
    const value = raw.trim() as T;
    if (!values.includes(value)) {
      throw new ConfigError(variable, `expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

export const topicName: Parser<string> = (variable, raw) => {
  const value = raw.trim();
  if (!TOPIC_NAME.test(value) || value === '.' || value === '..') {
    throw new ConfigError(
      variable,
      `expected a Kafka topic name (1-249 characters of A-Z a-z 0-9 . _ -), got ${JSON.stringify(raw)}`,
    );
  }
  return value;
};

export const groupId: Parser<string> = (variable, raw) => {
  const value = raw.trim();
  if (value.length === 0 || value.length > 255) {
    throw new ConfigError(variable, 'expected a non-empty consumer group id of at most 255 characters');
  }
  return value;
};

const HOST_PORT = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/;

export const brokerList: Parser<readonly string[]> = (variable, raw) => {
  const brokers = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (brokers.length === 0) {
    throw new ConfigError(variable, 'expected a comma-separated list of host:port, got an empty value');
  }
  for (const broker of brokers) {
    const match = HOST_PORT.exec(broker);
    const port = Number(match?.[1]);
    if (match === null || port < 1 || port > 65535) {
      throw new ConfigError(variable, `expected a comma-separated list of host:port, got ${JSON.stringify(broker)}`);
    }
  }
  return Object.freeze(brokers);
};

export const listenHost: Parser<string> = (variable, raw) => {
  const value = raw.trim();
  if (!/^[A-Za-z0-9._:-]+$/.test(value)) {
    throw new ConfigError(variable, `expected a host name or IP address to listen on, got ${JSON.stringify(raw)}`);
  }
  return value;
};

export const clientId: Parser<string> = (variable, raw) => {
  const value = raw.trim();
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(value)) {
    throw new ConfigError(variable, `expected 1-128 characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(raw)}`);
  }
  return value;
};

/** `auto` (derived at start-up from the memory budget) or what `parse` accepts. */
export function autoOr<T>(parse: Parser<T>): Parser<T | 'auto'> {
  return (variable, raw) => {
    if (raw.trim() === 'auto') return 'auto';
    try {
      return parse(variable, raw);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new ConfigError(variable, error.message.slice(variable.length + 2).replace(/^expected /, 'expected auto or '));
    }
  };
}

export function ratio(min: number, max: number): Parser<number> {
  return (variable, raw) => {
    const text = raw.trim();
    const value = Number(text);
    if (text === '' || !Number.isFinite(value) || value < min || value > max) {
      throw new ConfigError(variable, `expected a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

/** Any text; empty means unset. */
export const optionalText: Parser<string | undefined> = (_variable, raw) => (raw.trim() === '' ? undefined : raw.trim());

/** `true` or `false`. */
export const booleanFlag: Parser<boolean> = (variable, raw) => {
  const value = raw.trim().toLowerCase();
  if (value !== 'true' && value !== 'false') {
    throw new ConfigError(variable, `expected true or false, got ${JSON.stringify(raw)}`);
  }
  return value === 'true';
};

/** One of `values`, in any letter case, returned as written in `values`; empty means unset. */
export function optionalOneOfIgnoringCase<const T extends string>(values: readonly T[]): Parser<T | undefined> {
  return (variable, raw) => {
    if (raw.trim() === '') return undefined;
    const value = values.find((v) => v.toLowerCase() === raw.trim().toLowerCase());
    if (value === undefined) {
      throw new ConfigError(variable, `expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

/**
 * A credential given in the environment, taken exactly as written (a password
 * may begin or end with a space); empty means unset. Its errors never quote it.
 */
export const secretText: Parser<string | undefined> = (_variable, raw) => (raw === '' ? undefined : raw);

/**
 * A file named by the configuration and read once at start-up. Serialised
 * (JSON, logs) it is only its path: its contents are never shown.
 */
export class ConfigFile {
  /** The path as configured. */
  readonly path: string;
  /** The contents (for a secret file, without the trailing newline). */
  readonly text: string;

  constructor(path: string, text: string) {
    this.path = path;
    this.text = text;
    Object.freeze(this);
  }

  toJSON(): string {
    return this.path;
  }

  [inspect.custom](): string {
    return `ConfigFile(${JSON.stringify(this.path)})`;
  }
}

function readConfigFile(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? String(error));
    throw new ConfigError(variable, `cannot read the file ${JSON.stringify(path)} (${reason})`);
  }
}

/** What a PEM file given to the TLS options must hold. */
const PEM_LABELS = {
  certificate: { pattern: /-----BEGIN CERTIFICATE-----/, what: 'a PEM certificate (-----BEGIN CERTIFICATE-----)' },
  'private key': { pattern: /-----BEGIN (?:[A-Z]+ )?(?:ENCRYPTED )?PRIVATE KEY-----/, what: 'a PEM private key (-----BEGIN ... PRIVATE KEY-----)' },
} as const;

/** A path to a PEM file of the given kind, read now; empty means unset. */
export function pemFile(kind: keyof typeof PEM_LABELS): Parser<ConfigFile | undefined> {
  return (variable, raw) => {
    const path = raw.trim();
    if (path === '') return undefined;
    const text = readConfigFile(variable, path);
    if (!PEM_LABELS[kind].pattern.test(text)) {
      throw new ConfigError(variable, `expected a file holding ${PEM_LABELS[kind].what}, but ${JSON.stringify(path)} holds none`);
    }
    return new ConfigFile(path, text);
  };
}

/**
 * A path to a file holding one credential (a Kubernetes secret mounted as a
 * file, say), read now; the trailing newline is dropped. Empty means unset.
 */
export const secretFile: Parser<ConfigFile | undefined> = (variable, raw) => {
  const path = raw.trim();
  if (path === '') return undefined;
  const text = readConfigFile(variable, path).replace(/\r?\n$/, '');
  if (text === '') throw new ConfigError(variable, `the file ${JSON.stringify(path)} is empty`);
  return new ConfigFile(path, text);
};

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const DURATION_UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A duration: plain milliseconds, or a number with `ms`, `s`, `m` or `h`; returned in whole milliseconds. */
export function duration(minMs: number, maxMs: number): Parser<number> {
  return (variable, raw) => {
    const match = DURATION.exec(raw.trim());
    let value = NaN;
    if (match !== null) {
      // In integers, so 4.1m is exactly 246000 ms: the digits times the unit, divided by the decimals' power of ten.
      const [whole, fraction = ''] = match[1]!.split('.');
      const scaled = Number(whole + fraction) * DURATION_UNIT_MS[(match[2] ?? 'ms') as keyof typeof DURATION_UNIT_MS];
      const divisor = 10 ** fraction.length;
      if (Number.isSafeInteger(scaled) && scaled % divisor === 0) value = scaled / divisor;
    }
    if (!Number.isInteger(value) || value < minMs || value > maxMs) {
      throw new ConfigError(
        variable,
        `expected a duration from ${minMs} ms to ${maxMs} ms (milliseconds, or a number with ms, s, m or h, like 5m), got ${JSON.stringify(raw)}`,
      );
    }
    return value;
  };
}

/** What `optional` accepts, or undefined when unset (empty). */
export function optional<T>(parse: Parser<T>): Parser<T | undefined> {
  return (variable, raw) => (raw.trim() === '' ? undefined : parse(variable, raw));
}

/** A comma-separated list of distinct values of `values`, at least one. */
export function listOf<const T extends string>(values: readonly T[]): Parser<readonly T[]> {
  return (variable, raw) => {
    const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    const expected = `a comma-separated list of ${values.join(', ')}`;
    if (items.length === 0) throw new ConfigError(variable, `expected ${expected}, got ${JSON.stringify(raw)}`);
    const seen = new Set<string>();
    for (const item of items) {
      if (!values.includes(item as T)) throw new ConfigError(variable, `expected ${expected}, got ${JSON.stringify(item)} in ${JSON.stringify(raw)}`);
      if (seen.has(item)) throw new ConfigError(variable, `lists ${JSON.stringify(item)} twice`);
      seen.add(item);
    }
    return Object.freeze(items as T[]);
  };
}

/** Any non-empty text. */
export const text: Parser<string> = (variable, raw) => {
  const value = raw.trim();
  if (value === '') throw new ConfigError(variable, 'expected a non-empty value');
  return value;
};
