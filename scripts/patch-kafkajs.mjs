// Patches kafkajs 2.2.4's request queue so that an idle connection sets no
// timer (tulios/kafkajs#1704, #1751; kafkajs has had no release since 2023).
//
// The bug: RequestQueue.scheduleCheckPendingRequests() sets a timer of
// `throttledUntil - Date.now()` ms even when nothing is pending. Unthrottled,
// throttledUntil is -1, so the delay is minus the epoch time: Node runs it after
// 1 ms (Node 24 also prints TimeoutNegativeWarning), and the timer's callback
// calls the same method again. Each broker connection loops every millisecond
// for as long as it is open. The patch sets a timer only while a request is
// pending, as published: for the rest of the broker's throttle, or the queue's
// own 10 ms check interval if that has just ended. (With kafkajs's default
// maxInFlightRequests, null, requests are held back only by a throttle.)
// Nothing else in the queue changes.
//
// Run by package.json's postinstall. Idempotent. It refuses, exit 1, when the
// installed kafkajs is not 2.2.4 or the file is not byte for byte the published
// one (or the patched one), so an upgrade cannot silently drop the fix.
//
//   node scripts/patch-kafkajs.mjs            # patch node_modules/kafkajs (or say it already is)
//   node scripts/patch-kafkajs.mjs --check    # exit 0 if patched, 1 if not (changes nothing)
//   node scripts/patch-kafkajs.mjs --revert   # back to the published file (for before/after measurements)
//   ... --dir <kafkajs package folder>        # another copy than the one the repository resolves
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const VERSION = '2.2.4';
const FILE = 'src/network/requestQueue/index.js';
/** sha256 of FILE as published in kafkajs 2.2.4, and of the same file patched. */
const PUBLISHED_SHA256 = 'b55986089c14f8f7bfc377922e2e65b3e4c1e7c7af2752d3b10a75dfe9e9260c';
const PATCHED_SHA256 = 'a1609b65506cfec30a581e90331f7c8daf7aed5adf0b49ba8ccb8ad384e86675';

const PUBLISHED = `    let scheduleAt = this.throttledUntil - Date.now()
    if (!this.throttleCheckTimeoutId) {
      if (this.pending.length > 0) {
        scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL
      }
      this.throttleCheckTimeoutId = setTimeout(() => {
        this.throttleCheckTimeoutId = null
        this.checkPendingRequests()
      }, scheduleAt)
    }
`;

const PATCHED = `    // Patched by geowindow's scripts/patch-kafkajs.mjs (tulios/kafkajs#1704, #1751):
    // with nothing pending there is nothing to check, so no timer. As published,
    // an unthrottled queue set one of -Date.now() ms here (run after 1 ms, and a
    // TimeoutNegativeWarning on Node 24), which set the next: a 1 ms loop.
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return
    const throttledFor = this.throttledUntil - Date.now()
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null
      this.checkPendingRequests()
    }, throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL)
`;

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
    `${dir} is kafkajs ${version}; this patch is for ${VERSION} only. See whether ${version} fixes ` +
      'tulios/kafkajs#1704/#1751 (no timer with an empty request queue), then update or remove scripts/patch-kafkajs.mjs ' +
      'and the postinstall line in package.json.',
  );
}
const path = join(dir, FILE);
const source = readFileSync(path, 'utf8');
const state = sha256(source) === PATCHED_SHA256 ? 'patched' : sha256(source) === PUBLISHED_SHA256 ? 'published' : 'unknown';
if (state === 'unknown') {
  fail(`${path} is neither kafkajs ${VERSION}'s published file nor the patched one (sha256 ${sha256(source)}); reinstall it with npm ci`);
}

if (values.check) {
  process.stdout.write(`[patch-kafkajs] ${path}: ${state}\n`);
  process.exit(state === 'patched' ? 0 : 1);
}
const [from, to, want] = values.revert ? [PATCHED, PUBLISHED, 'published'] : [PUBLISHED, PATCHED, 'patched'];
if (state === want) {
  process.stdout.write(`[patch-kafkajs] ${path}: already ${want}\n`);
  process.exit(0);
}
const result = source.replace(from, to);
if (sha256(result) !== (want === 'patched' ? PATCHED_SHA256 : PUBLISHED_SHA256)) fail(`${path}: the ${want} text did not come out as expected`);
replaceFile(path, result);
const what = want === 'patched' ? 'the request queue sets no timer while nothing is pending' : 'as kafkajs published it';
process.stdout.write(`[patch-kafkajs] ${path}: ${want} (${what})\n`);
