/**
 * glibc's malloc gives each thread that allocates its own arena, up to 8 per
 * core, and memory freed into one arena is not reused by another thread. The
 * main thread, every worker and libuv's pool all allocate outside the V8
 * heap (buffers, fetches, produce requests), so the arenas' retained pages
 * add up: on the zone-window benchmark (2 workers) MALLOC_ARENA_MAX=2 took
 * the median peak RSS of 3 runs from 424 to 397 MB (16 arenas, glibc's
 * default on 2 cores) at the same records/s. The Docker image sets
 * it; `geowindow run` sets it when it starts itself again (heap-restart.ts)
 * and the variable is unset. It has no effect on a C library other than glibc.
 */
export const MALLOC_ARENA_MAX = '2';

/** The environment to start the service with: `env`, with MALLOC_ARENA_MAX unless it is set already. */
export function withMallocArenas(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.MALLOC_ARENA_MAX === undefined || env.MALLOC_ARENA_MAX === '' ? { ...env, MALLOC_ARENA_MAX } : env;
}
