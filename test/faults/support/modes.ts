/**
 * What every fault case runs over: how the service delivers (today
 * at-least-once only) and which window kind it writes (count windows and
 * event-time zone windows, whose commit paths differ). A case runs once per
 * delivery mode and window kind.
 */

/** Isolation level the test reads the output and dead-letter topics with. */
export type IsolationLevel = 'read_uncommitted' | 'read_committed';

/**
 * How the service delivers aggregates and dead letters. An exactly-once mode
 * (issue 11, part 3) adds its environment here, reads with read_committed and
 * allows no duplicates; the cases do not change.
 */
export interface DeliveryMode {
  readonly name: string;
  /** Environment the service runs with in this mode. */
  readonly env: Readonly<NodeJS.ProcessEnv>;
  /** How the test reads what the service wrote. */
  readonly isolation: IsolationLevel;
  /** A crash or rebalance may write a window or dead letter again (identically). */
  readonly duplicatesAllowed: boolean;
}

export const AT_LEAST_ONCE: DeliveryMode = { name: 'at-least-once', env: {}, isolation: 'read_uncommitted', duplicatesAllowed: true };

/** Every mode the service has; the suite runs each case in each. */
export const DELIVERY_MODES: readonly DeliveryMode[] = [AT_LEAST_ONCE];

export type WindowKindName = 'count' | 'zone';

/** Event-time zone windows: 1-minute tumbling windows by US county, as in zone-windows.test.ts. */
export const ZONE_WINDOW_MS = 60_000;
export const ZONE_GRACE_MS = 15_000;
/** Event time between two readings of the fleet: 2,400 readings per window. */
export const ZONE_STEP_MS = 25;
const ZONE_DISORDER_MS = 10_000;
const ZONE_LATE_RATIO = 0.01;
const ZONE_LATE_BY_MS = 30 * 60_000;
const ZONE_BAD_RATIO = 0.005;
/** Long enough that no partition counts as idle while a case still sends; the last windows close by it. */
const ZONE_IDLE_PARTITION_MS = 10_000;

/** Count windows: small enough that every case closes many windows by count. */
export const COUNT_CHUNK_SIZE = 500;
const COUNT_BAD_RATIO = 0.01;
/**
 * Longer than any pause of the fleet while a case runs, so windows close by
 * count (a replay forms them identically) and only the last ones by idle.
 */
const COUNT_WINDOW_IDLE_MS = 5_000;

/** Where zone fleets are placed and windowed; made once per test file. */
export interface FleetContext {
  readonly zonesFile: string;
  /** Event time of a zone fleet's first reading (a whole minute, hours ago: every window closes by the end). */
  readonly startTs: number;
}

/** A window kind: the service's settings, its memory budget and the fleet that feeds it. */
export interface WindowKind {
  readonly name: WindowKindName;
  /** MEMORY_LIMIT_MB: the smallest round budget the kind's memory plan accepts with 2 workers. */
  readonly budgetMb: number;
  serviceEnv(context: FleetContext): NodeJS.ProcessEnv;
  /** `produce` options for `count` readings from the `from`-th on (event time continues where the last slice ended). */
  fleetArgs(context: FleetContext, slice: { from: number; count: number; seed: number; devices: number }): string[];
}

export const COUNT_WINDOWS: WindowKind = {
  name: 'count',
  budgetMb: 256,
  serviceEnv: () => ({ CHUNK_SIZE: String(COUNT_CHUNK_SIZE), WINDOW_IDLE_MS: String(COUNT_WINDOW_IDLE_MS) }),
  fleetArgs: (_context, { count, seed, devices }) => ['--devices', String(devices), '--count', String(count), '--bad-ratio', String(COUNT_BAD_RATIO), '--seed', String(seed)],
};

/**
 * Zone windows: chunks of 1,000 rows instead of 10,000, so the chunk pool
 * (16 chunks) holds 16,000 readings, not 160,000: a blocked output stops the
 * reading within a case's few tens of thousands of readings.
 */
const ZONE_CHUNK_SIZE = 1_000;

export const ZONE_WINDOWS: WindowKind = {
  name: 'zone',
  // The counties index in each worker makes the plan ask for about 360 MB (the runtime measured at start-up).
  // At 384 MB a 20 s output block took RSS to 360-416 MB, and once the memory guard stopped the service
  // (exit 4, RSS over the budget for 30 s while paused): so a quarter more.
  budgetMb: 448,
  serviceEnv: (context) => ({
    CHUNK_SIZE: String(ZONE_CHUNK_SIZE),
    WINDOW: 'tumbling',
    WINDOW_SIZE: `${ZONE_WINDOW_MS}ms`,
    WINDOW_GRACE: `${ZONE_GRACE_MS}ms`,
    KEY_BY: 'zone',
    ZONES_FILE: context.zonesFile,
    ZONE_UNMATCHED: 'outside',
    OUTPUT_SCHEMA: 'v2',
    IDLE_PARTITION_MS: `${ZONE_IDLE_PARTITION_MS}ms`,
  }),
  fleetArgs: (context, { from, count, seed, devices }) => [
    '--devices', String(devices), '--count', String(count), '--seed', String(seed), '--zones', context.zonesFile,
    '--start-ts', String(context.startTs + from * ZONE_STEP_MS), '--step-ms', String(ZONE_STEP_MS),
    '--disorder-ms', String(ZONE_DISORDER_MS), '--late-ratio', String(ZONE_LATE_RATIO), '--late-by-ms', String(ZONE_LATE_BY_MS),
    '--bad-ratio', String(ZONE_BAD_RATIO),
  ],
};

export const WINDOW_KINDS: readonly WindowKind[] = [COUNT_WINDOWS, ZONE_WINDOWS];
