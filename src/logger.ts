import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/config.js';

/** JSON lines on stdout, one logger for the whole process. */
export function createLogger(level: LogLevel, name = 'geowindow'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
