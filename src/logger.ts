import { destination, pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config/config.js';
import { secretMasker } from './redact.js';

/**
 * JSON lines on stdout, one logger for the whole process. With `secrets`,
 * every line is searched for them before it is written and they are masked,
 * whatever logged them (an error message, a stack, a library's fields).
 */
export function createLogger(level: LogLevel, name = 'geowindow', secrets: readonly string[] = [], out?: DestinationStream): Logger {
  const options = { name, level, base: { pid: process.pid } };
  if (secrets.length === 0) return out === undefined ? pino(options) : pino(options, out);
  const mask = secretMasker(secrets);
  const target = out ?? destination({ dest: 1, sync: true });
  return pino(options, { write: (line: string) => target.write(mask(line)) });
}
