// Patches files of kafkajs 2.2.4 (which has had no release since 2023) in
// place, as the table PATCHES below says. Each patched file's comments say
// "Patched by geowindow's scripts/patch-kafkajs.mjs" and why.
//
// 1. The request queue sets no timer while nothing is pending
//    (src/network/requestQueue/index.js; tulios/kafkajs#1704, #1751).
//    RequestQueue.scheduleCheckPendingRequests() set a timer of
//    `throttledUntil - Date.now()` ms even when nothing was pending.
//    Unthrottled, throttledUntil is -1, so the delay is minus the epoch time:
//    Node runs it after 1 ms (Node 24 also prints TimeoutNegativeWarning), and
//    the timer's callback calls the same method again, so each broker
//    connection looped every millisecond for as long as it was open. Patched,
//    a timer is set only while a request is pending, as published: for the
//    rest of the broker's throttle, or the queue's own 10 ms check interval if
//    that has just ended. (With kafkajs's default maxInFlightRequests, null,
//    requests are held back only by a throttle.)
// 2. Produce requests cost a third to a half as much to encode, on the main
//    thread, which writes every aggregate (~850 B each; 110,000 in a run of
//    the zone-window benchmark); bench/produce-encode.ts measures it. The
//    bytes are the published code's, byte for byte
//    (test/unit/patch-kafkajs-encode.test.ts):
//    - src/protocol/encoder.js: buffers are not zero-filled (every write
//      method writes each byte it passes, and `buffer` shows no other), and
//      varints are written in place instead of through an array and a Buffer;
//    - src/protocol/recordBatch/crc32C/crc32C.js: slicing-by-8, eight bytes a
//      step through tables derived from the published one at load;
//    - src/protocol/recordBatch/record/v0/index.js: a record's encoder is
//      sized for the whole record, and a timestamp delta within int32 takes
//      the int varint path (the same zig-zag bytes) instead of BigInt Longs;
//    - src/protocol/requests/produce/v3/request.js: no `{ ...message, more }`
//      per message, which costs ~2 µs on Node.js 20 (not on 24).
// 3. Fetched records cost about half as much to decode, on the main thread,
//    which reads every record (test/unit/patch-kafkajs-decode.test.ts: the
//    published code's records, offsets and timestamps past 2^53 included):
//    - src/protocol/recordBatch/record/v0/decoder.js: a record's offset and
//      timestamp are the batch's decimal string plus a delta, added as
//      numbers while safe integers instead of a Long parsed from the string
//      for every record (the same strings); timestamp deltas of up to 7
//      varint bytes are read as numbers;
//    - src/consumer/batch.js: the offsets of a fetch compared as numbers, not
//      through a Long parsed for every message.
// 4. src/producer/groupMessagesPerPartition.js: a request's messages are
//    grouped per partition in linear time; as published, each message copied
//    its partition's list so far.
//
// Run by package.json's postinstall and the Dockerfile. Idempotent; patches
// what is published and leaves what is patched. It refuses, exit 1, changing
// nothing, when the installed kafkajs is not 2.2.4 or a file is not byte for
// byte the published one or the patched one, so an upgrade cannot silently
// drop a fix.
//
//   node scripts/patch-kafkajs.mjs            # patch node_modules/kafkajs (or say it already is)
//   node scripts/patch-kafkajs.mjs --check    # exit 0 if every file is patched, 1 if not (changes nothing)
//   node scripts/patch-kafkajs.mjs --revert   # back to the published files (for before/after measurements)
//   ... --dir <kafkajs package folder>        # another copy than the one the repository resolves
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const VERSION = '2.2.4';

/**
 * The patched files: sha256 of each as published in kafkajs 2.2.4 and as
 * patched, and its edits, each a published snippet (found exactly once) and
 * what replaces it, applied in order (reverting: patched back to published).
 */
const PATCHES = [
  {
    file: 'src/network/requestQueue/index.js',
    what: 'the request queue sets no timer while nothing is pending',
    publishedSha256: 'b55986089c14f8f7bfc377922e2e65b3e4c1e7c7af2752d3b10a75dfe9e9260c',
    patchedSha256: 'a1609b65506cfec30a581e90331f7c8daf7aed5adf0b49ba8ccb8ad384e86675',
    edits: [
      {
        published: `    let scheduleAt = this.throttledUntil - Date.now()
    if (!this.throttleCheckTimeoutId) {
      if (this.pending.length > 0) {
        scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL
      }
      this.throttleCheckTimeoutId = setTimeout(() => {
        this.throttleCheckTimeoutId = null
        this.checkPendingRequests()
      }, scheduleAt)
    }
`,
        patched: `    // Patched by geowindow's scripts/patch-kafkajs.mjs (tulios/kafkajs#1704, #1751):
    // with nothing pending there is nothing to check, so no timer. As published,
    // an unthrottled queue set one of -Date.now() ms here (run after 1 ms, and a
    // TimeoutNegativeWarning on Node 24), which set the next: a 1 ms loop.
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return
    const throttledFor = this.throttledUntil - Date.now()
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null
      this.checkPendingRequests()
    }, throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL)
`,
      },
    ],
  },
  {
    file: 'src/protocol/encoder.js',
    what: 'buffers not zero-filled, varints written in place',
    publishedSha256: '9977889e184a9e910e4f6098c36ec6a0ca36c183aa6ead0f24191b6aa1c9a777',
    patchedSha256: '523ca29b6a78d6bbb298efd7754db0d6af9c290c00be79d99a225e47e10557a3',
    edits: [
      {
        published: `  constructor(initialSize = 511) {
    this.buf = Buffer.alloc(Encoder.nextPowerOfTwo(initialSize))
`,
        patched: `  constructor(initialSize = 511) {
    // Patched by geowindow's scripts/patch-kafkajs.mjs: not zero-filled, which
    // was wasted work: every write method writes each byte that \`offset\`
    // passes, and \`buffer\` shows only the bytes before \`offset\`.
    this.buf = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(initialSize))
`,
      },
      {
        published: `      const newBuffer = Buffer.alloc(newLength)
`,
        patched: `      // Patched by geowindow's scripts/patch-kafkajs.mjs: not zero-filled (see the constructor).
      const newBuffer = Buffer.allocUnsafe(newLength)
`,
      },
      {
        published: `  writeUVarInt(value) {
    const byteArray = []
    while ((value & UNSIGNED_INT32_MAX_NUMBER) !== 0) {
      byteArray.push((value & OTHER_BITS) | MOST_SIGNIFICANT_BIT)
      value >>>= 7
    }
    byteArray.push(value & OTHER_BITS)
    this.writeBufferInternal(Buffer.from(byteArray))
    return this
  }
`,
        patched: `  writeUVarInt(value) {
    // Patched by geowindow's scripts/patch-kafkajs.mjs: the same bytes, written
    // in place instead of through an array and a Buffer made from it (several
    // a record).
    let size = 1
    for (let rest = value; (rest & UNSIGNED_INT32_MAX_NUMBER) !== 0; rest >>>= 7) size += 1
    this.ensureAvailable(size)
    while ((value & UNSIGNED_INT32_MAX_NUMBER) !== 0) {
      this.buf[this.offset++] = (value & OTHER_BITS) | MOST_SIGNIFICANT_BIT
      value >>>= 7
    }
    this.buf[this.offset++] = value & OTHER_BITS
    return this
  }
`,
      },
    ],
  },
  {
    file: 'src/protocol/recordBatch/crc32C/crc32C.js',
    what: 'slicing-by-8',
    publishedSha256: '1c09c7a44e7a207f2dabb920e6bf9f6b1b3fd9cc023e959a9e91ba83e5b6f61a',
    patchedSha256: '93f8955f0e2b524cfc2d8ad0265f0fa4f5789477ed38fa4a11bb8d24e3e0899f',
    edits: [
      {
        published: `const crc32C = buffer => {
  let crc = 0 ^ -1
  for (let i = 0; i < buffer.length; i++) {
    crc = T[(crc ^ buffer[i]) & 0xff] ^ (crc >>> 8)
  }
`,
        patched: `// Patched by geowindow's scripts/patch-kafkajs.mjs: slicing-by-8, eight bytes
// a step through the tables T8 (derived from T at the end of this file), then
// the last bytes one at a time as published: the same CRC, 2-3 times faster
// once optimized. \`buffer\` is a Buffer, as every caller in kafkajs passes.
const crc32C = buffer => {
  let crc = 0 ^ -1
  const length = buffer.length
  const whole = length - (length % 8)
  const words = new DataView(buffer.buffer, buffer.byteOffset, length)
  let i = 0
  for (; i < whole; i += 8) {
    crc ^= words.getInt32(i, true)
    const next = words.getInt32(i + 4, true)
    crc =
      T8[7 * 256 + (crc & 0xff)] ^
      T8[6 * 256 + ((crc >>> 8) & 0xff)] ^
      T8[5 * 256 + ((crc >>> 16) & 0xff)] ^
      T8[4 * 256 + (crc >>> 24)] ^
      T8[3 * 256 + (next & 0xff)] ^
      T8[2 * 256 + ((next >>> 8) & 0xff)] ^
      T8[256 + ((next >>> 16) & 0xff)] ^
      T8[next >>> 24]
  }
  for (; i < length; i++) {
    crc = T[(crc ^ buffer[i]) & 0xff] ^ (crc >>> 8)
  }
`,
      },
      {
        published: `  0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351
]);
`,
        patched: `  0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351
]);

// Patched by geowindow's scripts/patch-kafkajs.mjs: the slicing-by-8 tables.
// T8[k * 256 + b] is T's step for byte b followed by k zero bytes; the first
// 256 are T.
var T8 = new Int32Array(8 * 256)
T8.set(T)
for (let k = 256; k < 8 * 256; k++) {
  T8[k] = T[T8[k - 256] & 0xff] ^ (T8[k - 256] >>> 8)
}
`,
      },
    ],
  },
  {
    file: 'src/protocol/recordBatch/record/v0/index.js',
    what: 'records encoded into an encoder of their size, int32 timestamp deltas without BigInt',
    publishedSha256: 'ffbc628c1f35f5de8ba798165616b1009d9af1c27ca959999a10e6e3c18f8215',
    patchedSha256: '1a22b3ba2d45228c4d13e78e1f8705685c6a3579032453a80f076d295791f9d0',
    edits: [
      {
        published: `  const sizeOfBody =
    1 + // always one byte for attributes
    Encoder.sizeOfVarLong(timestampDelta) +
    Encoder.sizeOfVarInt(offsetDelta) +
    Encoder.sizeOfVarIntBytes(key) +
    Encoder.sizeOfVarIntBytes(value) +
    sizeOfHeaders(headersArray)

  return new Encoder()
    .writeVarInt(sizeOfBody)
    .writeInt8(0) // no used record attributes at the moment
    .writeVarLong(timestampDelta)
    .writeVarInt(offsetDelta)
`,
        patched: `  // Patched by geowindow's scripts/patch-kafkajs.mjs: a timestamp delta within
  // int32 takes the int varint path, whose zig-zag bytes are the varlong's for
  // such values, without the BigInt work of Long; and the record's encoder is
  // made the record's size, so it never grows (and copies) while written.
  const int32Delta = typeof timestampDelta === 'number' && (timestampDelta | 0) === timestampDelta
  const sizeOfBody =
    1 + // always one byte for attributes
    (int32Delta ? Encoder.sizeOfVarInt(timestampDelta) : Encoder.sizeOfVarLong(timestampDelta)) +
    Encoder.sizeOfVarInt(offsetDelta) +
    Encoder.sizeOfVarIntBytes(key) +
    Encoder.sizeOfVarIntBytes(value) +
    sizeOfHeaders(headersArray)

  const encoder = new Encoder(Encoder.sizeOfVarInt(sizeOfBody) + sizeOfBody)
    .writeVarInt(sizeOfBody)
    .writeInt8(0) // no used record attributes at the moment
  if (int32Delta) encoder.writeVarInt(timestampDelta)
  else encoder.writeVarLong(timestampDelta)

  return encoder
    .writeVarInt(offsetDelta)
`,
      },
    ],
  },
  {
    file: 'src/protocol/requests/produce/v3/request.js',
    what: 'no object spread with added properties per message',
    publishedSha256: '993a3db997827088f5acb08cacf3c67a99ec2886303ff465d244329b8a1c7f99',
    patchedSha256: 'ded544ed369567030b94e3932b81809ebfb9aca2a0cbf1d1e95410269fb56995',
    edits: [
      {
        published: `  const records = messages.map((message, i) =>
    Record({
      ...message,
      offsetDelta: i,
      timestampDelta: (message.timestamp || dateNow) - firstTimestamp,
    })
  )
`,
        patched: `  // Patched by geowindow's scripts/patch-kafkajs.mjs: the properties Record
  // reads, from a plain copy of the message as published, then in an object of
  // their own: on Node.js 20, \`{ ...message, offsetDelta: i }\` (a spread, then
  // more properties) costs ~2 µs per message; the copy alone does not.
  const records = messages.map((message, i) => {
    const { key, value, headers } = { ...message }
    return Record({
      key,
      value,
      headers,
      offsetDelta: i,
      timestampDelta: (message.timestamp || dateNow) - firstTimestamp,
    })
  })
`,
      },
    ],
  },
  {
    file: 'src/protocol/recordBatch/record/v0/decoder.js',
    what: "a fetched record's offset and timestamp added as numbers, not a Long parsed per record",
    publishedSha256: '86d740054c8be29b02873bf2871eb43ba5004af94324610541dbab2d9fabcc65',
    patchedSha256: '74c0cf455e9083cd3599c798a10750b01f29496826d62aaaafb2add7af8f001e',
    edits: [
      {
        published: `module.exports = (decoder, batchContext = {}) => {
`,
        patched: `// Patched by geowindow's scripts/patch-kafkajs.mjs: a zig-zag varlong of up
// to 7 bytes (49 bits) is a safe integer, decoded as a number; a longer one,
// which no real timestamp delta is, goes through Long as published.
const MAX_NUMBER_VARLONG_BYTES = 7
const readVarLongAsNumber = decoder => {
  const { buffer } = decoder
  let offset = decoder.offset
  let value = 0
  let scale = 1
  for (let i = 0; i < MAX_NUMBER_VARLONG_BYTES; i++) {
    const byte = buffer[offset++]
    value += (byte & 0x7f) * scale
    // Past the end of the buffer byte is undefined, which ends the varint as published.
    if (!(byte >= 0x80)) {
      decoder.offset = offset
      return value % 2 === 0 ? value / 2 : -(value + 1) / 2
    }
    scale *= 128
  }
  return decoder.readVarLong()
}

// Patched by geowindow's scripts/patch-kafkajs.mjs: the batch's decimal string
// plus a delta, as numbers while both are safe integers (every real offset and
// epoch-ms time; the same string), else with Long as published.
const addToDecimal = (decimal, delta) => {
  if (typeof delta === 'number') {
    const base = Number(decimal)
    const sum = base + delta
    if (Number.isSafeInteger(base) && Number.isSafeInteger(sum)) return String(sum)
  }
  return Long.fromValue(decimal)
    .add(delta)
    .toString()
}

module.exports = (decoder, batchContext = {}) => {
`,
      },
      {
        published: `  const timestampDelta = decoder.readVarLong()
  const timestamp =
    timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp
      ? maxTimestamp
      : Long.fromValue(firstTimestamp)
          .add(timestampDelta)
          .toString()

  const offsetDelta = decoder.readVarInt()
  const offset = Long.fromValue(firstOffset)
    .add(offsetDelta)
    .toString()
`,
        patched: `  // Patched by geowindow's scripts/patch-kafkajs.mjs: parsing a Long from the
  // batch's decimal strings for every record was most of a fetch's decoding.
  const timestampDelta = readVarLongAsNumber(decoder)
  const timestamp =
    timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp
      ? maxTimestamp
      : addToDecimal(firstTimestamp, timestampDelta)

  const offsetDelta = decoder.readVarInt()
  const offset = addToDecimal(firstOffset, offsetDelta)
`,
      },
    ],
  },
  {
    file: 'src/consumer/batch.js',
    what: 'fetched offsets compared as numbers, not a Long parsed per message',
    publishedSha256: '04ee8657247441599f200af5871ce6b3c4463abe941b97405502f8f5f683face',
    patchedSha256: 'b35bd7b16a08b16cf40ff9abeabeae233d8459ae4e1fb85fd31f840ebe4f787f',
    edits: [
      {
        published: `    this.messagesWithinOffset = this.rawMessages.filter(message =>
      Long.fromValue(message.offset).gte(longFetchedOffset)
    )
`,
        patched: `    // Patched by geowindow's scripts/patch-kafkajs.mjs: offsets compared as
    // numbers while safe integers, not through a Long parsed for every message.
    const fetchedOffsetNumber = Number(this.fetchedOffset)
    const fetchedOffsetIsSafe = Number.isSafeInteger(fetchedOffsetNumber)
    this.messagesWithinOffset = this.rawMessages.filter(message => {
      const offset = Number(message.offset)
      return fetchedOffsetIsSafe && Number.isSafeInteger(offset)
        ? offset >= fetchedOffsetNumber
        : Long.fromValue(message.offset).gte(longFetchedOffset)
    })
`,
      },
    ],
  },
  {
    file: 'src/producer/groupMessagesPerPartition.js',
    what: 'messages grouped per partition in linear time',
    publishedSha256: 'ea72357721fbf67770b5e06b9bf4260faa1e60f3affb556bff2cc7892c1881fb',
    patchedSha256: '1cc9937c84dab623121b7210992a11aa93d4042d34e04ae3228c4e05d9cb58c1',
    edits: [
      {
        published: `  return messages.reduce((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message })
    const current = result[partition] || []
    return Object.assign(result, { [partition]: [...current, message] })
  }, {})
`,
        patched: `  // Patched by geowindow's scripts/patch-kafkajs.mjs: as published, each
  // message copied its partition's list so far, quadratic in a request's
  // messages (~1.4 µs a message at 2,000 over 6 partitions); the same lists,
  // appended to.
  const result = {}
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message })
    const current = result[partition]
    if (current === undefined) result[partition] = [message]
    else current.push(message)
  }
  return result
`,
      },
    ],
  },
];

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function fail(message) {
  process.stderr.write(`[patch-kafkajs] ERROR: ${message}\n`);
  process.exit(1);
}

/** The kafkajs package folder the repository's code loads. */
function resolvedKafkajsDir() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  try {
    return dirname(createRequire(join(root, 'package.json')).resolve('kafkajs/package.json'));
  } catch {
    return fail(`kafkajs is not installed under ${root}: run npm ci first`);
  }
}

/** `text` with its one occurrence of `from` replaced by `to` (undefined if not exactly one). */
function replaceOnce(text, from, to) {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) return undefined;
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** Writes beside the file and renames, so a reader never sees half a file. */
function replaceFile(path, text) {
  writeFileSync(`${path}.geowindow-tmp`, text);
  renameSync(`${path}.geowindow-tmp`, path);
}

const { values } = parseArgs({
  options: { check: { type: 'boolean', default: false }, revert: { type: 'boolean', default: false }, dir: { type: 'string' } },
  strict: true,
});
const dir = values.dir ?? resolvedKafkajsDir();
const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
if (version !== VERSION) {
  fail(
    `${dir} is kafkajs ${version}; this patch is for ${VERSION} only. See which of the patches in ` +
      `scripts/patch-kafkajs.mjs ${version} still needs (the request queue's timer with nothing pending, ` +
      'tulios/kafkajs#1704/#1751; the produce encoding costs), then update or remove scripts/patch-kafkajs.mjs ' +
      'and the postinstall line in package.json.',
  );
}

// Every file is read and judged before any is written: a refusal changes nothing.
const files = PATCHES.map((patch) => {
  const path = join(dir, patch.file);
  const source = readFileSync(path, 'utf8');
  const hash = sha256(source);
  const state = hash === patch.patchedSha256 ? 'patched' : hash === patch.publishedSha256 ? 'published' : 'unknown';
  if (state === 'unknown') {
    fail(`${path} is neither kafkajs ${VERSION}'s published file nor the patched one (sha256 ${hash}); reinstall it with npm ci`);
  }
  return { patch, path, source, state };
});

if (values.check) {
  for (const { path, state } of files) process.stdout.write(`[patch-kafkajs] ${path}: ${state}\n`);
  process.exit(files.every(({ state }) => state === 'patched') ? 0 : 1);
}

const want = values.revert ? 'published' : 'patched';
const results = files.map(({ patch, path, source, state }) => {
  if (state === want) return { patch, path, result: undefined };
  const edits = values.revert ? [...patch.edits].reverse() : patch.edits;
  let result = source;
  for (const edit of edits) {
    const [from, to] = values.revert ? [edit.patched, edit.published] : [edit.published, edit.patched];
    result = replaceOnce(result, from, to);
    if (result === undefined) fail(`${path}: a ${state} snippet is not in the file exactly once`);
  }
  const hash = sha256(result);
  if (hash !== (values.revert ? patch.publishedSha256 : patch.patchedSha256)) {
    fail(`${path}: the ${want} text did not come out as expected (sha256 ${hash})`);
  }
  return { patch, path, result };
});
for (const { patch, path, result } of results) {
  if (result === undefined) {
    process.stdout.write(`[patch-kafkajs] ${path}: already ${want}\n`);
    continue;
  }
  replaceFile(path, result);
  process.stdout.write(`[patch-kafkajs] ${path}: ${want} (${values.revert ? 'as kafkajs published it' : patch.what})\n`);
}
