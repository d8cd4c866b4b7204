import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { drawMap, parseMapArgs } from '../../src/commands/map.js';
import { MapDataError, UsageError } from '../../src/errors.js';
import { parseZones } from '../../src/shared/zones/zone-set.js';
import { colourAt } from '../../src/tools/colour-scale.js';
import { mergeZoneWindows, selectMap } from '../../src/tools/map-data.js';
import { fitProjection } from '../../src/tools/map-projection.js';
import { featureNames, renderMap } from '../../src/tools/map.js';

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-26T10:00:00Z');

const square = (w: number, s: number, e: number, n: number) => [[[w, s], [e, s], [e, n], [w, n], [w, s]]];
const COLLECTION = {
  type: 'FeatureCollection',
  features: [
    { type: 'Feature', properties: { id: 'A', name: 'Alpha & Co' }, geometry: { type: 'Polygon', coordinates: square(-100, 40, -99, 41) } },
    { type: 'Feature', properties: { id: 'B', name: 'Beta' }, geometry: { type: 'Polygon', coordinates: square(-99, 40, -98, 41) } },
    { type: 'Feature', properties: { id: 'C' }, geometry: { type: 'Polygon', coordinates: square(-98, 40, -97, 41) } },
    {
      type: 'Feature',
      properties: { id: 'D' },
      // Across the antimeridian, as the Aleutians are.
      geometry: { type: 'MultiPolygon', coordinates: [square(179, 50, 180, 51), square(-180, 50, -179, 51)] },
    },
  ],
};
const ZONES = parseZones(JSON.stringify(COLLECTION), 'test', 'id');

interface Stats {
  count: number;
  min: number;
  max: number;
  sum: number;
}

function aggregate(zone: string, start: number, partition: number, count: number, readings: Record<string, Stats>, firstOffset = 0) {
  return {
    schema: 'geowindow.aggregate.v2',
    window: { kind: 'tumbling', start, end: start + MINUTE, closedBy: 'watermark' },
    key: { by: 'zone', id: zone },
    source: { topic: 'sensor-readings', partition, firstOffset, lastOffset: firstOffset + count },
    count,
    devices: 1,
    readings: Object.fromEntries(Object.entries(readings).map(([name, s]) => [name, { ...s, mean: s.sum / s.count }])),
    emittedAt: start + 2 * MINUTE,
  };
}

const pm = (count: number, min: number, max: number, sum: number) => ({ pm25: { count, min, max, sum } });

/** Fill colour of a zone's path in the rendered HTML. */
function fillOf(html: string, zone: string): string {
  const match = new RegExp(`fill="(#[0-9a-f]{6})" data-zone="${zone}"`).exec(html);
  if (match === null) throw new Error(`no coloured path for zone ${zone}`);
  return match[1]!;
}

/** Relative luminance (sRGB, WCAG): viridis gets lighter as values rise. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((at) => {
    const c = parseInt(hex.slice(at, at + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

describe('map data', () => {
  it('merges the partitions of a zone window: counts and sums added, min of minima, max of maxima', () => {
    const windows = mergeZoneWindows([
      aggregate('A', T0, 0, 10, pm(8, 2, 30, 100)),
      aggregate('A', T0, 3, 5, { ...pm(4, 1, 20, 40), temp_c: { count: 5, min: -1, max: 3, sum: 5 } }),
      aggregate('A', T0 + MINUTE, 0, 7, pm(7, 5, 9, 49)),
    ]);
    const merged = windows.find((w) => w.zone === 'A' && w.start === T0)!;
    expect(merged.count).toBe(15);
    expect(merged.readings.get('pm25')).toEqual({ count: 12, sum: 140, min: 1, max: 30 });
    expect(merged.readings.get('temp_c')).toEqual({ count: 5, sum: 5, min: -1, max: 3 });
    expect(windows).toHaveLength(2);
  });

  it('lets a replayed aggregate supersede the earlier one with its identity instead of adding to it', () => {
    const windows = mergeZoneWindows([aggregate('A', T0, 0, 10, pm(10, 1, 9, 50)), aggregate('A', T0, 0, 12, pm(12, 1, 9, 72))]);
    expect(windows).toHaveLength(1);
    expect(windows[0]!.count).toBe(12);
    expect(windows[0]!.readings.get('pm25')!.sum).toBe(72);
  });

  it('skips v1 aggregates, count windows and other keys', () => {
    const v1 = { schema: 'geowindow.aggregate.v1', window: { type: 'count' }, key: { partition: 0 }, count: 5, readings: {} };
    const count = { ...aggregate('A', T0, 0, 3, pm(3, 1, 2, 4)), window: { kind: 'count', start: null, end: null, closedBy: 'count' } };
    const h3 = { ...aggregate('A', T0, 0, 3, pm(3, 1, 2, 4)), key: { by: 'h3', id: '8928308280fffff' } };
    expect(mergeZoneWindows([v1, count, h3, 'not json', null])).toEqual([]);
  });

  it('picks the window with the most zones for the reading, the latest of equals, and the most common reading', () => {
    const windows = mergeZoneWindows([
      aggregate('A', T0, 0, 5, pm(5, 1, 2, 7)),
      aggregate('B', T0, 0, 5, pm(5, 1, 2, 7)),
      aggregate('A', T0 + MINUTE, 0, 5, pm(5, 1, 2, 7)),
      aggregate('B', T0 + MINUTE, 1, 5, pm(5, 1, 2, 7)),
      aggregate('A', T0 + 2 * MINUTE, 0, 5, { ...pm(5, 1, 2, 7), no2: { count: 1, min: 1, max: 1, sum: 1 } }),
    ]);
    const chosen = selectMap(windows)!;
    expect(chosen.reading).toBe('pm25');
    expect([chosen.start, chosen.end]).toEqual([T0 + MINUTE, T0 + 2 * MINUTE]);
    expect(selectMap(windows, 'no2')!.start).toBe(T0 + 2 * MINUTE);
  });
});

describe('map rendering', () => {
  const aggregates = [
    aggregate('A', T0, 0, 10, pm(10, 1, 30, 100)),
    aggregate('A', T0, 2, 10, pm(10, 2, 40, 300)),
    aggregate('B', T0, 1, 4, pm(4, 5, 8, 24)),
    aggregate('D', T0, 1, 3, { temp_c: { count: 3, min: 1, max: 2, sum: 4 } }),
  ];
  const render = () =>
    renderMap({ zones: ZONES, names: featureNames(COLLECTION), aggregates, from: 'demo-aggregates' });

  it('renders one self-contained HTML page with an inline SVG: title, zones, tooltips, legend', () => {
    const { html, zonesWithData, unknownZones, selection } = render();
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)|<link|<img/);
    expect(html.match(/<svg /g)).toHaveLength(1);
    expect(html).toContain('pm25 mean per zone, 2026-11-26T10:00:00.000Z – 2026-11-26T10:01:00.000Z');
    expect(html).toContain('2 of 4 zones with pm25 · 27 records · topic sensor-readings · read from demo-aggregates');
    expect(html).toContain('<title>A Alpha &amp; Co: pm25 mean 20.0 (20 readings), 20 records</title>');
    expect(html).toContain('<title>C: no records in this window</title>');
    expect(html).toContain('<title>D: 3 records, none with pm25</title>');
    expect(html.match(/<path /g)).toHaveLength(4);
    expect(html.match(/class="nodata"/g)).toHaveLength(2);
    expect([zonesWithData, unknownZones, selection.records]).toEqual([2, 0, 27]);
    // Well-formed enough for an XML parser: every path element closed, no raw ampersand.
    expect(html.match(/<path /g)!.length).toBe(html.match(/<\/path>/g)!.length);
    expect(html.replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toContain('&');
  });

  it('spans the legend from the smallest to the largest merged zone mean', () => {
    const { html } = render();
    // A: (100 + 300) / 20 = 20; B: 24 / 4 = 6.
    expect(html).toContain('<g class="legend" data-min="6" data-max="20">');
    expect(html).toMatch(/<text class="tick"[^>]*>6\.0<\/text>/);
    expect(html).toMatch(/<text class="tick"[^>]*>20\.0<\/text>/);
    expect(html.match(/<text class="tick"/g)).toHaveLength(5);
  });

  it('colours the zone with the larger mean lighter, at the two ends of the scale', () => {
    const { html } = render();
    expect(fillOf(html, 'A')).toBe(colourAt(1));
    expect(fillOf(html, 'B')).toBe(colourAt(0));
    expect(luminance(fillOf(html, 'A'))).toBeGreaterThan(luminance(fillOf(html, 'B')));
    for (let t = 0; t < 1; t += 0.05) expect(luminance(colourAt(t + 0.05))).toBeGreaterThan(luminance(colourAt(t)));
  });

  it('draws the antimeridian zone beside the others instead of across the whole map', () => {
    const project = fitProjection([0, 1, 2, 3].map((i) => ZONES.geometry(i)));
    const [xWest] = project(179.5, 50.5);
    const [xEast] = project(-179.5, 50.5);
    const [xA] = project(-99.5, 40.5);
    expect(Math.abs(xWest - xEast)).toBeLessThan(Math.abs(xWest - xA));
    expect(xWest).toBeLessThan(xEast);
  });

  it('refuses a reading no zone window has, and input without zone windows', () => {
    expect(() => renderMap({ zones: ZONES, aggregates, reading: 'co2' })).toThrow(UsageError);
    expect(() => renderMap({ zones: ZONES, aggregates, reading: 'co2' })).toThrow('zone windows per reading: pm25 (2), temp_c (1)');
    expect(() => renderMap({ zones: ZONES, aggregates: [], from: 'topic x' })).toThrow(MapDataError);
    const coloured = renderMap({ zones: ZONES, aggregates, reading: 'temp_c' });
    expect(coloured.zonesWithData).toBe(1);
  });
});

describe('geowindow map', () => {
  it('draws the map of a JSON-lines file of aggregates into --out and returns its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-map-'));
    const zonesFile = join(dir, 'zones.geojson');
    const lines = join(dir, 'aggregates.jsonl');
    writeFileSync(zonesFile, JSON.stringify(COLLECTION));
    const records = [aggregate('A', T0, 0, 4, pm(4, 1, 3, 8)), aggregate('B', T0, 1, 2, pm(2, 5, 7, 12))];
    writeFileSync(lines, `${records.map((r) => JSON.stringify(r)).join('\n')}\n\n`);
    const options = parseMapArgs(['--zones', zonesFile, '--aggregates', lines, '--out', join(dir, 'map.html')], {});
    const { path, result } = await drawMap(options);
    expect(path).toBe(join(dir, 'map.html'));
    expect(readFileSync(path, 'utf8')).toBe(result.html);
    expect(result.zonesWithData).toBe(2);
    expect(result.html).toContain('<title>B Beta: pm25 mean 6.00 (2 readings), 2 records</title>');
  });

  it('refuses incomplete or contradictory options, naming the flag', () => {
    expect(() => parseMapArgs(['--topic', 't'], {})).toThrow('--zones is required');
    expect(() => parseMapArgs(['--zones', 'z'], {})).toThrow('give exactly one of --topic and --aggregates');
    expect(() => parseMapArgs(['--zones', 'z', '--topic', 't', '--aggregates', 'a'], {})).toThrow('give exactly one of --topic and --aggregates');
    expect(() => parseMapArgs(['--zones', 'z', '--topic', 't'], {})).toThrow('no brokers');
    expect(() => parseMapArgs(['--zones', 'z', '--topic', 'bad topic!', '--brokers', 'h:1'], {})).toThrow('--topic: expected a Kafka topic name');
    expect(() => parseMapArgs(['--zones', 'z', '--aggregates', 'a', '--timeout', '0'], {})).toThrow('--timeout: expected an integer from 1 to 3600');
    expect(parseMapArgs(['--zones', 'z', '--topic', 't'], { KAFKA_BROKERS: 'h:1' })).toMatchObject({
      out: 'geowindow-map.html',
      idProperty: 'id',
      source: { topic: 't', brokers: ['h:1'] },
    });
  });
});
