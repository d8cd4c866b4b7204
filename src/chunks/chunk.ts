import { chunkColumns, chunkLayout, type ChunkColumns, type ChunkLayout } from '../protocol/chunk-layout.js';
import type { DecodedReading } from '../decode/decode-reading.js';

/** What happened to a reading offered to a chunk. */
export type AppendResult =
  | 'appended'
  /** The chunk has no free reading column for a name this record brings; close it and retry. */
  | 'columns_full';

/**
 * One preallocated columnar buffer (see protocol/chunk-layout.ts) and the
 * dictionaries that give its reading columns and device indexes a meaning.
 * A chunk belongs to its pool for the life of the process.
 */
export class Chunk {
  readonly id: number;
  readonly layout: ChunkLayout;
  readonly buffer: SharedArrayBuffer;
  readonly columns: ChunkColumns;
  readonly readingNames: string[] = [];
  #count = 0;
  readonly #readingIndex = new Map<string, number>();
  readonly #deviceIndex = new Map<string, number>();
  readonly #deviceIds: string[] = [];
  /**
   * Source offset of each row. Main-thread only (workers never need it), so
   * it lives outside the shared buffer; it lets a chunk whose worker died be
   * dead-lettered record by record.
   */
  readonly #offsets: Float64Array;

  constructor(id: number, capacity: number, readingColumns: number) {
    this.id = id;
    this.layout = chunkLayout(capacity, readingColumns);
    this.buffer = new SharedArrayBuffer(this.layout.byteLength);
    this.columns = chunkColumns(this.buffer, this.layout);
    this.columns.readings.fill(NaN);
    this.#offsets = new Float64Array(capacity);
  }

  get count(): number {
    return this.#count;
  }

  get full(): boolean {
    return this.#count === this.layout.capacity;
  }

  /** Whether any row comes from this device. */
  hasDevice(deviceId: string): boolean {
    return this.#deviceIndex.has(deviceId);
  }

  /** Distinct devices among the rows. */
  get deviceCount(): number {
    return this.#deviceIndex.size;
  }

  /** Source offset of a row. */
  offsetAt(row: number): number {
    return this.#offsets[row]!;
  }

  /** Device id of a row. */
  deviceIdAt(row: number): string {
    return this.#deviceIds[this.columns.device[row]!]!;
  }

  /** Packs one reading, read at `offset`, into the next row. */
  append(reading: DecodedReading, offset: number): AppendResult {
    const { capacity, readingColumns } = this.layout;
    if (this.#count === capacity) throw new RangeError(`chunk ${this.id} is full (${capacity} rows)`);
    const readings = reading.readings;
    if (readings !== undefined) {
      // The decoder has capped the readings per record at readingColumns, so
      // a record that does not fit here fits in an empty chunk.
      let newNames = 0;
      for (const name in readings) {
        if (typeof readings[name] === 'number' && !this.#readingIndex.has(name)) newNames++;
      }
      if (this.readingNames.length + newNames > readingColumns) return 'columns_full';
    }
    const row = this.#count;
    const { columns } = this;
    columns.ts[row] = reading.ts;
    columns.lon[row] = reading.lon;
    columns.lat[row] = reading.lat;
    this.#offsets[row] = offset;
    let device = this.#deviceIndex.get(reading.deviceId);
    if (device === undefined) {
      device = this.#deviceIds.length;
      this.#deviceIndex.set(reading.deviceId, device);
      this.#deviceIds.push(reading.deviceId);
    }
    columns.device[row] = device;
    if (readings !== undefined) {
      for (const name in readings) {
        const value = readings[name];
        if (typeof value !== 'number') continue; // null: absent, the column already holds NaN
        let column = this.#readingIndex.get(name);
        if (column === undefined) {
          column = this.readingNames.length;
          this.readingNames.push(name);
          this.#readingIndex.set(name, column);
        }
        columns.readings[column * capacity + row] = value;
      }
    }
    this.#count = row + 1;
    return 'appended';
  }

  /** Empties the chunk for reuse; only its pool calls this. */
  reset(): void {
    const { capacity } = this.layout;
    this.columns.readings.fill(NaN, 0, this.readingNames.length * capacity);
    this.readingNames.length = 0;
    this.#readingIndex.clear();
    this.#deviceIndex.clear();
    this.#deviceIds.length = 0;
    this.#count = 0;
  }
}
