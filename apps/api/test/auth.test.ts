import { randomUUID } from 'node:crypto';
import {
  createCore,
  type Database,
  loadConfig,
  openDatabase,
  projects,
  revokedTokens,
  users,
} from '@taskman/core';
import { count, eq, sql } from 'drizzle-orm';
import { createSigner } from 'fast-jwt';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { createTestApp, TEST_ENV, type TestApp } from './helpers/app';
import { Client, expectError, type Res, signUp, USER_KEYS, uniqueEmail } from './helpers/client';

const API = '/api/v1';
const PASSWORD = 'correct horse battery';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_WITH_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

// ---------------------------------------------------------------------------------------------
// helpers

const anon = (app: FastifyInstance) => new Client(app);

function register(app: FastifyInstance, body: unknown): Promise<Res> {
  return anon(app).post(`${API}/auth/register`, body);
}

function login(app: FastifyInstance, email: string, password: string): Promise<Res> {
  return anon(app).post(`${API}/auth/login`, { email, password });
}

/** GET /users/me with exactly this Authorization header (or none). */
function me(app: FastifyInstance, authorization?: string): Promise<Res> {
  return anon(app).get(`${API}/users/me`, authorization === undefined ? {} : { authorization });
}

function decodeJwt(token: string) {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')),
    signature: s!,
  };
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Signs a token with the test app's secret (or another key), with the claims given and nothing else. */
function signToken(claims: Record<string, unknown>, key: string = TEST_ENV.JWT_SECRET, algorithm = 'HS256') {
  return createSigner({ key, algorithm: algorithm as 'HS256' })(claims);
}

async function usersWithEmail(t: TestApp, email: string): Promise<number> {
  const [row] = await t.core.database.db
    .select({ n: count() })
    .from(users)
    .where(sql`lower(${users.email}) = ${email.toLowerCase()}`);
  return Number(row!.n);
}

async function totalUsers(t: TestApp): Promise<number> {
  const [row] = await t.core.database.db.select({ n: count() }).from(users);
  return Number(row!.n);
}

/** A 400 VALIDATION_ERROR whose details name `field`, every detail being a {field, message} pair. */
function expectValidation(res: Res, field: string) {
  const error = expectError(res, 400, 'VALIDATION_ERROR');
  expect(Array.isArray(error.details)).toBe(true);
  for (const d of error.details!) {
    expect(Object.keys(d).sort()).toEqual(['field', 'message']);
    expect(typeof d.field).toBe('string');
    expect(d.message.length).toBeGreaterThan(0);
  }
  expect(error.details!.map((d) => d.field)).toContain(field);
  return error;
}

/** A 401 UNAUTHORIZED in the error envelope, with a Bearer challenge. */
function expectUnauthorized(res: Res) {
  const error = expectError(res, 401, 'UNAUTHORIZED');
  expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer/);
  expect(res.body.data).toBeUndefined();
  return error;
}

/** A refused login: 401 UNAUTHORIZED in the envelope, and no session. */
function expectBadLogin(res: Res) {
  const error = expectError(res, 401, 'UNAUTHORIZED');
  expect(res.body.data).toBeUndefined();
  return error;
}

/** Checks a session body ({token, token_type, expires_at, user}) and returns it. */
function expectSession(res: Res, status: number) {
  expect(res.status).toBe(status);
  expect(res.body.success).toBe(true);
  const data = res.body.data;
  expect(Object.keys(data).sort()).toEqual(['expires_at', 'token', 'token_type', 'user']);
  expect(data.token_type).toBe('Bearer');
  expect(data.token.split('.')).toHaveLength(3);
  expect(data.expires_at).toMatch(ISO_WITH_OFFSET);
  expect(Object.keys(data.user).sort()).toEqual(USER_KEYS);
  return data as { token: string; token_type: string; expires_at: string; user: any };
}

/**
 * A second app on the same database, as after a restart: its own core, services and memory.
 * On PostgreSQL it also opens its own connection pool.
 */
async function restartedApp(t: TestApp) {
  const database: Database = t.db.url
    ? await openDatabase({ databaseUrl: t.db.url, dataDir: 'unused', poolMax: 2 })
    : t.db.database;
  const core = await createCore(loadConfig({ ...TEST_ENV }), { database, migrate: false });
  const app = await buildApp({ core, logger: false });
  await app.ready();
  return {
    app,
    async close() {
      await app.close();
      // PGlite: the database belongs to the first app (t.close() closes it).
      if (t.db.url) await core.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------

describe('POST /auth/register', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('answers 201 with a session, a Location header and the new user', async () => {
    const email = uniqueEmail('reg');
    const res = await register(t.app, { email, password: PASSWORD, name: '  Ann Example  ' });
    const session = expectSession(res, 201);
    expect(res.headers.location).toBe(`${API}/users/me`);
    expect(session.user).toMatchObject({ email, name: 'Ann Example', timezone: 'UTC' });
    expect(session.user.id).toMatch(UUID_V7);
    expect(session.user.created_at).toMatch(ISO_WITH_OFFSET);
    expect(session.user.updated_at).toMatch(ISO_WITH_OFFSET);

    // The Location, followed with the new token, is the account just created.
    const followed = await new Client(t.app, session.token).get(String(res.headers.location));
    expect(followed.status).toBe(200);
    expect(followed.body.data).toEqual(session.user);
    expect(await usersWithEmail(t, email)).toBe(1);

    // The password given is the one that logs in.
    expect((await login(t.app, email, PASSWORD)).status).toBe(200);
  });

  it('keeps a valid time zone', async () => {
    const res = await register(t.app, {
      email: uniqueEmail(),
      password: PASSWORD,
      name: 'Paris',
      timezone: 'Europe/Paris',
    });
    expect(expectSession(res, 201).user.timezone).toBe('Europe/Paris');
  });

  it('refuses an email already registered, whatever its case, and creates no second user', async () => {
    const tag = randomUUID().slice(0, 8);
    const first = await register(t.app, { email: `Ann.${tag}@Example.com`, password: PASSWORD, name: 'Ann' });
    expect(first.status).toBe(201);

    for (const email of [`ann.${tag}@example.com`, `ANN.${tag}@EXAMPLE.COM`, `Ann.${tag}@Example.com`]) {
      const dup = await register(t.app, { email, password: 'another password 1', name: 'Impostor' });
      expectError(dup, 409, 'CONFLICT');
      expect(dup.body.data).toBeUndefined();
    }
    expect(await usersWithEmail(t, `ann.${tag}@example.com`)).toBe(1);

    // The original account is untouched: its password works, the impostor's does not.
    const ok = await login(t.app, `ann.${tag}@example.com`, PASSWORD);
    expect(ok.status).toBe(200);
    expect(ok.body.data.user.id).toBe(first.body.data.user.id);
    expect(ok.body.data.user.name).toBe('Ann');
    expectBadLogin(await login(t.app, `ann.${tag}@example.com`, 'another password 1'));
  });

  it('lets only one of two simultaneous registrations of the same email through', async () => {
    const tag = randomUUID().slice(0, 8);
    const results = await Promise.all([
      register(t.app, { email: `race.${tag}@example.com`, password: PASSWORD, name: 'A' }),
      register(t.app, { email: `RACE.${tag}@example.com`, password: PASSWORD, name: 'B' }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    expectError(results.find((r) => r.status === 409)!, 409, 'CONFLICT');
    expect(await usersWithEmail(t, `race.${tag}@example.com`)).toBe(1);
  });

  // Each case: a body that must be refused, and the field the error must name.
  const refused: [string, (email: string) => Record<string, unknown>, string][] = [
    ['an email without @', () => ({ email: 'not-an-email', password: PASSWORD, name: 'X' }), 'email'],
    ['an email without a domain', () => ({ email: 'ann@', password: PASSWORD, name: 'X' }), 'email'],
    ['an email with a space', (e) => ({ email: `a b${e}`, password: PASSWORD, name: 'X' }), 'email'],
    ['a missing email', () => ({ password: PASSWORD, name: 'X' }), 'email'],
    ['a missing password', (e) => ({ email: e, name: 'X' }), 'password'],
    ['a missing name', (e) => ({ email: e, password: PASSWORD }), 'name'],
    ['a non-string email', () => ({ email: 42, password: PASSWORD, name: 'X' }), 'email'],
    ['a non-string password', (e) => ({ email: e, password: 12345678, name: 'X' }), 'password'],
    ['a non-string name', (e) => ({ email: e, password: PASSWORD, name: 12345 }), 'name'],
    ['an unknown field role', (e) => ({ email: e, password: PASSWORD, name: 'X', role: 'admin' }), 'role'],
    [
      'an unknown field is_admin',
      (e) => ({ email: e, password: PASSWORD, name: 'X', is_admin: true }),
      'is_admin',
    ],
    ['an empty name', (e) => ({ email: e, password: PASSWORD, name: '' }), 'name'],
    ['a blank name', (e) => ({ email: e, password: PASSWORD, name: '    ' }), 'name'],
    ['a name of 101 characters', (e) => ({ email: e, password: PASSWORD, name: 'n'.repeat(101) }), 'name'],
    [
      'an unknown time zone',
      (e) => ({ email: e, password: PASSWORD, name: 'X', timezone: 'Mars/Olympus' }),
      'timezone',
    ],
    ['an empty time zone', (e) => ({ email: e, password: PASSWORD, name: 'X', timezone: '' }), 'timezone'],
    [
      'an offset instead of a zone',
      (e) => ({ email: e, password: PASSWORD, name: 'X', timezone: '+02:00x' }),
      'timezone',
    ],
    ['a 7-byte password', (e) => ({ email: e, password: 'abcdefg', name: 'X' }), 'password'],
    ['an empty password', (e) => ({ email: e, password: '', name: 'X' }), 'password'],
    ['a 7-byte password of 4 characters', (e) => ({ email: e, password: 'éééa', name: 'X' }), 'password'],
    ['a 73-byte password', (e) => ({ email: e, password: 'a'.repeat(73), name: 'X' }), 'password'],
    // 37 characters, far under 72, but 74 bytes of UTF-8: bcrypt would silently drop the end.
    [
      'a 74-byte password of 37 characters',
      (e) => ({ email: e, password: 'é'.repeat(37), name: 'X' }),
      'password',
    ],
  ];

  it.each(refused)('refuses %s with 400 and creates nothing', async (_, body, field) => {
    const email = uniqueEmail('refused');
    const before = await totalUsers(t);
    const res = await register(t.app, body(email));
    const error = expectValidation(res, field);
    expect(error.message.length).toBeGreaterThan(0);
    expect(res.body.data).toBeUndefined();
    expect(await totalUsers(t)).toBe(before);
    expect(await usersWithEmail(t, email)).toBe(0);
    // No account was created with the email of the request.
    const sent = body(email);
    const triedEmail = typeof sent.email === 'string' ? sent.email : email;
    const triedPassword =
      sent.password === undefined || sent.password === '' ? PASSWORD : String(sent.password);
    expectBadLogin(await login(t.app, triedEmail, triedPassword));
  });

  it('names the password byte limits in the message', async () => {
    const short = expectValidation(
      await register(t.app, { email: uniqueEmail(), password: 'abcdefg', name: 'X' }),
      'password',
    );
    expect(short.details!.find((d) => d.field === 'password')!.message).toMatch(/8/);
    const long = expectValidation(
      await register(t.app, { email: uniqueEmail(), password: 'é'.repeat(37), name: 'X' }),
      'password',
    );
    expect(long.details!.find((d) => d.field === 'password')!.message).toMatch(/72/);
  });

  it('reports every missing field at once', async () => {
    const error = expectValidation(await register(t.app, {}), 'email');
    expect(error.details!.map((d) => d.field).sort()).toEqual(['email', 'name', 'password']);
    for (const d of error.details!) expect(d.message).toMatch(/required/);
  });

  it('refuses a request without a body', async () => {
    const before = await totalUsers(t);
    const res = await anon(t.app).post(`${API}/auth/register`);
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(await totalUsers(t)).toBe(before);
  });

  it('refuses role: "admin" and creates no account, admin or not', async () => {
    const email = uniqueEmail('sneaky');
    const res = await register(t.app, { email, password: PASSWORD, name: 'Sneaky', role: 'admin' });
    expect(expectValidation(res, 'role').details).toContainEqual({
      field: 'role',
      message: expect.any(String),
    });
    expect(await usersWithEmail(t, email)).toBe(0);
    expectBadLogin(await login(t.app, email, PASSWORD));
  });

  it.each([
    ['8 bytes', 'k9#mZq!w'],
    ['72 bytes', 'a'.repeat(72)],
    ['36 two-byte characters (72 bytes)', 'é'.repeat(36)],
    ['7 characters of 8 bytes', 'éabcdef'],
    ['emoji (4 bytes each)', '🔑🔒'],
  ])('accepts a password of %s, which then logs in', async (_, password) => {
    const email = uniqueEmail('pw');
    const res = await register(t.app, { email, password, name: 'Bytes' });
    expectSession(res, 201);
    const ok = await login(t.app, email, password);
    expect(ok.status).toBe(200);
    expect(ok.body.data.user.id).toBe(res.body.data.user.id);
  });

  it('uses every byte of a 72-byte password', async () => {
    const email = uniqueEmail('pw72');
    const password = `${'a'.repeat(71)}Z`;
    expect((await register(t.app, { email, password, name: 'Bytes' })).status).toBe(201);
    expectBadLogin(await login(t.app, email, 'a'.repeat(71)));
    expectBadLogin(await login(t.app, email, `${'a'.repeat(71)}Y`));
    expect((await login(t.app, email, password)).status).toBe(200);
  });
});

describe('roles at registration', () => {
  it('makes the first account ever an admin and later ones users', async () => {
    const t = await createTestApp();
    try {
      const first = await signUp(t.app);
      const second = await signUp(t.app);
      const third = await signUp(t.app);
      expect(first.user.role).toBe('admin');
      expect(second.user.role).toBe('user');
      expect(third.user.role).toBe('user');
      expect((await first.get(`${API}/users/me`)).body.data.role).toBe('admin');
      expect((await second.get(`${API}/users/me`)).body.data.role).toBe('user');
      // The role is real: only the admin may list users.
      expect((await first.get(`${API}/users`)).status).toBe(200);
      expectError(await second.get(`${API}/users`), 403, 'FORBIDDEN');
    } finally {
      await t.close();
    }
  });

  it('makes exactly one admin when the first registrations arrive together', async () => {
    const t = await createTestApp();
    try {
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          register(t.app, { email: uniqueEmail(`rush${i}`), password: PASSWORD, name: `Rush ${i}` }),
        ),
      );
      for (const r of results) expect(r.status).toBe(201);
      const roles = results.map((r) => r.body.data.user.role);
      expect(roles.filter((r) => r === 'admin')).toHaveLength(1);
      expect(roles.filter((r) => r === 'user')).toHaveLength(5);
    } finally {
      await t.close();
    }
  });

  it('makes the emails of ADMIN_EMAILS admins, in any case', async () => {
    const t = await createTestApp({ env: { ADMIN_EMAILS: 'boss@example.com, Chief@Example.com' } });
    try {
      const first = await signUp(t.app);
      const plain = await signUp(t.app);
      const boss = await signUp(t.app, { email: 'boss@example.com' });
      const chief = await signUp(t.app, { email: 'CHIEF@example.COM' });
      const later = await signUp(t.app, { email: 'bossy@example.com' });
      expect(first.user.role).toBe('admin');
      expect(plain.user.role).toBe('user');
      expect(boss.user.role).toBe('admin');
      expect(chief.user.role).toBe('admin');
      expect(later.user.role).toBe('user');
      expect((await boss.get(`${API}/users`)).status).toBe(200);
      expect((await chief.get(`${API}/users`)).status).toBe(200);
      expectError(await plain.get(`${API}/users`), 403, 'FORBIDDEN');
    } finally {
      await t.close();
    }
  });
});

describe('POST /auth/login', () => {
  let t: TestApp;
  let ann: Awaited<ReturnType<typeof signUp>>;
  let email: string;
  beforeAll(async () => {
    t = await createTestApp();
    email = uniqueEmail('login');
    ann = await signUp(t.app, { email, name: 'Ann' });
  });
  afterAll(() => t.close());

  it('answers 200 with a working token and the user', async () => {
    const res = await login(t.app, email, ann.password);
    const session = expectSession(res, 200);
    expect(session.user).toEqual((await ann.get(`${API}/users/me`)).body.data);
    const own = await new Client(t.app, session.token).get(`${API}/users/me`);
    expect(own.status).toBe(200);
    expect(own.body.data.id).toBe(ann.user.id);
  });

  it('finds the account whatever the case of the email', async () => {
    const res = await login(t.app, email.toUpperCase(), ann.password);
    expect(expectSession(res, 200).user.id).toBe(ann.user.id);
  });

  it('gives the same 401 for a wrong password and for an unknown email', async () => {
    const wrongPassword = await login(t.app, email, 'not the password');
    const unknownEmail = await login(t.app, uniqueEmail('nobody'), ann.password);
    const a = expectBadLogin(wrongPassword);
    const b = expectBadLogin(unknownEmail);
    expect(wrongPassword.status).toBe(unknownEmail.status);
    expect(a).toEqual(b);
    expect(a.message).not.toMatch(/not found|unknown|no account|exists/i);
    expect(wrongPassword.headers['www-authenticate']).toBe(unknownEmail.headers['www-authenticate']);
  });

  it('is case-sensitive about the password', async () => {
    expectBadLogin(await login(t.app, email, ann.password.toUpperCase()));
    expectBadLogin(await login(t.app, email, `${ann.password} `));
  });

  it.each([
    ['a missing email', { password: PASSWORD }, 'email'],
    ['a missing password', { email: 'ann@example.com' }, 'password'],
    ['an empty password', { email: 'ann@example.com', password: '' }, 'password'],
    ['an unknown field', { email: 'ann@example.com', password: PASSWORD, remember: true }, 'remember'],
  ])('refuses %s with 400', async (_, body, field) => {
    expectValidation(await anon(t.app).post(`${API}/auth/login`, body), field);
  });
});

describe('access tokens (JWT)', () => {
  let t: TestApp;
  let ann: Awaited<ReturnType<typeof signUp>>;
  let bob: Awaited<ReturnType<typeof signUp>>;
  let annEmail: string;
  beforeAll(async () => {
    t = await createTestApp();
    annEmail = uniqueEmail('jwt');
    ann = await signUp(t.app, { email: annEmail, name: 'Ann' });
    bob = await signUp(t.app, { name: 'Bob' });
  });
  afterAll(() => t.close());

  it('are HS256 with iss, aud, sub, a unique jti and exp 24 h after iat', async () => {
    const res = await login(t.app, annEmail, ann.password);
    const session = expectSession(res, 200);
    const { header, payload } = decodeJwt(session.token);
    expect(header.alg).toBe('HS256');
    expect(payload.iss).toBe('taskman');
    expect(payload.aud).toBe('taskman-api');
    expect(payload.sub).toBe(ann.user.id);
    expect(payload.jti).toMatch(UUID);
    expect(Number.isInteger(payload.iat)).toBe(true);
    expect(payload.exp - payload.iat).toBe(24 * 60 * 60);
    // Issued now, not at some fixed or stale time (a generous window: this is not a timing test).
    expect(Math.abs(payload.iat - nowSeconds())).toBeLessThan(600);
    expect(session.expires_at).toBe(new Date(payload.exp * 1000).toISOString());
    // The payload carries no secret or personal data.
    expect(JSON.stringify(payload)).not.toMatch(/password|\$2[aby]\$|@/i);
  });

  it('are unique per login, and both work', async () => {
    const a = expectSession(await login(t.app, annEmail, ann.password), 200);
    const b = expectSession(await login(t.app, annEmail, ann.password), 200);
    expect(a.token).not.toBe(b.token);
    const ja = decodeJwt(a.token).payload;
    const jb = decodeJwt(b.token).payload;
    expect(ja.jti).not.toBe(jb.jti);
    expect(ja.sub).toBe(jb.sub);
    expect((await me(t.app, `Bearer ${a.token}`)).body.data.id).toBe(ann.user.id);
    expect((await me(t.app, `Bearer ${b.token}`)).body.data.id).toBe(ann.user.id);
    // The registration token differs from both.
    expect(decodeJwt(ann.token!).payload.jti).not.toBe(ja.jti);
  });

  it('identify their own user', async () => {
    expect((await me(t.app, `Bearer ${ann.token}`)).body.data.id).toBe(ann.user.id);
    expect((await me(t.app, `Bearer ${bob.token}`)).body.data.id).toBe(bob.user.id);
  });

  it('accepts a token signed here with the right claims (the control for the forgeries below)', async () => {
    const { sep } = decodeJwt(ann.token!).payload;
    const token = signToken({
      iss: 'taskman',
      aud: 'taskman-api',
      sub: ann.user.id,
      jti: randomUUID(),
      sep,
      iat: nowSeconds(),
      exp: nowSeconds() + 3600,
    });
    const res = await me(t.app, `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body.data.id).toBe(ann.user.id);
  });

  const claimsOf = (over: Record<string, unknown> = {}) => ({
    iss: 'taskman',
    aud: 'taskman-api',
    sub: ann.user.id,
    jti: randomUUID(),
    sep: decodeJwt(ann.token!).payload.sep,
    iat: nowSeconds(),
    exp: nowSeconds() + 3600,
    ...over,
  });
  const withSignature = (token: string, signature: string) =>
    `${token.split('.').slice(0, 2).join('.')}.${signature}`;

  const rejected: [string, () => string][] = [
    ['no Authorization header', () => ''],
    ['an empty Authorization header', () => ' '],
    ['a Basic header', () => `Basic ${Buffer.from(`${annEmail}:${PASSWORD}`).toString('base64')}`],
    ['"Bearer" without a token', () => 'Bearer'],
    ['"Bearer " and a space', () => 'Bearer '],
    ['the token without "Bearer"', () => ann.token!],
    ['garbage', () => 'Bearer garbage'],
    ['three garbage parts', () => 'Bearer aaa.bbb.ccc'],
    ['a token with characters outside the alphabet', () => `Bearer ${ann.token}!`],
    [
      'a tampered signature',
      () => {
        const sig = decodeJwt(ann.token!).signature;
        return `Bearer ${withSignature(ann.token!, (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1))}`;
      },
    ],
    ['a missing signature', () => `Bearer ${withSignature(ann.token!, '')}`],
    [
      "a payload changed to another user's id (signature kept)",
      () => {
        const [h, p, s] = bob.token!.split('.');
        const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
        return `Bearer ${h}.${b64json({ ...payload, sub: ann.user.id })}.${s}`;
      },
    ],
    ['alg "none"', () => `Bearer ${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(claimsOf())}.`],
    [
      'alg "none" with the original signature',
      () => {
        const [, p, s] = ann.token!.split('.');
        return `Bearer ${b64json({ alg: 'none', typ: 'JWT' })}.${p}.${s}`;
      },
    ],
    [
      'a token signed with another secret',
      () => `Bearer ${signToken(claimsOf(), 'another-secret-that-is-also-long-enough-0123456789')}`,
    ],
    [
      'a token signed with the right secret but HS512',
      () => `Bearer ${signToken(claimsOf(), TEST_ENV.JWT_SECRET, 'HS512')}`,
    ],
    [
      'an expired token',
      () => `Bearer ${signToken(claimsOf({ iat: nowSeconds() - 2 * 86_400, exp: nowSeconds() - 86_400 }))}`,
    ],
    [
      'a token that expired a minute ago',
      () => `Bearer ${signToken(claimsOf({ iat: nowSeconds() - 3600, exp: nowSeconds() - 60 }))}`,
    ],
    [
      'a token without exp',
      () => {
        const { exp: _exp, ...claims } = claimsOf();
        return `Bearer ${signToken(claims)}`;
      },
    ],
    [
      'a token without jti',
      () => {
        const { jti: _jti, ...claims } = claimsOf();
        return `Bearer ${signToken(claims)}`;
      },
    ],
    [
      'a token without sub',
      () => {
        const { sub: _sub, ...claims } = claimsOf();
        return `Bearer ${signToken(claims)}`;
      },
    ],
    [
      'a token without iss',
      () => {
        const { iss: _iss, ...claims } = claimsOf();
        return `Bearer ${signToken(claims)}`;
      },
    ],
    [
      'a token without aud',
      () => {
        const { aud: _aud, ...claims } = claimsOf();
        return `Bearer ${signToken(claims)}`;
      },
    ],
    ['a token from another issuer', () => `Bearer ${signToken(claimsOf({ iss: 'https://evil.example' }))}`],
    ['a token for another audience', () => `Bearer ${signToken(claimsOf({ aud: 'other-service' }))}`],
    ['a token for several audiences', () => `Bearer ${signToken(claimsOf({ aud: ['other', 'more'] }))}`],
    ['a token for a user that does not exist', () => `Bearer ${signToken(claimsOf({ sub: randomUUID() }))}`],
    ['a token whose sub is not a UUID', () => `Bearer ${signToken(claimsOf({ sub: 'admin' }))}`],
    ['a token whose jti is not a UUID', () => `Bearer ${signToken(claimsOf({ jti: 'not-a-uuid' }))}`],
    ['a token with a stale session epoch', () => `Bearer ${signToken(claimsOf({ sep: -1 }))}`],
  ];

  it.each(rejected)('refuse %s with 401 UNAUTHORIZED', async (_, header) => {
    const value = header();
    const res = await me(t.app, value === '' ? undefined : value);
    const error = expectUnauthorized(res);
    expect(error.message.length).toBeGreaterThan(0);
    expect(res.raw).not.toMatch(/stack|at \w+ \(|FAST_JWT/);
  });

  it('refuse a forged token on writes too, and the write does not happen', async () => {
    const forged = `Bearer ${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(claimsOf())}.`;
    const before = (await me(t.app, `Bearer ${ann.token}`)).body.data;
    expectUnauthorized(
      await anon(t.app).patch(`${API}/users/me`, { name: 'Hacked' }, { authorization: forged }),
    );
    expectUnauthorized(
      await anon(t.app).post(`${API}/projects`, { name: 'Hacked' }, { authorization: forged }),
    );
    expect((await me(t.app, `Bearer ${ann.token}`)).body.data).toEqual(before);
    const [row] = await t.core.database.db
      .select({ n: count() })
      .from(projects)
      .where(eq(projects.userId, ann.user.id));
    expect(Number(row!.n)).toBe(0);
  });
});

describe('POST /auth/logout', () => {
  let t: TestApp;
  let admin: Awaited<ReturnType<typeof signUp>>;
  let bob: Awaited<ReturnType<typeof signUp>>;
  let adminEmail: string;
  beforeAll(async () => {
    t = await createTestApp();
    adminEmail = uniqueEmail('admin');
    // The first account: an admin, so that even the admin-only route would have answered 200.
    admin = await signUp(t.app, { email: adminEmail, name: 'Admin' });
    bob = await signUp(t.app, { name: 'Bob' });
  });
  afterAll(() => t.close());

  it('answers 204, then the token is refused on every route while other tokens still work', async () => {
    expect(admin.user.role).toBe('admin');
    const other = expectSession(await login(t.app, adminEmail, admin.password), 200).token;
    const doomed = expectSession(await login(t.app, adminEmail, admin.password), 200).token;
    const doomedClient = new Client(t.app, doomed);
    expect((await doomedClient.get(`${API}/users`)).status).toBe(200);

    const out = await doomedClient.post(`${API}/auth/logout`);
    expect(out.status).toBe(204);
    expect(out.raw).toBe('');

    const routes: [string, string, unknown?][] = [
      ['GET', `${API}/users/me`],
      ['PATCH', `${API}/users/me`, { name: 'Changed by a revoked token' }],
      [
        'PUT',
        `${API}/users/me/password`,
        { current_password: admin.password, new_password: 'a new password' },
      ],
      ['GET', `${API}/users`],
      ['GET', `${API}/projects`],
      ['POST', `${API}/projects`, { name: 'Made by a revoked token' }],
      ['GET', `${API}/tasks`],
      ['POST', `${API}/tasks`, { title: 'Made by a revoked token' }],
      ['GET', `${API}/tasks/${randomUUID()}`],
      ['POST', `${API}/auth/logout`],
      ['DELETE', `${API}/users/me`, { password: admin.password }],
    ];
    for (const [method, url, body] of routes) {
      const res = await doomedClient.request(method as 'GET', url, body);
      expect({ method, url, status: res.status }).toEqual({ method, url, status: 401 });
      expectUnauthorized(res);
    }

    // Nothing any of those requests asked for happened.
    const otherClient = new Client(t.app, other);
    const profile = await otherClient.get(`${API}/users/me`);
    expect(profile.status).toBe(200);
    expect(profile.body.data.name).toBe('Admin');
    expect((await otherClient.get(`${API}/projects`)).body.meta.total).toBe(0);
    expect((await otherClient.get(`${API}/tasks`)).body.meta.total).toBe(0);
    expect((await login(t.app, adminEmail, admin.password)).status).toBe(200);
    expectBadLogin(await login(t.app, adminEmail, 'a new password'));

    // The other token of the same user, the registration token and another user's token all still work.
    expect((await otherClient.get(`${API}/users`)).status).toBe(200);
    expect((await admin.get(`${API}/users/me`)).status).toBe(200);
    expect((await bob.get(`${API}/users/me`)).body.data.id).toBe(bob.user.id);
  });

  it('needs a token', async () => {
    expectUnauthorized(await anon(t.app).post(`${API}/auth/logout`));
    expectUnauthorized(
      await anon(t.app).post(`${API}/auth/logout`, undefined, { authorization: 'Bearer nope' }),
    );
  });

  it('stores the revocation in the database', async () => {
    const token = expectSession(await login(t.app, adminEmail, admin.password), 200).token;
    const { jti } = decodeJwt(token).payload;
    expect((await new Client(t.app, token).post(`${API}/auth/logout`)).status).toBe(204);
    const rows = await t.core.database.db.select().from(revokedTokens).where(eq(revokedTokens.jti, jti));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.userId).toBe(admin.user.id);
  });

  it('outlives a restart: a new app on the same database still refuses the token', async () => {
    const email = uniqueEmail('restart');
    const carol = await signUp(t.app, { email, name: 'Carol' });
    const kept = expectSession(await login(t.app, email, carol.password), 200).token;
    expect((await carol.post(`${API}/auth/logout`)).status).toBe(204);
    expectUnauthorized(await carol.get(`${API}/users/me`));

    const second = await restartedApp(t);
    try {
      const revoked = await new Client(second.app, carol.token).get(`${API}/users/me`);
      expectUnauthorized(revoked);
      // The same app accepts the tokens that were not revoked (so the refusal above is the revocation).
      const ok = await new Client(second.app, kept).get(`${API}/users/me`);
      expect(ok.status).toBe(200);
      expect(ok.body.data.id).toBe(carol.user.id);
      expect((await new Client(second.app, bob.token).get(`${API}/users/me`)).status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('signs out only the token used, for the user who used it', async () => {
    const email = uniqueEmail('dave');
    const dave = await signUp(t.app, { email, name: 'Dave' });
    const daveOther = expectSession(await login(t.app, email, dave.password), 200).token;
    expect((await bob.post(`${API}/auth/logout`)).status).toBe(204);
    expectUnauthorized(await bob.get(`${API}/users/me`));
    expect((await dave.get(`${API}/users/me`)).status).toBe(200);
    expect((await new Client(t.app, daveOther).get(`${API}/users/me`)).status).toBe(200);
    // Bob can sign in again and gets a new, working token.
    const fresh = await login(t.app, bob.user.email, bob.password);
    expect((await new Client(t.app, expectSession(fresh, 200).token).get(`${API}/users/me`)).status).toBe(
      200,
    );
  });
});
