/**
 * glibc malloc settings the service starts with, each kept when the user set
 * it. They have no effect on a C library other than glibc.
 *
 * MALLOC_ARENA_MAX: glibc gives each thread that allocates its own arena, up
 * to 8 per core, and memory freed into one arena is not reused by another
 * thread. The main thread, every worker and libuv's pool all allocate outside
 * the V8 heap (buffers, fetches, produce requests), so the arenas' retained
 * pages add up: on the zone-window benchmark (2 workers) 2 arenas took the
 * median peak RSS of 3 runs from 424 to 397 MB (16 arenas, glibc's default
 * on 2 cores) at the same records/s.
 *
 * MALLOC_MMAP_THRESHOLD_: glibc serves blocks of 128 KiB and more with their
 * own mappings, returned to the system when freed, but raises that threshold
 * (up to 32 MiB) to the size of each such block freed. After the first
 * fetched batch or produce request is freed, those blocks come from the heap
 * instead, and the heap's freed pages stay resident between the small blocks
 * that outlive them. In the 20,000-device churn soak the main arena kept
 * 170-200 MB that way after the emission bursts of windows of 15,000 keys,
 * with the V8 heap down to 21 MB: over the budget with nothing to free, exit
 * 4. Set, the threshold stays at glibc's own starting value: the same soak
 * read every record, never exiting.
 *
 * The Docker image sets both; `geowindow run` sets them when it starts itself
 * again (heap-restart.ts); `geowindow soak` and the benchmarks start the
 * service with them.
 */
export const MALLOC_SETTINGS = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: String(128 * 1024),
} as const;

/** The environment to start the service with: `env`, with each of MALLOC_SETTINGS it does not set already. */
export function withMallocSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const added: Record<string, string> = {};
  for (const [name, value] of Object.entries(MALLOC_SETTINGS)) {
    if (env[name] === undefined || env[name] === '') added[name] = value;
  }
  return Object.keys(added).length === 0 ? env : { ...env, ...added };
}
