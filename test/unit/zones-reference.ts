/**
 * The zone tests' reference: an even-odd test written apart from the
 * index's, and a lookup that scans every zone. Slow on purpose, and simple
 * enough to trust.
 */
import type { MultiPolygon, Polygon, Position } from 'geojson';

/** The rings of one polygon, outer ring first. */
export type Rings = Position[][];

/**
 * Even-odd with a ray to the east, each edge taken as it runs (not from its
 * lower end, as the index does). On a grid of a power of two its arithmetic
 * is exact, so it is the documented rule itself, borders and corners
 * included.
 */
export function evenOdd(rings: Rings, x: number, y: number): boolean {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0; i + 1 < ring.length; i++) {
      const [ax, ay] = ring[i] as [number, number];
      const [bx, by] = ring[i + 1] as [number, number];
      const side = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
      if (ay <= y && by > y && side > 0) inside = !inside; // upward edge, point left of it
      if (by <= y && ay > y && side < 0) inside = !inside; // downward edge, point right of it
    }
  }
  return inside;
}

/** The first zone holding a point, by scanning every polygon of every zone; -1 for none. */
export function bruteForce(zones: readonly Rings[][], x: number, y: number): number {
  return zones.findIndex((parts) => parts.some((rings) => evenOdd(rings, x, y)));
}

/** The polygons of a geometry, a Polygon as a MultiPolygon of one. */
export function partsOf(geometry: Polygon | MultiPolygon): Rings[] {
  return geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
}
