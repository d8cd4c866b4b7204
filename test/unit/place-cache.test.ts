import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latLngToCell } from 'h3-js';
import { describe, expect, it } from 'vitest';
import { usCounties } from '../../src/tools/us-counties.js';
import { parseZones } from '../../src/shared/zones/zone-set.js';
import { Keyer } from '../../workers/windows/keyer.js';
import { NOT_LOOKED_UP, PlaceCache } from '../../workers/windows/place-cache.js';

describe('PlaceCache', () => {
  it('keeps a device’s keys while it stays put and forgets them once it moves', () => {
    const cache = new PlaceCache();
    cache.at('a', 1.5, 2.5);
    expect(cache.zone).toBe(NOT_LOOKED_UP);
    expect(cache.h3).toBeNull();
    cache.zone = 7;
    cache.h3 = 'cell';
    cache.at('b', 1.5, 2.5);
    expect(cache.zone).toBe(NOT_LOOKED_UP);
    cache.at('a', 1.5, 2.5);
    expect([cache.zone, cache.h3]).toEqual([7, 'cell']);
    cache.at('a', 1.5, 2.25);
    expect([cache.zone, cache.h3]).toEqual([NOT_LOOKED_UP, null]);
  });

  it('holds at most its bound of devices', () => {
    const cache = new PlaceCache(100);
    for (let d = 0; d < 1_000; d++) {
      cache.at(`device-${d}`, d, d);
      cache.zone = d;
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    // The last device is still there; one from before the last start-over is not.
    cache.at('device-999', 999, 999);
    expect(cache.zone).toBe(999);
    cache.at('device-0', 0, 0);
    expect(cache.zone).toBe(NOT_LOOKED_UP);
  });
});

describe('Keyer with the place cache', () => {
  const counties = usCounties();
  const dir = mkdtempSync(join(tmpdir(), 'gw-keyer-'));
  const file = join(dir, 'counties.geojson');
  writeFileSync(file, JSON.stringify(counties));
  const zones = parseZones(JSON.stringify(counties), file, 'id');

  it('keys every reading as a fresh lookup would, for devices that stay, move and come back', () => {
    const keyer = new Keyer({ by: ['zone', 'h3', 'device'], partition: 0, zones: { file, idProperty: 'id' }, zoneUnmatched: 'none', h3Resolution: 6 });
    // A seeded walk over the conterminous states: 300 devices, most of them fixed, some moving, some jumping back to an earlier place.
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const home = Array.from({ length: 300 }, () => [Math.fround(-124 + random() * 57), Math.fround(25 + random() * 24)] as [number, number]);
    let hits = 0;
    for (let n = 0; n < 20_000; n++) {
      const d = Math.floor(random() * home.length);
      const roll = random();
      let [lon, lat] = home[d]!;
      if (roll < 0.1) {
        lon = Math.fround(lon + (random() - 0.5) * 0.5);
        lat = Math.fround(lat + (random() - 0.5) * 0.5);
        if (roll < 0.05) home[d] = [lon, lat];
      } else hits++;
      const zoned = keyer.keys(lon, lat, `device-${d}`);
      const zone = zones.lookup(lon, lat);
      expect(zoned).toBe(zone >= 0);
      expect(keyer.ids).toEqual([zone >= 0 ? zones.id(zone) : 'none', latLngToCell(lat, lon, 6), `device-${d}`]);
    }
    expect(hits).toBeGreaterThan(15_000);
  });
});
