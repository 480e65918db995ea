import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppPair, appPair, type CacheMode, createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, signUp } from './helpers/client';

// One database for the whole file; every app below (its own config, cache and limiter) is an API
// process on it, so the file pays for a single fresh database.
let base: TestApp;
beforeAll(async () => {
  base = await createTestApp();
});
afterAll(() => base.close());
const newApp = (env: Record<string, string> = {}) => createTestApp({ env, shareDatabaseOf: base });

const API = '/api/v1';
type Mode = CacheMode;

const claimsOf = (token: string | undefined) =>
  JSON.parse(Buffer.from(String(token).split('.')[1]!, 'base64url').toString()) as {
    sub: string;
    jti: string;
    exp: number;
  };

async function sessionStats(t: TestApp) {
  const value = async (c: typeof t.core.metrics.cacheHits) =>
    (await c.get()).values.find((v) => v.labels.cache === 'session')?.value ?? 0;
  return { hits: await value(t.core.metrics.cacheHits), misses: await value(t.core.metrics.cacheMisses) };
}

/** Two authenticated reads on `c`: the second is answered from the session cache (the token is cached as valid). */
async function warmSession(t: TestApp, c: Client) {
  expect((await c.get(`${API}/users/me`)).status).toBe(200);
  const before = await sessionStats(t);
  expect((await c.get(`${API}/users/me`)).status).toBe(200);
  const after = await sessionStats(t);
  expect(after.hits - before.hits).toBe(1);
  expect(after.misses - before.misses).toBe(0);
}

async function login(c: Client, email: string, password: string): Promise<string> {
  const res = await c.post(`${API}/auth/login`, { email, password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.raw}`);
  return res.body.data.token;
}

const refused = async (c: Client) => expectError(await c.get(`${API}/users/me`), 401, 'UNAUTHORIZED');

describe.each<Mode>(['redis', 'memory'])('token revocation (%s)', (mode) => {
  // With Redis: writes on A, checks on B (two API processes). Embedded: one process.
  let pair: AppPair;
  let a: TestApp;
  let b: TestApp;
  let redis: Redis | undefined;
  let prefix = '';
  beforeAll(async () => {
    pair = await appPair(mode, newApp);
    ({ a, b, redis, prefix } = pair);
    expect(b.core.cacheStore.kind).toBe(mode);
  });
  afterAll(() => pair.close());

  it('logout on A: B, which had the token cached as valid, refuses it at once; other tokens still work', async () => {
    const ann = await signUp(a.app);
    const bob = await signUp(a.app);
    const second = new Client(b.app, await login(new Client(a.app), ann.user.email, ann.password));
    const annB = new Client(b.app, ann.token);
    await warmSession(b, annB);
    await warmSession(b, second);

    expect((await ann.post(`${API}/auth/logout`)).status).toBe(204);

    await refused(annB);
    await refused(ann);
    // Only that token is revoked: Ann's other session and Bob are unaffected.
    expect((await second.get(`${API}/users/me`)).body.data.id).toBe(ann.user.id);
    expect((await new Client(b.app, bob.token).get(`${API}/users/me`)).status).toBe(200);
    // Logging out twice with the same token is refused too.
    expectError(await annB.post(`${API}/auth/logout`), 401, 'UNAUTHORIZED');
  });

  it.runIf(mode === 'redis')(
    'the revocation is kept in Redis as revoked:{jti} for the token’s remaining lifetime',
    async () => {
      const ann = await signUp(a.app);
      const { jti, exp } = claimsOf(ann.token);
      const key = `${prefix}revoked:${jti}`;
      expect(await redis!.exists(key)).toBe(0);
      expect((await ann.post(`${API}/auth/logout`)).status).toBe(204);
      const ttl = await redis!.ttl(key);
      const remaining = exp - Math.floor(Date.now() / 1000);
      expect(ttl).toBeGreaterThan(remaining - 10);
      expect(ttl).toBeLessThanOrEqual(remaining + 1);
      expect(remaining).toBeGreaterThan(86_400 - 60); // JWT_EXPIRES_IN defaults to 24 h
    },
  );

  it.runIf(mode === 'redis')(
    'the revocation also lives in the database: with the revoked: key (and every other cache key) deleted, the token is still refused',
    async () => {
      const ann = await signUp(a.app);
      const annB = new Client(b.app, ann.token);
      await warmSession(b, annB);
      expect((await ann.post(`${API}/auth/logout`)).status).toBe(204);
      const { jti } = claimsOf(ann.token);
      expect(await redis!.del(`${prefix}revoked:${jti}`)).toBe(1);
      await refused(annB);
      await refused(ann);
      // Not even a cached "revoked" session is needed: drop every cache key of this deployment.
      const keys = (await redis!.keys(`${prefix}*`)).filter((k) => !k.startsWith(`${prefix}ratelimit:`));
      if (keys.length) await redis!.del(...keys);
      await refused(annB);
      await refused(ann);
    },
  );

  it('password change on A: B refuses every older token at once and accepts the new one', async () => {
    const ann = await signUp(a.app);
    const other = new Client(b.app, await login(new Client(a.app), ann.user.email, ann.password));
    const annB = new Client(b.app, ann.token);
    await warmSession(b, annB);
    await warmSession(b, other);

    const res = await ann.put(`${API}/users/me/password`, {
      current_password: ann.password,
      new_password: 'another long passphrase',
    });
    expect(res.status).toBe(200);
    const fresh = new Client(b.app, res.body.data.token);

    await refused(annB);
    await refused(other);
    await refused(ann);
    expect((await fresh.get(`${API}/users/me`)).body.data.id).toBe(ann.user.id);
  });

  it('account deletion on A: B refuses the token at once', async () => {
    const ann = await signUp(a.app);
    const annB = new Client(b.app, ann.token);
    await warmSession(b, annB);
    expect((await ann.delete(`${API}/users/me`, { password: ann.password })).status).toBe(204);
    await refused(annB);
    await refused(ann);
  });
});
