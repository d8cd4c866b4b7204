/**
 * `npm run bench:produce-encode`: main-thread cost of kafkajs encoding a
 * produce request, as published and as scripts/patch-kafkajs.mjs patches it,
 * in one thread, no broker. Each request is what the service's BatchingSink
 * sends: one partition's messages with a string key (~100 B) and a JSON string
 * value (~850 B, an aggregate's size), no headers or timestamps; it is encoded
 * as kafkajs's connection does (the produce request, then its request header).
 *
 * Both kafkajs variants are copies in a temporary folder, made from the
 * installed one by the patch script itself and loaded by absolute path, so
 * node_modules is never changed. Before any timing both encode the same
 * request to the same bytes (Date.now held still for that). Rounds alternate
 * between them so a drift of the machine's speed hits both; the median round
 * is reported.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Random } from '../src/fleet/random.js';
import { appendResults, commandLine, machine, markdownTable, ROOT, say } from './lib/common.js';
import { parseFlags, positiveInteger } from './lib/options.js';
import { dateOnly } from './lib/report.js';

const USAGE = `Usage: npm run bench:produce-encode -- [options]

Main-thread cost of encoding produce requests with kafkajs as published and as patched, in one thread.

  --messages N          messages in each request (default 2000)
  --requests R          requests encoded by each variant per round (default 5)
  --rounds K            timed rounds of each variant, alternating (default 21)
  --no-append           do not append to bench/RESULTS.md`;

const values = parseFlags({ messages: { type: 'string' }, requests: { type: 'string' }, rounds: { type: 'string' } }, USAGE);
const count = positiveInteger('messages', values.messages, 2000);
const requestsPerRound = positiveInteger('requests', values.requests, 5);
const rounds = positiveInteger('rounds', values.rounds, 21);

/** Rounds run and not counted, while the JIT settles. */
const WARM_UP_ROUNDS = 3;
/** The sizes of the service's aggregates on the output topic. */
const KEY_BYTES = 100;
const VALUE_BYTES = 850;
/** Date.now while both variants encode the request that is compared byte for byte. */
const FIXED_NOW = 1_764_000_000_000;
const PATCH_SCRIPT = join(ROOT, 'scripts', 'patch-kafkajs.mjs');

interface Message {
  readonly key: string;
  readonly value: string;
}
/** The parts of kafkajs's protocol modules the benchmark calls. */
interface EncodedRequest {
  readonly buffer: Buffer;
}
type ProduceRequest = (options: { acks: number; timeout: number; topicData: unknown[] }) => unknown;
type RequestEncoder = (options: { correlationId: number; clientId: string; request: unknown }) => Promise<EncodedRequest>;

interface Variant {
  readonly name: 'published' | 'patched';
  /** Encodes one produce request of `messages`, header included. */
  readonly encode: (messages: readonly Message[]) => Promise<Buffer>;
}

/** A copy of the installed kafkajs, published or patched by the patch script, and its produce encoding. */
function variant(name: Variant['name'], into: string): Variant {
  const installed = dirname(createRequire(join(ROOT, 'package.json')).resolve('kafkajs/package.json'));
  const dir = join(into, `kafkajs-${name}`);
  cpSync(installed, dir, { recursive: true });
  execFileSync(process.execPath, [PATCH_SCRIPT, '--dir', dir, ...(name === 'published' ? ['--revert'] : [])], { stdio: ['ignore', 'ignore', 'inherit'] });
  const load = createRequire(join(dir, 'index.js'));
  const produce = load(join(dir, 'src', 'protocol', 'requests', 'produce', 'v3', 'request.js')) as ProduceRequest;
  const request = load(join(dir, 'src', 'protocol', 'request.js')) as RequestEncoder;
  return {
    name,
    encode: async (messages) => {
      const topicData = [{ topic: 'geowindow-aggregates', partitions: [{ partition: 0, messages }] }];
      const encoded = await request({ correlationId: 1, clientId: 'geowindow', request: produce({ acks: -1, timeout: 30_000, topicData }) });
      return encoded.buffer;
    },
  };
}

/** ASCII text of `length` characters from `random`, as JSON keys and numbers are. */
function text(random: Random, length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789,.:-';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[random.int(alphabet.length)];
  return out;
}

function messages(seed: number): Message[] {
  const random = new Random(seed);
  const list: Message[] = [];
  for (let i = 0; i < count; i++) {
    const key = `zone:${text(random, KEY_BYTES - 5)}`;
    const value = JSON.stringify({ zone: text(random, 40), count: random.int(10_000), pad: text(random, VALUE_BYTES - 74) });
    list.push({ key, value });
  }
  return list;
}

const scratch = mkdtempSync(join(tmpdir(), 'geowindow-produce-encode-'));
try {
  const variants = [variant('published', scratch), variant('patched', scratch)];
  const batch = messages(1);
  const bytesPerMessage = batch.reduce((sum, m) => sum + m.key.length + m.value.length, 0) / batch.length;

  // The same bytes before any timing.
  const realNow = Date.now;
  Date.now = () => FIXED_NOW;
  const [published, patched] = await Promise.all(variants.map((v) => v.encode(batch)));
  Date.now = realNow;
  if (!published!.equals(patched!)) throw new Error('the patched kafkajs encodes the request to other bytes than the published one');
  say(`${count} messages of ${bytesPerMessage.toFixed(0)} B (key and value) per request: ${published!.length} B, the same with both variants`);

  const microseconds = new Map<Variant['name'], number[]>(variants.map((v) => [v.name, []]));
  for (let round = -WARM_UP_ROUNDS; round < rounds; round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < requestsPerRound; r++) await v.encode(batch);
      const perMessage = Number(process.hrtime.bigint() - t0) / 1000 / (requestsPerRound * count);
      if (round >= 0) microseconds.get(v.name)!.push(perMessage);
    }
    if (round >= 0 && (round + 1) % 5 === 0) say(`round ${round + 1}/${rounds}`);
  }

  const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(microseconds.get('published')!);
  const table = markdownTable(
    ['kafkajs 2.2.4', 'µs/message (median round)', 'fastest / slowest round', 'vs published'],
    variants.map(({ name }) => {
      const xs = microseconds.get(name)!;
      return [name, median(xs).toFixed(2), `${Math.min(...xs).toFixed(2)} / ${Math.max(...xs).toFixed(2)}`, `${(median(xs) / base).toFixed(2)}x`];
    }),
  );
  const m = machine();
  const section = [
    `## kafkajs produce encoding, patched: ${dateOnly()}`,
    '',
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Linux ${m.kernel}, Node.js ${m.node}.`,
    '',
    '```sh',
    commandLine(),
    '```',
    '',
    `Produce requests (kafkajs's v3 encoding, which its v4 to v7 share; request header included) of ${count} messages, a string key of ` +
      `${KEY_BYTES} B and a JSON string value of ~${VALUE_BYTES} B each (as the service's aggregates), no headers or timestamps, ` +
      `encoded in one thread; ${rounds} timed rounds of ${requestsPerRound} requests per variant, alternating, after ${WARM_UP_ROUNDS} ` +
      'warm-up rounds. Both variants encode the request to the same bytes.',
    '',
    table,
    '',
  ].join('\n');
  process.stdout.write(`\n${section}`);
  if (values['no-append'] !== true) appendResults(section);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
