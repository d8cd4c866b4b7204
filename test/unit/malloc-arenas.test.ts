import { describe, expect, it } from 'vitest';
import { MALLOC_ARENA_MAX, withMallocArenas } from '../../src/memory/malloc-arenas.js';

describe('withMallocArenas', () => {
  it('adds MALLOC_ARENA_MAX when unset or empty, without changing the environment given', () => {
    const env = { PATH: '/bin' };
    expect(withMallocArenas(env)).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX });
    expect(env).toEqual({ PATH: '/bin' });
    expect(withMallocArenas({ MALLOC_ARENA_MAX: '' }).MALLOC_ARENA_MAX).toBe(MALLOC_ARENA_MAX);
  });

  it('keeps a value the user set', () => {
    expect(withMallocArenas({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
  });
});
