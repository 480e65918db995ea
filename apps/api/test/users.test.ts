import { randomUUID } from 'node:crypto';
import { projects, tasks, users } from '@taskman/core';
import { count, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, type Res, signUp, USER_KEYS, uniqueEmail } from './helpers/client';

const API = '/api/v1';
const HASH = /\$2[aby]\$/;

type SignedUp = Awaited<ReturnType<typeof signUp>>;

// ---------------------------------------------------------------------------------------------
// helpers

function login(app: FastifyInstance, email: string, password: string): Promise<Res> {
  return new Client(app).post(`${API}/auth/login`, { email, password });
}

const as = (app: FastifyInstance, token: string) => new Client(app, token);

/** A 400 VALIDATION_ERROR whose details name `field`, every detail being a {field, message} pair. */
function expectValidation(res: Res, field: string) {
  const error = expectError(res, 400, 'VALIDATION_ERROR');
  expect(Array.isArray(error.details)).toBe(true);
  for (const d of error.details!) {
    expect(Object.keys(d).sort()).toEqual(['field', 'message']);
    expect(d.message.length).toBeGreaterThan(0);
  }
  expect(error.details!.map((d) => d.field)).toContain(field);
  expect(res.body.data).toBeUndefined();
  return error;
}

function expectUnauthorized(res: Res) {
  const error = expectError(res, 401, 'UNAUTHORIZED');
  expect(res.body.data).toBeUndefined();
  return error;
}

async function dbUser(t: TestApp, id: string) {
  const [row] = await t.core.database.db.select().from(users).where(eq(users.id, id));
  return row;
}

async function counts(t: TestApp, userId: string) {
  const db = t.core.database.db;
  const [u] = await db.select({ n: count() }).from(users).where(eq(users.id, userId));
  const [p] = await db.select({ n: count() }).from(projects).where(eq(projects.userId, userId));
  const [k] = await db.select({ n: count() }).from(tasks).where(eq(tasks.userId, userId));
  return { users: Number(u!.n), projects: Number(p!.n), tasks: Number(k!.n) };
}

/** Gives the user two projects and three tasks (two of them in the first project). */
async function seedData(c: Client) {
  const ids = { projects: [] as string[], tasks: [] as string[] };
  for (const name of ['Home', 'Work']) {
    const res = await c.post(`${API}/projects`, { name });
    expect(res.status).toBe(201);
    ids.projects.push(res.body.data.id);
  }
  for (const [title, projectId] of [
    ['Buy milk', ids.projects[0]],
    ['Fix the door', ids.projects[0]],
    ['Loose task', null],
  ] as const) {
    const res = await c.post(`${API}/tasks`, { title, project_id: projectId });
    expect(res.status).toBe(201);
    ids.tasks.push(res.body.data.id);
  }
  return ids;
}

/** The raw body must not carry a password, a password field or any bcrypt hash. */
function expectNoSecrets(res: Res, hash?: string) {
  expect(res.raw.length).toBeGreaterThan(0);
  expect(res.raw).not.toMatch(/password/i);
  expect(res.raw).not.toMatch(HASH);
  expect(res.raw).not.toMatch(/session_epoch|sessionEpoch/);
  if (hash) expect(res.raw).not.toContain(hash);
}

// ---------------------------------------------------------------------------------------------

describe('GET /users/me', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('answers the caller’s own profile, and only the public fields', async () => {
    const ann = await signUp(t.app, { name: 'Ann', timezone: 'Europe/Paris' });
    const bob = await signUp(t.app, { name: 'Bob' });
    const res = await ann.get(`${API}/users/me`);
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(Object.keys(res.body.data).sort()).toEqual(USER_KEYS);
    expect(res.body.data).toEqual(ann.user);
    expect(res.body.data).toMatchObject({ name: 'Ann', timezone: 'Europe/Paris' });
    const bobs = await bob.get(`${API}/users/me`);
    expect(bobs.body.data).toEqual(bob.user);
    expect(bobs.body.data.id).not.toBe(ann.user.id);
  });

  it('needs a token', async () => {
    expectUnauthorized(await new Client(t.app).get(`${API}/users/me`));
  });
});

describe('PATCH /users/me', () => {
  let t: TestApp;
  let admin: SignedUp;
  let ann: SignedUp;
  let bob: SignedUp;
  beforeAll(async () => {
    t = await createTestApp();
    admin = await signUp(t.app, { name: 'Admin' });
    ann = await signUp(t.app, { name: 'Ann' });
    bob = await signUp(t.app, { name: 'Bob', timezone: 'Asia/Tokyo' });
  });
  afterAll(() => t.close());

  const profile = async (c: Client) => (await c.get(`${API}/users/me`)).body.data;

  it('changes the name (trimmed) and the time zone, of the caller only', async () => {
    const bobBefore = await profile(bob);
    const res = await ann.patch(`${API}/users/me`, { name: '  Ann Smith  ', timezone: 'America/New_York' });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(Object.keys(res.body.data).sort()).toEqual(USER_KEYS);
    expect(res.body.data).toMatchObject({
      id: ann.user.id,
      email: ann.user.email,
      name: 'Ann Smith',
      timezone: 'America/New_York',
      role: 'user',
      created_at: ann.user.created_at,
    });
    expect(Date.parse(res.body.data.updated_at)).toBeGreaterThanOrEqual(Date.parse(ann.user.updated_at));
    expect(await profile(ann)).toEqual(res.body.data);
    expect(await profile(bob)).toEqual(bobBefore);

    const nameOnly = await ann.patch(`${API}/users/me`, { name: 'Ann' });
    expect(nameOnly.body.data).toMatchObject({ name: 'Ann', timezone: 'America/New_York' });
    const zoneOnly = await ann.patch(`${API}/users/me`, { timezone: 'UTC' });
    expect(zoneOnly.body.data).toMatchObject({ name: 'Ann', timezone: 'UTC' });
  });

  it('changes nothing for an empty body', async () => {
    const before = await profile(ann);
    const res = await ann.patch(`${API}/users/me`, {});
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual(before);
  });

  const refused: [string, Record<string, unknown>, string][] = [
    ['an empty name', { name: '' }, 'name'],
    ['a blank name', { name: '   ' }, 'name'],
    ['a name of 101 characters', { name: 'n'.repeat(101) }, 'name'],
    ['a non-string name', { name: 42 }, 'name'],
    ['a null name', { name: null }, 'name'],
    ['an unknown time zone', { timezone: 'Mars/Olympus' }, 'timezone'],
    ['an empty time zone', { timezone: '' }, 'timezone'],
    ['a good name with a bad time zone', { name: 'Changed', timezone: 'Not/AZone' }, 'timezone'],
    ['a bad name with a good time zone', { name: ' ', timezone: 'Europe/Berlin' }, 'name'],
    ['a role', { role: 'admin' }, 'role'],
    ['a good name with a role', { name: 'Changed', role: 'admin' }, 'role'],
    ['an email', { email: 'new@example.com' }, 'email'],
    ['a password', { password: 'a new password' }, 'password'],
    ['an id', { id: randomUUID() }, 'id'],
  ];

  it.each(refused)('refuses %s with 400 and changes nothing', async (_, body, field) => {
    const before = await profile(ann);
    const row = await dbUser(t, ann.user.id);
    expectValidation(await ann.patch(`${API}/users/me`, body), field);
    expect(await profile(ann)).toEqual(before);
    const after = await dbUser(t, ann.user.id);
    expect(after).toEqual(row);
    expect(after!.role).toBe('user');
  });

  it('never lets a user make themselves admin', async () => {
    expectValidation(await ann.patch(`${API}/users/me`, { role: 'admin' }), 'role');
    expect((await profile(ann)).role).toBe('user');
    expect((await dbUser(t, ann.user.id))!.role).toBe('user');
    // The role is real: the admin list stays closed to Ann, open to the admin.
    expectError(await ann.get(`${API}/users`), 403, 'FORBIDDEN');
    expect((await admin.get(`${API}/users`)).status).toBe(200);
  });

  it('never lets an admin change their own role either', async () => {
    expectValidation(await admin.patch(`${API}/users/me`, { role: 'user' }), 'role');
    expect((await profile(admin)).role).toBe('admin');
    expect((await admin.get(`${API}/users`)).status).toBe(200);
  });

  it('needs a token', async () => {
    expectUnauthorized(await new Client(t.app).patch(`${API}/users/me`, { name: 'Nobody' }));
  });
});

describe('PUT /users/me/password', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    await signUp(t.app, { name: 'Admin' });
  });
  afterAll(() => t.close());

  /** Ann with two sessions (registration and a login), and Bob. */
  async function cast() {
    const email = uniqueEmail('ann');
    const ann = await signUp(t.app, { email, name: 'Ann' });
    const second = await login(t.app, email, ann.password);
    expect(second.status).toBe(200);
    const bob = await signUp(t.app, { name: 'Bob' });
    return { ann, email, annSecond: as(t.app, second.body.data.token), bob };
  }

  /** Ann's password is still `password`: both sessions work, it logs in, `rejected` does not. */
  async function expectUnchanged(c: Awaited<ReturnType<typeof cast>>, hashBefore: string, rejected: string) {
    expect((await c.ann.get(`${API}/users/me`)).status).toBe(200);
    expect((await c.annSecond.get(`${API}/users/me`)).status).toBe(200);
    expect((await login(t.app, c.email, c.ann.password)).status).toBe(200);
    expectUnauthorized(await login(t.app, c.email, rejected));
    const row = await dbUser(t, c.ann.user.id);
    expect(row!.passwordHash).toBe(hashBefore);
  }

  it('refuses a wrong current password with 400 and changes nothing', async () => {
    const c = await cast();
    const hash = (await dbUser(t, c.ann.user.id))!.passwordHash;
    const res = await c.ann.put(`${API}/users/me/password`, {
      current_password: 'not my password',
      new_password: 'brand new password',
    });
    expect(expectValidation(res, 'current_password').details).toEqual([
      { field: 'current_password', message: expect.any(String) },
    ]);
    await expectUnchanged(c, hash, 'brand new password');
  });

  it.each([
    ['a 7-byte new password', 'abcdefg'],
    ['a 73-byte new password', 'a'.repeat(73)],
    ['a 74-byte new password of 37 characters', 'é'.repeat(37)],
  ])('refuses %s with 400 and changes nothing', async (_, newPassword) => {
    const c = await cast();
    const hash = (await dbUser(t, c.ann.user.id))!.passwordHash;
    const res = await c.ann.put(`${API}/users/me/password`, {
      current_password: c.ann.password,
      new_password: newPassword,
    });
    expectValidation(res, 'new_password');
    await expectUnchanged(c, hash, newPassword);
  });

  it.each([
    ['a missing current password', { new_password: 'brand new password' }, 'current_password'],
    ['a missing new password', { current_password: 'correct horse battery' }, 'new_password'],
    [
      'an unknown field',
      { current_password: 'correct horse battery', new_password: 'brand new password', confirm: 'x' },
      'confirm',
    ],
  ])('refuses %s with 400 and changes nothing', async (_, body, field) => {
    const c = await cast();
    const hash = (await dbUser(t, c.ann.user.id))!.passwordHash;
    expectValidation(await c.ann.put(`${API}/users/me/password`, body), field);
    await expectUnchanged(c, hash, 'brand new password');
  });

  it('changes the password, signs out every old session and returns a working new token', async () => {
    const c = await cast();
    const bobHash = (await dbUser(t, c.bob.user.id))!.passwordHash;
    const res = await c.ann.put(`${API}/users/me/password`, {
      current_password: c.ann.password,
      new_password: 'brand new password',
    });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(Object.keys(res.body.data).sort()).toEqual(['expires_at', 'token', 'token_type', 'user']);
    expect(res.body.data.token_type).toBe('Bearer');
    expect(res.body.data.user.id).toBe(c.ann.user.id);
    const fresh = res.body.data.token as string;
    expect(fresh).not.toBe(c.ann.token);
    expectNoSecrets(res);

    // Every old session is gone, including the one that made the change.
    expectUnauthorized(await c.ann.get(`${API}/users/me`));
    expectUnauthorized(await c.annSecond.get(`${API}/users/me`));
    expectUnauthorized(await c.annSecond.post(`${API}/projects`, { name: 'Too late' }));
    // The new token works.
    const own = await as(t.app, fresh).get(`${API}/users/me`);
    expect(own.status).toBe(200);
    expect(own.body.data.id).toBe(c.ann.user.id);
    // New password in, old password out.
    const relog = await login(t.app, c.email, 'brand new password');
    expect(relog.status).toBe(200);
    expect(relog.body.data.user.id).toBe(c.ann.user.id);
    expect((await as(t.app, relog.body.data.token).get(`${API}/users/me`)).status).toBe(200);
    expectUnauthorized(await login(t.app, c.email, c.ann.password));

    // Bob is untouched.
    expect((await c.bob.get(`${API}/users/me`)).status).toBe(200);
    expect((await login(t.app, c.bob.user.email, c.bob.password)).status).toBe(200);
    expect((await dbUser(t, c.bob.user.id))!.passwordHash).toBe(bobHash);
  });

  it('accepts the 72-byte boundary for the new password', async () => {
    const c = await cast();
    const res = await c.ann.put(`${API}/users/me/password`, {
      current_password: c.ann.password,
      new_password: 'é'.repeat(36),
    });
    expect(res.status).toBe(200);
    expect((await login(t.app, c.email, 'é'.repeat(36))).status).toBe(200);
  });

  it('needs a token', async () => {
    expectUnauthorized(
      await new Client(t.app).put(`${API}/users/me/password`, {
        current_password: 'correct horse battery',
        new_password: 'brand new password',
      }),
    );
  });
});

describe('DELETE /users/me', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    await signUp(t.app, { name: 'Admin' });
  });
  afterAll(() => t.close());

  async function cast() {
    const email = uniqueEmail('ann');
    const ann = await signUp(t.app, { email, name: 'Ann' });
    const annData = await seedData(ann);
    const second = await login(t.app, email, ann.password);
    const bob = await signUp(t.app, { name: 'Bob' });
    const bobData = await seedData(bob);
    return { ann, email, annData, annSecond: as(t.app, second.body.data.token), bob, bobData };
  }

  it.each([
    ['a wrong password', { password: 'not my password' }, 'password'],
    ['a missing password', {}, 'password'],
    ['an empty password', { password: '' }, 'password'],
    ['an unknown field', { password: 'correct horse battery', force: true }, 'force'],
  ])('refuses %s with 400 and deletes nothing', async (_, body, field) => {
    const c = await cast();
    const before = await counts(t, c.ann.user.id);
    expect(before).toEqual({ users: 1, projects: 2, tasks: 3 });
    expectValidation(await c.ann.delete(`${API}/users/me`, body), field);
    expect(await counts(t, c.ann.user.id)).toEqual(before);
    expect((await c.ann.get(`${API}/users/me`)).status).toBe(200);
    expect((await c.ann.get(`${API}/tasks`)).body.meta.total).toBe(3);
    expect((await login(t.app, c.email, c.ann.password)).status).toBe(200);
  });

  it('refuses a request without a body', async () => {
    const c = await cast();
    expectError(await c.ann.delete(`${API}/users/me`), 400, 'VALIDATION_ERROR');
    expect(await counts(t, c.ann.user.id)).toEqual({ users: 1, projects: 2, tasks: 3 });
  });

  it('deletes the account with its projects and tasks, and nothing of anyone else', async () => {
    const c = await cast();
    const bobBefore = await counts(t, c.bob.user.id);
    expect(bobBefore).toEqual({ users: 1, projects: 2, tasks: 3 });

    const res = await c.ann.delete(`${API}/users/me`, { password: c.ann.password });
    expect(res.status).toBe(204);
    expect(res.raw).toBe('');

    // Every token of Ann is dead, and so is her login.
    expectUnauthorized(await c.ann.get(`${API}/users/me`));
    expectUnauthorized(await c.annSecond.get(`${API}/users/me`));
    expectUnauthorized(await c.annSecond.get(`${API}/tasks`));
    expectUnauthorized(await login(t.app, c.email, c.ann.password));

    // Straight from the database: nothing of Ann is left.
    expect(await counts(t, c.ann.user.id)).toEqual({ users: 0, projects: 0, tasks: 0 });
    const db = t.core.database.db;
    for (const id of c.annData.tasks) {
      expect(await db.select().from(tasks).where(eq(tasks.id, id))).toEqual([]);
    }
    for (const id of c.annData.projects) {
      expect(await db.select().from(projects).where(eq(projects.id, id))).toEqual([]);
    }

    // Bob's account and data are untouched, by the database and by the API.
    expect(await counts(t, c.bob.user.id)).toEqual(bobBefore);
    const bobTasks = await c.bob.get(`${API}/tasks`);
    expect(bobTasks.status).toBe(200);
    expect(bobTasks.body.data.map((x: any) => x.id).sort()).toEqual([...c.bobData.tasks].sort());
    const bobProjects = await c.bob.get(`${API}/projects`);
    expect(bobProjects.body.data.map((x: any) => x.id).sort()).toEqual([...c.bobData.projects].sort());
    expect((await login(t.app, c.bob.user.email, c.bob.password)).status).toBe(200);
  });

  it('frees the email: a new account with it starts empty', async () => {
    const c = await cast();
    expect((await c.ann.delete(`${API}/users/me`, { password: c.ann.password })).status).toBe(204);
    const again = await signUp(t.app, { email: c.email, name: 'Ann again', password: 'another password' });
    expect(again.user.id).not.toBe(c.ann.user.id);
    expect(again.user.role).toBe('user');
    expect((await again.get(`${API}/tasks`)).body.meta.total).toBe(0);
    expect((await again.get(`${API}/projects`)).body.meta.total).toBe(0);
    // The old token does not come back to life with the email.
    expectUnauthorized(await c.ann.get(`${API}/users/me`));
  });

  it('needs a token', async () => {
    expectUnauthorized(
      await new Client(t.app).delete(`${API}/users/me`, { password: 'correct horse battery' }),
    );
  });
});

describe('GET /users (admin list)', () => {
  let t: TestApp;
  let admin: SignedUp;
  let ann: SignedUp;
  const others: SignedUp[] = [];
  beforeAll(async () => {
    t = await createTestApp();
    admin = await signUp(t.app, { name: 'Admin' });
    ann = await signUp(t.app, { name: 'Ann' });
    for (let i = 0; i < 4; i++) others.push(await signUp(t.app, { name: `User ${i}` }));
  });
  afterAll(() => t.close());

  it('lists every user for an admin, with page meta', async () => {
    expect(admin.user.role).toBe('admin');
    const res = await admin.get(`${API}/users`);
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.meta).toEqual({ page: 1, limit: 20, total: 6, total_pages: 1 });
    expect(res.body.data).toHaveLength(6);
    for (const u of res.body.data) expect(Object.keys(u).sort()).toEqual(USER_KEYS);
    const expected = [admin, ann, ...others].map((u) => u.user);
    expect([...res.body.data].sort((a: any, b: any) => a.id.localeCompare(b.id))).toEqual(
      [...expected].sort((a, b) => a.id.localeCompare(b.id)),
    );
    expect(res.body.data.filter((u: any) => u.role === 'admin').map((u: any) => u.id)).toEqual([
      admin.user.id,
    ]);
  });

  it('pages without gaps or repeats', async () => {
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const res = await admin.get(`${API}/users?page=${page}&limit=2`);
      expect(res.status).toBe(200);
      expect(res.body.meta).toEqual({ page, limit: 2, total: 6, total_pages: 3 });
      expect(res.body.data).toHaveLength(2);
      seen.push(...res.body.data.map((u: any) => u.id));
    }
    expect(new Set(seen).size).toBe(6);
    expect([...seen].sort()).toEqual([admin, ann, ...others].map((u) => u.user.id).sort());
    const beyond = await admin.get(`${API}/users?page=4&limit=2`);
    expect(beyond.status).toBe(200);
    expect(beyond.body.data).toEqual([]);
    expect(beyond.body.meta).toEqual({ page: 4, limit: 2, total: 6, total_pages: 3 });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['page=0', 'page'],
    ['page=abc', 'page'],
    ['role=admin', 'role'],
  ])('refuses ?%s with 400', async (query, field) => {
    expectValidation(await admin.get(`${API}/users?${query}`), field);
  });

  it('answers 403 FORBIDDEN to a normal user, with no data', async () => {
    const res = await ann.get(`${API}/users`);
    expectError(res, 403, 'FORBIDDEN');
    expect(res.body.data).toBeUndefined();
    expect(res.raw).not.toContain(admin.user.email);
    expectError(await others[0]!.get(`${API}/users?page=1&limit=100`), 403, 'FORBIDDEN');
  });

  it('answers 401 without a valid token', async () => {
    expectUnauthorized(await new Client(t.app).get(`${API}/users`));
    expectUnauthorized(await new Client(t.app, 'not-a-token').get(`${API}/users`));
  });
});

describe('the password hash never leaves the server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('is absent from every response about a user', async () => {
    const email = uniqueEmail('hash');
    const password = 'correct horse battery';
    const registered = await new Client(t.app).post(`${API}/auth/register`, {
      email,
      password,
      name: 'Hash',
    });
    expect(registered.status).toBe(201);
    const id = registered.body.data.user.id as string;
    const token = registered.body.data.token as string;
    const hash = (await dbUser(t, id))!.passwordHash;
    expect(hash).toMatch(HASH);
    expectNoSecrets(registered, hash);

    const loggedIn = await login(t.app, email, password);
    expect(loggedIn.status).toBe(200);
    expectNoSecrets(loggedIn, hash);

    const c = as(t.app, token);
    const me = await c.get(`${API}/users/me`);
    expect(me.status).toBe(200);
    expectNoSecrets(me, hash);

    const patched = await c.patch(`${API}/users/me`, { name: 'Hash Two' });
    expect(patched.status).toBe(200);
    expectNoSecrets(patched, hash);

    const listBefore = await c.get(`${API}/users`);
    expect(listBefore.status).toBe(200); // the first account: an admin
    expectNoSecrets(listBefore, hash);

    const changed = await c.put(`${API}/users/me/password`, {
      current_password: password,
      new_password: 'brand new password',
    });
    expect(changed.status).toBe(200);
    const newHash = (await dbUser(t, id))!.passwordHash;
    expect(newHash).not.toBe(hash);
    expectNoSecrets(changed, newHash);

    // The admin list, with a second user in it.
    await signUp(t.app, { name: 'Other' });
    const list = await as(t.app, changed.body.data.token).get(`${API}/users`);
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(2);
    expectNoSecrets(list, newHash);
  });
});
