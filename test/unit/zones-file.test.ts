import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, ZonesFileError } from '../../src/errors.js';
import { loadZones, parseZones, zonesFromGeoJson } from '../../src/shared/zones/zone-set.js';

const SOURCE = 'zones.geojson';
const SQUARE = [
  [
    [0, 0],
    [1, 0],
    [1, 1],
    [0, 1],
    [0, 0],
  ],
];

function feature(id: unknown, geometry: unknown = { type: 'Polygon', coordinates: SQUARE }): Record<string, unknown> {
  return { type: 'Feature', properties: id === undefined ? {} : { id }, geometry };
}

function collection(...features: unknown[]): Record<string, unknown> {
  return { type: 'FeatureCollection', features };
}

/** The message zonesFromGeoJson throws for a value, which must be a ZonesFileError. */
function problem(value: unknown, idProperty = 'id'): string {
  try {
    zonesFromGeoJson(value, SOURCE, idProperty);
  } catch (error) {
    expect(error).toBeInstanceOf(ZonesFileError);
    return (error as ZonesFileError).message;
  }
  throw new Error('accepted');
}

/** A collection whose second feature (id "b") has this geometry, the first one being fine. */
const secondWith = (geometry: unknown) => collection(feature('a'), feature('b', geometry));

describe('zones file errors', () => {
  it('are configuration errors of ZONES_FILE with their own code', () => {
    let error: unknown;
    try {
      parseZones('{', SOURCE, 'id');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'GW_ZONES_INVALID', variable: 'ZONES_FILE', source: SOURCE, name: 'ZonesFileError' });
  });

  it('an unreadable file', () => {
    const missing = join(tmpdir(), 'geowindow-no-such-zones.geojson');
    expect(() => loadZones(missing, 'id')).toThrow(
      `ZONES_FILE: ${JSON.stringify(missing)} could not be read: ENOENT: no such file or directory, open '${missing}'`,
    );
  });

  it('not JSON', () => {
    expect(() => parseZones('{"type": "FeatureCollection",', SOURCE, 'id')).toThrow(/^ZONES_FILE: "zones.geojson" is not JSON: /);
  });

  it('a top level that is not a FeatureCollection or a Feature', () => {
    expect(problem([1, 2])).toBe('ZONES_FILE: "zones.geojson" is not GeoJSON: the top level is an array, needs a FeatureCollection or a Feature');
    expect(problem({ type: 'Polygon', coordinates: SQUARE })).toBe(
      'ZONES_FILE: "zones.geojson" is not GeoJSON: the top level is an object of type "Polygon", needs a FeatureCollection or a Feature',
    );
    expect(problem({ features: [] })).toBe(
      'ZONES_FILE: "zones.geojson" is not GeoJSON: the top level is an object without a type, needs a FeatureCollection or a Feature',
    );
  });

  it('features that are not an array', () => {
    expect(problem({ type: 'FeatureCollection', features: {} })).toBe(
      'ZONES_FILE: "zones.geojson" is not GeoJSON: its "features" is an object without a type, not an array',
    );
  });

  it('no features', () => {
    expect(problem(collection())).toBe('ZONES_FILE: "zones.geojson" has no features, needs at least one Polygon or MultiPolygon feature');
  });

  it('a feature that is not a Feature', () => {
    expect(problem(collection(feature('a'), { type: 'Polygon', coordinates: SQUARE }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 is an object of type "Polygon", needs a Feature',
    );
  });

  it('a missing id property', () => {
    expect(problem(collection(feature('a'), feature(undefined)))).toBe('ZONES_FILE: "zones.geojson" feature 1 has no "id" property and no Feature id');
    expect(problem(collection(feature('a')), 'GEOID')).toBe('ZONES_FILE: "zones.geojson" feature 0 has no "GEOID" property');
  });

  it('an id that is not a string or a finite number', () => {
    expect(problem(collection(feature(true)))).toBe('ZONES_FILE: "zones.geojson" feature 0: property "id" is a boolean, needs a string or a finite number');
    expect(problem(collection(feature(null)))).toBe('ZONES_FILE: "zones.geojson" feature 0: property "id" is null, needs a string or a finite number');
    expect(problem(collection(feature(Number.NaN)))).toBe(
      'ZONES_FILE: "zones.geojson" feature 0: property "id" is a non-finite number (NaN), needs a string or a finite number',
    );
  });

  it('an empty id', () => {
    expect(problem(collection(feature('')))).toBe('ZONES_FILE: "zones.geojson" feature 0: property "id" is an empty string, needs a non-empty string or a finite number');
  });

  it('a duplicate id, a number and a string alike', () => {
    expect(problem(collection(feature('7'), feature('a'), feature(7)))).toBe('ZONES_FILE: "zones.geojson" feature 2 (id "7"): duplicate id, feature 0 has it too');
  });

  it('no geometry', () => {
    expect(problem(secondWith(null))).toBe('ZONES_FILE: "zones.geojson" feature 1 (id "b"): has no geometry, needs a Polygon or MultiPolygon');
  });

  it('a geometry that is not an object', () => {
    expect(problem(secondWith([SQUARE]))).toBe('ZONES_FILE: "zones.geojson" feature 1 (id "b"): geometry is an array, needs a Polygon or MultiPolygon');
  });

  it('a geometry other than Polygon or MultiPolygon', () => {
    expect(problem(secondWith({ type: 'Point', coordinates: [0, 0] }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): geometry type is "Point", needs "Polygon" or "MultiPolygon"',
    );
    expect(problem(secondWith({ coordinates: SQUARE }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): geometry has no type, needs a Polygon or MultiPolygon',
    );
  });

  it('coordinates that are not an array', () => {
    expect(problem(secondWith({ type: 'Polygon', coordinates: 'x' }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): coordinates are a string, not an array of rings',
    );
    expect(problem(secondWith({ type: 'MultiPolygon' }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): coordinates are missing, not an array of polygons',
    );
  });

  it('an empty MultiPolygon', () => {
    expect(problem(secondWith({ type: 'MultiPolygon', coordinates: [] }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): has no polygons (empty MultiPolygon)',
    );
  });

  it('a MultiPolygon part that is not an array', () => {
    expect(problem(secondWith({ type: 'MultiPolygon', coordinates: [SQUARE, 3] }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): polygon 1 is a number, not an array of rings',
    );
  });

  it('a polygon without rings', () => {
    expect(problem(secondWith({ type: 'MultiPolygon', coordinates: [SQUARE, []] }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): polygon 1 has no rings',
    );
  });

  it('a ring that is not an array', () => {
    expect(problem(secondWith({ type: 'Polygon', coordinates: [SQUARE[0], {}] }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): ring 1 of polygon 0 is an object without a type, not an array of positions',
    );
  });

  it('a ring under 4 positions (the example of the issue)', () => {
    const features = Array.from({ length: 12 }, (_, i) => feature(`z${i}`));
    const triangle = [
      [0, 0],
      [1, 0],
      [0, 0],
    ];
    features.push({ type: 'Feature', properties: { id: '06075' }, geometry: { type: 'MultiPolygon', coordinates: [SQUARE, [triangle]] } });
    expect(problem(collection(...features))).toBe(
      'ZONES_FILE: "zones.geojson" feature 12 (id "06075"): ring 0 of polygon 1 has 3 positions, needs at least 4',
    );
  });

  it('a position that is not a pair of numbers', () => {
    const ring = [[0, 0], [1, 0], [1], [0, 1], [0, 0]];
    expect(problem(secondWith({ type: 'Polygon', coordinates: [ring] }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): position 2 of ring 0 of polygon 0 is [1], not a [longitude, latitude] pair of numbers',
    );
    const named = [[0, 0], [1, '0'], [1, 1], [0, 1], [0, 0]];
    expect(problem(secondWith({ type: 'Polygon', coordinates: [named] }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): position 1 of ring 0 of polygon 0 is [1,"0"], not a [longitude, latitude] pair of numbers',
    );
  });

  it('a non-finite coordinate (1e999 in the text)', () => {
    const text = JSON.stringify(collection(feature('a'))).replace('[1,1]', '[1e999,1]');
    expect(() => parseZones(text, SOURCE, 'id')).toThrow(
      'ZONES_FILE: "zones.geojson" feature 0 (id "a"): position 2 of ring 0 of polygon 0 has a non-finite coordinate: [Infinity, 1]',
    );
  });

  it('a ring that is not closed', () => {
    const open = [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
      [0, 0.5],
    ];
    expect(problem(secondWith({ type: 'Polygon', coordinates: [SQUARE[0], open] }))).toBe(
      'ZONES_FILE: "zones.geojson" feature 1 (id "b"): ring 1 of polygon 0 is not closed: it ends at [0, 0.5], not at its first position [0, 0]',
    );
  });
});

describe('zones file ids', () => {
  it('takes the id property, numbers as strings', () => {
    const zones = zonesFromGeoJson(collection(feature(6075), feature('a')), SOURCE, 'id');
    expect([zones.id(0), zones.id(1)]).toEqual(['6075', 'a']);
  });

  it('falls back to the Feature id for the property "id" only', () => {
    const bare = { type: 'Feature', id: 17, properties: null, geometry: { type: 'Polygon', coordinates: SQUARE } };
    expect(zonesFromGeoJson(bare, SOURCE, 'id').id(0)).toBe('17');
    expect(problem(bare, 'GEOID')).toBe('ZONES_FILE: "zones.geojson" feature 0 has no "GEOID" property');
  });

  it('prefers the property to the Feature id', () => {
    const both = { type: 'Feature', id: 'outer', properties: { id: 'inner' }, geometry: { type: 'Polygon', coordinates: SQUARE } };
    expect(zonesFromGeoJson(both, SOURCE, 'id').id(0)).toBe('inner');
  });

  it('reads another property when asked', () => {
    const named = { type: 'Feature', properties: { GEOID: '06075', id: 'x' }, geometry: { type: 'Polygon', coordinates: SQUARE } };
    expect(zonesFromGeoJson(collection(named), SOURCE, 'GEOID').id(0)).toBe('06075');
  });
});

describe('loadZones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geowindow-zones-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file that starts with a byte order mark', () => {
    const path = join(dir, 'bom.geojson');
    writeFileSync(path, `\uFEFF${JSON.stringify(collection(feature('a')))}`);
    expect(loadZones(path, 'id').id(0)).toBe('a');
  });

  it('reads a file and names it', () => {
    const path = join(dir, 'one.geojson');
    writeFileSync(path, JSON.stringify(collection(feature('a'))));
    const zones = loadZones(path, 'id');
    expect(zones.source).toBe(path);
    expect(zones.size).toBe(1);
    expect(zones.lookup(0.5, 0.5)).toBe(0);
  });
});
