/**
 * The points that can be convex hull vertices, found in one pass without
 * allocating per point (Akl-Toussaint): a point strictly inside the octagon
 * of the extreme points (least and greatest x, y, x + y and x - y) is inside
 * the hull and never one of its vertices. For spread-out sensors this drops
 * most points before turf builds its index over them; the hull is the same.
 *
 * Returns the indexes of the points to keep, in `out` (from 0), and their
 * number.
 */
export function hullCandidates(lon: Float32Array, lat: Float32Array, count: number, out: Uint32Array): number {
  if (count === 0) return 0;
  // Extremes in counter-clockwise order, from the east: E, NE, N, NW, W, SW, S, SE.
  const extreme = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 1; i < count; i++) {
    const x = lon[i]!;
    const y = lat[i]!;
    if (x > lon[extreme[0]!]!) extreme[0] = i;
    if (x + y > lon[extreme[1]!]! + lat[extreme[1]!]!) extreme[1] = i;
    if (y > lat[extreme[2]!]!) extreme[2] = i;
    if (y - x > lat[extreme[3]!]! - lon[extreme[3]!]!) extreme[3] = i;
    if (x < lon[extreme[4]!]!) extreme[4] = i;
    if (x + y < lon[extreme[5]!]! + lat[extreme[5]!]!) extreme[5] = i;
    if (y < lat[extreme[6]!]!) extreme[6] = i;
    if (x - y > lon[extreme[7]!]! - lat[extreme[7]!]!) extreme[7] = i;
  }
  // The octagon's distinct corners; fewer than three span no area to filter with.
  const corners: number[] = [];
  for (const i of extreme) {
    const last = corners[corners.length - 1];
    if (last === undefined || lon[last] !== lon[i] || lat[last] !== lat[i]) corners.push(i);
  }
  while (corners.length > 1 && lon[corners[0]!] === lon[corners[corners.length - 1]!] && lat[corners[0]!] === lat[corners[corners.length - 1]!]) {
    corners.pop();
  }
  let kept = 0;
  if (corners.length < 3) {
    for (let i = 0; i < count; i++) out[kept++] = i;
    return kept;
  }
  for (let i = 0; i < count; i++) {
    const x = lon[i]!;
    const y = lat[i]!;
    let inside = true;
    for (let c = 0; c < corners.length; c++) {
      const a = corners[c]!;
      const b = corners[(c + 1) % corners.length]!;
      const ax = lon[a]!;
      const ay = lat[a]!;
      // Strictly left of every counter-clockwise edge: inside. On an edge or outside: keep.
      if ((lon[b]! - ax) * (y - ay) - (lat[b]! - ay) * (x - ax) <= 0) {
        inside = false;
        break;
      }
    }
    if (!inside) out[kept++] = i;
  }
  return kept;
}
