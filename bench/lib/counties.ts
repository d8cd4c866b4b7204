/**
 * The zones of the zone-window benchmark: the 3,231 US counties of us-atlas
 * (`counties-10m.json`, TopoJSON), as GeoJSON for the systems under test and
 * as the benchmark's own point-in-county index. The index is independent of
 * the service's (the benchmark checks the service with it): a Flatbush tree
 * of bounding boxes and the even-odd rule over each polygon's rings.
 */
import Flatbush from 'flatbush';
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';

/** A county's properties in the zones file: `id` (the 5-digit FIPS code the service keys by) and its name. */
export interface CountyProperties {
  readonly id: string;
  readonly name: string;
}

export type CountyFeature = Feature<Polygon | MultiPolygon, CountyProperties>;

export interface Counties {
  readonly collection: FeatureCollection<Polygon | MultiPolygon, CountyProperties>;
  readonly ids: readonly string[];
  /** Each county's polygons, each a list of closed rings. */
  readonly polygons: readonly (readonly (readonly Position[])[])[][];
  readonly bboxes: readonly (readonly [number, number, number, number])[];
  readonly index: Flatbush;
  readonly vertices: number;
}

interface CountiesTopology extends Topology {
  objects: { counties: GeometryCollection<{ name: string }> };
}

/** Reads us-atlas's counties (a devDependency) into features in file order, with their index. */
export function loadCounties(): Counties {
  const path = createRequire(import.meta.url).resolve('us-atlas/counties-10m.json');
  const topology = JSON.parse(readFileSync(path, 'utf8')) as CountiesTopology;
  const raw = feature(topology, topology.objects.counties);
  const features: CountyFeature[] = [];
  for (const f of raw.features) {
    const geometry = f.geometry;
    if (geometry === null || (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon')) continue;
    const id = String(f.id);
    features.push({ type: 'Feature', id, properties: { id, name: f.properties?.name ?? id }, geometry });
  }
  const polygons = features.map((f) => (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates));
  const bboxes = polygons.map(bboxOf);
  const index = new Flatbush(features.length);
  for (const [w, s, e, n] of bboxes) index.add(w, s, e, n);
  index.finish();
  let vertices = 0;
  for (const polygon of polygons) for (const rings of polygon) for (const ring of rings) vertices += ring.length;
  return {
    collection: { type: 'FeatureCollection', features },
    ids: features.map((f) => f.properties.id),
    polygons,
    bboxes,
    index,
    vertices,
  };
}

function bboxOf(polygons: readonly (readonly (readonly Position[])[])[]): [number, number, number, number] {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  for (const rings of polygons) {
    for (const [x, y] of rings[0] ?? []) {
      if (x! < w) w = x!;
      if (x! > e) e = x!;
      if (y! < s) s = y!;
      if (y! > n) n = y!;
    }
  }
  return [w, s, e, n];
}

/** Even-odd over the rings of one polygon (outer ring and holes together). */
function ringsContain(rings: readonly (readonly Position[])[], x: number, y: number): boolean {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i] as [number, number];
      const [xj, yj] = ring[j] as [number, number];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** Indices (file order, ascending) of every county holding the point. */
export function countiesAt(counties: Counties, lon: number, lat: number): number[] {
  const hits = counties.index.search(lon, lat, lon, lat).filter((i) => counties.polygons[i]!.some((rings) => ringsContain(rings, lon, lat)));
  return hits.sort((a, b) => a - b);
}

/**
 * Writes the counties as a GeoJSON FeatureCollection (the ZONES_FILE of the
 * service and of the Quix job), unless the file already holds exactly that;
 * through a temporary file and a rename, so a process reading it meanwhile
 * never sees half a file.
 */
export function writeCountiesGeoJson(counties: Counties, path: string): void {
  const text = JSON.stringify(counties.collection);
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}
