import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from '../../support/cli.js';
import type { FleetContext, WindowKind } from './modes.js';

/** The `produce` summary printed on stdout. */
export interface FleetSummary {
  readonly sent: number;
  readonly good: number;
  readonly bad: number;
  readonly late: number;
}

/** One `geowindow produce` run, as a child process the case can wait for or kill. */
export interface FleetRun {
  readonly child: ChildProcess;
  readonly done: Promise<FleetSummary>;
}

/** Devices of a fleet unless a case says otherwise: four per zone site, 60 sites. */
const DEFAULT_DEVICES = 240;

/**
 * A window kind's fleet on one topic, sent in slices: each slice continues
 * the event time of the last and has its own seed, so slices sent before,
 * between and after faults form one stream.
 */
export class Fleet {
  readonly #brokers: string;
  readonly #topic: string;
  readonly #kind: WindowKind;
  readonly #context: FleetContext;
  readonly #devices: number;
  readonly #seed: number;
  readonly #running = new Set<ChildProcess>();
  #sent = 0;
  #slices = 0;

  constructor(brokers: string, topic: string, kind: WindowKind, context: FleetContext, options: { seed: number; devices?: number }) {
    this.#brokers = brokers;
    this.#topic = topic;
    this.#kind = kind;
    this.#context = context;
    this.#seed = options.seed;
    this.#devices = options.devices ?? DEFAULT_DEVICES;
  }

  /** Readings asked for so far (every slice sends exactly its count or fails). */
  get requested(): number {
    return this.#sent;
  }

  /** Sends `count` readings at `rate` per second (0: as fast as the broker takes them). */
  send(count: number, rate: number): FleetRun {
    const args = [
      CLI, 'produce', '--topic', this.#topic, '--rate', String(rate),
      ...this.#kind.fleetArgs(this.#context, { from: this.#sent, count, seed: this.#seed + this.#slices, devices: this.#devices }),
    ];
    this.#sent += count;
    this.#slices++;
    const child = spawn(process.execPath, args, { env: { ...process.env, KAFKA_BROKERS: this.#brokers }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr!.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(-4000)));
    const done = new Promise<FleetSummary>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => {
        this.#running.delete(child);
        if (code !== 0) return reject(new Error(`produce to ${this.#topic} exited with ${code}: ${stderr}`));
        try {
          // The summary is the last line; warnings (a zone without area, say) are log lines before it.
          const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as FleetSummary;
          if (summary.sent !== count) reject(new Error(`produce sent ${summary.sent} of ${count} readings`));
          else resolve(summary);
        } catch (error) {
          reject(new Error(`produce to ${this.#topic} printed no summary: ${String(error)}\n${stdout.slice(-2000)}`));
        }
      });
    });
    // A slice that fails is reported by whoever awaits it; nothing is left unhandled meanwhile.
    done.catch(() => undefined);
    return { child, done };
  }

  /** Kills every slice still sending (cleanup after a failed case). */
  kill(): void {
    for (const child of this.#running) child.kill('SIGKILL');
  }
}
