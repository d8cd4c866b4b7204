import { describe, expect, it } from 'vitest';
import { usCounties } from '../../src/tools/us-counties.js';
import { parseZones, zonesFromShared, type ZoneSet } from '../../src/shared/zones/zone-set.js';
import { zonesFor } from '../../workers/windows/keyer.js';

const counties = parseZones(JSON.stringify(usCounties()), 'counties.geojson', 'id');

/** Seeded points over the conterminous states, some in no county. */
function points(n: number): [number, number][] {
  let seed = 42;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  return Array.from({ length: n }, () => [-126 + random() * 60, 24 + random() * 26]);
}

describe('zones shared with another thread', () => {
  it('rebuilds the same index from shared memory: counts, ids, boxes, geometry, oddities and every lookup', () => {
    // As a worker receives it: a structured clone, whose typed arrays are views of the same shared memory.
    const shared = structuredClone(counties.toShared());
    expect(shared.coords.buffer).toBeInstanceOf(SharedArrayBuffer);
    const copy: ZoneSet = zonesFromShared(shared);
    expect([copy.source, copy.size, copy.parts, copy.rings, copy.positions]).toEqual([counties.source, counties.size, counties.parts, counties.rings, counties.positions]);
    expect(copy.extent).toEqual(counties.extent);
    expect(copy.oddities).toEqual(counties.oddities);
    for (const zone of [0, 1, 1000, counties.size - 1]) {
      expect(copy.id(zone)).toBe(counties.id(zone));
      expect(copy.bbox(zone)).toEqual(counties.bbox(zone));
      expect(copy.geometry(zone)).toEqual(counties.geometry(zone));
    }
    let inZones = 0;
    const all: number[] = [];
    const expectedAll: number[] = [];
    for (const [lon, lat] of points(20_000)) {
      const zone = counties.lookup(lon, lat);
      if (zone >= 0) inZones++;
      expect(copy.lookup(lon, lat)).toBe(zone);
      copy.lookupAll(lon, lat, all);
      counties.lookupAll(lon, lat, expectedAll);
      expect(all).toEqual(expectedAll);
    }
    expect(inZones).toBeGreaterThan(5_000);
  });

  it('a worker keys by the shared index when it is for the same file and id property, and reads the file otherwise', () => {
    const shared = counties.toShared();
    const given = { file: '/zones/counties.geojson', idProperty: 'id', shared };
    const read: string[] = [];
    const load = (file: string, idProperty: string): ZoneSet => {
      read.push(`${file}#${idProperty}`);
      return counties;
    };
    const fromShared = zonesFor({ file: '/zones/counties.geojson', idProperty: 'id' }, given, load);
    expect(read).toEqual([]);
    expect(fromShared).not.toBe(counties);
    expect(fromShared.lookup(-118.24, 34.05)).toBe(counties.lookup(-118.24, 34.05));
    zonesFor({ file: '/zones/other.geojson', idProperty: 'id' }, given, load);
    zonesFor({ file: '/zones/counties.geojson', idProperty: 'name' }, given, load);
    zonesFor({ file: '/zones/counties.geojson', idProperty: 'id' }, null, load);
    expect(read).toEqual(['/zones/other.geojson#id', '/zones/counties.geojson#name', '/zones/counties.geojson#id']);
  });
});
