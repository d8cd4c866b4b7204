/**
 * Copies of the installed kafkajs for the patch tests, each put in its state
 * by scripts/patch-kafkajs.mjs itself, in a temporary folder removed after
 * the test file.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PATCH_SCRIPT = join(ROOT, 'scripts', 'patch-kafkajs.mjs');
export const INSTALLED_KAFKAJS = dirname(createRequire(join(ROOT, 'package.json')).resolve('kafkajs/package.json'));

/** Two copies: kafkajs as published (`--revert`) and as patched. */
export function publishedAndPatchedKafkajs(prefix: string): { readonly published: string; readonly patched: string } {
  const scratch = mkdtempSync(join(tmpdir(), `geowindow-${prefix}-`));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const copy = (name: string, ...args: string[]) => {
    const dir = join(scratch, name);
    cpSync(INSTALLED_KAFKAJS, dir, { recursive: true });
    const result = spawnSync(process.execPath, [PATCH_SCRIPT, '--dir', dir, ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`patch-kafkajs.mjs ${args.join(' ')}: ${result.stderr}`);
    return dir;
  };
  return { published: copy('published', '--revert'), patched: copy('patched') };
}
