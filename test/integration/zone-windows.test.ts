import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latLngToCell } from 'h3-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli, type ServiceProcess } from '../support/cli.js';
import { addTo, lateness, readReading, RefZones, trackDistanceM, type RefReading, type RefWindow } from '../support/event-reference.js';
import { committedOffsets, endOffsets, header, type ReadRecord } from '../support/kafka.js';
import { readScenario, scenarioTopics, serviceErrors, startService, waitForCommittedEnd, type ScenarioTopics } from '../support/scenario.js';

const GOOD = 24_000;
const BAD = 120;
const LATE_RATIO = 0.01;
const PARTITIONS = 6;
const MINUTE = 60_000;
const GRACE_MS = 15_000;
const DISORDER_MS = 10_000;
/** 25 ms of event time per record: ~10 minutes over the whole fleet, so ten 1-minute windows per key. */
const STEP_MS = 25;
const H3_RESOLUTION = 5;

interface V2 {
  schema: string;
  window: { kind: string; start: number; end: number; closedBy: string };
  key: { by: string; id: string };
  source: { topic: string; partition: number; firstOffset: number; lastOffset: number };
  count: number;
  readings: Record<string, { count: number; min: number; max: number; mean: number; sum: number }>;
  track?: { points: number; distanceM: number; first: { ts: number }; last: { ts: number } };
}

/** Real county polygons from us-atlas, written by the CLI as users would. */
async function countiesFile(): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'gw-counties-')), 'counties.geojson');
  const result = await runCli(['zones', 'us-counties', '--out', file]);
  expect(result.code, result.stderr).toBe(0);
  return file;
}

describe('event-time zone, H3 and device windows on a real broker, real county polygons', () => {
  const brokers = inject('kafkaBrokers');
  let topics: ScenarioTopics;
  let service: ServiceProcess;
  let exitCode: number | null;
  let zonesPath: string;
  let inputs: ReadRecord[];
  let outputs: V2[];
  let deadLetters: ReadRecord[];
  let readings: RefReading[];
  let late: Set<string>;

  beforeAll(async () => {
    zonesPath = await countiesFile();
    topics = await scenarioTopics(brokers, PARTITIONS);
    const total = GOOD + BAD;
    // Event time starts two hours ago: the idle close (by the wall clock) ends every window once the fleet is read.
    const start = Date.now() - 2 * 3_600_000 - ((Date.now() - 2 * 3_600_000) % MINUTE);
    const produced = await runCli(
      ['produce', '--topic', topics.in, '--devices', '300', '--rate', '0', '--count', String(total), '--bad-ratio', String(BAD / total),
        '--seed', '9', '--zones', zonesPath, '--start-ts', String(start), '--step-ms', String(STEP_MS), '--disorder-ms', String(DISORDER_MS),
        '--late-ratio', String(LATE_RATIO), '--late-by-ms', String(30 * MINUTE)],
      { KAFKA_BROKERS: brokers },
    );
    expect(produced.code, produced.stderr).toBe(0);
    service = await startService(brokers, topics, {
      WINDOW: 'tumbling',
      WINDOW_SIZE: '1m',
      WINDOW_GRACE: `${GRACE_MS / 1000}s`,
      KEY_BY: 'zone,h3,device',
      ZONES_FILE: zonesPath,
      ZONE_UNMATCHED: 'outside',
      H3_RESOLUTION: String(H3_RESOLUTION),
      IDLE_PARTITION_MS: '2s',
    });
    await waitForCommittedEnd(brokers, topics, service);
    exitCode = await service.stop('SIGTERM');
    const scenario = await readScenario(brokers, topics);
    inputs = scenario.inputs;
    deadLetters = scenario.deadLetters;
    outputs = scenario.outputs.map((r) => JSON.parse(r.value!.toString()) as V2);
    readings = inputs.map(readReading).filter((r): r is RefReading => r !== undefined);
    late = lateness(readings, MINUTE, GRACE_MS);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
  });

  it('stops cleanly, writes schema v2 keyed by the window identity, each window once', () => {
    expect(exitCode).toBe(0);
    expect(serviceErrors(service)).toEqual([]);
    const identities = outputs.map((a) => `${a.key.by}:${a.key.id}|${a.window.start}|${a.source.partition}`);
    expect(new Set(identities).size).toBe(outputs.length);
    for (const a of outputs) {
      expect(a.schema).toBe('geowindow.aggregate.v2');
      expect(a.window.kind).toBe('tumbling');
      expect(a.window.end - a.window.start).toBe(MINUTE);
      expect(a.window.start % MINUTE).toBe(0);
      expect(['watermark', 'idle']).toContain(a.window.closedBy);
    }
    expect(outputs.filter((a) => a.window.closedBy === 'watermark').length).toBeGreaterThan(outputs.length / 2);
  });

  it('dead-letters exactly the late records (reason late) and the bad ones, nothing else', () => {
    expect(late.size).toBeGreaterThan(GOOD * LATE_RATIO * 0.5);
    const byReason = new Map<string, Set<string>>();
    for (const d of deadLetters) {
      const reason = header(d, 'geowindow-dlq-reason')!;
      const at = `${header(d, 'geowindow-source-partition')}:${header(d, 'geowindow-source-offset')}`;
      if (!byReason.has(reason)) byReason.set(reason, new Set());
      byReason.get(reason)!.add(at);
    }
    expect(byReason.get('late')).toEqual(late);
    const bad = new Set(inputs.filter((r) => readReading(r) === undefined).map((r) => `${r.partition}:${r.offset}`));
    const others = new Set([...byReason].filter(([reason]) => reason !== 'late').flatMap(([, at]) => [...at]));
    expect(others).toEqual(bad);
    expect(deadLetters).toHaveLength(late.size + BAD);
  });

  it('per zone and window, summed over partitions: count and every reading sum/min/max as computed independently', () => {
    const zones = new RefZones(JSON.parse(readFileSync(zonesPath, 'utf8')));
    const expected = new Map<string, RefWindow>();
    for (const r of readings) {
      if (late.has(`${r.partition}:${r.offset}`)) continue;
      addTo(expected, `${zones.zoneOf(r.lon, r.lat) ?? 'outside'}|${Math.floor(r.ts / MINUTE) * MINUTE}`, r);
    }
    const actual = new Map<string, { count: number; readings: Map<string, { count: number; sum: number; min: number; max: number }> }>();
    for (const a of outputs.filter((o) => o.key.by === 'zone')) {
      const k = `${a.key.id}|${a.window.start}`;
      let w = actual.get(k);
      if (w === undefined) actual.set(k, (w = { count: 0, readings: new Map() }));
      w.count += a.count;
      for (const [name, s] of Object.entries(a.readings)) {
        const t = w.readings.get(name) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity };
        w.readings.set(name, { count: t.count + s.count, sum: t.sum + s.sum, min: Math.min(t.min, s.min), max: Math.max(t.max, s.max) });
      }
    }
    expect(expected.size).toBeGreaterThan(500);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, want] of expected) {
      const got = actual.get(k)!;
      expect(got.count, k).toBe(want.count);
      expect([...got.readings.keys()].sort(), k).toEqual([...want.readings.keys()].sort());
      for (const [name, t] of want.readings) {
        const g = got.readings.get(name)!;
        expect(g.count, `${k} ${name}`).toBe(t.count);
        expect(g.min, `${k} ${name}`).toBe(t.min);
        expect(g.max, `${k} ${name}`).toBe(t.max);
        expect(Math.abs(g.sum - t.sum), `${k} ${name}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(t.sum)));
      }
    }
  });

  it('per H3 cell and window: the counts h3-js gives', () => {
    const expected = new Map<string, number>();
    for (const r of readings) {
      if (late.has(`${r.partition}:${r.offset}`)) continue;
      const k = `${latLngToCell(r.lat, r.lon, H3_RESOLUTION)}|${Math.floor(r.ts / MINUTE) * MINUTE}`;
      expected.set(k, (expected.get(k) ?? 0) + 1);
    }
    const actual = new Map<string, number>();
    for (const a of outputs.filter((o) => o.key.by === 'h3')) {
      const k = `${a.key.id}|${a.window.start}`;
      actual.set(k, (actual.get(k) ?? 0) + a.count);
    }
    expect(actual).toEqual(expected);
  });

  it('per device and window: the track distance of its points in event-time order', () => {
    const byDevice = new Map<string, RefWindow>();
    for (const r of readings) {
      if (!late.has(`${r.partition}:${r.offset}`)) addTo(byDevice, `${r.device}|${Math.floor(r.ts / MINUTE) * MINUTE}|${r.partition}`, r);
    }
    const tracks = outputs.filter((o) => o.key.by === 'device');
    expect(tracks.length).toBe(byDevice.size);
    let moving = 0;
    for (const a of tracks) {
      const want = byDevice.get(`${a.key.id}|${a.window.start}|${a.source.partition}`)!;
      expect(a.count).toBe(want.count);
      expect(a.track!.points).toBe(want.count);
      const distance = trackDistanceM(want.points);
      expect(Math.abs(a.track!.distanceM - distance), a.key.id).toBeLessThanOrEqual(1e-6 * Math.max(1, distance));
      if (distance > 100) moving++;
    }
    expect(moving).toBeGreaterThan(10);
  });

  it('committed the end of every partition', async () => {
    const ends = await endOffsets(brokers, topics.in);
    const committed = await committedOffsets(brokers, topics.group, topics.in);
    for (const [partition, end] of ends) expect(committed.get(partition)).toBe(end);
  });
});
