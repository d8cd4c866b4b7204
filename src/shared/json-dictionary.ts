/**
 * Dictionaries that go out as JSON (reading names are the sensors' own).
 * They are ordinary objects: Node 24's JSON.stringify serializes objects
 * without a prototype off its fast path, and an aggregate with its readings in
 * one took half again as long to serialize (`npm run bench:output`). So a name that an
 * ordinary object would take as its prototype, `__proto__`, is defined as an
 * own property instead of assigned.
 */
export function setEntry<T>(dictionary: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') Object.defineProperty(dictionary, name, { value, enumerable: true, writable: true, configurable: true });
  else dictionary[name] = value;
}
