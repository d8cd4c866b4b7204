/**
 * What a soak concludes from its samples and the service's last /metrics:
 * the summary `geowindow soak` prints and writes as soak.json, and its verdict.
 */
import { metricByLabel, metricTotal, type MetricValues } from './scrape.js';
import {
  growthMbPer100MRecords,
  peakRssBytes,
  rangeFrom,
  recordsPerSecond,
  rssSlopeMbPerHour,
  sampleAtOrAfter,
  type SoakSample,
} from './series.js';

const MB = 1048576;
/** Dead-letter reasons that mean a worker failed, not that the record was bad. */
const WORKER_FAILURE_REASONS = ['worker_out_of_memory', 'aggregation_failed'] as const;

/** How a service the soak started ended: its exit code, or the signal that ended it. */
export type ServiceExit = number | NodeJS.Signals | null;

/** Least and largest value of a series after the warm-up. */
export interface Range {
  readonly min: number;
  readonly max: number;
}

export interface SoakResult {
  readonly rate: number;
  readonly devices: number;
  readonly durationSeconds: number;
  readonly samples: number;
  readonly budgetMb: number;
  readonly peakRssMb: number;
  readonly slopeMbPerHour: number;
  readonly pauses: number;
  readonly pausedSeconds: number;
  readonly recordsIn: number;
  readonly produced: number;
  readonly csv: string;
  readonly svg: string;
  readonly verdict: 'pass' | 'fail';
  readonly reasons: readonly string[];
  /** The zones file the fleet's devices were placed in, if any. */
  readonly zones: string | null;
  /** The window, key and memory settings the started service got from the soak's environment (those set); null with --metrics-url. */
  readonly serviceSettings: Readonly<Record<string, string>> | null;
  readonly warmupSeconds: number;
  /** Records the service read per second after the warm-up (geowindow_records_in_total). */
  readonly recordsPerSecond: number;
  readonly rssAtWarmupEndMb: number;
  readonly rssAtEndMb: number;
  /** slopeMbPerHour / (3600 × recordsPerSecond) × 10^8; null when nothing was read after the warm-up. */
  readonly growthMbPer100MRecords: number | null;
  /** Windows written and acknowledged (geowindow_windows_emitted_total), in all and by what closed them. */
  readonly windowsEmitted: number;
  readonly windowsEmittedByClosedBy: Readonly<Record<string, number>>;
  /** Aggregate records written: one per window and key with event time. */
  readonly aggregatesWritten: number;
  /** Open windows (geowindow_windows_open) and their state (geowindow_window_state_bytes) after the warm-up. */
  readonly windowsOpen: Range | null;
  readonly windowStateMb: Range | null;
  /** Windows emitted early by a state cap, by cap. */
  readonly windowCapHits: Readonly<Record<string, number>>;
  readonly recordsLate: number;
  /** Records dead-lettered, by reason (the fleet's bad records among them). */
  readonly deadLetteredByReason: Readonly<Record<string, number>>;
  /** Workers that died (out of memory, say) and were replaced. */
  readonly workerRestarts: number;
  /** How the started service ended: 0 after the soak's SIGTERM, else by itself; null for one sampled by --metrics-url. */
  readonly serviceExit: ServiceExit;
  readonly json: string;
}

/** What summarise needs: the run, the thresholds, and where its files went. */
export interface SummaryInput {
  readonly samples: readonly SoakSample[];
  /** The service's last /metrics. */
  readonly final: MetricValues;
  readonly budgetBytes: number;
  /** Records the fleet sent. */
  readonly produced: number;
  readonly serviceExit: ServiceExit;
  readonly rate: number;
  readonly devices: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly maxSlopeMbPerHour: number;
  /** Undefined: the budget. */
  readonly maxPeakMb: number | undefined;
  readonly zones: string | null;
  readonly serviceSettings: Readonly<Record<string, string>> | null;
  readonly files: { readonly csv: string; readonly svg: string; readonly json: string };
}

/** Rounded to `digits` decimals, for the summary. */
function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** What one /metrics sample says, at `t` seconds into the soak. */
export function sampleOf(t: number, values: MetricValues): SoakSample {
  return {
    t,
    rssBytes: values.get('process_resident_memory_bytes') ?? 0,
    heapUsedBytes: values.get('nodejs_heap_size_used_bytes') ?? 0,
    paused: values.get('geowindow_consumer_paused') === 1,
    recordsIn: values.get('geowindow_records_in_total') ?? 0,
    windowsEmitted: metricTotal(values, 'geowindow_windows_emitted_total'),
    windowsOpen: values.get('geowindow_windows_open') ?? 0,
    windowStateBytes: values.get('geowindow_window_state_bytes') ?? 0,
    windowClosingBytes: values.get('geowindow_window_closing_bytes') ?? 0,
    workerHeapBytes: values.get('geowindow_worker_heap_total_bytes') ?? 0,
  };
}

/** Why the soak fails, if it does: one line per threshold or expectation not met. */
function failures(
  input: SummaryInput,
  measured: { slope: number; peak: number; recordsIn: number; windowsEmitted: number; deadLettered: Record<string, number> },
): string[] {
  const { slope, peak, recordsIn, windowsEmitted, deadLettered } = measured;
  const { serviceExit, produced } = input;
  const maxPeakBytes = (input.maxPeakMb ?? input.budgetBytes / MB) * MB;
  const reasons: string[] = [];
  if (serviceExit !== null && serviceExit !== 0) {
    reasons.push(`the service exited with ${typeof serviceExit === 'number' ? `code ${serviceExit}` : `signal ${serviceExit}`}`);
  }
  if (slope > input.maxSlopeMbPerHour) reasons.push(`RSS grows ${slope.toFixed(1)} MB/h > ${input.maxSlopeMbPerHour}`);
  if (peak > maxPeakBytes) reasons.push(`peak RSS ${(peak / MB).toFixed(0)} MB > ${(maxPeakBytes / MB).toFixed(0)} MB`);
  if (recordsIn < produced) reasons.push(`the service read ${recordsIn} of ${produced} records`);
  // Windows that never close are state that only grows: a soak that closed none measured nothing of it.
  if (recordsIn > 0 && windowsEmitted === 0) reasons.push('the service read records but emitted no window');
  // Good records a worker could not fold (it ran out of memory twice, say) are lost to the aggregates.
  const unfolded = WORKER_FAILURE_REASONS.reduce((sum, reason) => sum + (deadLettered[reason] ?? 0), 0);
  if (unfolded > 0) reasons.push(`${unfolded} records dead-lettered because a worker failed on them (${WORKER_FAILURE_REASONS.join(', ')})`);
  return reasons;
}

/**
 * The soak's summary and verdict. The slope, the rate and the ranges are
 * taken over the samples from the end of the warm-up on; growth per 100
 * million records is growthMbPer100MRecords of the two.
 */
export function summarise(input: SummaryInput): SoakResult {
  const { samples, final, warmupSeconds } = input;
  const peak = peakRssBytes(samples);
  const slope = rssSlopeMbPerHour(samples, warmupSeconds);
  const recordsIn = samples[samples.length - 1]?.recordsIn ?? 0;
  const windowsEmitted = metricTotal(final, 'geowindow_windows_emitted_total');
  const deadLettered = metricByLabel(final, 'geowindow_records_dead_lettered_total', 'reason');
  const reasons = failures(input, { slope, peak, recordsIn, windowsEmitted, deadLettered });
  const rate = recordsPerSecond(samples, warmupSeconds);
  const growth = growthMbPer100MRecords(slope, rate);
  const stateRange = rangeFrom(samples, warmupSeconds, (s) => s.windowStateBytes / MB);
  return {
    rate: input.rate,
    devices: input.devices,
    durationSeconds: input.durationSeconds,
    samples: samples.length,
    budgetMb: Math.round(input.budgetBytes / MB),
    peakRssMb: round(peak / MB, 1),
    slopeMbPerHour: round(slope, 2),
    pauses: final.get('geowindow_consumer_pauses_total') ?? 0,
    pausedSeconds: round(final.get('geowindow_consumer_paused_seconds_total') ?? 0, 1),
    recordsIn,
    produced: input.produced,
    csv: input.files.csv,
    svg: input.files.svg,
    verdict: reasons.length === 0 ? 'pass' : 'fail',
    reasons,
    zones: input.zones,
    serviceSettings: input.serviceSettings,
    warmupSeconds,
    recordsPerSecond: Math.round(rate),
    rssAtWarmupEndMb: round((sampleAtOrAfter(samples, warmupSeconds)?.rssBytes ?? 0) / MB, 1),
    rssAtEndMb: round((samples[samples.length - 1]?.rssBytes ?? 0) / MB, 1),
    growthMbPer100MRecords: growth === null ? null : round(growth, 2),
    windowsEmitted,
    windowsEmittedByClosedBy: metricByLabel(final, 'geowindow_windows_emitted_total', 'closed_by'),
    aggregatesWritten: metricTotal(final, 'geowindow_aggregates_written_total'),
    windowsOpen: rangeFrom(samples, warmupSeconds, (s) => s.windowsOpen),
    windowStateMb: stateRange === null ? null : { min: round(stateRange.min, 2), max: round(stateRange.max, 2) },
    windowCapHits: metricByLabel(final, 'geowindow_window_cap_hits_total', 'cap'),
    recordsLate: metricTotal(final, 'geowindow_records_late_total'),
    deadLetteredByReason: deadLettered,
    workerRestarts: final.get('geowindow_worker_restarts_total') ?? 0,
    serviceExit: input.serviceExit,
    json: input.files.json,
  };
}
