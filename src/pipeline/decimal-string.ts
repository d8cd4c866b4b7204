/**
 * The number of a decimal integer string as the Kafka client gives offsets
 * and timestamps (int64 as text). Runs twice per record on the main thread,
 * where a digit loop costs about half of Number(); anything but an optional
 * minus and up to 15 digits (exact in a double) goes to Number() instead.
 */
export function decimalStringToNumber(text: string): number {
  const length = text.length;
  let i = text.charCodeAt(0) === 0x2d ? 1 : 0;
  if (length - i > 15 || length === i) return Number(text);
  let value = 0;
  for (; i < length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return Number(text);
    value = value * 10 + digit;
  }
  return text.charCodeAt(0) === 0x2d ? -value : value;
}
