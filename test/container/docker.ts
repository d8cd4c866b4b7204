import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root: the Docker build context. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface DockerResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the docker CLI to the end. The legacy builder is chosen for builds
 * (DOCKER_BUILDKIT=0): BuildKit would fetch the Dockerfile's `# syntax`
 * frontend from a registry, and Debian's docker.io has no buildx anyway.
 */
export function docker(args: readonly string[], timeoutMs: number): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** How long `docker info` may take before the engine counts as absent. */
const ENGINE_ANSWER_MS = 15_000;

/**
 * The base image scripts/docker-base.sh builds: its tag names the Node.js
 * version pinned in scripts/node24.sh, read from there so the two cannot
 * drift. GEOWINDOW_BASE_IMAGE chooses another (node:24-bookworm-slim where a
 * registry is reachable).
 */
export function baseImage(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.GEOWINDOW_BASE_IMAGE?.trim();
  if (configured) return configured;
  const script = readFileSync(new URL('../../scripts/node24.sh', import.meta.url), 'utf8');
  const version = /^NODE24_VERSION=(\S+)/m.exec(script)?.[1];
  if (version === undefined) throw new Error('scripts/node24.sh has no NODE24_VERSION line');
  return `geowindow-base:node${version}-bookworm`;
}

/** Why the container test cannot run here (no engine, no base image), or undefined when it can. */
export async function containerSkipReason(base: string): Promise<string | undefined> {
  const info = await docker(['info', '--format', '{{.ServerVersion}}'], ENGINE_ANSWER_MS).catch(() => undefined);
  if (info === undefined || info.code !== 0) {
    return 'no Docker engine answers (`docker info` failed); start one with `bash scripts/docker-engine.sh`';
  }
  const image = await docker(['image', 'inspect', '--format', '{{.Id}}', base], ENGINE_ANSWER_MS);
  if (image.code !== 0) return `the base image ${base} is missing; build it with \`bash scripts/docker-base.sh\``;
  return undefined;
}

export interface ContainerState {
  readonly running: boolean;
  readonly exitCode: number;
  readonly oomKilled: boolean;
}

export async function containerState(name: string): Promise<ContainerState> {
  const result = await docker(['inspect', '--format', '{{json .State}}', name], ENGINE_ANSWER_MS);
  if (result.code !== 0) throw new Error(`docker inspect ${name}: ${result.stderr}`);
  const state = JSON.parse(result.stdout) as { Running: boolean; ExitCode: number; OOMKilled: boolean };
  return { running: state.Running, exitCode: state.ExitCode, oomKilled: state.OOMKilled };
}

export interface ContainerLogs {
  /** The service's JSON log lines (stdout). */
  readonly lines: { level: number; msg: string; [field: string]: unknown }[];
  readonly stderr: string;
}

export async function containerLogs(name: string): Promise<ContainerLogs> {
  const result = await docker(['logs', name], ENGINE_ANSWER_MS);
  if (result.code !== 0) throw new Error(`docker logs ${name}: ${result.stderr}`);
  const lines = result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ContainerLogs['lines'][number]);
  return { lines, stderr: result.stderr };
}
