import { describe, expect, it } from 'vitest';
import type { GeowindowError } from '../../src/errors.js';
import { DEVICE_KINDS } from '../../src/fleet/devices.js';
import { Fleet, type FleetMessage } from '../../src/fleet/messages.js';
import { Random } from '../../src/fleet/random.js';
import { homeZones, placeableZones, randomPointIn } from '../../src/fleet/zone-placement.js';
import { parseZones } from '../../src/shared/zones/zone-set.js';

type Ring = [number, number][];
const polygon = (id: string, ...rings: Ring[]) => ({ type: 'Feature', properties: { id }, geometry: { type: 'Polygon', coordinates: rings } });
const multi = (id: string, ...polygons: Ring[][]) => ({
  type: 'Feature',
  properties: { id },
  geometry: { type: 'MultiPolygon', coordinates: polygons },
});
const square = (w: number, s: number, e: number, n: number): Ring => [[w, s], [e, s], [e, n], [w, n], [w, s]];

/** Small zones with the shapes that trip samplers: a hole, a concave L, a zone across the antimeridian, a thin diagonal. */
const ZONES = parseZones(
  JSON.stringify({
    type: 'FeatureCollection',
    features: [
      polygon('holed', square(0, 0, 4, 4), square(1, 1, 3, 3)),
      polygon('ell', [[5, 0], [9, 0], [9, 1], [6, 1], [6, 4], [5, 4], [5, 0]]),
      multi('dateline', [square(179, 50, 180, 51)], [square(-180, 50, -179, 51)]),
      polygon('sliver', [[10, 0], [10.2, 0], [14, 3.8], [14, 4], [13.8, 4], [10, 0.2], [10, 0]]),
    ],
  }),
  'test-zones',
  'id',
);

function pointOf(message: FleetMessage): [number, number] {
  const value = JSON.parse(message.value.toString()) as { lon?: number; lat?: number; geometry?: { coordinates: [number, number] } };
  return value.geometry?.coordinates ?? [value.lon!, value.lat!];
}

describe('zone placement', () => {
  it("reports every device's first position in its home zone, for every kind", () => {
    const fleet = new Fleet({ devices: 64, seed: 11, oversizeBytes: 100, zones: ZONES });
    for (const device of fleet.devices) {
      const [lon, lat] = pointOf(fleet.good(1_700_000_000_000));
      expect(ZONES.lookup(lon, lat), `${device.id} at ${lon},${lat}`).toBe(device.home);
    }
  });

  it('keeps stations in their zone while they jitter', () => {
    const fleet = new Fleet({ devices: 32, seed: 5, oversizeBytes: 100, zones: ZONES });
    const stations = fleet.devices.filter((d) => d.kind !== 'gps').length;
    let checked = 0;
    for (let round = 0; round < 50; round++) {
      for (const device of fleet.devices) {
        const [lon, lat] = pointOf(fleet.good(1_700_000_000_000));
        if (device.kind === 'gps') continue;
        expect(ZONES.lookup(lon, lat), device.id).toBe(device.home);
        checked++;
      }
    }
    expect(checked).toBe(stations * 50);
  });

  it('puts sites of one device of each kind round-robin over a shuffle of the zones', () => {
    const all = [0, 1, 2, 3];
    const homes = homeZones(40, all, new Random(3));
    for (let site = 0; site < 10; site++) {
      const members = homes.slice(site * DEVICE_KINDS.length, (site + 1) * DEVICE_KINDS.length);
      expect(new Set(members).size).toBe(1);
    }
    const perZone = Array.from({ length: ZONES.size }, (_, z) => homes.filter((h) => h === z).length);
    // 10 sites over 4 zones: 2 or 3 sites each.
    expect(perZone.every((n) => n === 8 || n === 12)).toBe(true);
    expect(homes).toEqual(homeZones(40, all, new Random(3)));
    expect(homes).not.toEqual(homeZones(40, all, new Random(4)));
  });

  it('draws uniformly over the parts of a zone whose parts have overlapping boxes', () => {
    // Two triangles, areas 8 and 6.125, whose bounding boxes overlap in [0.5, 4] x [0.5, 4].
    const zones = parseZones(
      JSON.stringify({
        type: 'FeatureCollection',
        features: [multi('two', [[[0, 0], [4, 0], [0, 4], [0, 0]]], [[[4, 0.5], [4, 4], [0.5, 4], [4, 0.5]]])],
      }),
      'two',
      'id',
    );
    const random = new Random(9);
    const draws = 8000;
    let first = 0;
    for (let i = 0; i < draws; i++) {
      const [lon, lat] = randomPointIn(zones, 0, random);
      if (lon + lat < 4) first++;
    }
    const expected = (draws * 8) / 14.125;
    // Five standard deviations of a binomial count.
    const sd = Math.sqrt(draws * (8 / 14.125) * (6.125 / 14.125));
    expect(Math.abs(first - expected)).toBeLessThan(5 * sd);
  });

  it('names the zone it cannot place a device in', () => {
    // A needle: some area, but next to none of its bounding box.
    const needle = parseZones(
      JSON.stringify({
        type: 'FeatureCollection',
        features: [polygon('wide', square(20, 0, 30, 10)), polygon('needle', [[0, 0], [10, 10], [10, 10.000001], [0, 0]])],
      }),
      'needle',
      'id',
    );
    expect(() => new Fleet({ devices: 8, seed: 1, oversizeBytes: 100, zones: needle })).toThrow(
      expect.objectContaining({ code: 'GW_USAGE', message: expect.stringContaining('zone "needle" (index 1) after 10000 tries') }) as GeowindowError,
    );
  });

  it('gives no device to a zone that encloses no area, and says which', () => {
    const zones = parseZones(
      JSON.stringify({
        type: 'FeatureCollection',
        features: [polygon('flat', [[0, 0], [1, 1], [0, 0], [0, 0]]), polygon('square', square(2, 2, 3, 3))],
      }),
      'flat',
      'id',
    );
    expect(placeableZones(zones)).toEqual([1]);
    const fleet = new Fleet({ devices: 12, seed: 1, oversizeBytes: 100, zones });
    expect(fleet.unplaceable).toEqual(['flat']);
    expect(fleet.devices.every((d) => d.home === 1)).toBe(true);
  });

  it('leaves a fleet without zones exactly as it was', () => {
    const a = new Fleet({ devices: 10, seed: 2, oversizeBytes: 100 });
    const b = new Fleet({ devices: 10, seed: 2, oversizeBytes: 100 });
    expect(a.devices.every((d) => d.home === -1 && !d.fresh)).toBe(true);
    for (let i = 0; i < 30; i++) expect(a.good(i).value.equals(b.good(i).value)).toBe(true);
    const [lon, lat] = pointOf(a.good(0));
    expect(lon).toBeGreaterThanOrEqual(5.5);
    expect(lat).toBeLessThanOrEqual(48.5);
  });
});
