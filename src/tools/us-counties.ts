/**
 * Real boundaries for tests, benchmarks and demos: the U.S. Census counties
 * and states of `us-atlas` (TopoJSON, 1:10m, quantized), converted to
 * GeoJSON zones files with topojson-client. Both packages are development
 * dependencies, resolved when called, so the service itself never needs them.
 *
 * Longitudes stay within [-180, 180]: us-atlas cuts the Aleutians at the
 * antimeridian, so Aleutians West (02016) is a MultiPolygon with parts on
 * both sides and no ring crosses it; the territories (Guam, the Northern
 * Mariana Islands) lie east of it, American Samoa south of the equator.
 *
 * One ring of the states (Illinois's) comes out of topojson-client one
 * quantization step short of closed; rings are closed here by repeating
 * their first position, as a zones file needs.
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import type * as TopojsonClient from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import { UsageError } from '../errors.js';

/** A zone's properties in these files: the FIPS code (5 digits for a county, 2 for a state) and the name. */
export interface UsAreaProperties {
  readonly id: string;
  readonly name: string;
}

export type UsAreas = FeatureCollection<Polygon | MultiPolygon, UsAreaProperties>;

const require = createRequire(import.meta.url);

function load(name: string): unknown {
  try {
    return require(name);
  } catch (error) {
    throw new UsageError(
      `the U.S. boundaries need the us-atlas and topojson-client packages (development dependencies) and ${name} is not installed: ` +
        `run this from a clone of the repository after npm ci (${(error as Error).message.split('\n')[0]})`,
    );
  }
}

function closeRing(ring: Position[]): Position[] {
  const first = ring[0]!;
  const last = ring[ring.length - 1]!;
  return first[0] === last[0] && first[1] === last[1] ? ring : [...ring, first];
}

/** One object of us-atlas's counties topology (which holds counties, states and nation) as zones. */
function usAreas(object: 'counties' | 'states'): UsAreas {
  const topology = load('us-atlas/counties-10m.json') as Topology<{ counties: GeometryCollection<{ name: string }>; states: GeometryCollection<{ name: string }> }>;
  const { feature } = load('topojson-client') as typeof TopojsonClient;
  const collection = feature(topology, topology.objects[object]);
  const features = collection.features.map((f): Feature<Polygon | MultiPolygon, UsAreaProperties> => {
    const { geometry } = f;
    if (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon') throw new Error(`us-atlas ${object} ${String(f.id)}: a ${geometry.type}, expected polygons`);
    const id = String(f.id);
    const closed: Polygon | MultiPolygon =
      geometry.type === 'Polygon'
        ? { type: 'Polygon', coordinates: geometry.coordinates.map(closeRing) }
        : { type: 'MultiPolygon', coordinates: geometry.coordinates.map((polygon) => polygon.map(closeRing)) };
    return { type: 'Feature', id, properties: { id, name: f.properties.name }, geometry: closed };
  });
  return { type: 'FeatureCollection', features };
}

/** The 3,231 counties and county equivalents (territories included), in us-atlas's order. */
export function usCounties(): UsAreas {
  return usAreas('counties');
}

/** The 50 states, the District of Columbia and 5 territories (56 zones), in us-atlas's order. */
export function usStates(): UsAreas {
  return usAreas('states');
}

/** Writes the counties as a GeoJSON zones file (id property `id`); returns how many. */
export function writeUsCounties(path: string): number {
  const counties = usCounties();
  writeFileSync(path, `${JSON.stringify(counties)}\n`);
  return counties.features.length;
}

/** Writes the states as a GeoJSON zones file (id property `id`); returns how many. */
export function writeUsStates(path: string): number {
  const states = usStates();
  writeFileSync(path, `${JSON.stringify(states)}\n`);
  return states.features.length;
}
