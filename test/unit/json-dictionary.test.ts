import { describe, expect, it } from 'vitest';
import { setEntry } from '../../src/shared/json-dictionary.js';

describe('setEntry', () => {
  it('keeps every name an own, enumerable property of an ordinary object, __proto__ included', () => {
    const dictionary: Record<string, number> = {};
    for (const [name, value] of [['temp', 1], ['__proto__', 2], ['toString', 3], ['constructor', 4]] as const) setEntry(dictionary, name, value);
    expect(Object.getPrototypeOf(dictionary)).toBe(Object.prototype);
    expect(Object.keys(dictionary)).toEqual(['temp', '__proto__', 'toString', 'constructor']);
    expect(Object.hasOwn(dictionary, '__proto__')).toBe(true);
    expect(JSON.stringify(dictionary)).toBe('{"temp":1,"__proto__":2,"toString":3,"constructor":4}');
  });

  it('lets a later value of a name replace the earlier one, __proto__ included', () => {
    const dictionary: Record<string, number> = {};
    setEntry(dictionary, '__proto__', 1);
    setEntry(dictionary, '__proto__', 5);
    setEntry(dictionary, 'x', 1);
    setEntry(dictionary, 'x', 6);
    expect(JSON.stringify(dictionary)).toBe('{"__proto__":5,"x":6}');
  });
});
