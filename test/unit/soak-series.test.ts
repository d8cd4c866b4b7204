import { describe, expect, it } from 'vitest';
import { soakChart, type ChartOptions } from '../../src/soak/chart.js';
import { pausedIntervals, peakRssBytes, rssSlopeMbPerHour, toCsv, type SoakSample } from '../../src/soak/series.js';

const MiB = 1024 * 1024;

function at(t: number, rssMb: number, fields: Partial<SoakSample> = {}): SoakSample {
  return { t, rssBytes: rssMb * MiB, heapUsedBytes: 40 * MiB, paused: false, recordsIn: t * 100, ...fields };
}

/** Paused flags at t = 0, 1, 2, ... */
function pausedSeries(flags: readonly boolean[]): SoakSample[] {
  return flags.map((paused, t) => at(t, 300, { paused }));
}

describe('rssSlopeMbPerHour', () => {
  it('is 60 MB/h for RSS growing 1 MB every minute', () => {
    const samples = Array.from({ length: 61 }, (_, i) => at(i * 60, 200 + i));
    expect(rssSlopeMbPerHour(samples, 0)).toBeCloseTo(60, 9);
  });

  it('is -30 MB/h for RSS shrinking 1 MB every 2 minutes, sampled each second', () => {
    const samples = Array.from({ length: 3601 }, (_, t) => at(t, 500 - t / 120));
    expect(rssSlopeMbPerHour(samples, 0)).toBeCloseTo(-30, 6);
  });

  it('is 0 for a flat series', () => {
    const samples = Array.from({ length: 100 }, (_, t) => at(t, 321));
    expect(rssSlopeMbPerHour(samples, 0)).toBe(0);
  });

  it('is 0 for a series that rises and falls back symmetrically', () => {
    const samples = [at(0, 100), at(1, 200), at(2, 300), at(3, 200), at(4, 100)];
    expect(rssSlopeMbPerHour(samples, 0)).toBeCloseTo(0, 9);
  });

  it('ignores the samples before fromSeconds (the warm-up)', () => {
    // A steep warm-up from 0 to 600 MB in the first 10 minutes, then flat.
    const warmup = Array.from({ length: 600 }, (_, t) => at(t, t));
    const steady = Array.from({ length: 600 }, (_, i) => at(600 + i, 600));
    const samples = [...warmup, ...steady];
    expect(rssSlopeMbPerHour(samples, 0)).toBeGreaterThan(1000);
    expect(rssSlopeMbPerHour(samples, 600)).toBe(0);
    // The bound is inclusive: from 599 the last warm-up point (599 MB) counts and tilts the line up.
    expect(rssSlopeMbPerHour(samples, 599)).toBeGreaterThan(0);
  });

  it('is 0 with fewer than two samples to fit', () => {
    expect(rssSlopeMbPerHour([], 0)).toBe(0);
    expect(rssSlopeMbPerHour([at(5, 100)], 0)).toBe(0);
    expect(rssSlopeMbPerHour([at(5, 100), at(10, 200)], 6)).toBe(0);
  });
});

describe('peakRssBytes', () => {
  it('is the largest RSS, wherever it falls', () => {
    expect(peakRssBytes([at(0, 300), at(1, 812), at(2, 500)])).toBe(812 * MiB);
    expect(peakRssBytes([at(0, 900), at(1, 100)])).toBe(900 * MiB);
    expect(peakRssBytes([at(0, 100), at(1, 901)])).toBe(901 * MiB);
  });

  it('is 0 without samples', () => {
    expect(peakRssBytes([])).toBe(0);
  });
});

describe('pausedIntervals', () => {
  it('is each paused stretch, from its first paused sample to the first running one', () => {
    const F = false;
    const T = true;
    expect(pausedIntervals(pausedSeries([F, T, T, F, F, T, F]))).toEqual([
      [1, 3],
      [5, 6],
    ]);
  });

  it('closes a stretch still open at the end at the last sample', () => {
    expect(pausedIntervals(pausedSeries([false, true, false, false, true, true, true]))).toEqual([
      [1, 2],
      [4, 6],
    ]);
    expect(pausedIntervals(pausedSeries([true, true]))).toEqual([[0, 1]]);
  });

  it('is empty without a pause, or without samples', () => {
    expect(pausedIntervals(pausedSeries([false, false, false]))).toEqual([]);
    expect(pausedIntervals([])).toEqual([]);
  });
});

describe('toCsv', () => {
  it('writes a header and one row per sample: seconds to 0.1, MB to 0.01, paused as 0/1', () => {
    const samples: SoakSample[] = [
      { t: 0, rssBytes: 100 * MiB, heapUsedBytes: 50 * MiB, paused: false, recordsIn: 0 },
      { t: 1.26, rssBytes: 100.5 * MiB, heapUsedBytes: 0.126 * MiB, paused: true, recordsIn: 1234 },
    ];
    expect(toCsv(samples)).toBe(
      ['t_s,rss_mb,heap_used_mb,paused,records_in', '0.0,100.00,50.00,0,0', '1.3,100.50,0.13,1,1234', ''].join('\n'),
    );
  });

  it('writes just the header without samples', () => {
    expect(toCsv([])).toBe('t_s,rss_mb,heap_used_mb,paused,records_in\n');
  });
});

describe('soakChart', () => {
  const OPTIONS: ChartOptions = { title: 'soak <1000 rec/s> & more', budgetBytes: 512 * MiB, highWater: 0.85, lowWater: 0.7 };

  /** Tags opened and closed in order, self-closing ones aside; throws on the first mismatch. */
  function assertBalanced(svg: string): void {
    const stack: string[] = [];
    for (const match of svg.matchAll(/<(\/?)([a-zA-Z]+)\b[^<>]*?(\/?)>/g)) {
      const [, closing, name, selfClosing] = match;
      if (selfClosing === '/') continue;
      if (closing === '/') expect(stack.pop(), `closing </${name}>`).toBe(name);
      else stack.push(name!);
    }
    expect(stack).toEqual([]);
    // No stray angle brackets outside tags (an unescaped title would leave one).
    expect(svg.replace(/<(\/?)([a-zA-Z]+)\b[^<>]*?(\/?)>/g, '')).not.toMatch(/[<>]/);
  }

  function count(svg: string, pattern: RegExp): number {
    return svg.match(new RegExp(pattern, 'g'))?.length ?? 0;
  }

  const samples = pausedSeries([false, true, true, false, false, false, true, true, false, true]).map((s, i) => ({
    ...s,
    rssBytes: (300 + 20 * i) * MiB,
  }));

  it('is a well-formed SVG document with the title escaped', () => {
    const svg = soakChart(samples, OPTIONS);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /);
    expect(svg.endsWith('</svg>\n')).toBe(true);
    assertBalanced(svg);
    expect(svg).toContain('soak &lt;1000 rec/s&gt; &amp; more');
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('draws one path per series (RSS and heap), each through every sample', () => {
    const svg = soakChart(samples, OPTIONS);
    const paths = [...svg.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]!);
    expect(paths).toHaveLength(2);
    for (const d of paths) {
      expect(count(d, /M/)).toBe(1);
      expect(count(d, /L/)).toBe(samples.length - 1);
    }
  });

  it('shades one rectangle per paused stretch, the last one still open', () => {
    const svg = soakChart(samples, OPTIONS);
    // [1, 3], [6, 8], [9, 9]: the shaded rects are the ones drawn at 0.6 opacity (the legend swatch is not).
    expect(count(svg, /<rect [^>]*fill="#f4c7c3" opacity="0\.6"\/>/)).toBe(3);
    expect(count(soakChart(pausedSeries([false, false, false]), OPTIONS), /opacity="0\.6"/)).toBe(0);
  });

  it('labels the budget line and the water marks', () => {
    const svg = soakChart(samples, OPTIONS);
    expect(svg).toMatch(/>budget 512 MB<\/text>/);
    expect(svg).toMatch(/>pause 85%<\/text>/);
    expect(svg).toMatch(/>resume 70%<\/text>/);
  });

  it('draws the budget line above the pause line, and that above the resume line', () => {
    const svg = soakChart(samples, OPTIONS);
    const yOf = (label: string) => Number(new RegExp(`<text [^>]*y="([\\d.]+)"[^>]*>${label}</text>`).exec(svg)?.[1]);
    // SVG y grows downward.
    expect(yOf('budget 512 MB')).toBeLessThan(yOf('pause 85%'));
    expect(yOf('pause 85%')).toBeLessThan(yOf('resume 70%'));
  });

  it('renders without samples, and with a single one', () => {
    for (const series of [[], [at(0, 100)]]) {
      const svg = soakChart(series, OPTIONS);
      assertBalanced(svg);
      expect(svg).not.toMatch(/NaN|undefined|Infinity/);
      expect(svg).toContain('>budget 512 MB</text>');
    }
  });

  it('renders a two-day soak sampled every second', () => {
    const long = Array.from({ length: 2 * 24 * 3600 }, (_, t) => at(t, 300 + (t % 100), { paused: t % 10_000 < 10 }));
    const svg = soakChart(long, OPTIONS);
    expect(svg.endsWith('</svg>\n')).toBe(true);
    expect(count(svg, /opacity="0\.6"/)).toBe(18); // t = 0, 10000, ..., 170000
  });
});
