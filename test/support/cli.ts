import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/net/free-port.js';
import { fileURLToPath } from 'node:url';

/** The built CLI: integration tests run the product as users do, as a process. */
export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}


/** A running `geowindow run`, its JSON log lines collected as they come. */
export class ServiceProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly metricsPort: number;

  /** Starts the service with its metrics on a free port (so any LOG_LEVEL works). */
  static async start(env: NodeJS.ProcessEnv, nodeArgs: readonly string[] = []): Promise<ServiceProcess> {
    return new ServiceProcess(env, nodeArgs, await freePort());
  }

  private constructor(env: NodeJS.ProcessEnv, nodeArgs: readonly string[], metricsPort: number) {
    this.metricsPort = metricsPort;
    this.child = spawn(process.execPath, [...nodeArgs, CLI, 'run'], {
      env: { ...process.env, METRICS_HOST: '127.0.0.1', ...env, METRICS_PORT: String(metricsPort) },
      stdio: 'pipe',
    });
    let pending = '';
    this.child.stdout!.on('data', (data: Buffer) => {
      pending += data.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.trim() === '') continue;
        const entry = JSON.parse(line) as LogLine;
        this.logs.push(entry);
      }
    });
    this.child.stderr!.on('data', (data: Buffer) => (this.stderr += data.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  async metrics(): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    return response.text();
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** The value of a metric sample in Prometheus text format, or undefined. */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}
