import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, redisEnv, TEST_REDIS_URL, type TestApp } from './helpers/app';
import { expectError, type Res, uniqueEmail } from './helpers/client';

// One database for the whole file; every app below (its own config, cache and limiter) is an API
// process on it, so the file pays for a single fresh database.
let base: TestApp;
beforeAll(async () => {
  base = await createTestApp();
});
afterAll(() => base.close());
const newApp = (env: Record<string, string> = {}) => createTestApp({ env, shareDatabaseOf: base });

const API = '/api/v1';
const PASSWORD = 'correct horse battery';
type Mode = 'redis' | 'memory';

let ipSeq = 0;
/** A client address no other test uses (so each test starts with a fresh per-IP budget). */
const freshIp = () => {
  ipSeq++;
  return `10.${(ipSeq >> 8) & 255}.${ipSeq & 255}.${Math.floor(Math.random() * 250) + 1}`;
};

/** One request from a given client address, with an optional bearer token. */
async function call(
  t: TestApp,
  opts: { url: string; method?: 'GET' | 'POST'; ip: string; token?: string; body?: unknown },
): Promise<Res> {
  const res = await t.app.inject({
    method: opts.method ?? 'GET',
    url: opts.url,
    remoteAddress: opts.ip,
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
    ...(opts.body === undefined ? {} : { payload: opts.body as object }),
  });
  let body: any;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body, raw: res.body };
}

/** A user created through the service, so that setting up does not spend any rate-limit budget. */
async function newUser(t: TestApp) {
  const email = uniqueEmail('rl');
  const session = await t.core.services.auth.register({ email, password: PASSWORD, name: 'Limited' });
  return { email, token: session.token, id: session.user.id };
}

async function rateLimited(t: TestApp, scope: 'api' | 'auth') {
  return (await t.core.metrics.rateLimited.get()).values.find((v) => v.labels.scope === scope)?.value ?? 0;
}

/** The budget headers of a response that was let through. */
function budget(res: Res) {
  return {
    limit: Number(res.headers['x-ratelimit-limit']),
    remaining: Number(res.headers['x-ratelimit-remaining']),
    reset: Number(res.headers['x-ratelimit-reset']),
  };
}

/** A 429 with the error envelope, Retry-After and the budget headers at zero. */
function expectRefused(res: Res, limit: number, window = 60) {
  expectError(res, 429, 'RATE_LIMITED');
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(window);
  expect(Number(res.headers['x-ratelimit-limit'])).toBe(limit);
  expect(res.headers['x-ratelimit-remaining']).toBe('0');
}

const login = (t: TestApp, ip: string, email: string, password = 'wrong password!!') =>
  call(t, { method: 'POST', url: `${API}/auth/login`, ip, body: { email, password } });

describe.each<Mode>(['redis', 'memory'])('rate limiting (%s)', (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await newApp({
      ...(mode === 'redis' ? redisEnv() : {}),
      RATE_LIMIT_MAX: '5',
      AUTH_RATE_LIMIT_MAX: '3',
    });
    expect(t.core.redis === undefined).toBe(mode === 'memory');
  });
  afterAll(() => t.close());

  it('per IP without a token: X-RateLimit-* on every response, the 6th is 429 with Retry-After and the envelope', async () => {
    const ip = freshIp();
    const before = await rateLimited(t, 'api');
    for (let i = 1; i <= 5; i++) {
      const res = await call(t, { url: `${API}/tasks`, ip });
      expect(res.status).toBe(401);
      const b = budget(res);
      expect(b.limit).toBe(5);
      expect(b.remaining).toBe(5 - i);
      expect(b.reset).toBeGreaterThan(0);
      expect(b.reset).toBeLessThanOrEqual(60);
    }
    expectRefused(await call(t, { url: `${API}/tasks`, ip }), 5);
    expect(await rateLimited(t, 'api')).toBe(before + 1);
    // Another address has its own budget.
    const other = await call(t, { url: `${API}/tasks`, ip: freshIp() });
    expect(other.status).toBe(401);
    expect(budget(other).remaining).toBe(4);
  });

  it('per user with a token: two users behind one IP have separate budgets; one user from two IPs has one', async () => {
    const ip = freshIp();
    const ann = await newUser(t);
    const bob = await newUser(t);
    for (let i = 1; i <= 5; i++) {
      const res = await call(t, { url: `${API}/users/me`, ip, token: ann.token });
      expect(res.status).toBe(200);
      expect(budget(res).remaining).toBe(5 - i);
    }
    expectRefused(await call(t, { url: `${API}/users/me`, ip, token: ann.token }), 5);
    // Bob, from the same address, is not affected.
    const bobRes = await call(t, { url: `${API}/users/me`, ip, token: bob.token });
    expect(bobRes.status).toBe(200);
    expect(budget(bobRes).remaining).toBe(4);
    // Ann from another address is still Ann: the same, spent budget.
    expectRefused(await call(t, { url: `${API}/users/me`, ip: freshIp(), token: ann.token }), 5);
    // The address's own (anonymous) budget was not spent by the signed-in requests.
    const anon = await call(t, { url: `${API}/tasks`, ip });
    expect(anon.status).toBe(401);
    expect(budget(anon).remaining).toBe(4);
  });

  it('a token with a wrong signature is counted per IP, not against the user it names', async () => {
    const ip = freshIp();
    const ann = await newUser(t);
    const [header, payload, signature] = ann.token.split('.');
    const forged = `${header}.${payload}.${[...signature!].reverse().join('')}`;
    expect(forged).not.toBe(ann.token);
    for (let i = 1; i <= 5; i++) {
      const res = await call(t, { url: `${API}/users/me`, ip, token: forged });
      expect(res.status).toBe(401);
      expect(budget(res).remaining).toBe(5 - i);
    }
    expectRefused(await call(t, { url: `${API}/users/me`, ip, token: forged }), 5);
    const real = await call(t, { url: `${API}/users/me`, ip, token: ann.token });
    expect(real.status).toBe(200);
    expect(budget(real).remaining).toBe(4);
  });

  it('/health/live and /health/ready are never limited and spend no budget', async () => {
    const ip = freshIp();
    for (let i = 0; i < 8; i++) {
      for (const url of ['/health/live', '/health/ready']) {
        const res = await call(t, { url, ip });
        expect(res.status).toBe(200);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      }
    }
    const api = await call(t, { url: `${API}/tasks`, ip });
    expect(api.status).toBe(401);
    expect(budget(api).remaining).toBe(4);
  });

  it('/auth/login is stricter per IP: the 4th attempt from one address is 429, another address is not limited', async () => {
    const ip = freshIp();
    const before = await rateLimited(t, 'auth');
    for (let i = 0; i < 3; i++) expectError(await login(t, ip, uniqueEmail('guess')), 401, 'UNAUTHORIZED');
    // 4 requests are within the general budget (5): this 429 comes from the login limit.
    expectRefused(await login(t, ip, uniqueEmail('guess')), 3);
    expect(await rateLimited(t, 'auth')).toBe(before + 1);
    expectError(await login(t, freshIp(), uniqueEmail('guess')), 401, 'UNAUTHORIZED');
  });

  it('/auth/login is stricter per email: the 4th attempt on one account from 4 addresses is 429, even with the right password', async () => {
    const ann = await newUser(t);
    for (let i = 0; i < 3; i++) expectError(await login(t, freshIp(), ann.email), 401, 'UNAUTHORIZED');
    expectRefused(await login(t, freshIp(), ann.email, PASSWORD), 3);
    // The email is normalised: another spelling of the same account shares the budget.
    expectRefused(await login(t, freshIp(), `  ${ann.email.toUpperCase()} `, PASSWORD), 3);
    // Another account, from a fresh address, can still sign in.
    const bob = await newUser(t);
    const ok = await login(t, freshIp(), bob.email, PASSWORD);
    expect(ok.status).toBe(200);
  });

  it('/auth/register is limited per IP too, and a refused registration creates nothing', async () => {
    const ip = freshIp();
    const register = (email: string) =>
      call(t, {
        method: 'POST',
        url: `${API}/auth/register`,
        ip,
        body: { email, password: PASSWORD, name: 'N' },
      });
    for (let i = 0; i < 3; i++) expect((await register(uniqueEmail('reg'))).status).toBe(201);
    const email = uniqueEmail('reg');
    expectRefused(await register(email), 3);
    await expect(t.core.services.auth.login(email, PASSWORD)).rejects.toThrow();
  });

  it('RATE_LIMIT_WINDOW: the budget comes back after the window', async () => {
    const short = await newApp({
      ...(mode === 'redis' ? redisEnv() : {}),
      RATE_LIMIT_MAX: '2',
      RATE_LIMIT_WINDOW: '1',
    });
    try {
      const ip = freshIp();
      const first = await call(short, { url: `${API}/tasks`, ip });
      expect(budget(first).limit).toBe(2);
      expect(budget(first).reset).toBeLessThanOrEqual(1);
      // Spend the budget (the window may roll over meanwhile on a slow machine: poll for a 429).
      let refused: Res | undefined;
      for (let i = 0; i < 20 && !refused; i++) {
        const res = await call(short, { url: `${API}/tasks`, ip });
        if (res.status === 429) refused = res;
      }
      expect(refused).toBeDefined();
      expectRefused(refused!, 2, 1);
      // Poll until the window has passed: the same address is let through again.
      const deadline = Date.now() + 5_000;
      let again: Res;
      do {
        await new Promise((r) => setTimeout(r, 100));
        again = await call(short, { url: `${API}/tasks`, ip });
      } while (again.status === 429 && Date.now() < deadline);
      expect(again.status).toBe(401);
    } finally {
      await short.close();
    }
  });
});

describe('rate limiting shared by two API processes on one Redis', () => {
  let a: TestApp;
  let b: TestApp;
  let redis: Redis;
  let prefix: string;
  beforeAll(async () => {
    const env = { ...redisEnv(), RATE_LIMIT_MAX: '5', AUTH_RATE_LIMIT_MAX: '3' };
    prefix = env.REDIS_KEY_PREFIX;
    a = await newApp(env);
    b = await newApp(env);
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
    await redis.quit();
  });

  it('a user: 3 requests on A and 3 on B, the 6th is 429 (Retry-After, envelope) and counted on B', async () => {
    const ann = await newUser(a);
    const ip = freshIp();
    const remaining: number[] = [];
    for (const t of [a, a, a, b, b]) {
      const res = await call(t, { url: `${API}/users/me`, ip, token: ann.token });
      expect(res.status).toBe(200);
      remaining.push(budget(res).remaining);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const [beforeA, beforeB] = [await rateLimited(a, 'api'), await rateLimited(b, 'api')];
    expectRefused(await call(b, { url: `${API}/users/me`, ip, token: ann.token }), 5);
    expect(await rateLimited(b, 'api')).toBe(beforeB + 1);
    expect(await rateLimited(a, 'api')).toBe(beforeA);
    // And A refuses too: one budget.
    expectRefused(await call(a, { url: `${API}/users/me`, ip: freshIp(), token: ann.token }), 5);
  });

  it('an anonymous IP: the budget is shared too', async () => {
    const ip = freshIp();
    for (const t of [a, b, a, b, a]) expect((await call(t, { url: `${API}/tasks`, ip })).status).toBe(401);
    expectRefused(await call(b, { url: `${API}/tasks`, ip }), 5);
  });

  it('/auth/login per email: attempts on A and B from different IPs share one budget', async () => {
    const ann = await newUser(a);
    for (const t of [a, b, a]) expectError(await login(t, freshIp(), ann.email), 401, 'UNAUTHORIZED');
    expectRefused(await login(b, freshIp(), ann.email, PASSWORD), 3);
  });

  it('the counters live in Redis under {prefix}ratelimit:', async () => {
    const ann = await newUser(a);
    const ip = freshIp();
    await call(a, { url: `${API}/users/me`, ip, token: ann.token });
    await call(b, { url: `${API}/tasks`, ip });
    const keys = await redis.keys(`${prefix}ratelimit:*`);
    const userKey = keys.find((k) => k.endsWith(`user:${ann.id}`));
    const ipKey = keys.find((k) => k.endsWith(`ip:${ip}`));
    expect(userKey).toBeDefined();
    expect(ipKey).toBeDefined();
    expect(await redis.get(userKey!)).toBe('1');
    expect(await redis.get(ipKey!)).toBe('1');
    const ttl = await redis.pttl(ipKey!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});
