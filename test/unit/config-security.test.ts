import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigFile, loadConfig, loadSecurityConfig, OPTIONS, renderConfig, secretValues } from '../../src/config/config.js';
import { ConfigErrors } from '../../src/errors.js';

const BROKERS = { KAFKA_BROKERS: 'localhost:9092' };
const TLS = new URL('../fixtures/tls/', import.meta.url).pathname;
const CERT = join(TLS, 'client-cert.pem');
const KEY = join(TLS, 'client-key.pem');
const ENCRYPTED_KEY = join(TLS, 'client-key-encrypted.pem');
const KEY_PASSWORD = 'test-key-passphrase';
const OTHER_KEY = join(TLS, 'other-key.pem');
const CA = join(TLS, 'ca-cert.pem');
const SASL_PASSWORD = 'sasl-Pa55word "quoted" \\ back';

const dir = mkdtempSync(join(tmpdir(), 'geowindow-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, contents: string): string {
  const path = join(dir, name);
  writeFileSync(path, contents);
  return path;
}

function problemsOf(env: Record<string, string>, load: (env: Record<string, string>) => unknown = loadConfig): { variable: string; message: string }[] {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigErrors);
    return (error as ConfigErrors).problems.map((p) => ({ variable: p.variable, message: p.message }));
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

/** The one problem reported, which must name `variable` first. */
function onlyProblem(env: Record<string, string>, variable: string): string {
  const problems = problemsOf({ ...BROKERS, ...env });
  expect(problems.map((p) => p.variable)).toEqual([variable]);
  expect(problems[0]!.message.startsWith(`${variable}: `)).toBe(true);
  return problems[0]!.message;
}

describe('security configuration: defaults', () => {
  it('is plain text without SASL when nothing is set', () => {
    const config = loadConfig({ ...BROKERS });
    expect(config).toMatchObject({
      ssl: false,
      sslCaFile: undefined,
      sslCertFile: undefined,
      sslKeyFile: undefined,
      sslKeyPassword: undefined,
      sslKeyPasswordFile: undefined,
      sslRejectUnauthorized: true,
      saslMechanism: undefined,
      saslUsername: undefined,
      saslPassword: undefined,
      saslPasswordFile: undefined,
    });
    expect(secretValues(config)).toEqual([]);
  });

  it('marks exactly the credentials as secret in the schema', () => {
    const secret = Object.values(OPTIONS)
      .filter((o) => o.secret)
      .map((o) => o.env)
      .sort();
    expect(secret).toEqual(
      ['KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE', 'KAFKA_SSL_KEY_FILE', 'KAFKA_SSL_KEY_PASSWORD', 'KAFKA_SSL_KEY_PASSWORD_FILE'].sort(),
    );
  });
});

describe('security configuration: TLS', () => {
  it('reads the CA, certificate and key files at start-up', () => {
    const config = loadConfig({ ...BROKERS, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: CA, KAFKA_SSL_CERT_FILE: CERT, KAFKA_SSL_KEY_FILE: KEY });
    expect(config.ssl).toBe(true);
    expect(config.sslCaFile?.path).toBe(CA);
    expect(config.sslCaFile?.text).toContain('-----BEGIN CERTIFICATE-----');
    expect(config.sslCertFile?.text).toContain('-----BEGIN CERTIFICATE-----');
    expect(config.sslKeyFile?.text).toContain('-----BEGIN PRIVATE KEY-----');
  });

  it('accepts TLS with only a CA, or with the system CAs', () => {
    expect(loadConfig({ ...BROKERS, KAFKA_SSL: 'true' }).ssl).toBe(true);
    expect(loadConfig({ ...BROKERS, KAFKA_SSL: ' TRUE ', KAFKA_SSL_CA_FILE: CA }).sslCaFile?.path).toBe(CA);
    expect(loadConfig({ ...BROKERS, KAFKA_SSL: 'true', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' }).sslRejectUnauthorized).toBe(false);
  });

  it('decrypts an encrypted key with KAFKA_SSL_KEY_PASSWORD or KAFKA_SSL_KEY_PASSWORD_FILE', () => {
    const tls = { KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: CERT, KAFKA_SSL_KEY_FILE: ENCRYPTED_KEY };
    expect(loadConfig({ ...BROKERS, ...tls, KAFKA_SSL_KEY_PASSWORD: KEY_PASSWORD }).sslKeyPassword).toBe(KEY_PASSWORD);
    const fromFile = loadConfig({ ...BROKERS, ...tls, KAFKA_SSL_KEY_PASSWORD_FILE: file('key-password', `${KEY_PASSWORD}\n`) });
    expect(fromFile.sslKeyPasswordFile?.text).toBe(KEY_PASSWORD);
  });

  it.each([
    ['KAFKA_SSL', 'yes', /expected true or false, got "yes"/],
    ['KAFKA_SSL_REJECT_UNAUTHORIZED', '0', /expected true or false, got "0"/],
  ])('refuses %s=%j, naming the accepted values', (variable, value, accepted) => {
    expect(onlyProblem({ [variable]: value }, variable)).toMatch(accepted);
  });

  it.each(['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', 'KAFKA_SSL_KEY_PASSWORD_FILE'])(
    'refuses a missing file in %s, naming the variable and the path',
    (variable) => {
      const path = join(dir, 'does-not-exist.pem');
      const message = onlyProblem({ KAFKA_SSL: 'true', [variable]: path }, variable);
      expect(message).toContain(JSON.stringify(path));
      expect(message).toContain('no such file');
    },
  );

  it('refuses a directory and an unreadable file', () => {
    expect(onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: dir }, 'KAFKA_SSL_CA_FILE')).toContain('it is a directory');
    if (process.getuid?.() === 0) return; // root reads anything
    const locked = file('locked.pem', 'x');
    chmodSync(locked, 0o000);
    expect(onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: locked }, 'KAFKA_SSL_CA_FILE')).toContain('permission denied');
  });

  it('refuses files that do not hold what the variable names', () => {
    expect(onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: KEY }, 'KAFKA_SSL_CA_FILE')).toMatch(/expected a file holding a PEM certificate/);
    const message = onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: CERT, KAFKA_SSL_KEY_FILE: CERT }, 'KAFKA_SSL_KEY_FILE');
    expect(message).toMatch(/expected a file holding a PEM private key/);
    // It never quotes the contents of a key file.
    const garbled = file('garbled-key.pem', '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    const unreadable = onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: CERT, KAFKA_SSL_KEY_FILE: garbled }, 'KAFKA_SSL_KEY_FILE');
    expect(unreadable).toMatch(/does not hold a PEM private key Node.js can read/);
    expect(unreadable).not.toContain('bm90IGEga2V5');
    const badCa = file('bad-ca.pem', '-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n');
    expect(onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: badCa }, 'KAFKA_SSL_CA_FILE')).toMatch(/does not hold a PEM certificate/);
  });

  it('refuses a certificate without its key, and a key without its certificate', () => {
    expect(onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: CERT }, 'KAFKA_SSL_KEY_FILE')).toMatch(/is required when KAFKA_SSL_CERT_FILE is set/);
    expect(onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_KEY_FILE: KEY }, 'KAFKA_SSL_CERT_FILE')).toMatch(/is required when KAFKA_SSL_KEY_FILE is set/);
  });

  it('refuses a key that does not belong to the certificate', () => {
    const message = onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: CERT, KAFKA_SSL_KEY_FILE: OTHER_KEY }, 'KAFKA_SSL_KEY_FILE');
    expect(message).toContain('does not belong to the certificate');
    expect(message).toContain(JSON.stringify(CERT));
  });

  it('asks for the password of an encrypted key, and refuses a wrong one without quoting it', () => {
    const tls = { KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: CERT, KAFKA_SSL_KEY_FILE: ENCRYPTED_KEY };
    expect(onlyProblem(tls, 'KAFKA_SSL_KEY_PASSWORD')).toMatch(/is required: the key in .* is encrypted/);
    const wrong = onlyProblem({ ...tls, KAFKA_SSL_KEY_PASSWORD: 'not-the-passphrase' }, 'KAFKA_SSL_KEY_PASSWORD');
    expect(wrong).toMatch(/does not decrypt the key in/);
    expect(wrong).not.toContain('not-the-passphrase');
    const wrongFile = onlyProblem({ ...tls, KAFKA_SSL_KEY_PASSWORD_FILE: file('wrong-key-password', 'nope-nope\n') }, 'KAFKA_SSL_KEY_PASSWORD_FILE');
    expect(wrongFile).toMatch(/does not decrypt the key/);
    expect(wrongFile).not.toContain('nope-nope');
  });

  it('refuses both a key password and a key password file', () => {
    const env = {
      KAFKA_SSL: 'true',
      KAFKA_SSL_CERT_FILE: CERT,
      KAFKA_SSL_KEY_FILE: ENCRYPTED_KEY,
      KAFKA_SSL_KEY_PASSWORD: KEY_PASSWORD,
      KAFKA_SSL_KEY_PASSWORD_FILE: file('key-password-2', KEY_PASSWORD),
    };
    expect(onlyProblem(env, 'KAFKA_SSL_KEY_PASSWORD_FILE')).toContain('set only one of KAFKA_SSL_KEY_PASSWORD and KAFKA_SSL_KEY_PASSWORD_FILE');
  });

  it('refuses a key password without a key', () => {
    expect(onlyProblem({ KAFKA_SSL: 'true', KAFKA_SSL_KEY_PASSWORD: KEY_PASSWORD }, 'KAFKA_SSL_KEY_PASSWORD')).toMatch(/KAFKA_SSL_KEY_FILE is not/);
  });

  it('refuses TLS files while KAFKA_SSL is false, so TLS is never silently off', () => {
    const problems = problemsOf({ ...BROKERS, KAFKA_SSL_CA_FILE: CA, KAFKA_SSL_CERT_FILE: CERT, KAFKA_SSL_KEY_FILE: KEY });
    expect(problems.map((p) => p.variable)).toEqual(['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE']);
    for (const p of problems) expect(p.message).toContain('KAFKA_SSL is false');
  });
});

describe('security configuration: SASL', () => {
  const scram = { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'geowindow' };

  it.each(['plain', 'scram-sha-256', 'scram-sha-512', 'SCRAM-SHA-512', ' Plain '])('accepts the mechanism %j', (mechanism) => {
    const config = loadConfig({ ...BROKERS, ...scram, KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_PASSWORD: SASL_PASSWORD });
    expect(config.saslMechanism).toBe(mechanism.trim().toLowerCase());
  });

  it('takes the password exactly as written in the environment', () => {
    expect(loadConfig({ ...BROKERS, ...scram, KAFKA_SASL_PASSWORD: ` ${SASL_PASSWORD} ` }).saslPassword).toBe(` ${SASL_PASSWORD} `);
  });

  it('reads the password file, without its trailing newline only', () => {
    const config = loadConfig({ ...BROKERS, ...scram, KAFKA_SASL_PASSWORD_FILE: file('sasl-password', `${SASL_PASSWORD}\n`) });
    expect(config.saslPasswordFile?.text).toBe(SASL_PASSWORD);
    const crlf = loadConfig({ ...BROKERS, ...scram, KAFKA_SASL_PASSWORD_FILE: file('sasl-password-crlf', ` ${SASL_PASSWORD}\r\n`) });
    expect(crlf.saslPasswordFile?.text).toBe(` ${SASL_PASSWORD}`);
  });

  it('refuses an unknown mechanism, naming the accepted ones', () => {
    const message = onlyProblem({ ...scram, KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_PASSWORD: 'x' }, 'KAFKA_SASL_MECHANISM');
    expect(message).toBe('KAFKA_SASL_MECHANISM: expected one of plain, scram-sha-256, scram-sha-512, got "gssapi"');
  });

  it('refuses a mechanism without a user name or without a password', () => {
    expect(onlyProblem({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'x' }, 'KAFKA_SASL_USERNAME')).toContain('is required when KAFKA_SASL_MECHANISM is plain');
    const message = onlyProblem({ ...scram }, 'KAFKA_SASL_PASSWORD');
    expect(message).toContain('is required when KAFKA_SASL_MECHANISM is scram-sha-512');
    expect(message).toContain('KAFKA_SASL_PASSWORD_FILE');
    expect(problemsOf({ ...BROKERS, KAFKA_SASL_MECHANISM: 'plain' }).map((p) => p.variable)).toEqual(['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']);
  });

  it('refuses both a password and a password file', () => {
    const env = { ...scram, KAFKA_SASL_PASSWORD: SASL_PASSWORD, KAFKA_SASL_PASSWORD_FILE: file('sasl-password-2', SASL_PASSWORD) };
    expect(onlyProblem(env, 'KAFKA_SASL_PASSWORD_FILE')).toContain('set only one of KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE');
  });

  it('refuses an empty or missing password file', () => {
    const empty = onlyProblem({ ...scram, KAFKA_SASL_PASSWORD_FILE: file('empty', '\n') }, 'KAFKA_SASL_PASSWORD_FILE');
    expect(empty).toContain('is empty');
    const missing = onlyProblem({ ...scram, KAFKA_SASL_PASSWORD_FILE: '/nonexistent/geowindow/password' }, 'KAFKA_SASL_PASSWORD_FILE');
    expect(missing).toContain('"/nonexistent/geowindow/password"');
  });

  it('refuses credentials without a mechanism, so authentication is never silently off', () => {
    const problems = problemsOf({ ...BROKERS, KAFKA_SASL_USERNAME: 'geowindow', KAFKA_SASL_PASSWORD: SASL_PASSWORD });
    expect(problems.map((p) => p.variable)).toEqual(['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']);
    for (const p of problems) {
      expect(p.message).toContain('KAFKA_SASL_MECHANISM is not');
      expect(p.message).not.toContain(SASL_PASSWORD);
    }
  });

  it('never quotes a password in any message', () => {
    const env = { ...BROKERS, ...scram, KAFKA_SASL_PASSWORD: SASL_PASSWORD, KAFKA_SASL_PASSWORD_FILE: file('sasl-password-3', SASL_PASSWORD), CHUNK_SIZE: '0' };
    for (const problem of problemsOf(env)) expect(problem.message).not.toContain(SASL_PASSWORD);
    try {
      loadConfig({ ...env, CHUNK_SIZE: '10' });
    } catch (error) {
      expect((error as Error).message).not.toContain(SASL_PASSWORD);
    }
  });
});

describe('loadSecurityConfig (produce and soak)', () => {
  it('reads only the security variables', () => {
    const security = loadSecurityConfig({ CHUNK_SIZE: 'not read', KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p4ssword' });
    expect(security).toMatchObject({ ssl: false, saslMechanism: 'scram-sha-256', saslUsername: 'u', saslPassword: 'p4ssword' });
    expect(Object.keys(security)).not.toContain('chunkSize');
    expect(Object.isFrozen(security)).toBe(true);
  });

  it('validates them as the service does', () => {
    const problems = problemsOf({ KAFKA_SASL_MECHANISM: 'scram-sha-1' }, loadSecurityConfig);
    expect(problems.map((p) => p.variable)).toEqual(['KAFKA_SASL_MECHANISM']);
    expect(problemsOf({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: CERT }, loadSecurityConfig).map((p) => p.variable)).toEqual(['KAFKA_SSL_KEY_FILE']);
  });
});

describe('renderConfig (geowindow config)', () => {
  const env = {
    ...BROKERS,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: CA,
    KAFKA_SSL_CERT_FILE: CERT,
    KAFKA_SSL_KEY_FILE: ENCRYPTED_KEY,
    KAFKA_SSL_KEY_PASSWORD: KEY_PASSWORD,
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: 'geowindow',
    KAFKA_SASL_PASSWORD: SASL_PASSWORD,
    CHUNK_SIZE: '500',
  };

  it('lists every variable by name, with defaults applied and values parsed', () => {
    const rendered = renderConfig(loadConfig(env));
    expect(Object.keys(rendered)).toEqual(Object.values(OPTIONS).map((o) => o.env));
    expect(rendered).toMatchObject({
      KAFKA_BROKERS: ['localhost:9092'],
      KAFKA_SSL: true,
      KAFKA_SSL_REJECT_UNAUTHORIZED: true,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'geowindow',
      CHUNK_SIZE: 500,
      START_FROM: 'earliest',
      GEOWINDOW_TEST_OOM_DEVICE: null,
      GEOWINDOW_TEST_HOLD_MB: 0,
      KAFKA_SASL_PASSWORD_FILE: null,
    });
  });

  it('masks every secret as "***" and shows files as their path, never their contents', () => {
    const rendered = renderConfig(loadConfig(env));
    expect(rendered.KAFKA_SASL_PASSWORD).toBe('***');
    expect(rendered.KAFKA_SSL_KEY_PASSWORD).toBe('***');
    expect(rendered.KAFKA_SSL_KEY_FILE).toBe(ENCRYPTED_KEY);
    expect(rendered.KAFKA_SSL_CERT_FILE).toBe(CERT);
    expect(rendered.KAFKA_SSL_CA_FILE).toBe(CA);
    const json = JSON.stringify(rendered);
    expect(json).not.toContain(SASL_PASSWORD);
    expect(json).not.toContain(JSON.stringify(SASL_PASSWORD).slice(1, -1));
    expect(json).not.toContain(KEY_PASSWORD);
    expect(json).not.toContain('PRIVATE KEY');
    expect(json).not.toContain('BEGIN CERTIFICATE');
  });

  it('shows password files as their path', () => {
    const passwordFile = file('sasl-password-render', `${SASL_PASSWORD}\n`);
    const keyPasswordFile = file('key-password-render', `${KEY_PASSWORD}\n`);
    const { KAFKA_SASL_PASSWORD: _s, KAFKA_SSL_KEY_PASSWORD: _k, ...rest } = env;
    const rendered = renderConfig(loadConfig({ ...rest, KAFKA_SASL_PASSWORD_FILE: passwordFile, KAFKA_SSL_KEY_PASSWORD_FILE: keyPasswordFile }));
    expect(rendered).toMatchObject({ KAFKA_SASL_PASSWORD_FILE: passwordFile, KAFKA_SSL_KEY_PASSWORD_FILE: keyPasswordFile, KAFKA_SASL_PASSWORD: null });
    const json = JSON.stringify(rendered);
    expect(json).not.toContain(SASL_PASSWORD);
    expect(json).not.toContain(KEY_PASSWORD);
  });

  it('is driven by the schema: any option flagged secret is masked', () => {
    const config = loadConfig({ ...BROKERS });
    const secretOption = Object.entries(OPTIONS).find(([, o]) => o.secret && o.env === 'KAFKA_SASL_PASSWORD')!;
    const rendered = renderConfig({ ...config, [secretOption[0]]: 'whatever-value' } as typeof config);
    expect(rendered.KAFKA_SASL_PASSWORD).toBe('***');
  });

  it('lists the credentials for the logs to mask: secret values and secret files\' contents', () => {
    const config = loadConfig(env);
    const secrets = secretValues(config);
    expect(secrets).toContain(SASL_PASSWORD);
    expect(secrets).toContain(KEY_PASSWORD);
    expect(secrets.some((s) => s.includes('ENCRYPTED PRIVATE KEY'))).toBe(true);
    // Neither the user name nor public certificates are secrets.
    expect(secrets).not.toContain('geowindow');
    expect(secrets.some((s) => s.includes('BEGIN CERTIFICATE'))).toBe(false);
  });

  it('keeps file contents out of JSON and util.inspect', () => {
    const config = loadConfig(env);
    expect(config.sslKeyFile).toBeInstanceOf(ConfigFile);
    expect(JSON.stringify(config)).not.toContain('PRIVATE KEY');
    expect(inspect(config.sslKeyFile)).toBe(`ConfigFile(${JSON.stringify(ENCRYPTED_KEY)})`);
  });
});
