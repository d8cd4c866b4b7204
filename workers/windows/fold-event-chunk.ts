import { decodeReading, decodeReadingAt, emptyReading, type DecodeLimits } from '../../src/decode/decode-reading.js';
import { chunkLayout, chunkViews, INDEX_SLOTS, VALUE_LENGTH, VALUE_START } from '../../src/protocol/chunk-layout.js';
import type { BadRow, EventChunkResult, EventTask } from '../../src/protocol/messages.js';
import { PartialBuilder } from '../../src/shared/aggregate/partial.js';
import { PartialWriter, type PartialsWire } from '../../src/shared/aggregate/partial-wire.js';
import { KEY_KINDS, type KeyKind } from '../../src/shared/keys.js';
import { lastWindowEnd, windowStarts, windowsPerRecord } from '../../src/shared/windows/assign.js';
import { Keyer } from './keyer.js';

/** One (window, key) of the chunk being folded. */
interface Slot {
  readonly by: KeyKind;
  readonly id: string;
  readonly builder: PartialBuilder;
  readonly firstRow: number;
  lastRow: number;
}

const scratch = emptyReading();
/** Reused by every chunk: its buffer grows to the largest chunk's partials once. */
const writer = new PartialWriter();
/** Builders of finished slots, reused by the next chunks (a worker runs one task at a time; READING_COLUMNS is fixed per deployment). */
const spareBuilders: { track: PartialBuilder[]; plain: PartialBuilder[] } = { track: [], plain: [] };
/**
 * Spare builders kept at most, per kind: enough for the keys of a typical
 * chunk without holding a burst's worth forever (a worker's heap is capped;
 * with 20,000 devices 4,096 spares of each kind helped run it out).
 */
const MAX_SPARE_BUILDERS = 1024;
let keyer: Keyer | undefined;
let keyerSpec: EventTask['keys'] | undefined;

function builderFor(track: boolean, maxReadingNames: number): PartialBuilder {
  const spare = track ? spareBuilders.track : spareBuilders.plain;
  return spare.pop() ?? new PartialBuilder({ track, maxReadingNames });
}

function keyerFor(spec: EventTask['keys']): Keyer {
  if (keyer === undefined || keyerSpec === undefined || JSON.stringify(keyerSpec) !== JSON.stringify(spec)) {
    keyer = new Keyer(spec);
    keyerSpec = spec;
  }
  return keyer;
}

/**
 * Folds one chunk of one partition into partial aggregates per event-time
 * window and key. A row is late, and not folded, when the latest window it
 * falls in ends at or before the partition's watermark as of that row: the
 * larger of the watermark the main thread sent and the largest event time of
 * the chunk's earlier rows, minus the grace. The main thread finishes the
 * check against the watermark of earlier chunks still in flight when this
 * one was sent (see EventChunkResult.minLastEnd).
 */
export function foldEventChunk(task: EventTask): EventChunkResult {
  const layout = chunkLayout(task.capacity, task.byteCapacity);
  const { index, times } = chunkViews(task.buffer, layout);
  const bytes = Buffer.from(task.buffer, layout.bytesOffset, layout.byteCapacity);
  const limits: DecodeLimits = { maxBytes: Number.POSITIVE_INFINITY, maxReadings: task.maxReadings };
  const spec = task.window;
  const keys = keyerFor(task.keys);
  const track = keys.kinds.map((kind) => kind === 'device');
  const starts = new Float64Array(windowsPerRecord(spec));
  // Per window start, per kind, the slots by key id.
  const windows = new Map<number, Map<string, Slot>[]>();
  const bad: BadRow[] = [];
  let seenMax = Number.NEGATIVE_INFINITY;
  let minLastEnd = Number.POSITIVE_INFINITY;
  let lateAssignments = 0;
  let settledSkipped = 0;
  let unzoned = 0;
  let readingsDropped = 0;
  times.fill(Number.NaN, 0, task.count);
  for (let row = 0; row < task.count; row++) {
    const start = index[row * INDEX_SLOTS + VALUE_START]!;
    const length = index[row * INDEX_SLOTS + VALUE_LENGTH]!;
    const reason = length < 0 ? decodeReading(null, limits, scratch) : decodeReadingAt(bytes, start, start + length, limits, scratch);
    // Rows the previous owner settled: their dead letters were written, only windows ending after the watermark take them.
    const settled = row < task.settledRows;
    if (reason !== null) {
      if (settled) settledSkipped++;
      else bad.push({ row, reason, detail: scratch.detail });
      continue;
    }
    const ts = scratch.ts;
    const watermark = Math.max(task.watermark, seenMax - spec.graceMs);
    if (ts > seenMax) seenMax = ts;
    const lastEnd = lastWindowEnd(ts, spec);
    if (lastEnd <= watermark) {
      if (settled) settledSkipped++;
      else bad.push({ row, reason: 'late', detail: `its window ending ${lastEnd} had closed at watermark ${watermark}` });
      continue;
    }
    const lon = Math.fround(scratch.lon);
    const lat = Math.fround(scratch.lat);
    if (!keys.keys(lon, lat, scratch.deviceId)) unzoned++;
    const n = windowStarts(ts, spec, starts);
    for (let w = 0; w < n; w++) {
      const windowStart = starts[w]!;
      if (windowStart + spec.sizeMs <= watermark) {
        if (settled) settledSkipped++;
        else lateAssignments++;
        continue;
      }
      let byKind = windows.get(windowStart);
      if (byKind === undefined) {
        byKind = keys.kinds.map(() => new Map<string, Slot>());
        windows.set(windowStart, byKind);
      }
      for (let k = 0; k < keys.kinds.length; k++) {
        const id = keys.ids[k]!;
        if (id === null) continue;
        const slots = byKind[k]!;
        let slot = slots.get(id);
        if (slot === undefined) {
          slot = { by: keys.kinds[k]!, id, builder: builderFor(track[k]!, task.maxReadings), firstRow: row, lastRow: row };
          slots.set(id, slot);
        }
        slot.lastRow = row;
        readingsDropped += slot.builder.add(lon, lat, ts, scratch.deviceId, scratch.readingNames, scratch.readingValues, scratch.readingCount);
      }
    }
    times[row] = ts;
    if (lastEnd < minLastEnd) minLastEnd = lastEnd;
  }
  return {
    partials: finishWindows(windows, spec.sizeMs, track),
    bad,
    maxTs: seenMax,
    minLastEnd,
    lateAssignments,
    settledSkipped,
    unzoned,
    readingsDropped,
  };
}

/** Writes every (window, key) partial of the chunk (layout: EventChunkResult) and frees the builders for the next chunk. */
function finishWindows(windows: Map<number, Map<string, Slot>[]>, sizeMs: number, track: readonly boolean[]): PartialsWire {
  writer.clear();
  for (const [start, byKind] of windows) {
    writer.number(start);
    writer.number(start + sizeMs);
    let keys = 0;
    for (const slots of byKind) keys += slots.size;
    writer.number(keys);
    for (let k = 0; k < byKind.length; k++) {
      for (const slot of byKind[k]!.values()) {
        writer.number(KEY_KINDS.indexOf(slot.by));
        writer.string(slot.id);
        writer.number(slot.firstRow);
        writer.number(slot.lastRow);
        slot.builder.writeTo(writer);
        const spare = track[k] ? spareBuilders.track : spareBuilders.plain;
        if (spare.length < MAX_SPARE_BUILDERS) {
          slot.builder.reset();
          spare.push(slot.builder);
        }
      }
    }
  }
  return writer.take();
}
