import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('geowindow CLI', () => {
  it('refuses bad configuration with exit code 3, naming each variable and the accepted values', async () => {
    const result = await runCli(['run'], { KAFKA_BROKERS: '127.0.0.1:9092', CHUNK_SIZE: 'lots', START_FROM: 'middle' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('CHUNK_SIZE: expected auto or an integer from 1 to 1000000, got "lots"');
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

  it('prints the effective configuration with `geowindow config`, secrets as *** and never the password', async () => {
    const password = 'cli-test-Secret-4711';
    const result = await runCli(['config'], {
      KAFKA_BROKERS: '127.0.0.1:9094',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'geowindow',
      KAFKA_SASL_PASSWORD: password,
      CHUNK_SIZE: '500',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain(password);
    expect(result.stderr).not.toContain(password);
    const printed = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({
      KAFKA_BROKERS: ['127.0.0.1:9094'],
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'geowindow',
      KAFKA_SASL_PASSWORD: '***',
      KAFKA_SSL: false,
      CHUNK_SIZE: 500,
      INPUT_TOPIC: 'sensor-readings',
    });
  });

  it('refuses an invalid configuration in `geowindow config` with exit code 3, as run does', async () => {
    const result = await runCli(['config'], { KAFKA_BROKERS: '127.0.0.1:9092', KAFKA_SASL_MECHANISM: 'kerberos', KAFKA_SASL_PASSWORD: 'hunter2-secret' });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('KAFKA_SASL_MECHANISM: expected one of plain, scram-sha-256, scram-sha-512, got "kerberos"');
    expect(result.stderr).not.toContain('hunter2-secret');
    const missing = await runCli(['config'], { KAFKA_BROKERS: '127.0.0.1:9092', KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('KAFKA_SSL_CA_FILE: cannot read the file "/nonexistent/ca.pem"');
  });

  it('refuses bad security settings in produce with exit code 3', async () => {
    const result = await runCli(['produce', '--topic', 't', '--count', '5', '--brokers', '127.0.0.1:9092'], {
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'geowindow',
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('KAFKA_SASL_PASSWORD: is required when KAFKA_SASL_MECHANISM is scram-sha-512');
  });
});
