import { describe, expect, it } from 'vitest';
import { MAIN_SEMI_SPACE_MB, semiSpaceFlag, youngGeneration } from '../../src/memory/young-generation.js';

const MB = 1024 * 1024;

describe('semiSpaceFlag', () => {
  it('reads the flag from node arguments in each spelling V8 accepts', () => {
    expect(semiSpaceFlag(['--max-semi-space-size=8'], undefined)).toBe(8);
    expect(semiSpaceFlag(['--max_semi_space_size=4'], undefined)).toBe(4);
    expect(semiSpaceFlag(['--expose-gc', '--max-semi-space-size', '32'], undefined)).toBe(32);
  });

  it('reads NODE_OPTIONS, and lets the command line win over it as node does', () => {
    expect(semiSpaceFlag([], '--expose-gc  --max-semi-space-size=2 ')).toBe(2);
    expect(semiSpaceFlag(['--max-semi-space-size=8'], '--max-semi-space-size=2')).toBe(8);
  });

  it('ignores other flags and values that are not numbers', () => {
    expect(semiSpaceFlag(['--min-semi-space-size=8', '--max-old-space-size=100'], '--trace-gc')).toBeUndefined();
    expect(semiSpaceFlag(['--max-semi-space-size=big'], undefined)).toBeUndefined();
    expect(semiSpaceFlag(['--max-semi-space-size'], undefined)).toBeUndefined();
  });
});

describe('youngGeneration', () => {
  it('plans two semi-spaces of the size given to node', () => {
    expect(youngGeneration(['--max-semi-space-size=4'], undefined, 24, true)).toEqual({
      semiSpaceMb: 4,
      source: 'flag',
      bytes: 8 * MB,
      restart: false,
    });
  });

  it('on Node 20 plans the 16 MB V8 never exceeds there, with no restart', () => {
    expect(MAIN_SEMI_SPACE_MB).toBe(16);
    expect(youngGeneration([], undefined, 20, false)).toEqual({ semiSpaceMb: 16, source: 'geowindow', bytes: 32 * MB, restart: false });
  });

  it('on Node 24 without the flag restarts with 16 MB semi-spaces (V8 would grow them to 64 MB)', () => {
    expect(youngGeneration(['--expose-gc'], undefined, 24, true)).toEqual({ semiSpaceMb: 16, source: 'geowindow', bytes: 32 * MB, restart: true });
  });

  it('where no restart is possible, plans for what V8 may grow to', () => {
    expect(youngGeneration([], undefined, 22, false)).toEqual({ semiSpaceMb: 64, source: 'runtime', bytes: 128 * MB, restart: false });
  });
});
