import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProduceArgs } from '../../src/commands/produce.js';
import { UsageError } from '../../src/errors.js';

const BASE = ['--topic', 't', '--count', '100', '--brokers', '127.0.0.1:9092'];
const parse = (...extra: string[]) => parseProduceArgs([...BASE, ...extra], {});

function refused(extra: string[], message: string): void {
  let error: unknown;
  try {
    parse(...extra);
  } catch (caught) {
    error = caught;
  }
  expect(error, `${extra.join(' ')} was accepted`).toBeInstanceOf(UsageError);
  expect((error as UsageError).message).toContain(message);
}

function zonesFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-produce-args-'));
  const file = join(dir, 'zones.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const SQUARE = {
  type: 'FeatureCollection',
  features: [
    {
      type: 'Feature',
      properties: { code: 'Z1' },
      geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]] },
    },
  ],
};

describe('produce options', () => {
  it('keeps the defaults of a plain run: wall-clock event time, nothing late, no zones', () => {
    const options = parse();
    expect(options).toMatchObject({ startTs: undefined, stepMs: undefined, disorderMs: 0, lateRatio: 0, lateByMs: 3_600_000, zones: undefined });
  });

  it('reads --start-ts as epoch milliseconds or ISO-8601 with a zone, and --step-ms as a decimal', () => {
    expect(parse('--start-ts', '1764151200000', '--step-ms', '2.5')).toMatchObject({ startTs: 1_764_151_200_000, stepMs: 2.5 });
    expect(parse('--start-ts', '2026-11-26T10:00:00Z').startTs).toBe(Date.parse('2026-11-26T10:00:00Z'));
    expect(parse('--start-ts', '2026-11-26T11:00:00.500+01:00').startTs).toBe(Date.parse('2026-11-26T10:00:00.500Z'));
  });

  it('refuses bad event-time options, naming the flag and what it accepts', () => {
    const time = 'expected epoch milliseconds or an ISO-8601 date-time with a zone';
    refused(['--start-ts', '2026-11-26T10:00:00'], `--start-ts: ${time}`);
    refused(['--start-ts', 'yesterday'], `--start-ts: ${time}`);
    refused(['--start-ts=-5'], `--start-ts: ${time}`);
    refused(['--step-ms=-1'], '--step-ms: expected a number from 0 to 86400000, got "-1"');
    refused(['--disorder-ms', '1.5'], '--disorder-ms: expected an integer from 0 to 86400000, got "1.5"');
    refused(['--late-by-ms', '0'], '--late-by-ms: expected an integer from 1 to 86400000, got "0"');
    refused(['--start-ts', '0', '--rate', '0'], '--start-ts with --rate 0 needs --step-ms');
    expect(parse('--start-ts', '0', '--rate', '0', '--step-ms', '1').stepMs).toBe(1);
  });

  it('refuses a late share out of range or too large beside the bad share', () => {
    refused(['--late-ratio', '1.5'], '--late-ratio: expected a number from 0 to 1, got "1.5"');
    refused(['--late-ratio', 'some'], '--late-ratio: expected a number from 0 to 1');
    refused(['--late-ratio', '0.6', '--bad-ratio', '0.5'], '--bad-ratio plus --late-ratio must not exceed 1');
    expect(parse('--late-ratio', '0.5', '--bad-ratio', '0.5').lateRatio).toBe(0.5);
    expect(parse('--late-ratio', '0.01', '--late-by-ms', '600000')).toMatchObject({ lateRatio: 0.01, lateByMs: 600_000 });
  });

  it('loads --zones with --zone-id-property, and refuses a missing or unusable file as a usage error', () => {
    const options = parse('--zones', zonesFile(SQUARE), '--zone-id-property', 'code');
    expect(options.zones?.size).toBe(1);
    expect(options.zones?.id(0)).toBe('Z1');
    refused(['--zones', '/nonexistent/zones.json'], '--zones: "/nonexistent/zones.json" could not be read');
    refused(['--zones', zonesFile('{"type":"Feature"')], 'zones.json" is not JSON');
    refused(['--zones', zonesFile(SQUARE)], 'zones.json" feature 0 has no "id" property');
    refused(['--zone-id-property', 'code'], '--zone-id-property needs --zones');
  });
});
