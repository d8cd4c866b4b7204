/**
 * The zone index: every polygon of every zone (each part of a MultiPolygon
 * on its own) in flat typed arrays, their bounding boxes in a flatbush
 * R-tree, and an exact even-odd test of the candidates a point's box search
 * returns. Zones keep their file order, and parts are numbered in that
 * order, so "the first zone in the file wins" is "the lowest part wins".
 */
import Flatbush from 'flatbush';
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { ringsContain } from './point-in-ring.js';
import { isCollinear, positionsOutOfRange, repeatedPositions, ringSelfIntersects } from './ring-oddities.js';
import type { ZoneFeature } from './zone-file.js';
import type { ZoneOddities, ZoneSet } from './zone-set.js';

/**
 * Boxes per R-tree node. Half flatbush's default of 16: a point query then
 * tests 49 boxes instead of 76 on the us-atlas counties and runs about a
 * sixth fewer instructions per lookup (callgrind); 4 tests fewer boxes still
 * but visits more nodes, for no gain.
 */
const NODE_SIZE = 8;

type Box = readonly [number, number, number, number];

/**
 * The index as plain data, for another thread: its typed arrays on one
 * SharedArrayBuffer (cloned as views of the same memory, not copied), ids and
 * counts as values. A worker builds its ZoneIndex from this instead of
 * reading and parsing the file again (3 MB of GeoJSON for the us-atlas
 * counties): with 4 workers on zone windows, peak RSS 436-447 MB against
 * 461-471 MB when each parsed its own copy; and a worker that replaces one
 * that died starts without parsing.
 */
export interface SharedZoneIndex {
  readonly source: string;
  readonly ids: readonly string[];
  readonly parts: number;
  readonly rings: number;
  readonly positions: number;
  readonly extent: Box;
  readonly oddities: ZoneOddities;
  readonly multi: Uint8Array;
  readonly zoneParts: Int32Array;
  readonly zoneBoxes: Float64Array;
  readonly coords: Float64Array;
  readonly ringStarts: Int32Array;
  readonly partRings: Int32Array;
  readonly partZones: Int32Array;
  readonly treeBoxes: Float64Array;
  readonly treeIndices: Uint16Array | Uint32Array;
  readonly levelBounds: Int32Array;
}

type TypedArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

/** Copies of `arrays` on one SharedArrayBuffer, each at an offset its element size divides. */
function onSharedMemory<T extends Record<string, TypedArray>>(arrays: T): T {
  const ALIGN = Float64Array.BYTES_PER_ELEMENT;
  let bytes = 0;
  for (const array of Object.values(arrays)) bytes += Math.ceil(array.byteLength / ALIGN) * ALIGN;
  const buffer = new SharedArrayBuffer(bytes);
  let offset = 0;
  const shared: Record<string, TypedArray> = {};
  for (const [name, array] of Object.entries(arrays)) {
    const Kind = array.constructor as new (buffer: SharedArrayBuffer, offset: number, length: number) => TypedArray;
    const copy = new Kind(buffer, offset, array.length);
    copy.set(array);
    shared[name] = copy;
    offset += Math.ceil(array.byteLength / ALIGN) * ALIGN;
  }
  return shared as T;
}

function polygonsOf(geometry: Polygon | MultiPolygon): Position[][][] {
  return geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
}

/** Zones read from a file, indexed for `lookup`; see ZoneSet. */
export class ZoneIndex implements ZoneSet {
  readonly source: string;
  readonly size: number;
  readonly parts: number;
  readonly rings: number;
  readonly positions: number;
  readonly extent: Box;
  readonly oddities: ZoneOddities;

  readonly #ids: readonly string[];
  /** 1 where the zone came as a MultiPolygon, so `geometry` gives it back as one. */
  readonly #multi: Uint8Array;
  /** First part of each zone, and one past the last zone's end. */
  readonly #zoneParts: Int32Array;
  /** Per zone: west, south, east, north. */
  readonly #zoneBoxes: Float64Array;
  /** x, y of every position of every ring, in file order. */
  readonly #coords: Float64Array;
  /** First position of each ring, and one past the last ring's end. */
  readonly #ringStarts: Int32Array;
  /** First ring of each part, and one past the last part's end. */
  readonly #partRings: Int32Array;
  /** The zone each part belongs to; non-decreasing. */
  readonly #partZones: Int32Array;
  readonly #west: number;
  readonly #south: number;
  readonly #east: number;
  readonly #north: number;
  /** The R-tree's arrays, read directly by the allocation-free search below. */
  readonly #treeBoxes: Float64Array;
  readonly #treeIndices: Uint16Array | Uint32Array;
  readonly #levelBounds: Int32Array;
  /** Pairs (node position, level) still to visit; sized for the deepest search. */
  readonly #stack: Int32Array;

  constructor(source: string, features: readonly ZoneFeature[]);
  /** From another thread's index (see SharedZoneIndex): nothing is parsed or checked again. */
  constructor(shared: SharedZoneIndex);
  constructor(sourceOrShared: string | SharedZoneIndex, featuresOrNone?: readonly ZoneFeature[]) {
    if (typeof sourceOrShared !== 'string') {
      const shared = sourceOrShared;
      this.source = shared.source;
      this.size = shared.ids.length;
      this.parts = shared.parts;
      this.rings = shared.rings;
      this.positions = shared.positions;
      this.#ids = shared.ids;
      this.#multi = shared.multi;
      this.#coords = shared.coords;
      this.#ringStarts = shared.ringStarts;
      this.#partRings = shared.partRings;
      this.#partZones = shared.partZones;
      this.#zoneBoxes = shared.zoneBoxes;
      this.#zoneParts = shared.zoneParts;
      this.#treeBoxes = shared.treeBoxes;
      this.#treeIndices = shared.treeIndices;
      this.#levelBounds = shared.levelBounds;
      this.#stack = new Int32Array(2 * NODE_SIZE * shared.levelBounds.length);
      this.extent = shared.extent;
      [this.#west, this.#south, this.#east, this.#north] = this.extent;
      this.oddities = shared.oddities;
      return;
    }
    const source = sourceOrShared;
    const features = featuresOrNone ?? [];
    this.source = source;
    this.size = features.length;
    // Only ids and flat arrays are kept: the parsed GeoJSON objects take several times the memory.
    this.#ids = features.map((feature) => feature.id);
    this.#multi = Uint8Array.from(features, (feature) => (feature.geometry.type === 'MultiPolygon' ? 1 : 0));

    let parts = 0;
    let rings = 0;
    let positions = 0;
    for (const feature of features) {
      for (const polygon of polygonsOf(feature.geometry)) {
        parts++;
        rings += polygon.length;
        for (const ring of polygon) positions += ring.length;
      }
    }
    this.parts = parts;
    this.rings = rings;
    this.positions = positions;

    const coords = new Float64Array(2 * positions);
    const ringStarts = new Int32Array(rings + 1);
    const partRings = new Int32Array(parts + 1);
    const partZones = new Int32Array(parts);
    const zoneBoxes = new Float64Array(4 * features.length);
    const zoneParts = new Int32Array(features.length + 1);
    const tree = new Flatbush(parts, NODE_SIZE);
    let part = 0;
    let ring = 0;
    let position = 0;
    features.forEach((feature, zone) => {
      const zoneBox = 4 * zone;
      zoneParts[zone] = part;
      zoneBoxes.set([Infinity, Infinity, -Infinity, -Infinity], zoneBox);
      for (const polygon of polygonsOf(feature.geometry)) {
        let w = Infinity;
        let s = Infinity;
        let e = -Infinity;
        let n = -Infinity;
        partRings[part] = ring;
        partZones[part] = zone;
        for (const positionsOfRing of polygon) {
          ringStarts[ring++] = position;
          for (const [x, y] of positionsOfRing as [number, number][]) {
            coords[2 * position] = x;
            coords[2 * position + 1] = y;
            position++;
            if (x < w) w = x;
            if (x > e) e = x;
            if (y < s) s = y;
            if (y > n) n = y;
          }
        }
        tree.add(w, s, e, n);
        part++;
        zoneBoxes[zoneBox] = Math.min(zoneBoxes[zoneBox]!, w);
        zoneBoxes[zoneBox + 1] = Math.min(zoneBoxes[zoneBox + 1]!, s);
        zoneBoxes[zoneBox + 2] = Math.max(zoneBoxes[zoneBox + 2]!, e);
        zoneBoxes[zoneBox + 3] = Math.max(zoneBoxes[zoneBox + 3]!, n);
      }
    });
    ringStarts[rings] = position;
    partRings[parts] = rings;
    zoneParts[features.length] = parts;
    tree.finish();

    this.#coords = coords;
    this.#ringStarts = ringStarts;
    this.#partRings = partRings;
    this.#partZones = partZones;
    this.#zoneBoxes = zoneBoxes;
    this.#zoneParts = zoneParts;
    this.#treeBoxes = tree._boxes as Float64Array;
    this.#treeIndices = tree._indices;
    this.#levelBounds = Int32Array.from(tree._levelBounds);
    this.#stack = new Int32Array(2 * NODE_SIZE * tree._levelBounds.length);
    this.extent = [tree.minX, tree.minY, tree.maxX, tree.maxY];
    [this.#west, this.#south, this.#east, this.#north] = this.extent;
    this.oddities = this.#countOddities();
  }

  /** This index for another thread: its arrays copied once to shared memory. */
  toShared(): SharedZoneIndex {
    const arrays = onSharedMemory({
      multi: this.#multi,
      zoneParts: this.#zoneParts,
      zoneBoxes: this.#zoneBoxes,
      coords: this.#coords,
      ringStarts: this.#ringStarts,
      partRings: this.#partRings,
      partZones: this.#partZones,
      treeBoxes: this.#treeBoxes,
      treeIndices: this.#treeIndices,
      levelBounds: this.#levelBounds,
    });
    return {
      source: this.source,
      ids: [...this.#ids],
      parts: this.parts,
      rings: this.rings,
      positions: this.positions,
      extent: this.extent,
      oddities: this.oddities,
      ...arrays,
    };
  }

  id(index: number): string {
    this.#check(index);
    return this.#ids[index]!;
  }

  bbox(index: number): Box {
    this.#check(index);
    const b = this.#zoneBoxes;
    return [b[4 * index]!, b[4 * index + 1]!, b[4 * index + 2]!, b[4 * index + 3]!];
  }

  /** Rebuilt from the index on each call: positions as [lon, lat], a third coordinate of the file not kept. */
  geometry(index: number): Polygon | MultiPolygon {
    this.#check(index);
    const coords = this.#coords;
    const polygons: Position[][][] = [];
    for (let part = this.#zoneParts[index]!; part < this.#zoneParts[index + 1]!; part++) {
      const rings: Position[][] = [];
      for (let ring = this.#partRings[part]!; ring < this.#partRings[part + 1]!; ring++) {
        const positions: Position[] = [];
        for (let p = this.#ringStarts[ring]!; p < this.#ringStarts[ring + 1]!; p++) positions.push([coords[2 * p]!, coords[2 * p + 1]!]);
        rings.push(positions);
      }
      polygons.push(rings);
    }
    return this.#multi[index] === 1 ? { type: 'MultiPolygon', coordinates: polygons } : { type: 'Polygon', coordinates: polygons[0]! };
  }

  lookup(lon: number, lat: number): number {
    if (!this.#inExtent(lon, lat)) return -1;
    const best = this.#search(lon, lat, null);
    return best < 0 ? -1 : this.#partZones[best]!;
  }

  lookupAll(lon: number, lat: number, out: number[]): number {
    out.length = 0;
    if (!this.#inExtent(lon, lat)) return 0;
    const parts: number[] = [];
    this.#search(lon, lat, parts);
    parts.sort((a, b) => a - b);
    for (const part of parts) {
      const zone = this.#partZones[part]!;
      if (out[out.length - 1] !== zone) out.push(zone);
    }
    return out.length;
  }

  /**
   * Walks the R-tree for the leaves whose box holds (x, y) and tests each
   * part exactly. With `all` null, returns the lowest part holding the point
   * (skipping parts above the best found so far), or -1; otherwise pushes
   * every part holding it into `all`. The walk is flatbush's own `search`
   * for a point, on its arrays, with a preallocated stack instead of the
   * arrays `search` allocates per call.
   */
  #search(x: number, y: number, all: number[] | null): number {
    const boxes = this.#treeBoxes;
    const indices = this.#treeIndices;
    const levelBounds = this.#levelBounds;
    const stack = this.#stack;
    const leaves = 4 * this.parts;
    let best = -1;
    let top = 0;
    let node = boxes.length - 4;
    let level = levelBounds.length - 1;
    for (;;) {
      const end = Math.min(node + 4 * NODE_SIZE, levelBounds[level]!);
      for (let pos = node; pos < end; pos += 4) {
        if (x < boxes[pos]! || y < boxes[pos + 1]! || x > boxes[pos + 2]! || y > boxes[pos + 3]!) continue;
        const index = indices[pos >> 2]!;
        if (node >= leaves) {
          stack[top++] = index;
          stack[top++] = level - 1;
        } else if (all !== null) {
          if (this.#partContains(index, x, y)) all.push(index);
        } else if ((best < 0 || index < best) && this.#partContains(index, x, y)) {
          best = index;
        }
      }
      if (top === 0) return best;
      level = stack[--top]!;
      node = stack[--top]!;
    }
  }

  /** Inside the box of all zones (false for NaN): points outside skip the search. */
  #inExtent(x: number, y: number): boolean {
    return x >= this.#west && x <= this.#east && y >= this.#south && y <= this.#north;
  }

  #partContains(part: number, x: number, y: number): boolean {
    return ringsContain(this.#coords, this.#ringStarts, this.#partRings[part]!, this.#partRings[part + 1]!, x, y);
  }

  #check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError(`zone index ${index} is not in 0 to ${this.size - 1} (${this.source})`);
  }

  #countOddities(): ZoneOddities {
    let selfIntersectingRings = 0;
    let collinearRings = 0;
    let repeated = 0;
    let outOfRange = 0;
    const coords = this.#coords;
    for (let ring = 0; ring < this.rings; ring++) {
      const first = this.#ringStarts[ring]!;
      const end = this.#ringStarts[ring + 1]!;
      repeated += repeatedPositions(coords, first, end);
      outOfRange += positionsOutOfRange(coords, first, end);
      if (isCollinear(coords, first, end)) collinearRings++;
      else if (ringSelfIntersects(coords, first, end)) selfIntersectingRings++;
    }
    return { selfIntersectingRings, collinearRings, repeatedPositions: repeated, positionsOutOfRange: outOfRange };
  }
}
