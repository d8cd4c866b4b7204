/**
 * Where each zone goes on the map. Zones fall into groups that lie apart
 * (for the US counties: the lower 48, Alaska, Hawaii, Puerto Rico with the
 * Virgin Islands, and the Pacific territories); the group with the most
 * zones fills the main panel, and the others are drawn as insets in a row
 * below it, each with its own fitted projection and scale, as atlases do.
 * A single projection over all of them would leave the main group a small
 * patch in a sea of white.
 */
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { centralMeridian, fitProjection, wrapLongitude } from './map-projection.js';

/** A point of the map in integer subunits. */
export type Point = readonly [number, number];

export interface Panel {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly inset: boolean;
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  /** Per zone, its rings in integer subunits (SVG units × subunits), or undefined when the zone is not drawn. */
  readonly rings: readonly (Point[][] | undefined)[];
  readonly panels: readonly Panel[];
  /** Zones in groups beyond MAX_INSETS, not drawn. */
  readonly dropped: number;
}

export interface LayoutOptions {
  /** Width of the map in SVG units. */
  readonly width: number;
  /** Largest height of the main panel. */
  readonly mainMaxHeight: number;
  /** Height of the row of insets. */
  readonly insetHeight: number;
  readonly margin: number;
  /** Subunits per SVG unit: coordinates are rounded to whole subunits. */
  readonly subunits: number;
}

/** Polygons closer than this (degrees, box to box) belong to one group: islands off a coast stay with it. */
const JOIN_GAP_DEG = 2;
/** Insets at most; groups past them (fewest zones) are left out and counted. */
const MAX_INSETS = 8;
/** An inset may magnify at most this much over the main panel's scale, so a single small island is not drawn huge. */
const MAX_INSET_ZOOM = 2;
/** Space between insets and above the row of them. */
const INSET_GAP = 10;

interface PartBox {
  readonly zone: number;
  readonly west: number;
  readonly south: number;
  readonly east: number;
  readonly north: number;
}

function outerRings(geometry: Polygon | MultiPolygon): Position[][] {
  return geometry.type === 'Polygon' ? [geometry.coordinates[0] ?? []] : geometry.coordinates.map((polygon) => polygon[0] ?? []);
}

/** Groups of zones that lie apart, largest first: polygons whose boxes come within JOIN_GAP_DEG join. */
export function zoneGroups(geometries: readonly (Polygon | MultiPolygon)[]): number[][] {
  const center = centralMeridian(geometries);
  const boxes: PartBox[] = [];
  const largest = new Map<number, { part: number; area: number }>();
  geometries.forEach((geometry, zone) => {
    for (const ring of outerRings(geometry)) {
      let west = Infinity, south = Infinity, east = -Infinity, north = -Infinity;
      for (const position of ring) {
        const lon = wrapLongitude(position[0]!, center);
        west = Math.min(west, lon);
        east = Math.max(east, lon);
        south = Math.min(south, position[1]!);
        north = Math.max(north, position[1]!);
      }
      if (!Number.isFinite(west)) continue;
      const area = (east - west) * (north - south);
      if (area >= (largest.get(zone)?.area ?? -1)) largest.set(zone, { part: boxes.length, area });
      boxes.push({ zone, west, south, east, north });
    }
  });
  // Union-find over the parts, pairs found by a sweep from west to east.
  const parent = boxes.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const byWest = boxes.map((_, i) => i).sort((a, b) => boxes[a]!.west - boxes[b]!.west);
  for (let k = 0; k < byWest.length; k++) {
    const a = boxes[byWest[k]!]!;
    for (let m = k + 1; m < byWest.length; m++) {
      const b = boxes[byWest[m]!]!;
      if (b.west > a.east + JOIN_GAP_DEG) break;
      if (b.south <= a.north + JOIN_GAP_DEG && a.south <= b.north + JOIN_GAP_DEG) parent[root(byWest[k]!)] = root(byWest[m]!);
    }
  }
  const groups = new Map<number, number[]>();
  for (const [zone, { part }] of largest) {
    const group = root(part);
    const members = groups.get(group);
    if (members === undefined) groups.set(group, [zone]);
    else members.push(zone);
  }
  return [...groups.values()].map((g) => g.sort((a, b) => a - b)).sort((a, b) => b.length - a.length || a[0]! - b[0]!);
}

interface Projected {
  readonly zones: readonly number[];
  readonly rings: (readonly [number, number])[][][];
  readonly minX: number;
  readonly minY: number;
  readonly dx: number;
  readonly dy: number;
}

function projectGroup(zones: readonly number[], geometries: readonly (Polygon | MultiPolygon)[]): Projected {
  const project = fitProjection(zones.map((z) => geometries[z]!));
  const rings = zones.map((z) => {
    const geometry = geometries[z]!;
    const all = geometry.type === 'Polygon' ? geometry.coordinates : geometry.coordinates.flat();
    return all.map((ring) => ring.map((p) => project(p[0]!, p[1]!)));
  });
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const zone of rings) {
    for (const ring of zone) {
      for (const [x, y] of ring) {
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
  }
  if (!Number.isFinite(minX)) return { zones, rings, minX: 0, minY: 0, dx: 1, dy: 1 };
  return { zones, rings, minX, minY, dx: maxX - minX || 1, dy: maxY - minY || 1 };
}

/** Lays the zones out in a main panel and a row of insets; see the module comment. */
export function layoutZones(geometries: readonly (Polygon | MultiPolygon)[], options: LayoutOptions): Layout {
  const { width, margin, subunits } = options;
  const groups = zoneGroups(geometries);
  const shown = groups.slice(0, 1 + MAX_INSETS).map((g) => projectGroup(g, geometries));
  const dropped = groups.slice(1 + MAX_INSETS).reduce((n, g) => n + g.length, 0);
  const rings: (Point[][] | undefined)[] = new Array(geometries.length).fill(undefined);
  const panels: Panel[] = [];
  const place = (group: Projected, scale: number, x: number, y: number) => {
    group.zones.forEach((zone, k) => {
      rings[zone] = group.rings[k]!.map((ring) =>
        ring.map(([px, py]) => [Math.round((x + (px - group.minX) * scale) * subunits), Math.round((y + (group.dy - (py - group.minY)) * scale) * subunits)] as const),
      );
    });
  };
  const [main, ...insets] = shown;
  if (main === undefined) return { width, height: 2 * margin, rings, panels, dropped };
  const mainScale = Math.min((width - 2 * margin) / main.dx, options.mainMaxHeight / main.dy);
  const mainWidth = main.dx * mainScale;
  const mainHeight = main.dy * mainScale;
  place(main, mainScale, (width - mainWidth) / 2, margin);
  panels.push({ x: (width - mainWidth) / 2, y: margin, width: mainWidth, height: mainHeight, inset: false });
  let height = margin + mainHeight + margin;
  if (insets.length > 0) {
    const scales = insets.map((g) => Math.min(options.insetHeight / g.dy, MAX_INSET_ZOOM * mainScale));
    const room = width - 2 * margin - INSET_GAP * (insets.length - 1);
    const needed = insets.reduce((sum, g, k) => sum + g.dx * scales[k]!, 0);
    const shrink = Math.min(1, room / needed);
    const top = margin + mainHeight + INSET_GAP;
    let x = margin;
    insets.forEach((group, k) => {
      const scale = scales[k]! * shrink;
      place(group, scale, x, top);
      panels.push({ x, y: top, width: group.dx * scale, height: group.dy * scale, inset: true });
      x += group.dx * scale + INSET_GAP;
    });
    height = top + Math.max(...panels.filter((p) => p.inset).map((p) => p.height)) + margin;
  }
  return { width, height, rings, panels, dropped };
}
