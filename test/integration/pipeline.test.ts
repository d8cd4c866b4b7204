import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { metricValue, runCli, ServiceProcess } from '../support/cli.js';
import { committedOffsets, createTopics, endOffsets, header, readAll, uniqueTopics, waitFor, type ReadRecord } from '../support/kafka.js';

const GOOD = 50_000;
const BAD = 500;
const PARTITIONS = 6;
/** float32 keeps ~7 significant digits: about 1e-5 degrees at longitude 180. */
const FLOAT32_DEGREES = 2e-5;

interface Aggregate {
  schema: string;
  window: { type: string; size: number; partial: boolean; closedBy: string };
  source: { topic: string; partition: number; firstOffset: number; lastOffset: number };
  count: number;
  centroid: [number, number];
  bbox: [number, number, number, number];
  hull: { type: string; coordinates: number[][][] } | null;
  hullAreaM2: number;
  readings: Record<string, { count: number; min: number | null; max: number | null; mean: number | null }>;
}

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
  const topics = uniqueTopics('in', 'out', 'dlq');
  const groupId = `${topics.in}-group`;
  let service: ServiceProcess;
  let exitCode: number | null;
  let metricsText: string;
  let inputs: ReadRecord[];
  let outputs: ReadRecord[];
  let deadLetters: ReadRecord[];

  beforeAll(async () => {
    await createTopics(brokers, { [topics.in]: PARTITIONS, [topics.out]: 3, [topics.dlq]: 1 });
    const produced = await runCli(
      ['produce', '--topic', topics.in, '--devices', '240', '--rate', '0', '--count', String(GOOD + BAD),
        '--bad-ratio', String(BAD / (GOOD + BAD)), '--seed', '42'],
      { KAFKA_BROKERS: brokers },
    );
    expect(produced.code, produced.stderr).toBe(0);
    expect(JSON.parse(produced.stdout)).toMatchObject({ sent: GOOD + BAD, good: GOOD, bad: BAD });

    service = new ServiceProcess({
      KAFKA_BROKERS: brokers,
      INPUT_TOPIC: topics.in,
      OUTPUT_TOPIC: topics.out,
      DLQ_TOPIC: topics.dlq,
      GROUP_ID: groupId,
      WORKERS: '2',
      WINDOW_IDLE_MS: '500',
      COMMIT_INTERVAL_MS: '200',
    });
    const ends = await endOffsets(brokers, topics.in);
    await waitFor(
      'committed offsets at the end of every partition',
      async () => {
        const committed = await committedOffsets(brokers, groupId, topics.in);
        return [...ends].every(([partition, end]) => committed.get(partition) === end) ? true : undefined;
      },
      120_000,
      () => (service.child.exitCode === null ? undefined : `the service exited with ${service.child.exitCode}: ${service.stderr}`),
    );
    metricsText = await service.metrics();
    exitCode = await service.stop('SIGTERM');
    [inputs, outputs, deadLetters] = await Promise.all([
      readAll(brokers, topics.in),
      readAll(brokers, topics.out),
      readAll(brokers, topics.dlq),
    ]);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
  });

  it('stops cleanly on SIGTERM', () => {
    expect(exitCode).toBe(0);
    // kafkajs logs retried protocol errors at error level; geowindow's own lines must have none.
    expect(service.logs.filter((line) => line.level >= 50 && line.component !== 'kafkajs')).toEqual([]);
  });

  it('counts every good record in exactly one aggregate', () => {
    const aggregates = outputs.map((record) => JSON.parse(record.value!.toString()) as Aggregate);
    expect(aggregates.reduce((sum, a) => sum + a.count, 0)).toBe(GOOD);
    // Windows of a partition tile its offsets without overlap.
    const byPartition = new Map<number, Aggregate[]>();
    for (const a of aggregates) byPartition.set(a.source.partition, [...(byPartition.get(a.source.partition) ?? []), a]);
    for (const windows of byPartition.values()) {
      windows.sort((a, b) => a.source.firstOffset - b.source.firstOffset);
      for (let i = 1; i < windows.length; i++) {
        expect(windows[i]!.source.firstOffset).toBeGreaterThan(windows[i - 1]!.source.lastOffset);
      }
    }
    // Full windows hold exactly CHUNK_SIZE records; only partial ones hold fewer.
    for (const a of aggregates) {
      expect(a.schema).toBe('geowindow.aggregate.v1');
      expect(a.source.topic).toBe(topics.in);
      if (!a.window.partial) expect(a.count).toBe(2000);
      expect(a.count).toBeLessThanOrEqual(2000);
    }
  });

  it('computes count, centroid, bbox and readings that match the records', () => {
    const inputIndex = new Map(inputs.map((r) => [`${r.partition}:${r.offset}`, r]));
    for (const record of outputs) {
      const a = JSON.parse(record.value!.toString()) as Aggregate;
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
  });

  it('committed the end of every partition', async () => {
    const ends = await endOffsets(brokers, topics.in);
    const committed = await committedOffsets(brokers, groupId, topics.in);
    for (const [partition, end] of ends) expect(committed.get(partition)).toBe(end);
  });
});
