/**
 * Event-time window options: each bad value, and each combination that makes
 * no sense, has its own message naming the variable; these tests pin every
 * message, and the values that are accepted at the edges.
 */
import { describe, expect, it } from 'vitest';
import { chunkRows, loadConfig } from '../../src/config/config.js';
import { duration, listOf, text } from '../../src/config/parsers.js';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import { KEY_KINDS } from '../../src/shared/keys.js';

const BROKERS = { KAFKA_BROKERS: 'localhost:9092' };
/** The longest window, grace and idle time the configuration accepts: 31 days. */
const MAX_DURATION_MS = 31 * 86_400_000;
const DURATION_HINT = 'milliseconds, or a number with ms, s, m or h, like 5m';
const KEY_LIST = 'a comma-separated list of partition, zone, h3, device';

/** Every problem loadConfig reports for `env` (brokers added), as `variable: message` pairs. */
function problemsOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadConfig({ ...BROKERS, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigErrors);
    return (error as ConfigErrors).problems.map((p) => ({ variable: p.variable, message: p.message }));
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

/** The one problem reported for `env`: it names `variable`. */
function onlyProblem(env: Record<string, string>, variable: string): string {
  const problems = problemsOf(env);
  expect(problems.map((p) => p.variable)).toEqual([variable]);
  return problems[0]!.message;
}

/** The message a `ConfigError` thrown by `parse` carries. */
function parserMessage(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected the parser to refuse the value');
}

const durationMessage = (variable: string, minMs: number, raw: string) =>
  `${variable}: expected a duration from ${minMs} ms to ${MAX_DURATION_MS} ms (${DURATION_HINT}), got ${JSON.stringify(raw)}`;

describe('window options: durations', () => {
  it.each([
    ['90s', 90_000],
    ['1.5m', 90_000],
    ['5', 5],
    ['250ms', 250],
    ['2h', 7_200_000],
    [' 90 s ', 90_000],
    ['744h', MAX_DURATION_MS],
  ])('reads WINDOW_SIZE=%j as %d ms', (raw, ms) => {
    expect(loadConfig({ ...BROKERS, WINDOW_SIZE: raw }).windowSize).toBe(ms);
  });

  it.each([
    ['5x'], // an unknown unit
    ['5d'], // days are not a unit
    ['-5s'],
    ['1.5'], // 1.5 ms: not a whole millisecond
    ['0'], // below 1 ms
    ['745h'], // above 31 days
    ['m'],
  ])('refuses WINDOW_SIZE=%j, naming the range and the units', (raw) => {
    expect(onlyProblem({ WINDOW_SIZE: raw }, 'WINDOW_SIZE')).toBe(durationMessage('WINDOW_SIZE', 1, raw));
  });

  it('takes a minute windows, no grace and 30 s idle partitions by default', () => {
    expect(loadConfig(BROKERS)).toMatchObject({ windowSize: 60_000, windowAdvance: undefined, windowGrace: 0, idlePartitionMs: 30_000 });
  });

  it('accepts no grace, and refuses a bad one with its own bounds', () => {
    expect(loadConfig({ ...BROKERS, WINDOW_GRACE: '0s' }).windowGrace).toBe(0);
    expect(loadConfig({ ...BROKERS, WINDOW_GRACE: '10s' }).windowGrace).toBe(10_000);
    expect(onlyProblem({ WINDOW_GRACE: '5x' }, 'WINDOW_GRACE')).toBe(durationMessage('WINDOW_GRACE', 0, '5x'));
    expect(onlyProblem({ WINDOW_GRACE: '745h' }, 'WINDOW_GRACE')).toBe(durationMessage('WINDOW_GRACE', 0, '745h'));
  });

  it('accepts IDLE_PARTITION_MS from 100 ms, and refuses less', () => {
    expect(loadConfig({ ...BROKERS, IDLE_PARTITION_MS: '100ms' }).idlePartitionMs).toBe(100);
    expect(loadConfig({ ...BROKERS, IDLE_PARTITION_MS: '2m' }).idlePartitionMs).toBe(120_000);
    expect(onlyProblem({ IDLE_PARTITION_MS: '99' }, 'IDLE_PARTITION_MS')).toBe(durationMessage('IDLE_PARTITION_MS', 100, '99'));
    expect(onlyProblem({ IDLE_PARTITION_MS: '0.05s' }, 'IDLE_PARTITION_MS')).toBe(durationMessage('IDLE_PARTITION_MS', 100, '0.05s'));
  });

  it('refuses a WINDOW_ADVANCE that is not a duration, before any check against WINDOW', () => {
    expect(onlyProblem({ WINDOW: 'hopping', WINDOW_ADVANCE: '5x' }, 'WINDOW_ADVANCE')).toBe(durationMessage('WINDOW_ADVANCE', 1, '5x'));
  });

  it('gives the parser the bounds it was built with', () => {
    expect(duration(10, 20)('X', '0.02s')).toBe(20);
    expect(parserMessage(() => duration(10, 20)('X', '21ms'))).toBe(`X: expected a duration from 10 ms to 20 ms (${DURATION_HINT}), got "21ms"`);
  });
});

describe('window options: kinds and enumerations', () => {
  it('counts by default, and takes tumbling and hopping windows', () => {
    expect(loadConfig(BROKERS).window).toBe('count');
    expect(loadConfig({ ...BROKERS, WINDOW: 'tumbling' }).window).toBe('tumbling');
    expect(loadConfig({ ...BROKERS, WINDOW: ' hopping ', WINDOW_ADVANCE: '10s' }).window).toBe('hopping');
  });

  it.each([
    ['WINDOW', 'sliding', 'WINDOW: expected one of count, tumbling, hopping, got "sliding"'],
    ['WINDOW', 'Tumbling', 'WINDOW: expected one of count, tumbling, hopping, got "Tumbling"'],
    ['LATE_RECORDS', 'keep', 'LATE_RECORDS: expected one of dead-letter, drop, got "keep"'],
    ['OUTPUT_SCHEMA', 'v3', 'OUTPUT_SCHEMA: expected one of v1, v2, got "v3"'],
  ])('refuses %s=%j', (variable, raw, message) => {
    expect(onlyProblem({ [variable]: raw }, variable)).toBe(message);
  });

  it('dead-letters late records by default, and leaves the output schema to the window kind', () => {
    expect(loadConfig(BROKERS)).toMatchObject({ lateRecords: 'dead-letter', outputSchema: undefined });
    expect(loadConfig({ ...BROKERS, LATE_RECORDS: 'drop', OUTPUT_SCHEMA: 'v2' })).toMatchObject({ lateRecords: 'drop', outputSchema: 'v2' });
  });
});

describe('window options: KEY_BY', () => {
  it('reads a comma-separated list in the order given, trimmed and frozen', () => {
    const config = loadConfig({ ...BROKERS, WINDOW: 'tumbling', KEY_BY: ' device, h3 ,partition', H3_RESOLUTION: '9' });
    expect(config.keyBy).toEqual(['device', 'h3', 'partition']);
    expect(Object.isFrozen(config.keyBy)).toBe(true);
    expect(loadConfig(BROKERS).keyBy).toEqual(['partition']);
  });

  it('refuses a kind it does not know, naming it and the list it came in', () => {
    expect(onlyProblem({ WINDOW: 'tumbling', KEY_BY: 'device,city' }, 'KEY_BY')).toBe(
      `KEY_BY: expected ${KEY_LIST}, got "city" in "device,city"`,
    );
    // Kinds are lower case, as documented.
    expect(onlyProblem({ WINDOW: 'tumbling', KEY_BY: 'H3' }, 'KEY_BY')).toBe(`KEY_BY: expected ${KEY_LIST}, got "H3" in "H3"`);
  });

  it('refuses a kind listed twice', () => {
    expect(onlyProblem({ WINDOW: 'tumbling', KEY_BY: 'h3, device, h3' }, 'KEY_BY')).toBe('KEY_BY: lists "h3" twice');
  });

  it('refuses a list with no kind in it (an empty value means the default)', () => {
    expect(onlyProblem({ KEY_BY: ' , ,' }, 'KEY_BY')).toBe(`KEY_BY: expected ${KEY_LIST}, got " , ,"`);
    expect(parserMessage(() => listOf(KEY_KINDS)('KEY_BY', ''))).toBe(`KEY_BY: expected ${KEY_LIST}, got ""`);
    expect(loadConfig({ ...BROKERS, KEY_BY: '' }).keyBy).toEqual(['partition']);
  });

  it.each(['zone', 'h3', 'device', 'partition,device'])('refuses KEY_BY=%s with count windows', (keyBy) => {
    const env = { KEY_BY: keyBy, ...(keyBy === 'zone' ? { ZONES_FILE: '/zones/counties.geojson' } : {}) };
    expect(onlyProblem(env, 'KEY_BY')).toBe(
      'KEY_BY: keys other than partition need event-time windows: set WINDOW=tumbling or hopping (WINDOW is count)',
    );
  });
});

describe('window options: combinations', () => {
  it('refuses OUTPUT_SCHEMA=v1 with event-time windows, naming the window kind', () => {
    expect(onlyProblem({ WINDOW: 'tumbling', OUTPUT_SCHEMA: 'v1' }, 'OUTPUT_SCHEMA')).toBe(
      'OUTPUT_SCHEMA: v1 describes count windows only; WINDOW=tumbling writes v2 (unset OUTPUT_SCHEMA or set v2)',
    );
    expect(onlyProblem({ WINDOW: 'hopping', WINDOW_ADVANCE: '30s', OUTPUT_SCHEMA: 'v1' }, 'OUTPUT_SCHEMA')).toBe(
      'OUTPUT_SCHEMA: v1 describes count windows only; WINDOW=hopping writes v2 (unset OUTPUT_SCHEMA or set v2)',
    );
    // Both schemas describe count windows; v2 describes event-time ones.
    expect(loadConfig({ ...BROKERS, OUTPUT_SCHEMA: 'v1' }).outputSchema).toBe('v1');
    expect(loadConfig({ ...BROKERS, OUTPUT_SCHEMA: 'v2' }).outputSchema).toBe('v2');
    expect(loadConfig({ ...BROKERS, WINDOW: 'tumbling', OUTPUT_SCHEMA: 'v2' }).outputSchema).toBe('v2');
  });

  it('requires WINDOW_ADVANCE with hopping windows', () => {
    expect(onlyProblem({ WINDOW: 'hopping' }, 'WINDOW_ADVANCE')).toBe(
      'WINDOW_ADVANCE: is required with WINDOW=hopping: how far apart windows start, at most WINDOW_SIZE',
    );
  });

  it('refuses a hopping advance longer than the window, in milliseconds', () => {
    expect(onlyProblem({ WINDOW: 'hopping', WINDOW_SIZE: '1m', WINDOW_ADVANCE: '61s' }, 'WINDOW_ADVANCE')).toBe(
      'WINDOW_ADVANCE: must be at most WINDOW_SIZE (60000 ms), got 61000 ms',
    );
    // As long as the window: hopping windows that are tumbling ones.
    const config = loadConfig({ ...BROKERS, WINDOW: 'hopping', WINDOW_SIZE: '1m', WINDOW_ADVANCE: '60s' });
    expect([config.windowSize, config.windowAdvance]).toEqual([60_000, 60_000]);
  });

  it('refuses a hopping advance that puts a record in more than 100 windows, and takes exactly 100', () => {
    expect(onlyProblem({ WINDOW: 'hopping', WINDOW_SIZE: '1m', WINDOW_ADVANCE: '599ms' }, 'WINDOW_ADVANCE')).toBe(
      'WINDOW_ADVANCE: puts each record in 101 windows; at most 100 are allowed (raise WINDOW_ADVANCE)',
    );
    expect(onlyProblem({ WINDOW: 'hopping', WINDOW_SIZE: '1h', WINDOW_ADVANCE: '1s' }, 'WINDOW_ADVANCE')).toBe(
      'WINDOW_ADVANCE: puts each record in 3600 windows; at most 100 are allowed (raise WINDOW_ADVANCE)',
    );
    expect(loadConfig({ ...BROKERS, WINDOW: 'hopping', WINDOW_SIZE: '1m', WINDOW_ADVANCE: '600ms' }).windowAdvance).toBe(600);
  });

  it('refuses a tumbling advance other than the window size, and takes the size itself', () => {
    expect(onlyProblem({ WINDOW: 'tumbling', WINDOW_SIZE: '1m', WINDOW_ADVANCE: '30s' }, 'WINDOW_ADVANCE')).toBe(
      'WINDOW_ADVANCE: tumbling windows advance by their size (60000 ms): unset WINDOW_ADVANCE or use WINDOW=hopping',
    );
    expect(loadConfig({ ...BROKERS, WINDOW: 'tumbling', WINDOW_SIZE: '1m', WINDOW_ADVANCE: '60000' }).windowAdvance).toBe(60_000);
  });

  it('requires ZONES_FILE with KEY_BY=zone', () => {
    expect(onlyProblem({ WINDOW: 'tumbling', KEY_BY: 'zone,device' }, 'ZONES_FILE')).toBe(
      'ZONES_FILE: is required with KEY_BY=zone: a GeoJSON file of Polygon/MultiPolygon features',
    );
    const config = loadConfig({ ...BROKERS, WINDOW: 'tumbling', KEY_BY: 'zone', ZONES_FILE: ' /zones/counties.geojson ' });
    expect(config.zonesFile).toBe('/zones/counties.geojson');
  });

  it('refuses ZONES_FILE without zone in KEY_BY', () => {
    const message = 'ZONES_FILE: is set but KEY_BY does not include zone: add zone to KEY_BY, or unset ZONES_FILE';
    expect(onlyProblem({ ZONES_FILE: '/zones/counties.geojson' }, 'ZONES_FILE')).toBe(message);
    expect(onlyProblem({ WINDOW: 'tumbling', KEY_BY: 'h3', ZONES_FILE: '/zones/counties.geojson' }, 'ZONES_FILE')).toBe(message);
  });

  it('reports every combination that is wrong at once, in a fixed order', () => {
    expect(problemsOf({ KEY_BY: 'zone', OUTPUT_SCHEMA: 'v1', WINDOW: 'hopping', WINDOW_SIZE: '1m', WINDOW_ADVANCE: '2m' })).toEqual([
      { variable: 'OUTPUT_SCHEMA', message: 'OUTPUT_SCHEMA: v1 describes count windows only; WINDOW=hopping writes v2 (unset OUTPUT_SCHEMA or set v2)' },
      { variable: 'WINDOW_ADVANCE', message: 'WINDOW_ADVANCE: must be at most WINDOW_SIZE (60000 ms), got 120000 ms' },
      { variable: 'ZONES_FILE', message: 'ZONES_FILE: is required with KEY_BY=zone: a GeoJSON file of Polygon/MultiPolygon features' },
    ]);
  });
});

describe('window options: zones, cells and caps', () => {
  it('takes H3 resolutions 0 to 15, resolution 7 by default', () => {
    expect(loadConfig(BROKERS).h3Resolution).toBe(7);
    expect(loadConfig({ ...BROKERS, H3_RESOLUTION: '0' }).h3Resolution).toBe(0);
    expect(loadConfig({ ...BROKERS, H3_RESOLUTION: '15' }).h3Resolution).toBe(15);
  });

  it.each(['16', '-1', '7.5', 'seven'])('refuses H3_RESOLUTION=%j', (raw) => {
    expect(onlyProblem({ H3_RESOLUTION: raw }, 'H3_RESOLUTION')).toBe(`H3_RESOLUTION: expected an integer from 0 to 15, got ${JSON.stringify(raw)}`);
  });

  it.each([
    ['WINDOW_MAX_OPEN', '0', 'WINDOW_MAX_OPEN: expected an integer from 1 to 100000, got "0"'],
    ['WINDOW_MAX_OPEN', '100001', 'WINDOW_MAX_OPEN: expected an integer from 1 to 100000, got "100001"'],
    ['WINDOW_MAX_KEYS', '0', 'WINDOW_MAX_KEYS: expected an integer from 1 to 10000000, got "0"'],
    ['WINDOW_MAX_KEYS', '1e6', 'WINDOW_MAX_KEYS: expected an integer from 1 to 10000000, got "1e6"'],
    ['TRACK_MAX_POINTS', '1', 'TRACK_MAX_POINTS: expected an integer from 2 to 10000000, got "1"'],
    ['TRACK_MAX_POINTS', '10000001', 'TRACK_MAX_POINTS: expected an integer from 2 to 10000000, got "10000001"'],
  ])('refuses %s=%j', (variable, raw, message) => {
    expect(onlyProblem({ [variable]: raw }, variable)).toBe(message);
  });

  it('takes the caps at their bounds', () => {
    const low = loadConfig({ ...BROKERS, WINDOW_MAX_OPEN: '1', WINDOW_MAX_KEYS: '1', TRACK_MAX_POINTS: '2' });
    expect([low.windowMaxOpen, low.windowMaxKeys, low.trackMaxPoints]).toEqual([1, 1, 2]);
    const high = loadConfig({ ...BROKERS, WINDOW_MAX_OPEN: '100000', WINDOW_MAX_KEYS: '10000000', TRACK_MAX_POINTS: '10000000' });
    expect([high.windowMaxOpen, high.windowMaxKeys, high.trackMaxPoints]).toEqual([100_000, 10_000_000, 10_000_000]);
  });

  it('keeps the zone id property and the unmatched key as given, trimmed', () => {
    const config = loadConfig({ ...BROKERS, WINDOW: 'tumbling', KEY_BY: 'zone', ZONES_FILE: 'z.geojson', ZONE_ID_PROPERTY: ' GEOID ', ZONE_UNMATCHED: ' elsewhere ' });
    expect([config.zoneIdProperty, config.zoneUnmatched]).toEqual(['GEOID', 'elsewhere']);
    expect([loadConfig(BROKERS).zoneIdProperty, loadConfig(BROKERS).zoneUnmatched]).toEqual(['id', 'drop']);
  });

  it('refuses blank text where a value is needed (loadConfig takes a blank value as unset)', () => {
    expect(parserMessage(() => text('ZONE_ID_PROPERTY', '  '))).toBe('ZONE_ID_PROPERTY: expected a non-empty value');
    expect(loadConfig({ ...BROKERS, ZONE_ID_PROPERTY: '  ' }).zoneIdProperty).toBe('id');
  });
});

describe('durations with decimals', () => {
  it.each([
    ['4.1m', 246_000],
    ['8.2m', 492_000],
    ['1.1h', 3_960_000],
    ['2.2h', 7_920_000],
    ['1.005s', 1_005],
    ['0.5s', 500],
  ])('reads %s exactly as %d ms', (raw, ms) => {
    expect(duration(1, 31 * 86_400_000)('WINDOW_SIZE', raw)).toBe(ms);
  });

  it('reads every three-decimal second exactly', () => {
    for (let ms = 1; ms < 100_000; ms += 7) {
      expect(duration(1, 31 * 86_400_000)('WINDOW_SIZE', `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}s`)).toBe(ms);
    }
  });
});

describe('CHUNK_SIZE=auto', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:9092' };
  it('is 2000 rows for count windows and 10000 for event time; a number is kept', () => {
    expect(chunkRows(loadConfig(base))).toBe(2000);
    expect(chunkRows(loadConfig({ ...base, WINDOW: 'tumbling' }))).toBe(10_000);
    expect(chunkRows(loadConfig({ ...base, WINDOW: 'hopping', WINDOW_ADVANCE: '30s', CHUNK_SIZE: '500' }))).toBe(500);
  });
});
