import { readFileSync } from 'node:fs';
import { metricValue, type ServiceProcess } from '../../support/cli.js';
import { waitFor } from '../../support/kafka.js';

const KIB = 1024;
const MIB = 1024 * 1024;

/** Resident memory of a process (its worker threads included), in MiB; undefined once it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line === undefined ? undefined : (Number(line.split(/\s+/)[1]) * KIB) / MIB;
  } catch {
    return undefined;
  }
}

/** What `/readyz` answered: its status code, or 0 when nothing answered. */
export async function readyStatus(service: ServiceProcess): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${service.metricsPort}/readyz`, { signal: AbortSignal.timeout(2_000) });
    return response.status;
  } catch {
    return 0;
  }
}

/** geowindow_records_in_total, or undefined when /metrics does not answer. */
export async function recordsIn(service: ServiceProcess): Promise<number | undefined> {
  try {
    return metricValue(await service.metrics(), 'geowindow_records_in_total');
  } catch {
    return undefined;
  }
}

export interface Sample {
  /** Date.now() when taken. */
  readonly at: number;
  readonly rssMb: number | undefined;
  readonly ready: number;
  readonly recordsIn: number | undefined;
}

/**
 * Samples a service every `intervalMs` (RSS from /proc, /readyz, records
 * read) until stopped: the timeline a fault case checks memory, readiness
 * and back-pressure against.
 */
export class ServiceSampler {
  readonly samples: Sample[] = [];
  readonly #service: ServiceProcess;
  #running = true;
  readonly #loop: Promise<void>;

  constructor(service: ServiceProcess, intervalMs: number) {
    this.#service = service;
    this.#loop = this.#run(intervalMs);
  }

  async #run(intervalMs: number): Promise<void> {
    while (this.#running && this.#service.child.exitCode === null) {
      const at = Date.now();
      const [ready, records] = await Promise.all([readyStatus(this.#service), recordsIn(this.#service)]);
      this.samples.push({ at, rssMb: rssMb(this.#service.child.pid!), ready, recordsIn: records });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - at))));
    }
  }

  async stop(): Promise<Sample[]> {
    this.#running = false;
    await this.#loop;
    return this.samples;
  }

  /** The largest RSS sampled, in MiB. */
  get peakRssMb(): number {
    return Math.max(0, ...this.samples.map((s) => s.rssMb ?? 0));
  }
}

/** A small seeded generator (mulberry32): a case's random moments are the same on every run with the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Why a service stopped, from its own fatal log lines (and stderr). */
export function describeExit(service: ServiceProcess): string {
  const fatal = service.logs
    .filter((line) => line.level >= 60)
    .map((line) => `${line.msg}: ${JSON.stringify(line.err ?? {}).slice(0, 1500)}`);
  return `exit ${service.child.exitCode}; ${fatal.join('; ')} ${service.stderr.slice(-1000)}`;
}

/** Ends a wait at once, naming why, when the service exits by itself. */
export function exitedReason(service: ServiceProcess): () => string | undefined {
  return () => (service.child.exitCode === null ? undefined : `the service stopped: ${describeExit(service)}`);
}

/** Waits until the service has read at least `atLeast` records (re-reads count). */
export async function waitForRecordsIn(service: ServiceProcess, atLeast: number, timeoutMs: number): Promise<number> {
  return waitFor(
    `${atLeast} records read`,
    async () => {
      const n = await recordsIn(service);
      return n !== undefined && n >= atLeast ? n : undefined;
    },
    timeoutMs,
    exitedReason(service),
    100,
  );
}

/** The partitions of the service's latest join (from its log), empty before it joined. */
export function assignedPartitions(service: ServiceProcess): number[] {
  const joins = service.logs.filter((line) => line.msg === 'joined the consumer group');
  return (joins.at(-1)?.assigned as number[] | undefined) ?? [];
}

/** Times the service joined its group. */
export function joinCount(service: ServiceProcess): number {
  return service.logs.filter((line) => line.msg === 'joined the consumer group').length;
}
