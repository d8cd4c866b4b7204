import { logLevel, type LogEntry } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadSecurityConfig, secretValues } from '../../src/config/config.js';
import { kafkaLogCreator, kafkaSecurityOptions } from '../../src/kafka/client.js';
import { createLogger } from '../../src/logger.js';
import { secretMasker } from '../../src/redact.js';

const TLS = new URL('../fixtures/tls/', import.meta.url).pathname;
const SASL_PASSWORD = 'geowindow-secret';
const KEY_PASSWORD = 'test-key-passphrase';

/** A pino logger whose JSON lines are collected. */
function capture() {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

function entry(level: number, message: string, extra: Record<string, unknown> = {}): LogEntry {
  return { namespace: 'Connection', level, label: 'ERROR', log: { timestamp: '2026-11-26T00:00:00.000Z', message, ...extra } };
}

describe('kafkaSecurityOptions', () => {
  it('is empty without security settings: plain text, no SASL', () => {
    expect(kafkaSecurityOptions(undefined)).toEqual({});
    expect(kafkaSecurityOptions(loadSecurityConfig({}))).toEqual({});
  });

  it('maps SASL settings, with the password from the environment or the file', () => {
    const fromEnv = loadSecurityConfig({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'geowindow', KAFKA_SASL_PASSWORD: SASL_PASSWORD });
    expect(kafkaSecurityOptions(fromEnv)).toEqual({ sasl: { mechanism: 'scram-sha-512', username: 'geowindow', password: SASL_PASSWORD } });
    const plain = loadSecurityConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'pw' });
    expect(kafkaSecurityOptions(plain).sasl).toEqual({ mechanism: 'plain', username: 'u', password: 'pw' });
  });

  it('maps TLS settings to the tls.connect options', () => {
    const security = loadSecurityConfig({
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: `${TLS}ca-cert.pem`,
      KAFKA_SSL_CERT_FILE: `${TLS}client-cert.pem`,
      KAFKA_SSL_KEY_FILE: `${TLS}client-key-encrypted.pem`,
      KAFKA_SSL_KEY_PASSWORD: KEY_PASSWORD,
      KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
    });
    const { ssl, sasl } = kafkaSecurityOptions(security);
    expect(sasl).toBeUndefined();
    expect(ssl).toEqual({
      rejectUnauthorized: false,
      ca: [security.sslCaFile!.text],
      cert: security.sslCertFile!.text,
      key: security.sslKeyFile!.text,
      passphrase: KEY_PASSWORD,
    });
    expect(kafkaSecurityOptions(loadSecurityConfig({ KAFKA_SSL: 'true' })).ssl).toEqual({ rejectUnauthorized: true });
  });
});

describe('the kafkajs log creator', () => {
  const secrets = [SASL_PASSWORD, KEY_PASSWORD];

  it('passes kafkajs lines on as structured pino lines', () => {
    const { logger, lines } = capture();
    const log = kafkaLogCreator(logger, secrets)(logLevel.INFO);
    log(entry(logLevel.WARN, 'Connection timeout', { broker: 'b:9094', clientId: 'geowindow', retryCount: 2 }));
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 40, msg: 'Connection timeout', component: 'kafkajs', namespace: 'Connection', broker: 'b:9094', retryCount: 2 });
    expect(line).not.toHaveProperty('timestamp');
  });

  it('passes what kafkajs retries or restarts from on as a warning, and other errors as errors', () => {
    const { logger, lines } = capture();
    const log = kafkaLogCreator(logger, [])(logLevel.INFO);
    log(entry(logLevel.ERROR, 'Response Heartbeat(key: 12, version: 3)', { error: 'The group is rebalancing, so a rejoin is needed', correlationId: 9 }));
    log({ ...entry(logLevel.ERROR, 'Failed to connect to broker, reconnecting', { retryCount: 1, retryTime: 300 }), namespace: 'BrokerPool' });
    log({ ...entry(logLevel.ERROR, 'The coordinator is not aware of this member, re-joining the group'), namespace: 'Runner' });
    log({ ...entry(logLevel.ERROR, "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group"), namespace: 'Consumer' });
    log({ ...entry(logLevel.ERROR, 'Failed to execute listener: boom'), namespace: 'Consumer' });
    log({ ...entry(logLevel.ERROR, 'Response from a plugin'), namespace: 'Admin' });
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((l) => [l.msg, l.level, l.kafkajsLevel])).toEqual([
      ['Response Heartbeat(key: 12, version: 3)', 40, 'error'],
      ['Failed to connect to broker, reconnecting', 40, 'error'],
      ['The coordinator is not aware of this member, re-joining the group', 40, 'error'],
      ["Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group", 40, 'error'],
      ['Failed to execute listener: boom', 50, undefined],
      ['Response from a plugin', 50, undefined],
    ]);
  });

  it('drops protocol payloads, where a SASL exchange would be', () => {
    const { logger, lines } = capture();
    const log = kafkaLogCreator(logger, [])(logLevel.DEBUG);
    const authBytes = Buffer.from(`\0geowindow\0${SASL_PASSWORD}`);
    log(entry(logLevel.DEBUG, 'Response SaslAuthenticate(key: 36, version: 1)', { correlationId: 3, data: { authBytes }, payload: authBytes }));
    log(entry(logLevel.DEBUG, 'Request', { request: { authBytes }, nested: { sasl: { password: SASL_PASSWORD }, keep: 1, buffer: authBytes } }));
    const text = lines.join('');
    expect(text).not.toContain(SASL_PASSWORD);
    expect(text).not.toContain(authBytes.toString('base64'));
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({ correlationId: 3 });
    expect(first).not.toHaveProperty('data');
    expect(first).not.toHaveProperty('payload');
    expect(second).toMatchObject({ nested: { keep: 1, buffer: '[omitted]' } });
    expect(second).not.toHaveProperty('request');
    expect(second).not.toHaveProperty('nested.sasl');
  });

  it('keeps true/false flags such as `ssl: true` of the connection log', () => {
    const { logger, lines } = capture();
    kafkaLogCreator(logger, [])(logLevel.DEBUG)(entry(logLevel.DEBUG, 'Connecting', { ssl: true, sasl: false }));
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'Connecting', ssl: true, sasl: false });
  });

  it('masks configured secrets in messages, errors and stacks, at every level', () => {
    const { logger, lines } = capture();
    const log = kafkaLogCreator(logger, secrets)(logLevel.DEBUG);
    for (const level of [logLevel.ERROR, logLevel.WARN, logLevel.INFO, logLevel.DEBUG]) {
      log(
        entry(level, `failed for password ${SASL_PASSWORD}`, {
          error: `bad passphrase ${KEY_PASSWORD}`,
          stack: `Error: ${SASL_PASSWORD}\n    at x`,
          list: [SASL_PASSWORD, 1],
        }),
      );
    }
    expect(lines).toHaveLength(4);
    const text = lines.join('');
    expect(text).not.toContain(SASL_PASSWORD);
    expect(text).not.toContain(KEY_PASSWORD);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'failed for password ***', error: 'bad passphrase ***', list: ['***', 1] });
  });
});

describe('secretMasker', () => {
  it('masks secrets as written and as escaped inside JSON strings, longest first', () => {
    const tricky = 'pa"ss\\word\nline';
    const mask = secretMasker([tricky, 'pa"ss', 'abc']);
    expect(mask(`x ${tricky} y`)).toBe('x *** y');
    expect(mask(JSON.stringify({ msg: `x ${tricky} y` }))).toBe('{"msg":"x *** y"}');
    expect(mask('regex chars .* stay')).toBe('regex chars .* stay');
    // Too short to tell apart from ordinary text: left alone.
    expect(mask('abc')).toBe('abc');
  });

  it('is the identity without secrets', () => {
    expect(secretMasker([])('anything')).toBe('anything');
  });
});

describe('createLogger with secrets', () => {
  it('masks the configuration\'s secrets in every line, whatever logged them', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'localhost:9092',
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'geowindow',
      KAFKA_SASL_PASSWORD: SASL_PASSWORD,
    });
    const lines: string[] = [];
    const logger = createLogger('info', 'geowindow', secretValues(config), { write: (line: string) => void lines.push(line) });
    logger.error({ err: new Error(`auth failed with ${SASL_PASSWORD}`), config }, `oops ${SASL_PASSWORD}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(SASL_PASSWORD);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'oops ***', err: { message: 'auth failed with ***' } });
  });
});
