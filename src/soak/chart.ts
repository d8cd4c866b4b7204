import { pausedIntervals, peakRssBytes, type SoakSample } from './series.js';

export interface ChartOptions {
  readonly title: string;
  readonly budgetBytes: number;
  readonly highWater: number;
  readonly lowWater: number;
}

const WIDTH = 900;
const HEIGHT = 420;
const MARGIN = { left: 64, right: 150, top: 40, bottom: 44 };
const MB = 1048576;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * RSS and heap over time against the budget and its water marks, with the
 * stretches the consumer was paused shaded, and the bytes held by open
 * event-time windows when there are any: a self-contained SVG.
 */
export function soakChart(samples: readonly SoakSample[], options: ChartOptions): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const tMax = Math.max(1, samples.length > 0 ? samples[samples.length - 1]!.t : 1);
  // Not Math.max(...samples): spreading a long soak (~150,000 samples) overflows the call stack.
  const yMaxMb = Math.max(options.budgetBytes, peakRssBytes(samples)) / MB * 1.08;
  const x = (t: number) => MARGIN.left + (t / tMax) * plotW;
  const y = (mb: number) => MARGIN.top + plotH - (mb / yMaxMb) * plotH;
  const path = (value: (s: SoakSample) => number) =>
    samples.map((s, i) => `${i === 0 ? 'M' : 'L'}${x(s.t).toFixed(1)},${y(value(s) / MB).toFixed(1)}`).join(' ');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="24" font-size="15" font-weight="bold">${escape(options.title)}</text>`,
  ];
  for (const [start, end] of pausedIntervals(samples)) {
    parts.push(
      `<rect x="${x(start).toFixed(1)}" y="${MARGIN.top}" width="${Math.max(1, x(end) - x(start)).toFixed(1)}" height="${plotH}" fill="#f4c7c3" opacity="0.6"/>`,
    );
  }
  const tickStep = Math.max(1, Math.ceil(yMaxMb / 8 / 16) * 16);
  for (let mb = 0; mb <= yMaxMb; mb += tickStep) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(mb)}" y2="${y(mb)}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(mb) + 4}" text-anchor="end">${mb}</text>`);
  }
  const timeStep = Math.max(1, Math.ceil(tMax / 10 / 30) * 30);
  for (let t = 0; t <= tMax; t += timeStep) {
    parts.push(`<text x="${x(t)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 6}" text-anchor="middle">seconds</text>`);
  parts.push(`<text x="16" y="${MARGIN.top + plotH / 2}" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})" text-anchor="middle">MB</text>`);
  const budgetMb = options.budgetBytes / MB;
  const level = (mb: number, color: string, dash: string, label: string) => {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(mb)}" y2="${y(mb)}" stroke="${color}" stroke-dasharray="${dash}"/>`);
    parts.push(`<text x="${MARGIN.left + plotW + 6}" y="${y(mb) + 4}" fill="${color}">${escape(label)}</text>`);
  };
  level(budgetMb, '#c0392b', '', `budget ${budgetMb.toFixed(0)} MB`);
  level(budgetMb * options.highWater, '#e67e22', '6 4', `pause ${(options.highWater * 100).toFixed(0)}%`);
  level(budgetMb * options.lowWater, '#27ae60', '6 4', `resume ${(options.lowWater * 100).toFixed(0)}%`);
  parts.push(`<path d="${path((s) => s.rssBytes)}" fill="none" stroke="#2c3e50" stroke-width="1.5"/>`);
  parts.push(`<path d="${path((s) => s.heapUsedBytes)}" fill="none" stroke="#2980b9" stroke-width="1.2"/>`);
  // Count windows hold no window state: their charts keep the two lines they always had.
  const windowState = samples.some((s) => s.windowStateBytes > 0);
  if (windowState) parts.push(`<path d="${path((s) => s.windowStateBytes)}" fill="none" stroke="#8e44ad" stroke-width="1.2"/>`);
  const legendY = MARGIN.top + plotH - (windowState ? 78 : 60);
  parts.push(`<line x1="${MARGIN.left + plotW + 6}" x2="${MARGIN.left + plotW + 26}" y1="${legendY}" y2="${legendY}" stroke="#2c3e50" stroke-width="2"/>`);
  parts.push(`<text x="${MARGIN.left + plotW + 30}" y="${legendY + 4}">RSS</text>`);
  parts.push(`<line x1="${MARGIN.left + plotW + 6}" x2="${MARGIN.left + plotW + 26}" y1="${legendY + 18}" y2="${legendY + 18}" stroke="#2980b9" stroke-width="2"/>`);
  parts.push(`<text x="${MARGIN.left + plotW + 30}" y="${legendY + 22}">heap used</text>`);
  parts.push(`<rect x="${MARGIN.left + plotW + 6}" y="${legendY + 30}" width="20" height="10" fill="#f4c7c3"/>`);
  parts.push(`<text x="${MARGIN.left + plotW + 30}" y="${legendY + 40}">paused</text>`);
  if (windowState) {
    parts.push(`<line x1="${MARGIN.left + plotW + 6}" x2="${MARGIN.left + plotW + 26}" y1="${legendY + 54}" y2="${legendY + 54}" stroke="#8e44ad" stroke-width="2"/>`);
    parts.push(`<text x="${MARGIN.left + plotW + 30}" y="${legendY + 58}">window state</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
