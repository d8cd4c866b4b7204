import { nearestDouble } from './decimal.js';

/**
 * A strict JSON tokenizer over bytes, for the decoder's fast path. It does
 * not allocate (but for a number past 19 digits, read from a string) and
 * never guesses: anything it does not read exactly as
 * `JSON.parse` would (an escape, a byte past ASCII, a control character,
 * nesting deeper than MAX_DEPTH, bad grammar) sets `bailed`, and the caller
 * hands the record to the `JSON.parse` path, which decides. So the fast path
 * can only ever agree with the slow one or step aside.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Nesting the skipper follows before it steps aside; sensor records nest two or three levels. */
const MAX_DEPTH = 32;
/** Mantissas of up to 15 digits are exact in a double (< 2^53). */
const MAX_EXACT_DIGITS = 15;
/** Mantissas of up to 19 digits are read without a string (see decimal.ts). */
const MAX_DIGITS = 19;
/** 10^0 .. 10^22 are exact in a double. */
const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);

export class JsonScanner {
  bytes: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  /** Set when the input is anything the scanner does not read exactly; the caller then gives the record up. */
  bailed = false;
  /** Start and end (exclusive) of the last string's contents, without the quotes. */
  stringStart = 0;
  stringEnd = 0;

  reset(bytes: Buffer, start: number, end: number): void {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    this.bailed = false;
  }

  bail(): false {
    this.bailed = true;
    return false;
  }

  /** Skips JSON whitespace and returns the next byte, or -1 at the end. */
  peek(): number {
    const bytes = this.bytes;
    let pos = this.pos;
    while (pos < this.end) {
      const c = bytes[pos]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
        this.pos = pos;
        return c;
      }
      pos++;
    }
    this.pos = pos;
    return -1;
  }

  /** Consumes `c` (after whitespace), or bails. */
  expect(c: number): boolean {
    if (this.peek() !== c) return this.bail();
    this.pos++;
    return true;
  }

  /** True at the end of the input, after trailing whitespace. */
  atEnd(): boolean {
    return this.peek() === -1;
  }

  /** Opens an object; the caller then loops on `nextKey`. */
  openObject(): boolean {
    return this.expect(OPEN_BRACE);
  }

  /**
   * Reads the next key and its colon into stringStart/stringEnd. False at the
   * object's closing brace (consumed) or on a bail; `first` is true for the
   * first call on an object.
   */
  nextKey(first: boolean): boolean {
    let c = this.peek();
    if (c === CLOSE_BRACE) {
      this.pos++;
      return false;
    }
    if (!first) {
      if (c !== COMMA) return this.bail();
      this.pos++;
      c = this.peek();
    }
    if (c !== QUOTE || !this.string()) return this.bail();
    return this.expect(COLON);
  }

  /** True when the next value is `null` (consumed). */
  nullValue(): boolean {
    return this.peek() === 0x6e && this.literal();
  }

  /** Reads a string value's contents into stringStart/stringEnd; bails on escapes and non-ASCII. */
  string(): boolean {
    if (this.peek() !== QUOTE) return this.bail();
    const bytes = this.bytes;
    const end = this.end;
    let pos = this.pos + 1;
    const start = pos;
    while (pos < end) {
      const c = bytes[pos]!;
      if (c === QUOTE) {
        this.stringStart = start;
        this.stringEnd = pos;
        this.pos = pos + 1;
        return true;
      }
      if (c === BACKSLASH || c < 0x20 || c >= 0x80) return this.bail();
      pos++;
    }
    return this.bail();
  }

  /** True when the last string's contents are exactly `ascii`. */
  stringIs(ascii: Uint8Array): boolean {
    const length = this.stringEnd - this.stringStart;
    if (length !== ascii.length) return false;
    const bytes = this.bytes;
    for (let i = 0; i < length; i++) if (bytes[this.stringStart + i] !== ascii[i]) return false;
    return true;
  }

  /** True when the next value is a number; does not consume it. */
  atNumber(): boolean {
    const c = this.peek();
    return c === MINUS || (c >= ZERO && c <= NINE);
  }

  /**
   * Reads a JSON number as `JSON.parse` would, or bails (NaN). Up to 15
   * significant digits and a power of ten up to 22 take one correctly
   * rounded operation on exact operands (Clinger's fast path); up to 19
   * digits take nearestDouble; the rest, and the rare undecided case, go
   * through the engine's own conversion of the text.
   */
  number(): number {
    const bytes = this.bytes;
    const end = this.end;
    this.peek();
    const start = this.pos;
    let pos = start;
    let negative = false;
    if (bytes[pos] === MINUS) {
      negative = true;
      pos++;
    }
    // Significant digits: the first 15 in head (exact), up to 4 more in tail.
    let head = 0;
    let tail = 0;
    let digits = 0;
    let scale = 0;
    let c = pos < end ? bytes[pos]! : -1;
    if (c === ZERO) {
      pos++;
      c = pos < end ? bytes[pos]! : -1;
    } else if (c > ZERO && c <= NINE) {
      while (c >= ZERO && c <= NINE) {
        if (digits < MAX_EXACT_DIGITS) head = head * 10 + (c - ZERO);
        else if (digits < MAX_DIGITS) tail = tail * 10 + (c - ZERO);
        else scale++;
        digits++;
        pos++;
        c = pos < end ? bytes[pos]! : -1;
      }
    } else {
      this.bail();
      return Number.NaN;
    }
    if (c === DOT) {
      pos++;
      c = pos < end ? bytes[pos]! : -1;
      if (!(c >= ZERO && c <= NINE)) {
        this.bail();
        return Number.NaN;
      }
      while (c >= ZERO && c <= NINE) {
        // Leading zeros of a fraction add no significant digit.
        if (digits !== 0 || c !== ZERO) {
          if (digits < MAX_EXACT_DIGITS) head = head * 10 + (c - ZERO);
          else if (digits < MAX_DIGITS) tail = tail * 10 + (c - ZERO);
          else scale++;
          digits++;
        }
        scale--;
        pos++;
        c = pos < end ? bytes[pos]! : -1;
      }
    }
    if (c === LOWER_E || c === UPPER_E) {
      pos++;
      c = pos < end ? bytes[pos]! : -1;
      let exponentNegative = false;
      if (c === MINUS || c === PLUS) {
        exponentNegative = c === MINUS;
        pos++;
        c = pos < end ? bytes[pos]! : -1;
      }
      if (!(c >= ZERO && c <= NINE)) {
        this.bail();
        return Number.NaN;
      }
      let exponent = 0;
      while (c >= ZERO && c <= NINE) {
        // Clamped: past this the value is 0 or Infinity either way.
        if (exponent < 100_000) exponent = exponent * 10 + (c - ZERO);
        pos++;
        c = pos < end ? bytes[pos]! : -1;
      }
      scale += exponentNegative ? -exponent : exponent;
    }
    this.pos = pos;
    let value = Number.NaN;
    if (digits <= MAX_EXACT_DIGITS) {
      if (scale >= -22 && scale <= 22) value = scale < 0 ? head / POW10[-scale]! : head * POW10[scale]!;
    } else if (digits <= MAX_DIGITS && scale >= -22 && scale <= 0) {
      value = nearestDouble(head, tail, digits - MAX_EXACT_DIGITS, -scale);
    }
    if (Number.isNaN(value)) return Number(bytes.toString('latin1', start, pos));
    return negative ? -value : value;
  }

  /** Skips any JSON value, checking its grammar; bails on what `string()` refuses and on deep nesting. */
  skipValue(depth = 0): boolean {
    if (depth > MAX_DEPTH) return this.bail();
    const c = this.peek();
    if (c === QUOTE) return this.string();
    if (c === MINUS || (c >= ZERO && c <= NINE)) {
      this.number();
      return !this.bailed;
    }
    if (c === OPEN_BRACE) {
      this.pos++;
      for (let first = true; this.nextKey(first); first = false) if (!this.skipValue(depth + 1)) return false;
      return !this.bailed;
    }
    if (c === OPEN_BRACKET) {
      this.pos++;
      if (this.peek() === CLOSE_BRACKET) {
        this.pos++;
        return true;
      }
      for (;;) {
        if (!this.skipValue(depth + 1)) return false;
        const next = this.peek();
        this.pos++;
        if (next === CLOSE_BRACKET) return true;
        if (next !== COMMA) return this.bail();
      }
    }
    return this.literal();
  }

  /** Opens an array; false (and bails) when the next value is not one. */
  openArray(): boolean {
    return this.expect(OPEN_BRACKET);
  }

  /** After an array element: true when another follows (comma consumed), false at `]` (consumed) or a bail. */
  nextElement(): boolean {
    const c = this.peek();
    this.pos++;
    if (c === COMMA) return true;
    if (c !== CLOSE_BRACKET) this.bail();
    return false;
  }

  /** true, false or null. */
  private literal(): boolean {
    const bytes = this.bytes;
    const pos = this.pos;
    const c = bytes[pos];
    let word: Uint8Array;
    if (c === 0x74) word = TRUE;
    else if (c === 0x66) word = FALSE;
    else if (c === 0x6e) word = NULL;
    else return this.bail();
    if (pos + word.length > this.end) return this.bail();
    for (let i = 1; i < word.length; i++) if (bytes[pos + i] !== word[i]) return this.bail();
    this.pos = pos + word.length;
    return true;
  }
}

const ascii = (text: string) => Uint8Array.from(text, (ch) => ch.charCodeAt(0));
const TRUE = ascii('true');
const FALSE = ascii('false');
const NULL = ascii('null');

export { ascii };
