/**
 * The map's projection: Albers equal-area conic fitted to the zones (equal
 * area, so a choropleth does not overweight the north; the usual choice for
 * maps of the US), or plain equirectangular where a conic does not fit (an
 * extent straddling the equator evenly). Longitudes are first wrapped around
 * the zones' central meridian, so a zone across the antimeridian (the
 * Aleutians) stays in one piece beside its neighbours.
 */
import type { MultiPolygon, Polygon, Position } from 'geojson';

/** Projects (lon, lat) in degrees to plane coordinates (x east, y north, arbitrary unit). */
export type Projection = (lon: number, lat: number) => readonly [number, number];

const RADIANS = Math.PI / 180;
/** Below this cone constant the conic degenerates (standard parallels mirror each other about the equator). */
const MIN_CONE_CONSTANT = 0.05;

/** Every ring of a Polygon or MultiPolygon. */
export function ringsOf(geometry: Polygon | MultiPolygon): Position[][] {
  return geometry.type === 'Polygon' ? geometry.coordinates : geometry.coordinates.flat();
}

/** The longitude wrapped into [center - 180, center + 180). */
export function wrapLongitude(lon: number, center: number): number {
  return lon - 360 * Math.floor((lon - center + 180) / 360);
}

/**
 * The zones' central meridian: the circular mean of their first positions'
 * longitudes (one per zone, so big zones weigh no more than small ones).
 */
export function centralMeridian(geometries: readonly (Polygon | MultiPolygon)[]): number {
  let x = 0;
  let y = 0;
  for (const geometry of geometries) {
    const first = ringsOf(geometry)[0]?.[0];
    if (first === undefined) continue;
    x += Math.cos(first[0]! * RADIANS);
    y += Math.sin(first[0]! * RADIANS);
  }
  return x === 0 && y === 0 ? 0 : Math.atan2(y, x) / RADIANS;
}

/**
 * A projection for the zones: central meridian as above; for Albers, standard
 * parallels at one sixth and five sixths of the latitude range (the rule of
 * thumb that keeps scale error small over the whole extent).
 */
export function fitProjection(geometries: readonly (Polygon | MultiPolygon)[]): Projection {
  const center = centralMeridian(geometries);
  let south = Infinity;
  let north = -Infinity;
  for (const geometry of geometries) {
    for (const ring of ringsOf(geometry)) {
      for (const position of ring) {
        south = Math.min(south, position[1]!);
        north = Math.max(north, position[1]!);
      }
    }
  }
  if (!Number.isFinite(south)) return (lon, lat) => [wrapLongitude(lon, center) - center, lat];
  const phi1 = (south + (north - south) / 6) * RADIANS;
  const phi2 = (north - (north - south) / 6) * RADIANS;
  const n = (Math.sin(phi1) + Math.sin(phi2)) / 2;
  if (Math.abs(n) < MIN_CONE_CONSTANT) {
    const stretch = Math.cos(((south + north) / 2) * RADIANS);
    return (lon, lat) => [(wrapLongitude(lon, center) - center) * stretch, lat];
  }
  const c = Math.cos(phi1) ** 2 + 2 * n * Math.sin(phi1);
  const rho = (lat: number) => Math.sqrt(Math.max(0, c - 2 * n * Math.sin(lat * RADIANS))) / n;
  const rho0 = rho((south + north) / 2);
  return (lon, lat) => {
    const theta = n * (wrapLongitude(lon, center) - center) * RADIANS;
    const r = rho(lat);
    return [r * Math.sin(theta), rho0 - r * Math.cos(theta)];
  };
}
