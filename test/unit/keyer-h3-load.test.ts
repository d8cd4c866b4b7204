import { createRequire } from 'node:module';
import type * as H3 from 'h3-js';
import { describe, expect, it, vi } from 'vitest';
import type { KeySpec } from '../../src/protocol/messages.js';
import type { KeyKind } from '../../src/shared/keys.js';

const require = createRequire(import.meta.url);
const H3_PATH = require.resolve('h3-js');

function spec(by: KeyKind[]): KeySpec {
  return { by, partition: 0, zones: null, zoneUnmatched: null, h3Resolution: 7 };
}

describe('Keyer and h3-js', () => {
  it('loads h3-js only for a keyer with an h3 kind (its heap is 32 MB of ArrayBuffer in every thread that loads it)', async () => {
    // A fresh module graph, and h3-js out of the CommonJS cache it loads through.
    Reflect.deleteProperty(require.cache, H3_PATH);
    vi.resetModules();
    const { Keyer } = await import('../../workers/windows/keyer.js');

    const devices = new Keyer(spec(['device', 'partition']));
    devices.keys(-87.6, 41.9, 'dev-1');
    expect(devices.ids).toEqual(['dev-1', '0']);
    expect(require.cache[H3_PATH]).toBeUndefined();

    const cells = new Keyer(spec(['h3']));
    cells.keys(-87.6, 41.9, 'dev-1');
    expect(require.cache[H3_PATH]).toBeDefined();
    const { latLngToCell } = require('h3-js') as typeof H3;
    expect(cells.ids).toEqual([latLngToCell(41.9, -87.6, 7)]);
  });
});
