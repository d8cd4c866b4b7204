import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { metricValue, type ServiceProcess } from '../support/cli.js';
import { committedOffsets, endOffsets, header, type ReadRecord } from '../support/kafka.js';
import { reconcile, type AggregateRecord } from '../support/reconcile.js';
import {
  produceFleet,
  readScenario,
  scenarioTopics,
  serviceErrors,
  startService,
  waitForCommittedEnd,
  type ScenarioTopics,
} from '../support/scenario.js';
const GOOD = 50_000;
const BAD = 500;
const PARTITIONS = 6;
/** float32 keeps ~7 significant digits: about 1e-5 degrees at longitude 180. */
const FLOAT32_DEGREES = 2e-5;

/** The test's own reading of a good record, written apart from the service's decoder. */
function pointOf(record: ReadRecord): { lon: number; lat: number; readings: Record<string, number | null> } {
  const parsed = JSON.parse(record.value!.toString()) as Record<string, unknown>;
  if (parsed.type === 'Feature') {
    const geometry = parsed.geometry as { coordinates: [number, number] };
    const properties = parsed.properties as { readings?: Record<string, number | null> };
    return { lon: geometry.coordinates[0], lat: geometry.coordinates[1], readings: properties.readings ?? {} };
  }
  return {
    lon: parsed.lon as number,
    lat: parsed.lat as number,
    readings: (parsed.readings as Record<string, number | null> | undefined) ?? {},
  };
}

describe('end to end on a real broker', () => {
  const brokers = inject('kafkaBrokers');
  let topics: ScenarioTopics;
  let service: ServiceProcess;
  let exitCode: number | null;
  let metricsText: string;
  let inputs: ReadRecord[];
  let outputs: ReadRecord[];
  let deadLetters: ReadRecord[];

  beforeAll(async () => {
    topics = await scenarioTopics(brokers, PARTITIONS);
    await produceFleet(brokers, topics.in, { good: GOOD, bad: BAD });
    service = await startService(brokers, topics);
    await waitForCommittedEnd(brokers, topics, service);
    metricsText = await service.metrics();
    exitCode = await service.stop('SIGTERM');
    ({ inputs, outputs, deadLetters } = await readScenario(brokers, topics));
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
  });

  it('stops cleanly on SIGTERM', () => {
    expect(exitCode).toBe(0);
    expect(serviceErrors(service)).toEqual([]);
  });

  it('counts every good record in exactly one aggregate and every bad one in the dead-letter topic', () => {
    const result = reconcile(topics.in, inputs, outputs, deadLetters);
    expect(result.aggregated).toBe(GOOD);
    expect([...result.deadLettered.values()].reduce((a, b) => a + b, 0)).toBe(BAD);
    expect(result.duplicates).toBe(0);
    for (const a of result.aggregates) {
      expect(a.schema).toBe('geowindow.aggregate.v1');
      // A full window holds exactly CHUNK_SIZE records, its dead-lettered ones included; records too
      // large to copy (oversized) are dead-lettered before any window and only lie in its range.
      const { partition, firstOffset, lastOffset } = a.source;
      const oversized = deadLetters.filter((d) => {
        const offset = Number(header(d, 'geowindow-source-offset'));
        return Number(header(d, 'geowindow-source-partition')) === partition && offset >= firstOffset && offset <= lastOffset &&
          header(d, 'geowindow-dlq-reason') === 'oversized';
      }).length;
      const rows = lastOffset - firstOffset + 1 - oversized;
      if (!a.window.partial) expect(rows).toBe(2000);
      expect(rows).toBeLessThanOrEqual(2000);
      expect(a.count).toBeLessThanOrEqual(rows);
    }
  });

  it('computes count, centroid, bbox and readings that match the records', () => {
    const inputIndex = new Map(inputs.map((r) => [`${r.partition}:${r.offset}`, r]));
    for (const record of outputs) {
      const a = JSON.parse(record.value!.toString()) as AggregateRecord;
      const good: ReadRecord[] = [];
      for (let offset = a.source.firstOffset; offset <= a.source.lastOffset; offset++) {
        const input = inputIndex.get(`${a.source.partition}:${offset}`)!;
        if (header(input, 'geowindow-fleet-expect') === undefined) good.push(input);
      }
      expect(a.count).toBe(good.length);
      const points = good.map(pointOf);
      const lons = points.map((p) => Math.fround(p.lon));
      const lats = points.map((p) => Math.fround(p.lat));
      const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
      expect(a.centroid[0]).toBeCloseTo(mean(lons), 9);
      expect(a.centroid[1]).toBeCloseTo(mean(lats), 9);
      const bbox = [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
      a.bbox.forEach((value, i) => expect(Math.abs(value - bbox[i]!)).toBeLessThanOrEqual(FLOAT32_DEGREES));
      if (a.count >= 3) {
        expect(a.hull?.type).toBe('Polygon');
        expect(a.hullAreaM2).toBeGreaterThan(0);
      }
      const temps = points.map((p) => p.readings.temp_c).filter((v): v is number => typeof v === 'number');
      if (temps.length > 0) {
        expect(a.readings.temp_c!.count).toBe(temps.length);
        expect(a.readings.temp_c!.min).toBeCloseTo(Math.fround(Math.min(...temps)), 5);
        expect(a.readings.temp_c!.max).toBeCloseTo(Math.fround(Math.max(...temps)), 5);
        expect(a.readings.temp_c!.mean).toBeCloseTo(mean(temps.map((t) => Math.fround(t))), 4);
      }
    }
  });

  it('dead-letters exactly the bad records, with the reason and source position', () => {
    expect(deadLetters).toHaveLength(BAD);
    const inputIndex = new Map(inputs.map((r) => [`${r.partition}:${r.offset}`, r]));
    for (const dead of deadLetters) {
      const source = inputIndex.get(`${header(dead, 'geowindow-source-partition')}:${header(dead, 'geowindow-source-offset')}`);
      expect(source).toBeDefined();
      expect(header(dead, 'geowindow-source-topic')).toBe(topics.in);
      expect(header(dead, 'geowindow-dlq-reason')).toBe(header(source!, 'geowindow-fleet-expect'));
      expect(Buffer.compare(dead.value ?? Buffer.alloc(0), source!.value ?? Buffer.alloc(0))).toBe(0);
    }
  });

  it('reports the same numbers in its metrics', () => {
    expect(metricValue(metricsText, 'geowindow_records_in_total')).toBe(GOOD + BAD);
    expect(metricValue(metricsText, 'geowindow_records_aggregated_total')).toBe(GOOD);
    const deadLettered = metricsText
      .split('\n')
      .filter((line) => line.startsWith('geowindow_records_dead_lettered_total{'))
      .reduce((sum, line) => sum + Number(line.split(' ')[1]), 0);
    expect(deadLettered).toBe(BAD);
    expect(metricValue(metricsText, 'geowindow_windows_emitted_total', 'closed_by="count"')).toBeGreaterThan(0);
    // The workers' heaps, as they reported them after their chunks.
    const workerHeapUsed = metricValue(metricsText, 'geowindow_worker_heap_used_bytes')!;
    expect(workerHeapUsed).toBeGreaterThan(0);
    expect(workerHeapUsed).toBeLessThanOrEqual(metricValue(metricsText, 'geowindow_worker_heap_total_bytes')!);
  });

  it('committed the end of every partition', async () => {
    const ends = await endOffsets(brokers, topics.in);
    const committed = await committedOffsets(brokers, topics.group, topics.in);
    for (const [partition, end] of ends) expect(committed.get(partition)).toBe(end);
  });
});
