import { describe, expect, it } from 'vitest';
import { decimalStringToNumber } from '../../src/pipeline/decimal-string.js';

describe('decimalStringToNumber', () => {
  it.each(['0', '7', '-1', '1700000000000', '999999999999999', '-999999999999999', '9007199254740993', '18446744073709551615', '12a', '', '-', ' 5', '1e3', '0x10'])(
    'gives what Number() gives for %j',
    (text) => {
      expect(Object.is(decimalStringToNumber(text), Number(text))).toBe(true);
    },
  );

  it('agrees with Number() on offsets and timestamps of every length', () => {
    for (let digits = 1; digits <= 19; digits++) {
      for (let n = 0; n < 50; n++) {
        let text = String(1 + ((n * 7) % 9));
        while (text.length < digits) text += String((text.length * 31 + n) % 10);
        expect(decimalStringToNumber(text)).toBe(Number(text));
        expect(decimalStringToNumber(`-${text}`)).toBe(Number(`-${text}`));
      }
    }
  });
});
