import type { DeadLetterReason } from '../decode/reasons.js';
import { UsageError } from '../errors.js';
import { ALPS, STATION_JITTER_DEG, createDevices, position, readings, type Device, type Region } from './devices.js';
import { Random } from './random.js';
import { homeZones, placeableZones, randomPointIn, zonesRegion, type PlacementZones } from './zone-placement.js';

/**
 * Header on every bad record the fleet sends, naming the dead-letter reason
 * the service must give it; tests check the two agree.
 */
export const FLEET_EXPECT_HEADER = 'geowindow-fleet-expect';

/**
 * The expectation a late record carries in FLEET_EXPECT_HEADER: a valid
 * reading whose event time is so far back that its windows have closed.
 */
export const LATE_EXPECT: DeadLetterReason = 'late';

export interface FleetMessage {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: Record<string, string>;
}

interface BadKind {
  readonly expect: DeadLetterReason;
  readonly value: (device: Device, ts: number, oversizeBytes: number) => Buffer;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** One of each class of bad input the service must dead-letter, sent in turn. */
const BAD_KINDS: readonly BadKind[] = [
  { expect: 'invalid_json', value: (d, ts) => Buffer.from(`{"device_id":"${d.id}","ts":${ts},"lat":4`) },
  { expect: 'missing_field', value: (d, ts) => json({ device_id: d.id, ts, lon: d.lon }) },
  { expect: 'invalid_field', value: (d, ts) => json({ device_id: d.id, ts, lat: String(d.lat), lon: d.lon }) },
  { expect: 'out_of_range', value: (d, ts) => json({ device_id: d.id, ts, lat: 123.4, lon: d.lon }) },
  { expect: 'out_of_range', value: (d, ts) => json({ device_id: d.id, ts, lat: d.lat, lon: -200.5 }) },
  { expect: 'non_finite', value: (d, ts) => Buffer.from(`{"device_id":"${d.id}","ts":${ts},"lat":NaN,"lon":${d.lon}}`) },
  {
    expect: 'non_finite',
    value: (d, ts) => Buffer.from(`{"device_id":"${d.id}","ts":${ts},"lat":${d.lat},"lon":${d.lon},"readings":{"temp_c":1e999}}`),
  },
  {
    expect: 'invalid_utf8',
    value: (d, ts) =>
      Buffer.concat([Buffer.from(`{"device_id":"${d.id}`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(`","ts":${ts}}`)]),
  },
  {
    expect: 'oversized',
    value: (d, ts, oversizeBytes) =>
      json({ device_id: d.id, ts, lat: d.lat, lon: d.lon, padding: 'x'.repeat(oversizeBytes) }),
  },
  {
    expect: 'unsupported_geometry',
    value: (d, ts) =>
      json({
        type: 'Feature',
        geometry: { type: 'LineString', coordinates: [[d.lon, d.lat], [d.lon + 0.01, d.lat]] },
        properties: { device_id: d.id, ts },
      }),
  },
  { expect: 'not_an_object', value: (d) => json([d.lon, d.lat]) },
  { expect: 'empty', value: () => Buffer.alloc(0) },
];

export interface FleetOptions {
  readonly devices: number;
  readonly seed: number;
  /** Size of the padding in `oversized` records; must exceed the service's MAX_MESSAGE_BYTES. */
  readonly oversizeBytes: number;
  /** Zones to place the devices in (see `homeZones`); without them the fleet lives in the Alps. */
  readonly zones?: PlacementZones;
}

/**
 * A synthetic sensor fleet: weather stations, hydrological probes and
 * air-quality monitors at fixed places with jitter, and moving GPS trackers.
 * Devices report in turn; some send ISO-8601 times or GeoJSON Features.
 * Given zones, each device starts at a random point of its home zone and
 * reports that point first; stations then jitter in place (staying home) and
 * trackers walk (and may leave).
 */
export class Fleet {
  readonly #random: Random;
  readonly #devices: Device[];
  readonly #oversizeBytes: number;
  readonly #region: Region;
  readonly #unplaceable: string[] = [];
  #next = 0;
  #nextBad = 0;

  constructor(options: FleetOptions) {
    this.#random = new Random(options.seed);
    this.#devices = createDevices(options.devices, this.#random);
    this.#oversizeBytes = options.oversizeBytes;
    this.#region = ALPS;
    const zones = options.zones;
    if (zones !== undefined) {
      const placeable = placeableZones(zones);
      if (placeable.length === 0) throw new UsageError(`--zones: no zone of ${JSON.stringify(zones.source)} encloses any area to place devices in`);
      const homes = homeZones(this.#devices.length, placeable, this.#random);
      const kept = new Set(placeable);
      for (let i = 0; i < zones.size; i++) if (!kept.has(i)) this.#unplaceable.push(zones.id(i));
      for (const [i, device] of this.#devices.entries()) {
        const home = homes[i]!;
        [device.lon, device.lat] = randomPointIn(zones, home, this.#random, device.kind === 'gps' ? 0 : STATION_JITTER_DEG);
        device.home = home;
        device.fresh = true;
      }
      this.#region = zonesRegion(zones);
    }
  }

  /** Ids of the zones that enclose no area, so got no device. */
  get unplaceable(): readonly string[] {
    return this.#unplaceable;
  }

  /** The devices, in the order they report; for tests and tools that check where they are. */
  get devices(): readonly Readonly<Device>[] {
    return this.#devices;
  }

  #device(): Device {
    const device = this.#devices[this.#next]!;
    this.#next = (this.#next + 1) % this.#devices.length;
    return device;
  }

  /** The next device's reading at event time `ts`; a late one carries FLEET_EXPECT_HEADER `late`. */
  good(ts: number, late = false): FleetMessage {
    const device = this.#device();
    const [lon, lat] = position(device, this.#random, this.#region);
    const headers = late ? { headers: { [FLEET_EXPECT_HEADER]: LATE_EXPECT } } : {};
    const values = readings(device, this.#random);
    if (device.kind === 'gps' && this.#random.next() < 0.5) {
      const feature = {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [lon, lat] },
        properties: { device_id: device.id, ts, kind: device.kind, readings: values },
      };
      return { key: device.id, value: json(feature), ...headers };
    }
    const time = device.kind === 'hydro' ? new Date(ts).toISOString() : ts;
    return { key: device.id, value: json({ device_id: device.id, ts: time, lat, lon, kind: device.kind, readings: values }), ...headers };
  }

  /** The next device's bad record, of the next class in turn, with FLEET_EXPECT_HEADER naming its dead-letter reason. */
  bad(ts: number): FleetMessage {
    const device = this.#device();
    const kind = BAD_KINDS[this.#nextBad]!;
    this.#nextBad = (this.#nextBad + 1) % BAD_KINDS.length;
    return {
      key: device.id,
      value: kind.value(device, ts, this.#oversizeBytes),
      headers: { [FLEET_EXPECT_HEADER]: kind.expect },
    };
  }
}
