import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../../src/config/config.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('### Configuration'), readme.indexOf('### Exit codes'));
const documented = [...section.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \|/gm)].map((m) => ({ env: m[1]!, fallback: m[2]!.trim() }));

describe('README configuration table', () => {
  it('lists every option the service reads, and nothing else', () => {
    const accepted = Object.values(OPTIONS).map((o) => o.env).sort();
    expect(documented.map((d) => d.env).sort()).toEqual(accepted);
  });

  it('gives the default the service uses', () => {
    for (const option of Object.values(OPTIONS)) {
      const row = documented.find((d) => d.env === option.env)!;
      if (option.fallback === undefined) expect(row.fallback).toBe('(required)');
      else if (option.fallback === '') expect(row.fallback).toBe('(unset)');
      else if (option.env !== 'WORKERS') expect(row.fallback).toBe(`\`${option.fallback}\``);
    }
  });
});
