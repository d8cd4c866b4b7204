/**
 * fast-check generators of sensor records: valid ones written every valid
 * way (member order, whitespace, escapes, number forms, ignored members of
 * any kind and depth, `__proto__` and friends as names), and hostile ones,
 * each family breaking records in one way the README names or a parser
 * might trip on. They say nothing about verdicts: the oracle
 * (decode-oracle.ts) decides those from the bytes.
 */
import fc from 'fast-check';
import {
  allPaths,
  arr,
  duplicateAt,
  fromJson,
  getAt,
  NULL,
  num,
  obj,
  seededRandom,
  setAt,
  str,
  text,
  writeJson,
  type Doc,
  type Member,
  type Path,
  type WriteStyle,
} from './json-doc.js';

export interface PayloadOptions {
  /** READING_COLUMNS: records carry at most this many readings, the too-many family more. */
  readonly maxReadings: number;
  /** Reading names of valid records; unset: names of every kind. */
  readonly readingNames?: readonly string[];
  /** Longest huge string or deepest nesting, in characters. */
  readonly maxHugeChars: number;
}

/** A generated message value and the family that made it, to name in a failure. */
export interface Payload {
  readonly family: string;
  readonly value: Buffer | null;
}

/** Names JavaScript objects inherit, and the one that sets a prototype. */
export const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'] as const;
const FIELD_NAMES = ['device_id', 'ts', 'lat', 'lon', 'readings', 'type', 'geometry', 'properties', 'coordinates'] as const;
const LAST_EPOCH_MS = 8.64e15;
/** Names a record's top level reads, in either shape. */
const TOP_NAMES: readonly string[] = ['lat', 'lon', 'device_id', 'ts', 'readings', 'type', 'geometry', 'properties'];
const DEEP_NESTING_MAX = 20_000;

const FLAT_FIELDS: readonly Path[] = [['lon'], ['lat'], ['device_id'], ['ts'], ['readings']];
const FEATURE_FIELDS: readonly Path[] = [
  ['type'], ['geometry'], ['geometry', 'type'], ['geometry', 'coordinates'], ['geometry', 'coordinates', 0],
  ['geometry', 'coordinates', 1], ['properties'], ['properties', 'device_id'], ['properties', 'ts'], ['properties', 'readings'],
];

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

export const arbStyle: fc.Arbitrary<WriteStyle> = fc.record({
  seed: fc.integer(),
  whitespace: fc.constantFrom(0, 0, 0.1, 0.6),
  escapes: fc.constantFrom(0, 0, 0.05, 1),
  numberForms: fc.boolean(),
});

/** Device ids: ASCII as fleets send them, any Unicode, astral characters (two UTF-16 units each), escapes, 1 to 256 characters. */
const arbDeviceId = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('ws', 'gps', 'aq', 'hydro'), fc.nat(999_999)).map(([kind, n]) => `${kind}-${n}`) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('😀', '𝕏', 'é', 'x'), minLength: 120, maxLength: 256 }) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(256), '\ud800', 'a\u0000b', '"\\/', ...PROTO_NAMES) },
);

const arbCoordinate = (limit: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.double({ min: -limit, max: limit, noNaN: true }) },
    { weight: 1, arbitrary: fc.integer({ min: -limit, max: limit }) },
    { weight: 1, arbitrary: fc.constantFrom(-limit, limit, 0, -0, 5e-324, -5e-324, 1e-300) },
  );

/** Up to `max` decimal digits, leading zeros kept ('' for none). */
const arbDigits = (max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...'0123456789'), { maxLength: max }).map((digits) => digits.join(''));

const ISO_ZONES = ['Z', '+00:00', '-00:00', '+05:30', '-0800', '+1400', '-23:59'] as const;

/** The parts of an ISO-8601 date-time the README accepts. */
const arbIsoParts = fc.record({
  year: fc.integer({ min: 1970, max: 9999 }),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 28 }),
  hour: fc.integer({ min: 0, max: 23 }),
  minute: fc.integer({ min: 0, max: 59 }),
  second: fc.option(fc.integer({ min: 0, max: 59 })),
  fraction: arbDigits(9),
  zone: fc.constantFrom(...ISO_ZONES),
  endOfDay: fc.boolean(),
});
type IsoParts = typeof arbIsoParts extends fc.Arbitrary<infer T> ? T : never;

function isoText({ year, month, day, hour, minute, second, fraction, zone, endOfDay }: IsoParts): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${p(year, 4)}-${p(month)}-${p(day)}`;
  if (endOfDay && second === null) return `${date}T24:00${zone}`;
  const seconds = second === null ? '' : `:${p(second)}${fraction === '' ? '' : `.${fraction}`}`;
  return `${date}T${p(hour)}:${p(minute)}${seconds}${zone}`;
}

/** The instant in epoch ms, to the second (a fraction only adds to it). */
function isoEpochMs({ year, month, day, hour, minute, second, zone, endOfDay }: IsoParts): number {
  const local = endOfDay && second === null ? Date.UTC(year, month - 1, day, 24, 0) : Date.UTC(year, month - 1, day, hour, minute, second ?? 0);
  const offset = /^([+-])(\d\d):?(\d\d)$/.exec(zone);
  const minutes = offset === null ? 0 : (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3]));
  return local - minutes * 60_000;
}

/** ISO-8601 date-times the README accepts, some before 1970 once their offset applies (the oracle refuses those as out of range). */
const arbIsoTime = arbIsoParts.map(isoText);
/** The same, at or after 1970 once the offset applies: always a valid time. */
const arbValidIsoTime = arbIsoParts.filter((parts) => isoEpochMs(parts) >= 0).map(isoText);

/** Event times, numbers and ISO-8601 strings; `iso` picks which strings. */
const arbTsWith = (iso: fc.Arbitrary<string>): fc.Arbitrary<Doc> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((n) => num(1_600_000_000_000 + n * 1000)) },
    { weight: 1, arbitrary: fc.double({ min: 0, max: LAST_EPOCH_MS, noNaN: true }).map(num) },
    { weight: 1, arbitrary: fc.constantFrom(0, -0, LAST_EPOCH_MS, 1.5).map(num) },
    { weight: 2, arbitrary: iso.map(str) },
  );
const arbTs = arbTsWith(arbIsoTime);
/** Event times a valid record may carry: never before 1970. */
const arbValidTs = arbTsWith(arbValidIsoTime);

const arbReadingName = (options: PayloadOptions): fc.Arbitrary<string> =>
  options.readingNames !== undefined
    ? fc.constantFrom(...options.readingNames)
    : fc.oneof(
        fc.constantFrom('temp_c', 'pm25', '', '0', '7', '-1', '1.5', 'a.b', '😀', ...PROTO_NAMES),
        fc.string({ maxLength: 12 }),
        fc.string({ unit: 'binary', maxLength: 12 }),
      );

const arbReadingValue: fc.Arbitrary<Doc> = fc.oneof(
  { weight: 4, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map(num) },
  { weight: 1, arbitrary: fc.constant(NULL) },
  { weight: 1, arbitrary: fc.integer().map(num) },
);

const arbReadings = (options: PayloadOptions): fc.Arbitrary<Doc | null | undefined> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom<Doc | null | undefined>(undefined, null, obj([])) },
    {
      weight: 4,
      arbitrary: fc
        .uniqueArray(fc.tuple(arbReadingName(options), arbReadingValue), {
          maxLength: options.maxReadings,
          selector: ([name]) => name,
        })
        .map((members) => obj(members)),
    },
  );

/** Nesting depths: mostly what a parser's recursion takes in its stride, sometimes far past it. */
const arbDepth = (max: number): fc.Arbitrary<number> =>
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: Math.min(20, max) }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max }) });

/** Values of ignored members: any JSON, nested objects named like fields or prototypes, deep arrays. */
const arbIgnoredValue: fc.Arbitrary<Doc> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }).map(fromJson) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...FIELD_NAMES, ...PROTO_NAMES), fc.jsonValue({ maxDepth: 1 }))
      .map(([name, value]) => obj([[name, fromJson(value)]])),
  },
  { weight: 1, arbitrary: arbDepth(200).map((depth) => nested(depth, '[', NULL)) },
);

/** Names of ignored members at a level: anything but the names that level reads. */
const arbIgnoredName = (reserved: readonly string[]): fc.Arbitrary<string> =>
  fc
    .oneof(fc.constantFrom('kind', 'LAT', 'lat ', 'Device_ID', 'device_id\u0000', ...PROTO_NAMES, ...FIELD_NAMES), fc.string({ maxLength: 10 }))
    .filter((name) => !reserved.includes(name));

const arbIgnored = (reserved: readonly string[]): fc.Arbitrary<Member[]> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant<Member[]>([]) },
    { weight: 1, arbitrary: fc.array(fc.tuple(arbIgnoredName(reserved), arbIgnoredValue), { minLength: 1, maxLength: 3 }).map((members) => uniqueNames(members)) },
  );

/** One member per name, the first kept: valid records have no duplicates until a family adds one. */
function uniqueNames(members: readonly Member[]): Member[] {
  const seen = new Set<string>();
  return members.filter(([name]) => !seen.has(name) && seen.add(name));
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `[[[...]]]` or `{"a":{"a":...}}` around `inner`, `depth` levels deep. */
export function nested(depth: number, kind: '[' | '{', inner: Doc): Doc {
  let doc = inner;
  for (let i = 0; i < depth; i++) doc = kind === '[' ? arr([doc]) : obj([['a', doc]]);
  return doc;
}

/** The same nesting as a verbatim leaf, for depths the writer's recursion would not reach. */
export function deepText(depth: number, kind: '[' | '{'): Doc {
  return kind === '[' ? text(`${'['.repeat(depth)}null${']'.repeat(depth)}`) : text(`${'{"a":'.repeat(depth)}null${'}'.repeat(depth)}`);
}

/** A valid record, flat or a GeoJSON Point Feature, its members in any order. */
export const arbValidDoc = (options: PayloadOptions): fc.Arbitrary<Doc> =>
  fc
    .record({
      feature: fc.boolean(),
      deviceId: arbDeviceId,
      ts: arbValidTs,
      lat: arbCoordinate(90),
      lon: arbCoordinate(180),
      readings: arbReadings(options),
      flatType: fc.option(fc.constantFrom('reading', 'feature', 'Point', '')),
      altitude: fc.option(arbIgnoredValue),
      ignoredTop: arbIgnored(TOP_NAMES),
      ignoredInner: arbIgnored(['device_id', 'ts', 'readings']),
      ignoredGeometry: arbIgnored(['type', 'coordinates']),
      order: fc.integer(),
    })
    .map((r) => {
      const common: Member[] = [['device_id', str(r.deviceId)], ['ts', r.ts]];
      if (r.readings !== undefined) common.push(['readings', r.readings ?? NULL]);
      if (!r.feature) {
        const members: Member[] = [...common, ['lat', num(r.lat)], ['lon', num(r.lon)], ...r.ignoredTop, ...r.ignoredInner.filter(([name]) => !TOP_NAMES.includes(name))];
        if (r.flatType !== null) members.push(['type', str(r.flatType)]);
        return obj(shuffled(uniqueNames(members), r.order));
      }
      const coordinates = [num(r.lon), num(r.lat), ...(r.altitude === null ? [] : [r.altitude])];
      const geometry = obj(shuffled([['type', str('Point')], ['coordinates', arr(coordinates)], ...r.ignoredGeometry], r.order));
      const properties = obj(shuffled(uniqueNames([...common, ...r.ignoredInner]), r.order + 1));
      const top: Member[] = [['type', str('Feature')], ['geometry', geometry], ['properties', properties], ...r.ignoredTop];
      return obj(shuffled(top, r.order + 2));
    });

export const arbValid = (options: PayloadOptions): fc.Arbitrary<Payload> =>
  fc.tuple(arbValidDoc(options), arbStyle).map(([doc, style]) => ({ family: 'valid', value: bytes(writeJson(doc, style)) }));

/** The fields a record's shape reads that it has, readings' entries included. */
export function fieldPaths(doc: Doc): Path[] {
  const feature = getAt(doc, ['type'])?.t === 'str' && (getAt(doc, ['type']) as { value: string }).value === 'Feature';
  const fields = (feature ? FEATURE_FIELDS : FLAT_FIELDS).filter((path) => getAt(doc, path) !== undefined);
  const readingsPath = feature ? ['properties', 'readings'] : ['readings'];
  const readings = getAt(doc, readingsPath);
  if (readings?.t === 'obj') for (const [name] of readings.members) fields.push([...readingsPath, name]);
  return fields;
}

/** A valid record and a path to one of its fields (mostly) or to any of its members. */
const arbRecordAndPath = (options: PayloadOptions) =>
  fc.tuple(arbValidDoc(options), fc.nat(), fc.boolean()).map(([doc, n, anyMember]) => {
    const fields = fieldPaths(doc);
    const candidates = anyMember ? allPaths(doc, 4) : fields;
    return { doc, path: candidates[n % candidates.length] ?? ['device_id'] };
  });

/** Values of every JSON type, and objects a careless reader might take for something else. */
const arbWrongValue: fc.Arbitrary<Doc> = fc.oneof(
  fc.constantFrom(
    text('true'), text('false'), NULL, str(''), str('47.3'), str('NaN'), str('Infinity'), str('2024-06-01T12:00:00Z'),
    arr([]), arr([num(1), num(2)]), obj([]), num(0), num(1.5), num(-1), text('-0'), str('Point'), str('Feature'),
    obj([['toString', num(1)]]), obj([['valueOf', str('x')], ['toString', obj([])]]), obj([['__proto__', obj([['type', str('Point')]])]]),
    arr([arr([num(8.5), num(47.3)])]), obj([['0', num(8.5)], ['1', num(47.3)], ['length', num(2)]]),
  ),
  fc.jsonValue({ maxDepth: 2 }).map(fromJson),
);

/** Numbers at and past every limit of a double, and tokens that are no JSON number. */
const HOSTILE_NUMBERS = [
  '1e309', '-1e309', '1e-400', '-1e-400', '-0', '-0.0', '0e0', '1E+2', '1e999999999999', '1e-999999999999',
  '9'.repeat(400), `-${'9'.repeat(400)}`, `0.${'0'.repeat(400)}1`, `1${'0'.repeat(308)}`, `1${'0'.repeat(309)}`,
  '1.7976931348623157e308', '1.7976931348623159e308', '5e-324', '2e-324', '90.0000000000000000000001', '90.000000000001',
  '-180.00000000000000000001', '180.0000001', '8.64e15', '8640000000000000.4', '8640000000000001', '-1',
  '123456789012345678901234567890', '0.1e1', '1e22', '1e23',
  'NaN', '-NaN', 'Infinity', '-Infinity', '+1', '01', '-01', '.5', '1.', '1e', '1e+', '0x10', '1_000', '\u0661', '- 1', '--1',
  '1.5.5', 'nul', 'tru', 'True', 'None', 'undefined',
];

/** Byte sequences that are not UTF-8: stray continuations, overlongs, surrogates, past U+10FFFF, truncations. */
const INVALID_UTF8 = [
  [0x80], [0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe], [0xff], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98],
  [0xff, 0xfe], [0xc3, 0x28],
];

const arbWritten = (options: PayloadOptions) => fc.tuple(arbValidDoc(options), arbStyle).map(([doc, style]) => writeJson(doc, style));

const family = (name: string, arbitrary: fc.Arbitrary<Buffer | null>): fc.Arbitrary<Payload> =>
  arbitrary.map((value) => ({ family: name, value }));

/** Each hostile family, by name. */
export function hostileFamilies(options: PayloadOptions): Record<string, fc.Arbitrary<Payload>> {
  const withStyle = <T>(arb: fc.Arbitrary<T>) => fc.tuple(arb, arbStyle);
  return {
    bytes: family('bytes', fc.oneof(fc.uint8Array({ maxLength: 48 }).map(Buffer.from), fc.string({ unit: 'binary', maxLength: 48 }).map(bytes))),
    'invalid-utf8': family(
      'invalid-utf8',
      fc.tuple(arbWritten(options), fc.constantFrom(...INVALID_UTF8), fc.nat()).map(([json, sequence, at]) => {
        const b = bytes(json);
        const i = at % (b.length + 1);
        return Buffer.concat([b.subarray(0, i), Buffer.from(sequence), b.subarray(i)]);
      }),
    ),
    mutation: family(
      'mutation',
      fc.tuple(arbWritten(options), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...' \t\n"\\{}[]:,.-+eE0123456789ntfulNaI\u00e9\u2028'), fc.nat(2)), { minLength: 1, maxLength: 3 }))
        .map(([json, edits]) => {
          let s = json;
          for (const [at, ch, kind] of edits) {
            const i = at % (s.length + 1);
            s = kind === 0 ? s.slice(0, i) + ch + s.slice(i + 1) : kind === 1 ? s.slice(0, i) + ch + s.slice(i) : s.slice(0, i) + s.slice(i + 1);
          }
          return bytes(s);
        }),
    ),
    deep: family(
      'deep',
      withStyle(fc.tuple(arbRecordAndPath(options), arbDepth(Math.min(DEEP_NESTING_MAX, options.maxHugeChars)), fc.constantFrom('[', '{'), fc.constantFrom('top', 'member', 'field', 'unbalanced')))
        .map(([[{ doc, path }, depth, kind, where], style]) => {
          const deep = deepText(depth, kind as '[' | '{');
          if (where === 'top') return bytes(writeJson(deep, style));
          if (where === 'field') return bytes(writeJson(setAt(doc, path, deep), style));
          const json = writeJson(setAt(doc, ['deep'], deep), style);
          // Unbalanced: one closing bracket short, inside an otherwise valid record.
          return bytes(where === 'member' ? json : json.replace(kind === '[' ? /\]/ : /\}/, ''));
        }),
    ),
    number: family(
      'number',
      withStyle(fc.tuple(arbRecordAndPath(options), fc.constantFrom(...HOSTILE_NUMBERS))).map(([[{ doc, path }, token], style]) =>
        bytes(writeJson(setAt(doc, path, text(token)), style)),
      ),
    ),
    'huge-string': family(
      'huge-string',
      withStyle(
        fc.tuple(
          arbValidDoc(options),
          fc.constantFrom(255, 256, 257, 1000, options.maxHugeChars),
          fc.constantFrom('x', 'é', '😀', '\u0000', '"', 'NaN '),
          fc.constantFrom('device', 'reading-name', 'member', 'member-name', 'geometry-type'),
        ),
      ).map(([[doc, length, unit, where], style]) => {
        const huge = unit.repeat(Math.ceil(length / unit.length)).slice(0, Math.max(length, unit.length));
        const feature = getAt(doc, ['properties']) !== undefined;
        const inner = (path: Path) => (feature ? ['properties', ...path] : path);
        let out = doc;
        if (where === 'device') out = setAt(doc, inner(['device_id']), str(huge));
        else if (where === 'reading-name') out = setAt(setAt(doc, inner(['readings']), undefined), inner(['readings']), obj([[huge, num(1)]]));
        else if (where === 'member') out = setAt(doc, ['note'], str(huge));
        else if (where === 'member-name') out = setAt(doc, [huge], num(1));
        else out = setAt(doc, ['geometry', 'type'], str(huge));
        return bytes(writeJson(out, style));
      }),
    ),
    'wrong-type': family(
      'wrong-type',
      withStyle(fc.tuple(arbRecordAndPath(options), arbWrongValue)).map(([[{ doc, path }, value], style]) =>
        bytes(writeJson(setAt(doc, path, value), style)),
      ),
    ),
    missing: family(
      'missing',
      withStyle(arbRecordAndPath(options)).map(([{ doc, path }, style]) => bytes(writeJson(setAt(doc, path, undefined), style))),
    ),
    duplicate: family(
      'duplicate',
      withStyle(fc.tuple(arbRecordAndPath(options), fc.oneof(arbWrongValue, arbValidDoc(options)), fc.boolean())).map(
        ([[{ doc, path }, value, before], style]) => bytes(writeJson(duplicateAt(doc, path, value, before), style)),
      ),
    ),
    proto: family(
      'proto',
      withStyle(
        fc.tuple(arbRecordAndPath(options), fc.constantFrom(...PROTO_NAMES), fc.boolean(), fc.constantFrom<Path>([], ['geometry'], ['properties'], ['readings'], ['properties', 'readings'])),
      ).map(([[{ doc, path }, name, dropField, level], style]) => {
        // A member named like a prototype holding what a careless reader would find: the field itself.
        const field = path[path.length - 1];
        const stolen = getAt(doc, path) ?? num(1);
        const bait = obj([[typeof field === 'string' ? field : 'lat', stolen], ['lat', num(1)], ['lon', num(2)], ['device_id', str('d')], ['ts', num(1)], ['type', str('Point')]]);
        const target = getAt(doc, level);
        const baited = target?.t === 'obj' ? setAt(doc, [...level, name], bait) : setAt(doc, [name], bait);
        return bytes(writeJson(dropField ? setAt(baited, path, undefined) : baited, style));
      }),
    ),
    size: family(
      'size',
      fc.oneof(
        fc.constantFrom<Buffer | null>(null, Buffer.alloc(0), bytes(' '), bytes('\n'), bytes('{}'), bytes('\u0000')),
        fc.tuple(arbWritten(options), fc.integer({ min: 1, max: options.maxHugeChars })).map(([json, pad]) => bytes(json + ' '.repeat(pad))),
      ),
    ),
    framing: family(
      'framing',
      fc
        .tuple(
          arbWritten(options),
          fc.constantFrom('', '\ufeff', '\u00a0', '\u2028', '\u000b', '\u000c', '\u0000', ")]}'\n", '\u001e', 'data: ', ' \t\r\n'),
          fc.constantFrom('', 'x', '}', ',', '{}', '\u0000', '//c', '/*c*/', 'NaN', ' 1', '\n{"a":1}', ']', '\ufeff', '\u00a0', ' \t\r\n'),
          fc.option(fc.nat()),
        )
        .map(([json, prefix, suffix, truncate]) => {
          const whole = bytes(prefix + json + suffix);
          return truncate === null ? whole : whole.subarray(0, truncate % (whole.length + 1));
        }),
    ),
    'non-finite': family(
      'non-finite',
      withStyle(fc.tuple(arbRecordAndPath(options), fc.constantFrom('NaN', 'Infinity', '-Infinity'), fc.constantFrom('field', 'member', 'in-string', 'in-string-broken', 'broken'))).map(
        ([[{ doc, path }, token, where], style]) => {
          if (where === 'field') return bytes(writeJson(setAt(doc, path, text(token)), style));
          if (where === 'member') return bytes(writeJson(setAt(doc, ['x'], arr([num(1), text(token)])), style));
          if (where === 'broken') return bytes(`${writeJson(setAt(doc, path, text(token)), style).slice(0, -1)},}`);
          const quoted = writeJson(setAt(doc, ['note'], str(`a ${token} b`)), style);
          return bytes(where === 'in-string' ? quoted : `${quoted.slice(0, -1)},}`);
        },
      ),
    ),
    'not-an-object': family(
      'not-an-object',
      withStyle(fc.oneof(fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)).map(fromJson), arbValidDoc(options).map((d) => arr([d])))).map(
        ([doc, style]) => bytes(writeJson(doc, style)),
      ),
    ),
    'too-many': family(
      'too-many',
      withStyle(
        fc.tuple(
          arbValidDoc(options),
          fc.integer({ min: 1, max: 3 }),
          fc.option(fc.tuple(fc.nat(), arbWrongValue)),
        ),
      ).map(([[doc, extra, wrong], style]) => {
        const count = options.maxReadings + extra;
        const members: Member[] = Array.from({ length: count }, (_, i) => [`r${i}`, num(i)]);
        if (wrong !== null) members[wrong[0] % count] = [`r${wrong[0] % count}`, wrong[1]];
        const path = getAt(doc, ['properties']) !== undefined ? ['properties', 'readings'] : ['readings'];
        return bytes(writeJson(setAt(setAt(doc, path, undefined), path, obj(members)), style));
      }),
    ),
    'iso-time': family(
      'iso-time',
      withStyle(
        fc.tuple(
          arbValidDoc(options),
          fc.record({
            year: fc.integer({ min: 0, max: 9999 }),
            month: fc.integer({ min: 0, max: 13 }),
            day: fc.integer({ min: 0, max: 32 }),
            hour: fc.integer({ min: 0, max: 25 }),
            minute: fc.integer({ min: 0, max: 61 }),
            second: fc.option(fc.integer({ min: 0, max: 61 })),
            fraction: arbDigits(11),
            separator: fc.constantFrom('T', 'T', 't', ' '),
            zone: fc.constantFrom('Z', 'z', '', '+00:00', '-00:00', '+05:30', '+0530', '+05', '+24:00', '-23:59', '+23:60', ' Z', 'UTC', '+5:30'),
          }),
        ),
      ).map(([[doc, t], style]) => {
        const p = (n: number, w = 2) => String(n).padStart(w, '0');
        const seconds = t.second === null ? '' : `:${p(t.second)}${t.fraction === '' ? '' : `.${t.fraction}`}`;
        const iso = `${p(t.year, 4)}-${p(t.month)}-${p(t.day)}${t.separator}${p(t.hour)}:${p(t.minute)}${seconds}${t.zone}`;
        const path = getAt(doc, ['properties']) !== undefined ? ['properties', 'ts'] : ['ts'];
        return bytes(writeJson(setAt(doc, path, str(iso)), style));
      }),
    ),
    geometry: family(
      'geometry',
      withStyle(
        fc.tuple(
          arbValidDoc(options),
          fc.constantFrom<Doc | undefined>(str('Point'), str('point'), str('LineString'), str('Polygon'), str(''), NULL, num(42), arr([]), obj([]), obj([['toString', num(1)]]), nested(50, '[', NULL), undefined),
          fc.constantFrom('keep', 'altitude', 'bad-altitude', 'one', 'none', 'null', 'absent', 'string', 'object', 'nested', 'strings', 'swapped'),
          fc.constantFrom('keep', 'absent', 'null', 'array', 'string', 'both-readings'),
        ),
      ).map(([[doc, type, coordinates, properties], style]) => {
        const lon = num(8.5417);
        const lat = num(47.3769);
        const coordinateDocs: Record<string, Doc | undefined> = {
          altitude: arr([lon, lat, num(300.5)]), 'bad-altitude': arr([lon, lat, str('x')]), one: arr([lon]), none: arr([]),
          null: NULL, absent: undefined, string: str('8.5,47.3'), object: obj([['0', lon], ['1', lat]]), nested: arr([arr([lon, lat])]),
          strings: arr([str('8.5'), str('47.3')]), swapped: arr([num(120), num(100)]),
        };
        let out = setAt(doc, ['type'], str('Feature'));
        const geometry = getAt(out, ['geometry']);
        if (geometry === undefined) {
          const inner = obj([['device_id', getAt(doc, ['device_id']) ?? str('d')], ['ts', getAt(doc, ['ts']) ?? num(1)]]);
          out = setAt(setAt(out, ['geometry'], obj([['type', str('Point')], ['coordinates', arr([lon, lat])]])), ['properties'], inner);
        }
        out = setAt(out, ['geometry', 'type'], type);
        if (coordinates !== 'keep') out = setAt(out, ['geometry', 'coordinates'], coordinateDocs[coordinates]);
        if (properties === 'absent') out = setAt(out, ['properties'], undefined);
        else if (properties === 'null') out = setAt(out, ['properties'], NULL);
        else if (properties === 'array') out = setAt(out, ['properties'], arr([]));
        else if (properties === 'string') out = setAt(out, ['properties'], str('{}'));
        else if (properties === 'both-readings') out = setAt(out, ['readings'], obj([['a', num(1)]]));
        return bytes(writeJson(out, style));
      }),
    ),
    fuzz: family(
      'fuzz',
      withStyle(
        fc.tuple(
          fc.dictionary(fc.constantFrom(...FIELD_NAMES, ...PROTO_NAMES, 'kind'), fc.oneof(arbWrongValue, arbTs, arbCoordinate(200).map(num), arbDeviceId.map(str)), { maxKeys: 8 }),
          fc.boolean(),
        ),
      ).map(([[members, feature], style]) => {
        const entries = Object.entries(members).map(([name, value]) => [name, value] as const);
        const doc = feature ? obj([['type', str('Feature')], ['geometry', obj([['type', str('Point')], ['coordinates', arr([num(1), num(2)])]])], ['properties', obj(entries)]]) : obj(entries);
        return bytes(writeJson(doc, style));
      }),
    ),
  };
}

/** Any hostile payload, each family as likely. */
export const arbHostile = (options: PayloadOptions): fc.Arbitrary<Payload> => fc.oneof(...Object.values(hostileFamilies(options)));

/** About seven valid records to three hostile ones. */
export const arbMixed = (options: PayloadOptions): fc.Arbitrary<Payload> =>
  fc.oneof({ weight: 7, arbitrary: arbValid(options) }, { weight: 3, arbitrary: arbHostile(options) });

/** A valid record padded to `size` bytes with an ignored string member (ASCII, so bytes are characters). */
export function paddedRecord(size: number, deviceId: string): Buffer {
  const head = `{"device_id":${JSON.stringify(deviceId)},"ts":1764000000000,"lat":47.3769,"lon":8.5417,"readings":{"pm25":8.1},"pad":"`;
  const tail = '"}';
  return bytes(head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail);
}
