/**
 * The main thread's young generation, bounded so the memory plan holds on
 * every runtime. V8 sizes it by itself: Node 20 (V8 11) stops at 16 MB
 * semi-spaces, Node 24 (V8 13) grows them to 64 MB under allocation, which
 * took a 256 MB budget's peak RSS from 175 to 246 MB and the service into
 * exit 4. The size can only be set when the process starts, so
 * `geowindow run` starts itself again with the flag when it was not given
 * (heap-restart.ts).
 */

/** Semi-space the service plans for and sets: Node 20's own maximum, the size it was measured and tuned at. */
export const MAIN_SEMI_SPACE_MB = 16;
/** V8's largest semi-space on the runtimes that choose their own (Node 22 and later). */
const UNBOUNDED_SEMI_SPACE_MB = 64;
/**
 * V8 commits two semi-spaces (objects are copied from one to the other). Its
 * new large-object space, reserved at the same size, stays nearly empty here:
 * fetched records are Buffers outside the heap.
 */
const YOUNG_GENERATION_SEMI_SPACES = 2;
/** The last Node.js major whose V8 never grows a semi-space past MAIN_SEMI_SPACE_MB. */
const LAST_SMALL_YOUNG_GENERATION_MAJOR = 20;


/** How big the main thread's semi-spaces can grow, and who decided it. */
export interface YoungGeneration {
  readonly semiSpaceMb: number;
  /** `flag`: node was started with it; `geowindow`: run sets it (or the runtime never exceeds it); `runtime`: V8 decides. */
  readonly source: 'flag' | 'geowindow' | 'runtime';
  /** What the young generation can hold at most: both semi-spaces and the new large-object space. */
  readonly bytes: number;
  /** `geowindow run` must start itself again with the flag to get this size. */
  readonly restart: boolean;
}

/** A V8 size flag (in MB) as given in node's arguments or NODE_OPTIONS (the arguments win, as in node), else undefined. */
export function nodeSizeFlag(name: 'max-semi-space-size' | 'max-old-space-size', execArgv: readonly string[], nodeOptions: string | undefined): number | undefined {
  const flag = new RegExp(`^--${name.replace(/-/g, '[-_]')}(?:=(\\d+))?$`);
  let found: number | undefined;
  const scan = (args: readonly string[]) => {
    for (let i = 0; i < args.length; i++) {
      const match = flag.exec(args[i]!);
      if (match === null) continue;
      const value = match[1] ?? args[i + 1];
      if (value !== undefined && /^\d+$/.test(value)) found = Number(value);
    }
  };
  scan((nodeOptions ?? '').split(/\s+/).filter((arg) => arg.length > 0));
  scan(execArgv);
  return found;
}

/** `--max-semi-space-size` as given in node's arguments or NODE_OPTIONS, else undefined. */
export function semiSpaceFlag(execArgv: readonly string[], nodeOptions: string | undefined): number | undefined {
  return nodeSizeFlag('max-semi-space-size', execArgv, nodeOptions);
}

/** process.execve: Node 22.15 and later; @types/node 20 does not declare it. */
export type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;
export const runtime = process as { execve?: Execve };

/** The main thread's young generation as `geowindow run` has it, and so as the plan counts it. */
export function youngGeneration(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
  nodeMajor: number = Number(process.versions.node.split('.')[0]),
  canRestart: boolean = typeof runtime.execve === 'function',
): YoungGeneration {
  const bytes = (semiSpaceMb: number) => YOUNG_GENERATION_SEMI_SPACES * semiSpaceMb * 1024 * 1024;
  const flagged = semiSpaceFlag(execArgv, nodeOptions);
  if (flagged !== undefined) return { semiSpaceMb: flagged, source: 'flag', bytes: bytes(flagged), restart: false };
  if (nodeMajor <= LAST_SMALL_YOUNG_GENERATION_MAJOR || canRestart) {
    return { semiSpaceMb: MAIN_SEMI_SPACE_MB, source: 'geowindow', bytes: bytes(MAIN_SEMI_SPACE_MB), restart: nodeMajor > LAST_SMALL_YOUNG_GENERATION_MAJOR };
  }
  return { semiSpaceMb: UNBOUNDED_SEMI_SPACE_MB, source: 'runtime', bytes: bytes(UNBOUNDED_SEMI_SPACE_MB), restart: false };
}
