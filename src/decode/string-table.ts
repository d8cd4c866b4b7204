/**
 * Interns short ASCII byte strings (device ids, reading names): the same
 * bytes give the same string object, so a fleet's ids are decoded once, not
 * once per record, and Set and Map lookups reuse the string's cached hash.
 * Bounded: when `maxEntries` distinct strings are held, the table starts
 * over, so a fleet of millions of devices costs a string per record at worst,
 * never unbounded memory.
 */
export class StringTable {
  readonly #maxEntries: number;
  readonly #mask: number;
  /** Slot -> entry + 1 (0: empty). Open addressing, linear probing, at most half full. */
  readonly #slots: Int32Array;
  readonly #hashes: Int32Array;
  readonly #starts: Int32Array;
  readonly #lengths: Int32Array;
  readonly #strings: string[] = [];
  #arena: Buffer;
  #arenaUsed = 0;

  constructor(maxEntries = 8192) {
    this.#maxEntries = maxEntries;
    let slots = 1;
    while (slots < maxEntries * 2) slots <<= 1;
    this.#mask = slots - 1;
    this.#slots = new Int32Array(slots);
    this.#hashes = new Int32Array(maxEntries);
    this.#starts = new Int32Array(maxEntries);
    this.#lengths = new Int32Array(maxEntries);
    this.#arena = Buffer.alloc(maxEntries * 16);
  }

  get size(): number {
    return this.#strings.length;
  }

  /** The string of bytes[start, end), which must be ASCII. */
  intern(bytes: Buffer, start: number, end: number): string {
    const length = end - start;
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    const arena = this.#arena;
    for (let slot = hash & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const entry = this.#slots[slot]! - 1;
      if (entry < 0) return this.#add(slot, hash, bytes, start, end);
      if (this.#hashes[entry] !== hash || this.#lengths[entry] !== length) continue;
      const at = this.#starts[entry]!;
      let same = true;
      for (let i = 0; i < length; i++) {
        if (arena[at + i] !== bytes[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#strings[entry]!;
    }
  }

  #add(slot: number, hash: number, bytes: Buffer, start: number, end: number): string {
    if (this.#strings.length === this.#maxEntries) {
      this.#clear();
      return this.intern(bytes, start, end);
    }
    const text = bytes.toString('latin1', start, end);
    const length = end - start;
    if (this.#arenaUsed + length > this.#arena.length) {
      const grown = Buffer.alloc(Math.max(this.#arena.length * 2, this.#arenaUsed + length));
      this.#arena.copy(grown, 0, 0, this.#arenaUsed);
      this.#arena = grown;
    }
    const entry = this.#strings.length;
    bytes.copy(this.#arena, this.#arenaUsed, start, end);
    this.#hashes[entry] = hash;
    this.#starts[entry] = this.#arenaUsed;
    this.#lengths[entry] = length;
    this.#strings.push(text);
    this.#arenaUsed += length;
    this.#slots[slot] = entry + 1;
    return text;
  }

  #clear(): void {
    this.#slots.fill(0);
    this.#strings.length = 0;
    this.#arenaUsed = 0;
  }
}
