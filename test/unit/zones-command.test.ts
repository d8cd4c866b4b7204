import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleOverlaps, zonesCommand, type ZonesCheckSummary } from '../../src/commands/zones.js';
import { UsageError, ZonesFileError } from '../../src/errors.js';
import { zonesFromGeoJson } from '../../src/shared/zones/zone-set.js';

const dir = mkdtempSync(join(tmpdir(), 'geowindow-zones-command-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const square = (w: number, s: number, e: number, n: number) => [
  [
    [w, s],
    [e, s],
    [e, n],
    [w, n],
    [w, s],
  ],
];
const squares = (...boxes: [number, number, number, number][]) => ({
  type: 'FeatureCollection',
  features: boxes.map((box, i) => ({ type: 'Feature', properties: { code: `s${i}` }, geometry: { type: 'Polygon', coordinates: square(...box) } })),
});

describe('geowindow zones', () => {
  it('us-counties writes a file that check accepts and summarises', () => {
    const file = join(dir, 'counties.geojson');
    expect(JSON.parse(zonesCommand(['us-counties', '--out', file]))).toEqual({ file, zones: 3231, idProperty: 'id' });
    const summary = JSON.parse(zonesCommand(['check', file, '--overlap-samples', '2000'])) as ZonesCheckSummary;
    expect(summary).toMatchObject({ file, idProperty: 'id', zones: 3231, polygons: 3510, rings: 3531, positions: 68_313 });
    expect(summary.oddities.selfIntersectingRings).toBe(22);
    expect(summary.overlaps).toMatchObject({ points: 2000, inTwoOrMore: 0 });
    expect(summary.extent[0]).toBeLessThan(-179);
    expect(summary.loadMs).toBeGreaterThanOrEqual(0);
    const features = (JSON.parse(readFileSync(file, 'utf8')) as { features: { properties: { id: string; name: string } }[] }).features;
    expect(features.find((f) => f.properties.id === '06075')?.properties.name).toBe('San Francisco');
  });

  it('us-states writes the states', () => {
    const file = join(dir, 'states.geojson');
    expect(JSON.parse(zonesCommand(['us-states', '--out', file]))).toEqual({ file, zones: 56, idProperty: 'id' });
  });

  it('check reads the id property asked for, and can skip the overlap sample', () => {
    const file = join(dir, 'squares.geojson');
    writeFileSync(file, JSON.stringify(squares([0, 0, 1, 1], [2, 0, 3, 1])));
    const summary = JSON.parse(zonesCommand(['check', file, '--id-property', 'code', '--overlap-samples', '0'])) as ZonesCheckSummary;
    expect(summary).toMatchObject({ idProperty: 'code', zones: 2, polygons: 2, extent: [0, 0, 3, 1], overlaps: null });
  });

  it('check refuses a bad file with the loader error (exit code 3)', () => {
    const file = join(dir, 'squares-no-id.geojson');
    writeFileSync(file, JSON.stringify(squares([0, 0, 1, 1])));
    expect(() => zonesCommand(['check', file])).toThrow(new ZonesFileError(file, 'feature 0 has no "id" property and no Feature id'));
  });

  it('refuses a bad command line', () => {
    const cases: [string[], string][] = [
      [[], 'zones needs a subcommand: check, us-counties or us-states'],
      [['draw'], 'unknown zones subcommand "draw"'],
      [['check'], 'zones check takes one FILE'],
      [['check', 'a', 'b'], 'zones check takes one FILE'],
      [['check', 'a', '--out', 'b'], 'zones check takes no --out'],
      [['check', 'a', '--id-property', ''], 'zones check: --id-property is empty'],
      [['check', 'a', '--overlap-samples', 'many'], '--overlap-samples: expected an integer from 0 to 100000000, got "many"'],
      [['us-counties'], 'zones us-counties needs --out FILE'],
      [['us-states', 'x.geojson'], 'zones us-states takes only --out FILE'],
    ];
    for (const [args, message] of cases) expect(() => zonesCommand(args), args.join(' ')).toThrow(new UsageError(message));
    expect(() => zonesCommand(['check', '--colour', 'a'])).toThrow(UsageError);
  });
});

describe('sampleOverlaps', () => {
  it('estimates the share of points held by two zones', () => {
    // Two 2x2 squares overlapping in a 1x1 square: a point drawn in either box is in both a quarter of the time.
    const set = zonesFromGeoJson(squares([0, 0, 2, 2], [1, 1, 3, 3]), 'two', 'code');
    const sample = sampleOverlaps(set, 20_000);
    expect(sample.inAZone).toBe(20_000);
    expect(sample.shareInTwoOrMore).toBeGreaterThan(0.23);
    expect(sample.shareInTwoOrMore).toBeLessThan(0.27);
    expect(sampleOverlaps(set, 20_000)).toEqual(sample);
  });
});
