/**
 * JSON documents for the hostile-input generators: a tree that keeps what a
 * writer may vary (member order, whitespace, escapes, the form of each
 * number) apart from what the document means, so one record can be written
 * in many valid ways, and broken in exactly one place. Leaves of kind `text`
 * are written verbatim: a number in a chosen form, a literal, or a token JSON
 * does not have (NaN, 0x10, 1_000).
 */

export type Doc =
  | { readonly t: 'text'; readonly text: string }
  | { readonly t: 'str'; readonly value: string }
  | { readonly t: 'num'; readonly value: number }
  | { readonly t: 'obj'; readonly members: readonly Member[] }
  | { readonly t: 'arr'; readonly items: readonly Doc[] };

export type Member = readonly [name: string, value: Doc];

/** A member name in an object, or an index in an array. */
export type Path = readonly (string | number)[];

export const text = (token: string): Doc => ({ t: 'text', text: token });
export const str = (value: string): Doc => ({ t: 'str', value });
export const num = (value: number): Doc => ({ t: 'num', value });
export const obj = (members: readonly Member[]): Doc => ({ t: 'obj', members });
export const arr = (items: readonly Doc[]): Doc => ({ t: 'arr', items });
export const NULL = text('null');

/** A value as `JSON.parse` would return it (from fast-check's jsonValue), as a Doc. */
export function fromJson(value: unknown): Doc {
  if (value === null) return NULL;
  if (typeof value === 'boolean') return text(String(value));
  if (typeof value === 'number') return num(value);
  if (typeof value === 'string') return str(value);
  if (Array.isArray(value)) return arr(value.map(fromJson));
  return obj(Object.entries(value as Record<string, unknown>).map(([name, v]) => [name, fromJson(v)] as const));
}

/** The value at `path`, or undefined. A name finds the last member of that name, as JSON.parse keeps it. */
export function getAt(doc: Doc, path: Path): Doc | undefined {
  let at: Doc | undefined = doc;
  for (const step of path) {
    if (at === undefined) return undefined;
    if (typeof step === 'number') at = at.t === 'arr' ? at.items[step] : undefined;
    else at = at.t === 'obj' ? at.members.findLast(([name]) => name === step)?.[1] : undefined;
  }
  return at;
}

/**
 * A copy of `doc` with every member at `path` replaced by `value`, or
 * removed when `value` is undefined; a missing member is added at the end.
 * Containers along the path that do not exist are left alone.
 */
export function setAt(doc: Doc, path: Path, value: Doc | undefined): Doc {
  const [step, ...rest] = path;
  if (step === undefined) return value ?? doc;
  if (typeof step === 'number') {
    if (doc.t !== 'arr' || step >= doc.items.length) return doc;
    if (rest.length === 0 && value === undefined) return arr(doc.items.filter((_, i) => i !== step));
    return arr(doc.items.map((item, i) => (i === step ? setAt(item, rest, value) : item)));
  }
  if (doc.t !== 'obj') return doc;
  const has = doc.members.some(([name]) => name === step);
  if (rest.length === 0) {
    if (value === undefined) return obj(doc.members.filter(([name]) => name !== step));
    if (!has) return obj([...doc.members, [step, value]]);
  }
  return obj(doc.members.map(([name, v]) => (name === step ? [name, setAt(v, rest, value)] : [name, v])));
}

/** A copy with a second member named like the last step of `path`, before the existing one or after it. */
export function duplicateAt(doc: Doc, path: Path, value: Doc, before: boolean): Doc {
  const [step, ...rest] = path;
  if (step === undefined) return doc;
  if (typeof step === 'number') {
    return doc.t === 'arr' ? arr(doc.items.map((item, i) => (i === step ? duplicateAt(item, rest, value, before) : item))) : doc;
  }
  if (doc.t !== 'obj') return doc;
  if (rest.length > 0) {
    return obj(doc.members.map(([name, v]) => (name === step ? [name, duplicateAt(v, rest, value, before)] : [name, v])));
  }
  const members: Member[] = [];
  for (const member of doc.members) {
    if (member[0] === step && before) members.push([step, value]);
    members.push(member);
    if (member[0] === step && !before) members.push([step, value]);
  }
  return obj(members);
}

/** Every path to an object member or array element, down to `maxDepth` steps. */
export function allPaths(doc: Doc, maxDepth: number, prefix: Path = []): Path[] {
  if (prefix.length >= maxDepth) return [];
  const paths: Path[] = [];
  if (doc.t === 'obj') {
    for (const [name, value] of doc.members) paths.push([...prefix, name], ...allPaths(value, maxDepth, [...prefix, name]));
  } else if (doc.t === 'arr') {
    doc.items.forEach((item, i) => paths.push([...prefix, i], ...allPaths(item, maxDepth, [...prefix, i])));
  }
  return paths;
}

/** How a document is written: each choice below is valid JSON for the same value (numbers: the same decimal). */
export interface WriteStyle {
  /** Seeds the writer's own choices, so a style is a value fast-check can generate and replay. */
  readonly seed: number;
  /** Chance of whitespace at each place JSON allows it. */
  readonly whitespace: number;
  /** Chance that a character that need not be escaped is. */
  readonly escapes: number;
  /** Numbers in random equivalent forms (exponents, padding, 400-digit mantissas) instead of the shortest. */
  readonly numberForms: boolean;
}

export const PLAIN_STYLE: WriteStyle = { seed: 1, whitespace: 0, escapes: 0, numberForms: false };

/** mulberry32: a small seeded generator for the writer's choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JSON_WHITESPACE = [' ', '\t', '\n', '\r'];
const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '/': '\\/', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
/** The longest run of padding digits a number form adds: 400-digit mantissas. */
const LONG_DIGITS = 400;
const SHORT_DIGITS = 4;
const LONG_PADDING_SHARE = 0.1;

/** The document as JSON text. */
export function writeJson(doc: Doc, style: WriteStyle = PLAIN_STYLE): string {
  const random = seededRandom(style.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const ws = (): string => {
    if (style.whitespace === 0 || random() >= style.whitespace) return '';
    let run = pick(JSON_WHITESPACE);
    while (random() < 0.3) run += pick(JSON_WHITESPACE);
    return run;
  };
  const out: string[] = [];
  const write = (d: Doc): void => {
    switch (d.t) {
      case 'text':
        out.push(d.text);
        return;
      case 'str':
        out.push(quote(d.value, style.escapes, random));
        return;
      case 'num':
        out.push(style.numberForms ? numberForm(d.value, pick, random) : shortest(d.value));
        return;
      case 'obj':
        out.push('{', ws());
        d.members.forEach(([name, value], i) => {
          if (i > 0) out.push(',', ws());
          out.push(quote(name, style.escapes, random), ws(), ':', ws());
          write(value);
          out.push(ws());
        });
        out.push('}');
        return;
      case 'arr':
        out.push('[', ws());
        d.items.forEach((item, i) => {
          if (i > 0) out.push(',', ws());
          write(item);
          out.push(ws());
        });
        out.push(']');
    }
  };
  out.push(ws());
  write(doc);
  out.push(ws());
  return out.join('');
}

function shortest(value: number): string {
  return Object.is(value, -0) ? '-0' : String(value);
}

/** A JSON string literal; lone surrogates are always escaped, so the UTF-8 bytes mean the same string. */
function quote(value: string, escapes: number, random: () => number): string {
  // JSON.stringify escapes only what must be (and lone surrogates): the common case, fast.
  if (escapes === 0) return JSON.stringify(value);
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const ch = value[i]!;
    const pair = code >= 0xd800 && code <= 0xdbff && i + 1 < value.length && isLow(value.charCodeAt(i + 1));
    if (pair) {
      out += random() < escapes ? unicodeEscape(code, random) + unicodeEscape(value.charCodeAt(i + 1), random) : ch + value[i + 1]!;
      i++;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += unicodeEscape(code, random);
    } else if (ch === '"' || ch === '\\' || code < 0x20 || random() < escapes) {
      const short = SHORT_ESCAPES[ch];
      out += short !== undefined && random() < 0.5 ? short : unicodeEscape(code, random);
    } else {
      out += ch;
    }
  }
  return `${out}"`;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function unicodeEscape(code: number, random: () => number): string {
  const hex = code.toString(16).padStart(4, '0');
  return `\\u${random() < 0.5 ? hex : hex.toUpperCase()}`;
}

/** `value` written as one of the many JSON numbers with the same decimal value (so the same double). */
function numberForm(value: number, pick: <T>(items: readonly T[]) => T, random: () => number): string {
  if (value === 0) return (Object.is(value, -0) ? '-' : '') + pick(['0', '0.0', '0e0', '0E+3', '0.000e-2', `0.${'0'.repeat(LONG_DIGITS)}`]);
  if (!Number.isFinite(value)) return shortest(value);
  const sign = value < 0 ? '-' : '';
  // The exact decimal of the shortest form: digits d1 d2 ... dn times 10^(exponent - n + 1).
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText) - digits.length + 1;
  // Mostly a few digits of padding; sometimes hundreds, as a 400-digit mantissa.
  const padding = Math.floor(random() * (random() < LONG_PADDING_SHARE ? LONG_DIGITS : SHORT_DIGITS));
  const e = pick(['e', 'E']);
  const signed = (n: number) => (n < 0 ? `${n}` : pick(['', '+']) + n);
  const scientific = exponent + digits.length - 1;
  const forms = [
    shortest(value),
    `${sign}${digits}${e}${signed(exponent)}`,
    `${sign}${digits}${'0'.repeat(padding)}${e}${signed(exponent - padding)}`,
    `${sign}0.${'0'.repeat(padding)}${digits}${e}${signed(exponent + padding + digits.length)}`,
    `${sign}${digits[0]}.${digits.slice(1) || '0'}${'0'.repeat(padding)}${e}${scientific < 0 ? '-' : pick(['', '+'])}${'0'.repeat(Math.floor(random() * 3))}${Math.abs(scientific)}`,
  ];
  if (exponent >= 0 && exponent + digits.length <= 21) forms.push(`${sign}${digits}${'0'.repeat(exponent)}.${'0'.repeat(1 + Math.floor(random() * 5))}`);
  return pick(forms);
}
