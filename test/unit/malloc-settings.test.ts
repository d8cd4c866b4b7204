import { describe, expect, it } from 'vitest';
import { MALLOC_SETTINGS, withMallocSettings } from '../../src/memory/malloc-settings.js';

describe('withMallocSettings', () => {
  it('adds every setting unset or empty, without changing the environment given', () => {
    const env = { PATH: '/bin' };
    expect(withMallocSettings(env)).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' });
    expect(env).toEqual({ PATH: '/bin' });
    expect(withMallocSettings({ MALLOC_ARENA_MAX: '' }).MALLOC_ARENA_MAX).toBe(MALLOC_SETTINGS.MALLOC_ARENA_MAX);
  });

  it('keeps each value the user set, and adds the others', () => {
    expect(withMallocSettings({ MALLOC_ARENA_MAX: '8' })).toEqual({ MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '131072' });
    const both = { MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '65536' };
    expect(withMallocSettings(both)).toBe(both);
  });
});
