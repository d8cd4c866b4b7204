import type { Random } from './random.js';

export const DEVICE_KINDS = ['weather', 'hydro', 'air', 'gps'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** A rectangle of longitudes and latitudes, in degrees. */
export interface Region {
  readonly west: number;
  readonly east: number;
  readonly south: number;
  readonly north: number;
}

/** The region the synthetic fleet lives in without zones: roughly the Alps and their foreland. */
export const ALPS: Region = { west: 5.5, east: 16.5, south: 44.5, north: 48.5 };
/** Fixed stations wobble by a few metres: GPS noise of a mounted receiver. */
export const STATION_JITTER_DEG = 0.00005;
/** A tracker moves up to this far between two readings (about 100 m). */
const TRACKER_STEP_DEG = 0.001;

export interface Device {
  readonly id: string;
  readonly kind: DeviceKind;
  lon: number;
  lat: number;
  heading: number;
  /** Index of the zone the device was placed in, or -1 when the fleet has no zones. */
  home: number;
  /** Set when the device was just placed: its next report is the placed point itself, before any jitter or step. */
  fresh: boolean;
}

export function createDevices(count: number, random: Random): Device[] {
  return Array.from({ length: count }, (_, i) => {
    const kind = DEVICE_KINDS[i % DEVICE_KINDS.length]!;
    return {
      id: `${kind}-${String(i).padStart(5, '0')}`,
      kind,
      lon: random.between(ALPS.west, ALPS.east),
      lat: random.between(ALPS.south, ALPS.north),
      heading: random.between(0, 360),
      home: -1,
      fresh: false,
    };
  });
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

/**
 * Where the device reports from now: a station jitters in place, a tracker
 * walks, staying inside `region`.
 */
export function position(device: Device, random: Random, region: Region = ALPS): [number, number] {
  if (device.fresh) {
    device.fresh = false;
    return [device.lon, device.lat];
  }
  if (device.kind !== 'gps') {
    return [
      device.lon + random.between(-STATION_JITTER_DEG, STATION_JITTER_DEG),
      device.lat + random.between(-STATION_JITTER_DEG, STATION_JITTER_DEG),
    ];
  }
  device.heading = (device.heading + random.between(-20, 20) + 360) % 360;
  const radians = (device.heading * Math.PI) / 180;
  device.lon = clamp(device.lon + Math.sin(radians) * TRACKER_STEP_DEG, region.west, region.east);
  device.lat = clamp(device.lat + Math.cos(radians) * TRACKER_STEP_DEG, region.south, region.north);
  return [device.lon, device.lat];
}

/** Plausible readings per kind; now and then a sensor reports nothing (null). */
export function readings(device: Device, random: Random): Record<string, number | null> {
  const maybe = (value: number) => (random.next() < 0.02 ? null : Math.round(value * 100) / 100);
  switch (device.kind) {
    case 'weather':
      return {
        temp_c: maybe(random.between(-10, 30)),
        humidity: maybe(random.between(0.2, 1)),
        pressure_hpa: maybe(random.between(960, 1040)),
      };
    case 'hydro':
      return { water_level_m: maybe(random.between(0.2, 6)), flow_m3s: maybe(random.between(1, 400)) };
    case 'air':
      return {
        pm25: maybe(random.between(1, 80)),
        pm10: maybe(random.between(2, 120)),
        no2: maybe(random.between(2, 90)),
      };
    case 'gps':
      return { speed_kmh: maybe(random.between(0, 90)), battery_v: maybe(random.between(3.3, 4.2)) };
  }
}
