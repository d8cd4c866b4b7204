/**
 * A sequential colour scale for the map: viridis (dark blue-purple to
 * yellow), whose lightness rises evenly from one end to the other, so a
 * larger value always looks lighter, and colour-blind readers see the order
 * too.
 */

/** Viridis at 0, 0.1, ..., 1 (the matplotlib colour map, as d3 samples it). */
const VIRIDIS = [
  '#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c',
  '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725',
] as const;

const channels = (hex: string) => [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
const STOPS = VIRIDIS.map(channels);

/** The colour at `t` in [0, 1] (clamped), as #rrggbb, linear between the stops. */
export function colourAt(t: number): string {
  const clamped = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const scaled = clamped * (STOPS.length - 1);
  const low = Math.min(STOPS.length - 2, Math.floor(scaled));
  const f = scaled - low;
  const a = STOPS[low]!;
  const b = STOPS[low + 1]!;
  return `#${a.map((v, i) => Math.round(v + (b[i]! - v) * f).toString(16).padStart(2, '0')).join('')}`;
}

/** The stops as [offset, colour] pairs, for an SVG gradient of the whole scale. */
export function scaleStops(): [number, string][] {
  return VIRIDIS.map((colour, i) => [i / (VIRIDIS.length - 1), colour]);
}

/** Where `value` falls on a scale from `min` to `max`, in [0, 1]; the middle when the scale is a single value. */
export function scalePosition(value: number, min: number, max: number): number {
  return max > min ? (value - min) / (max - min) : 0.5;
}

/** Evenly spaced values from `min` to `max`, both included: the legend's ticks. */
export function ticks(min: number, max: number, count: number): number[] {
  if (!(max > min)) return [min];
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? max : min + ((max - min) * i) / (count - 1)));
}

/** A value for a label, to as many decimals as the spread of the scale calls for (at most six). */
export function formatValue(value: number, spread: number): string {
  const decimals = spread > 0 ? Math.min(6, Math.max(0, 2 - Math.floor(Math.log10(spread)))) : 2;
  return value.toFixed(decimals);
}
