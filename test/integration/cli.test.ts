import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('geowindow CLI', () => {
  it('refuses bad configuration with exit code 3, naming each variable and the accepted values', async () => {
    const result = await runCli(['run'], { KAFKA_BROKERS: '127.0.0.1:9092', CHUNK_SIZE: 'lots', START_FROM: 'middle' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('CHUNK_SIZE: expected an integer from 1 to 1000000, got "lots"');
    expect(result.stderr).toContain('START_FROM: expected one of earliest, latest, got "middle"');
  });

  it('refuses a run without brokers', async () => {
    const result = await runCli(['run'], { KAFKA_BROKERS: '' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('KAFKA_BROKERS: is required');
  });

  it('refuses a produce command without --count or --duration, with exit code 2', async () => {
    const result = await runCli(['produce', '--topic', 't', '--brokers', '127.0.0.1:9092']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('give exactly one of --count and --duration');
  });

  it('refuses a bad --bad-ratio and an unknown command', async () => {
    const ratio = await runCli(['produce', '--topic', 't', '--count', '5', '--bad-ratio', '2', '--brokers', 'h:1']);
    expect(ratio.code).toBe(2);
    expect(ratio.stderr).toContain('--bad-ratio: expected a number from 0 to 1');
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });
});
