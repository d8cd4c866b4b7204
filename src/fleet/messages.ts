import type { DeadLetterReason } from '../decode/reasons.js';
import { createDevices, position, readings, type Device } from './devices.js';
import { Random } from './random.js';

/**
 * Header on every bad record the fleet sends, naming the dead-letter reason
 * the service must give it; tests check the two agree.
 */
export const FLEET_EXPECT_HEADER = 'geowindow-fleet-expect';

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
}

/**
 * A synthetic sensor fleet: weather stations, hydrological probes and
 * air-quality monitors at fixed places with jitter, and moving GPS trackers.
 * Devices report in turn; some send ISO-8601 times or GeoJSON Features.
 */
export class Fleet {
  readonly #random: Random;
  readonly #devices: Device[];
  readonly #oversizeBytes: number;
  #next = 0;
  #nextBad = 0;

  constructor(options: FleetOptions) {
    this.#random = new Random(options.seed);
    this.#devices = createDevices(options.devices, this.#random);
    this.#oversizeBytes = options.oversizeBytes;
  }

  #device(): Device {
    const device = this.#devices[this.#next]!;
    this.#next = (this.#next + 1) % this.#devices.length;
    return device;
  }

  good(ts: number): FleetMessage {
    const device = this.#device();
    const [lon, lat] = position(device, this.#random);
    const values = readings(device, this.#random);
    if (device.kind === 'gps' && this.#random.next() < 0.5) {
      const feature = {
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [lon, lat] },
        properties: { device_id: device.id, ts, kind: device.kind, readings: values },
      };
      return { key: device.id, value: json(feature) };
    }
    const time = device.kind === 'hydro' ? new Date(ts).toISOString() : ts;
    return { key: device.id, value: json({ device_id: device.id, ts: time, lat, lon, kind: device.kind, readings: values }) };
  }

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
