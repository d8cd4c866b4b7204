/**
 * A map of zone windows: one self-contained HTML file with an inline SVG (no
 * tiles, no scripts, nothing fetched), zones coloured by one reading's mean in
 * one closed window, with a legend and a tooltip per zone. People read a map
 * faster than 50 lines of JSON.
 */
import { writeFileSync } from 'node:fs';
import type { MultiPolygon, Polygon } from 'geojson';
import { MapDataError, UsageError } from '../errors.js';
import { colourAt, formatValue, scalePosition, scaleStops, ticks } from './colour-scale.js';
import { mergeZoneWindows, readingsByUse, selectMap, type MapSelection, type ZoneWindow } from './map-data.js';
import { layoutZones, type Point } from './map-layout.js';

/** What the map needs of the zones (a `ZoneSet` of src/shared/zones/ is one). */
export interface MapZones {
  readonly size: number;
  id(i: number): string;
  geometry(i: number): Polygon | MultiPolygon;
}

interface MapOptions {
  readonly zones: MapZones;
  /** A zone's name by index, where the zones file has one (shown in tooltips). */
  readonly names?: (i: number) => string | undefined;
  /** The reading to colour by; default: the one most zone windows have. */
  readonly reading?: string;
  /** Where the aggregates were read from (an output topic, a file), for the subtitle. */
  readonly from?: string;
}

/**
 * The zones and what to draw on them: aggregates as parsed JSON, in the order
 * read (all but v2 zone aggregates of time windows are skipped), or zone
 * windows already merged by a ZoneWindowCollector.
 */
export type MapInput = MapOptions & ({ readonly aggregates: Iterable<unknown> } | { readonly windows: readonly ZoneWindow[] });

export interface MapResult {
  readonly html: string;
  readonly selection: MapSelection;
  /** Zones coloured (they have the reading in the window). */
  readonly zonesWithData: number;
  /** Zone ids of the window that the zones file does not hold (not drawn). */
  readonly unknownZones: number;
}

/** Width of the map in SVG units; its height follows the zones' shape, up to MAP_MAX_HEIGHT for the main panel. */
const MAP_WIDTH = 1000;
const MAP_MAX_HEIGHT = 600;
/** Height of the row of insets (zones far from the rest: Alaska, Hawaii, islands). */
const INSET_HEIGHT = 150;
const MARGIN = 12;
/** Room above the map for the title and subtitle, below it for the legend. */
const HEADER_HEIGHT = 58;
const LEGEND_HEIGHT = 64;
const LEGEND_WIDTH = 320;
const LEGEND_TICKS = 5;
/**
 * Path coordinates are whole tenths of an SVG unit: 0.1 unit is about
 * 0.01 degree on a map of the US 1,000 units wide, finer than the simplified
 * boundaries (us-atlas 10m) themselves.
 */
const SUBUNITS = 10;
const NO_DATA_FILL = '#e4e4e4';

const escapeXml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * SVG path data of rings of integer points: M to the first point, then
 * relative steps (implicit `l`), repeated points dropped, `z` to close;
 * rings that collapse to fewer than three points are left out.
 */
function pathData(rings: readonly Point[][]): string {
  let d = '';
  for (const ring of rings) {
    const points: Point[] = [];
    for (const point of ring) {
      const last = points[points.length - 1];
      if (last === undefined || last[0] !== point[0] || last[1] !== point[1]) points.push(point);
    }
    const first = points[0];
    const end = points[points.length - 1];
    if (first !== undefined && end !== undefined && first[0] === end[0] && first[1] === end[1]) points.pop();
    if (points.length < 3) continue;
    let step = `M${points[0]![0]} ${points[0]![1]}l`;
    for (let k = 1; k < points.length; k++) {
      const dx = points[k]![0] - points[k - 1]![0];
      const dy = points[k]![1] - points[k - 1]![1];
      step += `${k === 1 || dx < 0 ? '' : ' '}${dx}${dy < 0 ? '' : ' '}${dy}`;
    }
    d += `${step}z`;
  }
  return d;
}

function legend(selection: MapSelection, y: number): string {
  const { min, max, reading } = selection;
  const spread = max - min;
  const x = MARGIN;
  const stops = scaleStops()
    .map(([offset, colour]) => `<stop offset="${offset.toFixed(2)}" stop-color="${colour}"/>`)
    .join('');
  const values = ticks(min, max, LEGEND_TICKS);
  const marks = values
    .map((value, k) => {
      const tx = (x + scalePosition(value, min, max) * LEGEND_WIDTH).toFixed(1);
      // The end labels line up with the bar's ends instead of hanging past them.
      const anchor = values.length === 1 ? 'middle' : k === 0 ? 'start' : k === values.length - 1 ? 'end' : 'middle';
      return `<line x1="${tx}" x2="${tx}" y1="${y + 18}" y2="${y + 36}"/><text class="tick" x="${tx}" y="${y + 50}" text-anchor="${anchor}">${formatValue(value, spread)}</text>`;
    })
    .join('');
  const swatch = x + LEGEND_WIDTH + 40;
  return (
    `<g class="legend" data-min="${min}" data-max="${max}">` +
    `<defs><linearGradient id="scale">${stops}</linearGradient></defs>` +
    `<text class="label" x="${x}" y="${y + 12}">${escapeXml(reading)}: mean per zone</text>` +
    `<rect x="${x}" y="${y + 18}" width="${LEGEND_WIDTH}" height="14" fill="url(#scale)"/>${marks}` +
    `<rect x="${swatch}" y="${y + 18}" width="14" height="14" fill="${NO_DATA_FILL}"/>` +
    `<text class="label" x="${swatch + 20}" y="${y + 30}">no ${escapeXml(reading)} in this window</text></g>`
  );
}

/** Renders the map of the latest closed window with the most zones (see `selectMap`) as an HTML page. */
export function renderMap(input: MapInput): MapResult {
  const windows = 'windows' in input ? input.windows : mergeZoneWindows(input.aggregates);
  if (windows.length === 0) {
    throw new MapDataError(`${input.from ?? 'the input'} holds no v2 aggregate of a tumbling or hopping window keyed by zone`);
  }
  const uses = readingsByUse(windows);
  if (input.reading !== undefined && !uses.some(([name]) => name === input.reading)) {
    const seen = uses.map(([name, n]) => `${name} (${n})`).join(', ') || 'none';
    throw new UsageError(`--reading: no zone window has the reading ${JSON.stringify(input.reading)}; zone windows per reading: ${seen}`);
  }
  const selection = selectMap(windows, input.reading);
  if (selection === undefined) throw new MapDataError(`no zone window in ${input.from ?? 'the input'} has any reading to map`);

  const { zones, names } = input;
  const layout = layoutZones(Array.from({ length: zones.size }, (_, i) => zones.geometry(i)), {
    width: MAP_WIDTH,
    mainMaxHeight: MAP_MAX_HEIGHT,
    insetHeight: INSET_HEIGHT,
    margin: MARGIN,
    subunits: SUBUNITS,
  });
  const known = new Set<string>();
  let zonesWithData = 0;
  const paths: string[] = [];
  const spread = selection.max - selection.min;
  for (let i = 0; i < zones.size; i++) {
    const id = zones.id(i);
    known.add(id);
    const name = names?.(i);
    const label = escapeXml(name === undefined ? id : `${id} ${name}`);
    const data = selection.zones.get(id);
    const rings = layout.rings[i];
    const d = rings === undefined ? '' : pathData(rings);
    if (d === '') continue;
    if (data?.mean === undefined) {
      const what = data === undefined ? 'no records in this window' : `${data.count} records, none with ${selection.reading}`;
      paths.push(`<path class="nodata" d="${d}"><title>${label}: ${escapeXml(what)}</title></path>`);
      continue;
    }
    zonesWithData++;
    const fill = colourAt(scalePosition(data.mean, selection.min, selection.max));
    const tip = `${selection.reading} mean ${formatValue(data.mean, spread)} (${data.readingCount} readings), ${data.count} records`;
    paths.push(`<path d="${d}" fill="${fill}" data-zone="${escapeXml(id)}" data-mean="${data.mean}"><title>${label}: ${escapeXml(tip)}</title></path>`);
  }
  const unknownZones = [...selection.zones.keys()].filter((id) => !known.has(id)).length;

  const title = `${selection.reading} mean per zone, ${iso(selection.start)} – ${iso(selection.end)}`;
  const subtitle = [
    `${zonesWithData.toLocaleString('en-US')} of ${zones.size.toLocaleString('en-US')} zones with ${selection.reading}`,
    `${selection.records.toLocaleString('en-US')} records`,
    selection.topics.length > 0 ? `topic ${selection.topics.join(', ')}` : undefined,
    input.from === undefined ? undefined : `read from ${input.from}`,
    unknownZones > 0 ? `${unknownZones} zone ids not in the zones file` : undefined,
    layout.dropped > 0 ? `${layout.dropped} zones in far-off groups not drawn` : undefined,
  ]
    .filter((part) => part !== undefined)
    .join(' · ');
  const mapTop = HEADER_HEIGHT;
  const legendTop = Math.round(mapTop + layout.height);
  const frames = layout.panels
    .filter((panel) => panel.inset)
    .map((p) => `<rect class="inset" x="${(p.x - 3).toFixed(1)}" y="${(mapTop + p.y - 3).toFixed(1)}" width="${(p.width + 6).toFixed(1)}" height="${(p.height + 6).toFixed(1)}"/>`)
    .join('');
  const total = legendTop + LEGEND_HEIGHT;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${MAP_WIDTH} ${total}" role="img" aria-labelledby="map-title">` +
    `<title id="map-title">${escapeXml(title)}</title>` +
    '<style>text{font:13px system-ui,sans-serif;fill:#222}.title{font-size:18px;font-weight:600}.tick{font-size:11px}' +
    `.zones path{stroke:#fff;stroke-width:.3px;vector-effect:non-scaling-stroke;stroke-linejoin:round}.zones .nodata{fill:${NO_DATA_FILL}}` +
    '.zones path:hover{stroke:#000;stroke-width:1.2px}.legend line{stroke:#222}.inset{fill:none;stroke:#bbb;stroke-width:.5}</style>' +
    `<text class="title" x="${MARGIN}" y="24">${escapeXml(title)}</text>` +
    `<text x="${MARGIN}" y="46">${escapeXml(subtitle)}</text>` +
    frames +
    `<g class="zones" transform="translate(0 ${mapTop}) scale(${1 / SUBUNITS})">\n${paths.join('\n')}\n</g>` +
    legend(selection, legendTop) +
    '</svg>';
  const html =
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>` +
    '<style>body{margin:1rem;font-family:system-ui,sans-serif;color:#222}svg{width:100%;max-width:1200px;height:auto}p{max-width:60rem;font-size:14px}</style>' +
    `</head><body>\n${svg}\n<p>Each zone's mean merges every partition's result for the window (counts and sums added, mean = sum / count). ` +
    `The window shown is the one with the most zones reporting ${escapeXml(selection.reading)}; of several, the latest. ` +
    'Zones far from the rest are drawn in framed insets below the main map, each at its own scale. ' +
    'Hover over a zone for its id, name, records and mean.</p>\n</body></html>\n';
  return { html, selection, zonesWithData, unknownZones };
}

/** Renders the map and writes it to `path`. */
export function writeMap(path: string, input: MapInput): MapResult {
  const result = renderMap(input);
  writeFileSync(path, result.html);
  return result;
}

/** Zone names from a parsed GeoJSON FeatureCollection (property `name`), by feature index. */
export function featureNames(value: unknown, property = 'name'): (i: number) => string | undefined {
  const features = typeof value === 'object' && value !== null && Array.isArray((value as { features?: unknown }).features)
    ? ((value as { features: unknown[] }).features)
    : [];
  return (i) => {
    const properties = (features[i] as { properties?: Record<string, unknown> } | undefined)?.properties;
    const name = properties?.[property];
    return typeof name === 'string' ? name : undefined;
  };
}
