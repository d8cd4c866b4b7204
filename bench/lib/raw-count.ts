/**
 * What the raw-consume ceilings share: their command line, the count of
 * records and bytes, the clock from the first record handed over to the
 * last, progress on stderr, and the JSON summary on stdout.
 */
import { parseArgs } from 'node:util';
import { procCpuSeconds } from './common.js';

export interface RawArgs {
  readonly brokers: string[];
  readonly topic: string;
  readonly expected: number;
  readonly group: string;
}

const now = () => performance.timeOrigin + performance.now();

export function rawArgs(client: string): RawArgs & { readonly progressSeconds: number } {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string', default: '127.0.0.1:9092' },
      topic: { type: 'string' },
      expect: { type: 'string' },
      group: { type: 'string', default: `bench-raw-${client}-${Date.now()}` },
      'progress-seconds': { type: 'string', default: '5' },
    },
  });
  if (values.topic === undefined || values.expect === undefined) throw new Error('--topic and --expect are required');
  return {
    brokers: values.brokers.split(','),
    topic: values.topic,
    expected: Number(values.expect),
    group: values.group,
    progressSeconds: Number(values['progress-seconds']),
  };
}

export class RawCounter {
  records = 0;
  bytes = 0;
  readonly done: Promise<void>;
  readonly #expected: number;
  readonly #progress: NodeJS.Timeout;
  #finish!: () => void;
  #firstAt: number | undefined;
  #lastAt: number | undefined;
  #cpuAtFirst: NodeJS.CpuUsage | undefined;
  #cpuAtLast: NodeJS.CpuUsage | undefined;
  #mainCpuAtFirst = Number.NaN;
  #mainCpuAtLast = Number.NaN;

  constructor(expected: number, progressSeconds: number) {
    this.#expected = expected;
    this.done = new Promise<void>((resolve) => (this.#finish = resolve));
    this.#progress = setInterval(() => {
      if (this.#firstAt === undefined) return;
      const seconds = (now() - this.#firstAt) / 1000;
      process.stderr.write(
        `${this.records}/${expected} records, ${Math.round(this.records / seconds)} rec/s, rss ${Math.round(process.memoryUsage.rss() / 1048576)} MB\n`,
      );
    }, progressSeconds * 1000);
  }

  /** Counts records handed to the application; `done` resolves once all expected have come. */
  add(records: number, bytes: number): void {
    if (this.#firstAt === undefined) {
      this.#firstAt = now();
      this.#cpuAtFirst = process.cpuUsage();
      this.#mainCpuAtFirst = procCpuSeconds(process.pid, process.pid) ?? Number.NaN;
    }
    this.records += records;
    this.bytes += bytes;
    if (this.records >= this.#expected && this.#lastAt === undefined) {
      this.#lastAt = now();
      this.#cpuAtLast = process.cpuUsage(this.#cpuAtFirst);
      this.#mainCpuAtLast = procCpuSeconds(process.pid, process.pid) ?? Number.NaN;
      this.#finish();
    }
  }

  /** The summary line; stops the progress lines. */
  summary(system: string, extra: Record<string, unknown>): string {
    clearInterval(this.#progress);
    const seconds = (this.#lastAt! - this.#firstAt!) / 1000;
    const cpu = this.#cpuAtLast!;
    return `${JSON.stringify({
      system,
      records: this.records,
      bytes: this.bytes,
      ...extra,
      seconds: Math.round(seconds * 1000) / 1000,
      recordsPerSecond: Math.round(this.records / seconds),
      cpuSeconds: Math.round(((cpu.user + cpu.system) / 1e6) * 1000) / 1000,
      // The main thread alone (Linux /proc; null elsewhere), at the kernel's tick resolution.
      mainThreadCpuSeconds: Number.isFinite(this.#mainCpuAtLast - this.#mainCpuAtFirst) ? Math.round((this.#mainCpuAtLast - this.#mainCpuAtFirst) * 1000) / 1000 : null,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    })}\n`;
  }
}
