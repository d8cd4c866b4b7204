import { describe, expect, it } from 'vitest';
import { soakChart, type ChartOptions } from '../../src/soak/chart.js';
import { metricByLabel, metricTotal, scrape } from '../../src/soak/scrape.js';
import { sampleOf, summarise, type SummaryInput } from '../../src/soak/summary.js';
import {
  growthMbPer100MRecords,
  pausedIntervals,
  peakRssBytes,
  rangeFrom,
  recordsPerSecond,
  rssSlopeMbPerHour,
  sampleAtOrAfter,
  toCsv,
  type SoakSample,
} from '../../src/soak/series.js';

const MiB = 1024 * 1024;

function at(t: number, rssMb: number, fields: Partial<SoakSample> = {}): SoakSample {
  return {
    t,
    rssBytes: rssMb * MiB,
    heapUsedBytes: 40 * MiB,
    paused: false,
    recordsIn: t * 100,
    windowsEmitted: 0,
    windowsOpen: 0,
    windowStateBytes: 0,
    windowClosingBytes: 0,
    workerHeapBytes: 0,
    ...fields,
  };
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

describe('recordsPerSecond', () => {
  it('is the records-in counter\'s rise over the time between the first and last sample from fromSeconds on', () => {
    // A backlog read at 50,000/s in the first 100 s, then 20,000/s: only the second part counts after a 100 s warm-up.
    const samples = Array.from({ length: 401 }, (_, t) =>
      at(t, 300, { recordsIn: t <= 100 ? t * 50_000 : 5_000_000 + (t - 100) * 20_000 }),
    );
    expect(recordsPerSecond(samples, 100)).toBe(20_000);
    // From the start: 11,000,000 records in 400 s.
    expect(recordsPerSecond(samples, 0)).toBe(27_500);
  });

  it('uses the samples\' own times, not their count (a missed sample changes nothing)', () => {
    const samples = [at(10, 300, { recordsIn: 1000 }), at(11, 300, { recordsIn: 2000 }), at(14, 300, { recordsIn: 5000 })];
    expect(recordsPerSecond(samples, 0)).toBe(1000);
  });

  it('is 0 with fewer than two samples to measure, or none read', () => {
    expect(recordsPerSecond([], 0)).toBe(0);
    expect(recordsPerSecond([at(5, 100)], 0)).toBe(0);
    expect(recordsPerSecond([at(5, 100), at(6, 100)], 6)).toBe(0);
    expect(recordsPerSecond([at(5, 100, { recordsIn: 7 }), at(9, 100, { recordsIn: 7 })], 0)).toBe(0);
  });
});

describe('growthMbPer100MRecords', () => {
  it('is the slope in MB/h over the records read in an hour, per 100 million records', () => {
    // 6.4 MB/h at 10,000 records/s: 36 million records an hour, so 6.4 / 36 × 100 MB per 100 million.
    expect(growthMbPer100MRecords(6.4, 10_000)).toBeCloseTo((6.4 / 36) * 100, 12);
    expect(growthMbPer100MRecords(6.4, 10_000)).toBeCloseTo(17.78, 2);
    // The same slope at twice the rate is half the growth per record.
    expect(growthMbPer100MRecords(6.4, 20_000)).toBeCloseTo(8.89, 2);
    // 100 million records an hour: the slope itself.
    expect(growthMbPer100MRecords(12.5, 100_000_000 / 3600)).toBeCloseTo(12.5, 12);
  });

  it('recovers a leak of a fixed size per record from a sampled soak, whatever the rate', () => {
    // RSS = 150 MB + 1 MiB per million records read (a 1.048576-byte-per-record leak): 100 MB per 100 million records.
    for (const rate of [5_000, 20_000, 80_000]) {
      const samples = Array.from({ length: 1201 }, (_, t) => at(t, 150 + (t * rate) / 1_000_000, { recordsIn: t * rate }));
      const slope = rssSlopeMbPerHour(samples, 120);
      expect(slope).toBeCloseTo((rate * 3600) / 1_000_000, 6);
      expect(growthMbPer100MRecords(slope, recordsPerSecond(samples, 120))).toBeCloseTo(100, 6);
    }
  });

  it('ignores the warm-up: a steep start followed by flat RSS is no growth', () => {
    const samples = Array.from({ length: 1201 }, (_, t) => at(t, t < 120 ? 100 + t : 220, { recordsIn: t * 20_000 }));
    expect(growthMbPer100MRecords(rssSlopeMbPerHour(samples, 0), recordsPerSecond(samples, 0))).toBeGreaterThan(10);
    expect(growthMbPer100MRecords(rssSlopeMbPerHour(samples, 120), recordsPerSecond(samples, 120))).toBe(0);
  });

  it('keeps the sign of a shrinking RSS', () => {
    expect(growthMbPer100MRecords(-36, 10_000)).toBeCloseTo(-100, 12);
  });

  it('is null when no record was read', () => {
    expect(growthMbPer100MRecords(20, 0)).toBeNull();
    expect(growthMbPer100MRecords(0, 0)).toBeNull();
    expect(growthMbPer100MRecords(20, Number.NaN)).toBeNull();
  });
});

describe('sampleAtOrAfter', () => {
  const samples = [at(0, 100), at(1.2, 110), at(2.4, 120)];

  it('is the first sample at or after the time', () => {
    expect(sampleAtOrAfter(samples, 1)?.rssBytes).toBe(110 * MiB);
    expect(sampleAtOrAfter(samples, 1.2)?.rssBytes).toBe(110 * MiB);
    expect(sampleAtOrAfter(samples, 0)?.rssBytes).toBe(100 * MiB);
  });

  it('is the last sample past the end, and undefined without samples', () => {
    expect(sampleAtOrAfter(samples, 99)?.rssBytes).toBe(120 * MiB);
    expect(sampleAtOrAfter([], 0)).toBeUndefined();
  });
});

describe('rangeFrom', () => {
  it('is the least and largest value from fromSeconds on', () => {
    const samples = [at(0, 100, { windowsOpen: 90 }), at(1, 100, { windowsOpen: 12 }), at(2, 100, { windowsOpen: 18 }), at(3, 100, { windowsOpen: 14 })];
    expect(rangeFrom(samples, 1, (s) => s.windowsOpen)).toEqual({ min: 12, max: 18 });
    expect(rangeFrom(samples, 0, (s) => s.windowsOpen)).toEqual({ min: 12, max: 90 });
  });

  it('is null without samples from fromSeconds on', () => {
    expect(rangeFrom([at(0, 100)], 1, (s) => s.windowsOpen)).toBeNull();
    expect(rangeFrom([], 0, (s) => s.windowsOpen)).toBeNull();
  });
});

describe('scrape, metricTotal, metricByLabel', () => {
  const text = [
    '# HELP geowindow_windows_emitted_total Windows written.',
    '# TYPE geowindow_windows_emitted_total counter',
    'geowindow_windows_emitted_total{closed_by="watermark"} 1200',
    'geowindow_windows_emitted_total{closed_by="idle"} 6',
    'geowindow_windows_emitted_total{closed_by="cap"} 0',
    'geowindow_windows_emitted_total_extra 99',
    'geowindow_windows_open 14',
    'geowindow_records_late_total{partition="0"} 3',
    'geowindow_records_late_total{partition="5"} 4',
    'process_resident_memory_bytes 1.5e8',
    '',
  ].join('\n');
  const values = scrape(text);

  it('reads each series by its name and labels, comments left out', () => {
    expect(values.get('geowindow_windows_open')).toBe(14);
    expect(values.get('process_resident_memory_bytes')).toBe(150_000_000);
    expect(values.get('geowindow_windows_emitted_total{closed_by="idle"}')).toBe(6);
    expect([...values.keys()].some((key) => key.startsWith('#'))).toBe(false);
  });

  it('sums every series of one metric, and no other metric that starts with its name', () => {
    expect(metricTotal(values, 'geowindow_windows_emitted_total')).toBe(1206);
    expect(metricTotal(values, 'geowindow_records_late_total')).toBe(7);
    expect(metricTotal(values, 'geowindow_windows_open')).toBe(14);
    expect(metricTotal(values, 'geowindow_not_exported')).toBe(0);
  });

  it('keys a metric\'s series by one label\'s value', () => {
    expect(metricByLabel(values, 'geowindow_windows_emitted_total', 'closed_by')).toEqual({ watermark: 1200, idle: 6, cap: 0 });
    expect(metricByLabel(values, 'geowindow_records_late_total', 'partition')).toEqual({ '0': 3, '5': 4 });
    expect(metricByLabel(values, 'geowindow_windows_open', 'closed_by')).toEqual({});
  });
});

describe('summarise', () => {
  const FILES = { csv: 'out/soak.csv', svg: 'out/soak.svg', json: 'out/soak.json' };
  const FINAL = scrape(
    [
      'geowindow_windows_emitted_total{closed_by="watermark"} 714',
      'geowindow_windows_emitted_total{closed_by="idle"} 6',
      'geowindow_aggregates_written_total 1234567',
      'geowindow_records_dead_lettered_total{reason="late"} 10',
      'geowindow_records_dead_lettered_total{reason="worker_out_of_memory"} 0',
      'geowindow_consumer_pauses_total 0',
      'geowindow_worker_restarts_total 0',
    ].join('\n'),
  );
  /** 20 minutes at 20,000 records/s, RSS 200 MB plus 1 MiB per million records, 12 windows open holding 30-40 MB. */
  const samples = Array.from({ length: 1201 }, (_, t) =>
    at(t, 200 + (t * 20_000) / 1_000_000, {
      recordsIn: t * 20_000,
      windowsOpen: t < 120 ? 0 : 12,
      windowStateBytes: (t < 120 ? 0 : 30 + (t % 11)) * MiB,
      windowsEmitted: Math.floor(t / 10) * 6,
    }),
  );
  const input = (fields: Partial<SummaryInput> = {}): SummaryInput => ({
    samples,
    final: FINAL,
    budgetBytes: 512 * MiB,
    produced: 24_000_000,
    serviceExit: 0,
    rate: 20_000,
    devices: 20_000,
    durationSeconds: 1200,
    warmupSeconds: 120,
    maxSlopeMbPerHour: 100,
    maxPeakMb: undefined,
    zones: 'us-counties.geojson',
    serviceSettings: { WINDOW: 'tumbling', KEY_BY: 'zone,h3,device' },
    files: FILES,
    ...fields,
  });

  it('reports the growth per 100 million records of the slope after the warm-up at the rate read then', () => {
    const result = summarise(input());
    expect(result.slopeMbPerHour).toBeCloseTo(72, 6); // 72 million records an hour, 1 MiB per million
    expect(result.recordsPerSecond).toBe(20_000);
    expect(result.growthMbPer100MRecords).toBe(100);
    expect(result.rssAtWarmupEndMb).toBe(202.4);
    expect(result.rssAtEndMb).toBe(224);
    expect(result.verdict).toBe('pass');
    expect(result.reasons).toEqual([]);
  });

  it('reports windows emitted, aggregates, and open windows and state after the warm-up', () => {
    const result = summarise(input());
    expect(result.windowsEmitted).toBe(720);
    expect(result.windowsEmittedByClosedBy).toEqual({ watermark: 714, idle: 6 });
    expect(result.aggregatesWritten).toBe(1_234_567);
    expect(result.windowsOpen).toEqual({ min: 12, max: 12 });
    expect(result.windowStateMb).toEqual({ min: 30, max: 40 });
    expect(result.deadLetteredByReason).toEqual({ late: 10, worker_out_of_memory: 0 });
    expect(result.zones).toBe('us-counties.geojson');
  });

  it('fails on the slope, the peak, records not read, a service that exited by itself', () => {
    const result = summarise(input({ maxSlopeMbPerHour: 20, maxPeakMb: 220, produced: 25_000_000, serviceExit: 4 }));
    expect(result.verdict).toBe('fail');
    expect(result.reasons).toEqual([
      'the service exited with code 4',
      'RSS grows 72.0 MB/h > 20',
      'peak RSS 224 MB > 220 MB',
      'the service read 24000000 of 25000000 records',
    ]);
    expect(summarise(input({ serviceExit: 'SIGKILL' })).reasons).toEqual(['the service exited with signal SIGKILL']);
    expect(summarise(input({ serviceExit: null })).verdict).toBe('pass');
  });

  it('fails when no window was emitted, or a worker failed on records', () => {
    const none = scrape('geowindow_windows_emitted_total{closed_by="watermark"} 0');
    expect(summarise(input({ final: none })).reasons).toEqual(['the service read records but emitted no window']);
    const oom = scrape(
      ['geowindow_windows_emitted_total{closed_by="cap"} 3', 'geowindow_records_dead_lettered_total{reason="worker_out_of_memory"} 2000'].join('\n'),
    );
    expect(summarise(input({ final: oom })).reasons).toEqual([
      '2000 records dead-lettered because a worker failed on them (worker_out_of_memory, aggregation_failed)',
    ]);
  });

  it('has no growth per record when nothing was read after the warm-up', () => {
    const idle = samples.map((s) => ({ ...s, recordsIn: Math.min(s.recordsIn, 1000) }));
    const result = summarise(input({ samples: idle, produced: 1000 }));
    expect(result.recordsPerSecond).toBe(0);
    expect(result.growthMbPer100MRecords).toBeNull();
  });

  it('reads a sample from /metrics', () => {
    const values = scrape(
      [
        'process_resident_memory_bytes 300000000',
        'nodejs_heap_size_used_bytes 40000000',
        'geowindow_consumer_paused 1',
        'geowindow_records_in_total 123',
        'geowindow_windows_emitted_total{closed_by="watermark"} 5',
        'geowindow_windows_emitted_total{closed_by="cap"} 2',
        'geowindow_windows_open 9',
        'geowindow_window_state_bytes 4096',
        'geowindow_window_closing_bytes 2048',
        'geowindow_worker_heap_total_bytes 50000000',
      ].join('\n'),
    );
    expect(sampleOf(3.5, values)).toEqual({
      t: 3.5,
      rssBytes: 300_000_000,
      heapUsedBytes: 40_000_000,
      paused: true,
      recordsIn: 123,
      windowsEmitted: 7,
      windowsOpen: 9,
      windowStateBytes: 4096,
      windowClosingBytes: 2048,
      workerHeapBytes: 50_000_000,
    });
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
      {
        t: 0,
        rssBytes: 100 * MiB,
        heapUsedBytes: 50 * MiB,
        paused: false,
        recordsIn: 0,
        windowsEmitted: 0,
        windowsOpen: 0,
        windowStateBytes: 0,
        windowClosingBytes: 0,
        workerHeapBytes: 0,
      },
      {
        t: 1.26,
        rssBytes: 100.5 * MiB,
        heapUsedBytes: 0.126 * MiB,
        paused: true,
        recordsIn: 1234,
        windowsEmitted: 17,
        windowsOpen: 12,
        windowStateBytes: 3.456 * MiB,
        windowClosingBytes: 1.234 * MiB,
        workerHeapBytes: 98.765 * MiB,
      },
    ];
    expect(toCsv(samples)).toBe(
      [
        't_s,rss_mb,heap_used_mb,paused,records_in,windows_emitted,windows_open,window_state_mb,window_closing_mb,worker_heap_mb',
        '0.0,100.00,50.00,0,0,0,0,0.00,0.00,0.00',
        '1.3,100.50,0.13,1,1234,17,12,3.46,1.23,98.77',
        '',
      ].join('\n'),
    );
  });

  it('writes just the header without samples', () => {
    expect(toCsv([])).toBe('t_s,rss_mb,heap_used_mb,paused,records_in,windows_emitted,windows_open,window_state_mb,window_closing_mb,worker_heap_mb\n');
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

  it('draws the window state as a third path, with its legend, only when windows hold state', () => {
    const withState = samples.map((s, i) => ({ ...s, windowStateBytes: i * MiB }));
    const svg = soakChart(withState, OPTIONS);
    assertBalanced(svg);
    const paths = [...svg.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]!);
    expect(paths).toHaveLength(3);
    expect(count(paths[2]!, /L/)).toBe(samples.length - 1);
    expect(svg).toContain('>window state</text>');
    expect(soakChart(samples, OPTIONS)).not.toContain('window state');
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
