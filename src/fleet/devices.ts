import type { Random } from './random.js';

export const DEVICE_KINDS = ['weather', 'hydro', 'air', 'gps'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** The region the synthetic fleet lives in: roughly the Alps and their foreland. */
const REGION = { west: 5.5, east: 16.5, south: 44.5, north: 48.5 } as const;
/** Fixed stations wobble by a few metres: GPS noise of a mounted receiver. */
const STATION_JITTER_DEG = 0.00005;
/** A tracker moves up to this far between two readings (about 100 m). */
const TRACKER_STEP_DEG = 0.001;

export interface Device {
  readonly id: string;
  readonly kind: DeviceKind;
  lon: number;
  lat: number;
  heading: number;
}

export function createDevices(count: number, random: Random): Device[] {
  return Array.from({ length: count }, (_, i) => {
    const kind = DEVICE_KINDS[i % DEVICE_KINDS.length]!;
    return {
      id: `${kind}-${String(i).padStart(5, '0')}`,
      kind,
      lon: random.between(REGION.west, REGION.east),
      lat: random.between(REGION.south, REGION.north),
      heading: random.between(0, 360),
    };
  });
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

/** Where the device reports from now: a station jitters in place, a tracker walks. */
export function position(device: Device, random: Random): [number, number] {
  if (device.kind !== 'gps') {
    return [
      device.lon + random.between(-STATION_JITTER_DEG, STATION_JITTER_DEG),
      device.lat + random.between(-STATION_JITTER_DEG, STATION_JITTER_DEG),
    ];
  }
  device.heading = (device.heading + random.between(-20, 20) + 360) % 360;
  const radians = (device.heading * Math.PI) / 180;
  device.lon = clamp(device.lon + Math.sin(radians) * TRACKER_STEP_DEG, REGION.west, REGION.east);
  device.lat = clamp(device.lat + Math.cos(radians) * TRACKER_STEP_DEG, REGION.south, REGION.north);
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
