import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';

const SECRET = 'x'.repeat(32);

describe('loadConfig', () => {
  it('defaults to embedded mode on port 3000 with ./data', () => {
    const c = loadConfig({});
    expect(c.mode).toBe('embedded');
    expect(c.port).toBe(3000);
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.rateLimitMax).toBe(100);
    expect(c.rateLimitWindowSeconds).toBe(60);
    expect(c.bcryptCost).toBe(12);
    expect(c.jwtExpiresInSeconds).toBe(86_400);
    expect(c.bodyLimitBytes).toBe(1_048_576);
  });

  it('is cluster mode when DATABASE_URL is set, and then needs JWT_SECRET', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://localhost/taskman' })).toThrow(/JWT_SECRET/);
    const c = loadConfig({ DATABASE_URL: 'postgres://localhost/taskman', JWT_SECRET: SECRET });
    expect(c.mode).toBe('cluster');
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['DATABASE_URL', 'not a url'],
    ['REDIS_URL', 'http://localhost'],
    ['JWT_SECRET', 'short'],
    ['LOG_LEVEL', 'loud'],
    ['RATE_LIMIT_MAX', '0'],
    ['RATE_LIMIT_WINDOW', '-5'],
    ['CORS_ORIGINS', 'app.example.com'],
    ['ADMIN_EMAILS', 'not-an-email'],
    ['ADMIN_IP_ALLOWLIST', 'everyone'],
    ['ENCRYPTION_KEY', 'abc'],
    ['TLS_CERT_FILE', '/etc/cert.pem'],
    ['BCRYPT_COST', '4'],
    ['NODE_ENV', 'staging'],
  ])('refuses %s=%s with one line naming it', (name, value) => {
    let err: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain(name === 'TLS_CERT_FILE' ? 'TLS_KEY_FILE' : name);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('keeps read-your-writes longer than the replica lag it tolerates; drains only when asked', () => {
    const cluster = { DATABASE_URL: 'postgres://localhost/taskman', JWT_SECRET: SECRET };
    const c = loadConfig({ ...cluster, DATABASE_REPLICA_URL: 'postgres://replica/taskman' });
    expect(c.databaseReplicaUrl).toBe('postgres://replica/taskman');
    expect(c.replicaMaxLagMs).toBe(2_000);
    expect(c.readYourWritesMs).toBe(5_000);
    expect(c.shutdownDrainMs).toBe(0);
    // A larger lag allowed stretches the default window with it.
    expect(loadConfig({ ...cluster, DATABASE_REPLICA_MAX_LAG_MS: '10000' }).readYourWritesMs).toBe(20_000);
    expect(() =>
      loadConfig({ ...cluster, DATABASE_REPLICA_MAX_LAG_MS: '2000', READ_YOUR_WRITES_MS: '2400' }),
    ).toThrow(/READ_YOUR_WRITES_MS must be at least DATABASE_REPLICA_MAX_LAG_MS \+ 500 \(2500\)/);
    expect(loadConfig({ ...cluster, READ_YOUR_WRITES_MS: '2500' }).readYourWritesMs).toBe(2_500);
    expect(() => loadConfig({ DATABASE_REPLICA_URL: 'postgres://replica/taskman' })).toThrow(
      /needs DATABASE_URL/,
    );
    expect(loadConfig({ SHUTDOWN_DRAIN_MS: '5000' }).shutdownDrainMs).toBe(5_000);
    expect(() => loadConfig({ SHUTDOWN_DRAIN_MS: '-1' })).toThrow(/SHUTDOWN_DRAIN_MS/);
  });

  it('does not echo secrets in its errors', () => {
    expect(() =>
      loadConfig({ DATABASE_URL: 'postgres://u:hunter2@h/db', JWT_SECRET: 'short-secret-hunter2' }),
    ).toThrow(/^(?!.*hunter2).*$/);
  });

  it('keeps DATA_DIR=memory:// as an in-memory database, resolves folders', () => {
    expect(loadConfig({ DATA_DIR: 'memory://' }).dataDir).toBe('memory://');
    expect(loadConfig({ DATA_DIR: 'rel/dir' }).dataDir).toBe(`${process.cwd()}/rel/dir`);
  });

  it('allows a cheap bcrypt cost only in tests', () => {
    expect(loadConfig({ NODE_ENV: 'test', BCRYPT_COST: '4' }).bcryptCost).toBe(4);
  });

  it('parses lists and lower-cases admin emails', () => {
    const c = loadConfig({
      ADMIN_EMAILS: 'Boss@Example.com, ops@example.com',
      CORS_ORIGINS: 'https://a.example.com,http://localhost:5173',
    });
    expect(c.adminEmails).toEqual(['boss@example.com', 'ops@example.com']);
    expect(c.corsOrigins).toEqual(['https://a.example.com', 'http://localhost:5173']);
  });
});
