/**
 * What else the machine did during a measurement (Linux /proc): the CPU the
 * whole machine spent, what of it the measured service (a child of the
 * harness) and the harness spent, and the other processes that spent the
 * most. On a shared machine a number is only as good as the record of what
 * it shared the cores with.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** Linux reports /proc CPU times in clock ticks of 1/100 s (USER_HZ) on every architecture it runs on. */
const USER_HZ = 100;
/**
 * How often every process's CPU time is read. A process that starts after
 * the first reading counts from zero; one that ends loses what it spent
 * after its last reading, so a second keeps that small at a few ms per read.
 */
const SAMPLE_MS = 1000;

interface ProcessCpu {
  readonly seconds: number;
  readonly ppid: number;
  readonly command: string;
}

export interface BusyProcess {
  readonly pid: number;
  /** Its whole command line, white space collapsed. */
  readonly command: string;
  /** Cores it used on average over the span. */
  readonly cores: number;
}

export interface Activity {
  readonly wallSeconds: number;
  /** Cores the whole machine kept busy on average over the span (/proc/stat: every process and the kernel). */
  readonly machineCores: number;
  /** Cores used by the harness's children (the measured service) and by the harness itself. */
  readonly childrenCores: number;
  readonly harnessCores: number;
  /** The machine's busy cores less the harness and its children: what other work took. */
  readonly otherCores: number;
  /** The 1-minute load average at the end. */
  readonly loadAverage: number;
  /** The other processes that used the most CPU over the span. */
  readonly busiest: readonly BusyProcess[];
}

function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return (fields.reduce((a, b) => a + b, 0) - idle) / USER_HZ;
  } catch {
    return Number.NaN;
  }
}

function processCpu(pid: number): ProcessCpu | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) are counted from its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / USER_HZ;
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    const command = args === '' ? stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) : args;
    return { seconds, ppid: Number(fields[1]), command: command.replace(/\s+/g, ' ').trim() };
  } catch {
    return undefined;
  }
}

function everyProcess(): Map<number, ProcessCpu> {
  const processes = new Map<number, ProcessCpu>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    // Not Linux: no per-process record.
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cpu = processCpu(Number(entry));
    if (cpu !== undefined) processes.set(Number(entry), cpu);
  }
  return processes;
}

/** Records the machine's CPU from `start()` to `stop()`, reading every process each second. */
export class ActivityRecorder {
  readonly #begin = performance.now();
  readonly #busyBegin = machineBusySeconds();
  readonly #first: ReadonlyMap<number, ProcessCpu>;
  readonly #last = new Map<number, ProcessCpu>();
  readonly #timer: NodeJS.Timeout;

  private constructor() {
    this.#first = everyProcess();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_MS);
    this.#timer.unref();
  }

  static start(): ActivityRecorder {
    return new ActivityRecorder();
  }

  #sample(): void {
    for (const [pid, cpu] of everyProcess()) this.#last.set(pid, cpu);
  }

  /** Stops recording; `top` other processes by CPU are named. */
  stop(top = 5): Activity {
    clearInterval(this.#timer);
    this.#sample();
    const wallSeconds = (performance.now() - this.#begin) / 1000;
    const used = (pid: number, cpu: ProcessCpu) => cpu.seconds - (this.#first.get(pid)?.seconds ?? 0);
    let children = 0;
    let harness = 0;
    const others: BusyProcess[] = [];
    for (const [pid, cpu] of this.#last) {
      const seconds = used(pid, cpu);
      if (pid === process.pid) harness += seconds;
      else if (cpu.ppid === process.pid) children += seconds;
      else if (seconds > 0) others.push({ pid, command: cpu.command, cores: seconds / wallSeconds });
    }
    others.sort((a, b) => b.cores - a.cores);
    const machineCores = (machineBusySeconds() - this.#busyBegin) / wallSeconds;
    return {
      wallSeconds,
      machineCores,
      childrenCores: children / wallSeconds,
      harnessCores: harness / wallSeconds,
      otherCores: Math.max(0, machineCores - (children + harness) / wallSeconds),
      loadAverage: loadavg()[0] ?? Number.NaN,
      busiest: others.slice(0, top),
    };
  }
}
