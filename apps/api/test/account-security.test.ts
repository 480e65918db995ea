// Account security: admins disabling accounts and changing roles, the audit log, per-account
// sign-in throttling and the password rules (common passwords, the email as password).
import { loginThrottle, users } from '@taskman/core';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, signUp, uniqueEmail } from './helpers/client';
import { fakeClock } from './helpers/clock';

const API = '/api/v1';
type SignedUp = Awaited<ReturnType<typeof signUp>>;

const login = (t: TestApp, email: string, password: string, headers: Record<string, string> = {}) =>
  new Client(t.app).post(`${API}/auth/login`, { email, password }, headers);

async function createKey(user: SignedUp) {
  const res = await user.post(`${API}/api-keys`, { name: 'ci', scopes: ['tasks:read', 'tasks:write'] });
  expect(res.status).toBe(201);
  return res.body.data as { id: string; key: string };
}

describe('admins disable and re-enable accounts, and change roles', () => {
  let t: TestApp;
  let admin: SignedUp;
  let ann: SignedUp;
  let bob: SignedUp;
  let annEmail: string;
  beforeAll(async () => {
    t = await createTestApp();
    admin = await signUp(t.app, { name: 'Admin' });
    expect(admin.user.role).toBe('admin');
    annEmail = uniqueEmail('ann');
    ann = await signUp(t.app, { email: annEmail, name: 'Ann' });
    bob = await signUp(t.app, { name: 'Bob' });
  });
  afterAll(() => t.close());

  it('disabling stops the account’s tokens and API keys at once; sign-in is 403, and only with the right password', async () => {
    const key = await createKey(ann);
    const viaKey = new Client(t.app, key.key);
    expect((await ann.get(`${API}/tasks`)).status).toBe(200);
    expect((await viaKey.get(`${API}/tasks`)).status).toBe(200);

    const res = await admin.patch(`${API}/admin/users/${ann.user.id}`, { disabled: true });
    expect(res.status).toBe(200);
    expect(res.body.data.id).toBe(ann.user.id);
    expect(Date.parse(res.body.data.disabled_at)).not.toBeNaN();

    expect(expectError(await ann.get(`${API}/tasks`), 401, 'UNAUTHORIZED').message).toMatch(
      /disabled|revoked/,
    );
    expect(expectError(await viaKey.get(`${API}/tasks`), 401, 'UNAUTHORIZED').message).toMatch(/disabled/);
    expect(expectError(await login(t, annEmail, ann.password), 403, 'FORBIDDEN').message).toMatch(/disabled/);
    // A wrong password says nothing about the account's state.
    expectError(await login(t, annEmail, 'not the password at all'), 401, 'UNAUTHORIZED');
    // Others are untouched.
    expect((await bob.get(`${API}/tasks`)).status).toBe(200);

    const listed = await admin.get(`${API}/users?q=${encodeURIComponent(annEmail)}`);
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0].disabled_at).toBe(res.body.data.disabled_at);

    const enabled = await admin.patch(`${API}/admin/users/${ann.user.id}`, { disabled: false });
    expect(enabled.status).toBe(200);
    expect(enabled.body.data.disabled_at).toBeNull();
    const again = await login(t, annEmail, ann.password);
    expect(again.status).toBe(200);
    // The API key works again; the old session stays signed out (disabling ended every session).
    expect((await viaKey.get(`${API}/tasks`)).status).toBe(200);
    expectError(await ann.get(`${API}/tasks`), 401, 'UNAUTHORIZED');
    ann.token = again.body.data.token;
  });

  it('promotes and demotes; the cached role follows at once', async () => {
    expectError(await bob.get(`${API}/users`), 403, 'FORBIDDEN');
    const up = await admin.patch(`${API}/admin/users/${bob.user.id}`, { role: 'admin' });
    expect(up.body.data.role).toBe('admin');
    expect((await bob.get(`${API}/users`)).status).toBe(200);
    const down = await admin.patch(`${API}/admin/users/${bob.user.id}`, { role: 'user' });
    expect(down.body.data.role).toBe('user');
    expectError(await bob.get(`${API}/users`), 403, 'FORBIDDEN');
  });

  it('refuses to let admins disable or demote themselves (409), and bad requests change nothing', async () => {
    expectError(
      await admin.patch(`${API}/admin/users/${admin.user.id}`, { disabled: true }),
      409,
      'CONFLICT',
    );
    expectError(await admin.patch(`${API}/admin/users/${admin.user.id}`, { role: 'user' }), 409, 'CONFLICT');
    expectError(await admin.patch(`${API}/admin/users/${bob.user.id}`, {}), 400, 'VALIDATION_ERROR');
    expectError(
      await admin.patch(`${API}/admin/users/${bob.user.id}`, { disabled: 'yes' }),
      400,
      'VALIDATION_ERROR',
    );
    expectError(
      await admin.patch(`${API}/admin/users/${bob.user.id}`, { role: 'root' }),
      400,
      'VALIDATION_ERROR',
    );
    expectError(
      await admin.patch(`${API}/admin/users/${bob.user.id}`, { disabled: true, email: 'x@example.com' }),
      400,
      'VALIDATION_ERROR',
    );
    expectError(
      await admin.patch(`${API}/admin/users/01890000-0000-7000-8000-000000000000`, { disabled: true }),
      404,
      'NOT_FOUND',
    );
    expectError(
      await admin.patch(`${API}/admin/users/not-a-uuid`, { disabled: true }),
      400,
      'VALIDATION_ERROR',
    );
    const [row] = await t.core.database.db.select().from(users).where(eq(users.id, bob.user.id));
    expect(row!.disabledAt).toBeNull();
    expect(row!.role).toBe('user');
    expect((await admin.get(`${API}/users/me`)).body.data.role).toBe('admin');
  });

  it('is for admins only: users and API keys get 403 and change nothing', async () => {
    expectError(await bob.patch(`${API}/admin/users/${ann.user.id}`, { disabled: true }), 403, 'FORBIDDEN');
    expectError(await bob.patch(`${API}/admin/users/${bob.user.id}`, { role: 'admin' }), 403, 'FORBIDDEN');
    const adminKey = await createKey(admin);
    expectError(
      await new Client(t.app, adminKey.key).patch(`${API}/admin/users/${bob.user.id}`, { disabled: true }),
      403,
      'FORBIDDEN',
    );
    expectError(
      await new Client(t.app).patch(`${API}/admin/users/${bob.user.id}`, { disabled: true }),
      401,
      'UNAUTHORIZED',
    );
    const [row] = await t.core.database.db.select().from(users).where(eq(users.id, bob.user.id));
    expect(row!.disabledAt).toBeNull();
    expect(row!.role).toBe('user');
  });

  it('searches users by part of an email or name, in any case; wildcards are literal', async () => {
    const res = await admin.get(`${API}/users?q=ANN`);
    expect(res.body.data.map((u: { id: string }) => u.id)).toEqual([ann.user.id]);
    expect(res.body.meta.total).toBe(1);
    expect((await admin.get(`${API}/users?q=bo`)).body.data.map((u: { name: string }) => u.name)).toEqual([
      'Bob',
    ]);
    expect((await admin.get(`${API}/users?q=%25`)).body.data).toEqual([]);
    expect((await admin.get(`${API}/users?q=_`)).body.data).toEqual([]);
    expectError(await admin.get(`${API}/users?q=`), 400, 'VALIDATION_ERROR');
  });
});

describe('the audit log', () => {
  let t: TestApp;
  let admin: SignedUp;
  let ann: SignedUp;
  let bob: SignedUp;
  let annEmail: string;
  beforeAll(async () => {
    t = await createTestApp();
    admin = await signUp(t.app, { name: 'Admin' });
    annEmail = uniqueEmail('ann');
    ann = await signUp(t.app, { email: annEmail, name: 'Ann' });
    bob = await signUp(t.app, { name: 'Bob' });
  });
  afterAll(() => t.close());

  const search = async (query: string) => {
    const res = await admin.get(`${API}/admin/audit?limit=100&${query}`);
    expect(res.status).toBe(200);
    return res.body.data as Record<string, any>[];
  };

  it('records sign-ins with actor, target, address, user agent and request id', async () => {
    const ua = { 'user-agent': 'AuditTest/1.0' };
    const ok = await login(t, annEmail, ann.password, ua);
    expect(ok.status).toBe(200);
    const [entry] = await search(`action=auth.login&actor_id=${ann.user.id}`);
    expect(entry).toMatchObject({
      actor_id: ann.user.id,
      api_key_id: null,
      action: 'auth.login',
      target_type: 'user',
      target_id: ann.user.id,
      ip: '127.0.0.1',
      user_agent: 'AuditTest/1.0',
      request_id: ok.headers['x-request-id'],
    });
    expect(Math.abs(Date.parse(entry!.at) - Date.now())).toBeLessThan(600_000);
  });

  it('records failed sign-ins, for known and unknown emails alike, without the password', async () => {
    const wrong = await login(t, annEmail, 'wrong password 1');
    const unknownEmail = uniqueEmail('nobody');
    await login(t, unknownEmail, 'wrong password 2');
    const failed = await search('action=auth.login_failed');
    const forAnn = failed.find((e) => e.request_id === wrong.headers['x-request-id']);
    expect(forAnn).toMatchObject({ actor_id: null, target_type: 'user', target_id: ann.user.id });
    expect(forAnn!.details).toMatchObject({ email: annEmail, failures: 1 });
    const forNobody = failed.find((e) => e.details?.email === unknownEmail);
    expect(forNobody).toMatchObject({ actor_id: null, target_id: null });
    const all = JSON.stringify(await search(''));
    expect(all).not.toContain('wrong password');
  });

  it('records a failed sign-in whose email holds a lone UTF-16 surrogate (jsonb refuses those) as 401, not 500', async () => {
    const res = await new Client(t.app).request(
      'POST',
      `${API}/auth/login`,
      '{"email":"\\ud800x@example.com","password":"whatever it is"}',
      { 'content-type': 'application/json' },
    );
    expectError(res, 401, 'UNAUTHORIZED');
    const [entry] = await search(`action=auth.login_failed`);
    expect(entry!.request_id).toBe(res.headers['x-request-id']);
    expect(entry!.details.email).toBe('\uFFFDx@example.com');
  });

  it('records task and project changes with the changed field names, not their content', async () => {
    const project = (await ann.post(`${API}/projects`, { name: 'Secret project' })).body.data;
    const task = (await ann.post(`${API}/tasks`, { title: 'Confidential title', project_id: project.id }))
      .body.data;
    await ann.patch(`${API}/tasks/${task.id}`, { title: 'Still confidential', priority: 'high' });
    await ann.delete(`${API}/tasks/${task.id}`);
    const entries = await search(`target_id=${task.id}`);
    expect(entries.map((e) => e.action)).toEqual(['task.deleted', 'task.updated', 'task.created']);
    expect(entries.every((e) => e.actor_id === ann.user.id && e.target_type === 'task')).toBe(true);
    expect(entries[1]!.details.changed.sort()).toEqual(['priority', 'title']);
    expect((await search(`target_id=${project.id}`)).map((e) => e.action)).toEqual(['project.created']);
    expect(JSON.stringify(await search('action=task.'))).not.toMatch(/confidential/i);
  });

  it('records API keys (with the key used as actor), password changes, sign-outs and admin actions', async () => {
    const key = await createKey(ann);
    await new Client(t.app, key.key).post(`${API}/tasks`, { title: 'via key' });
    const viaKey = (await search(`action=task.created&actor_id=${ann.user.id}`)).find(
      (e) => e.api_key_id === key.id,
    );
    expect(viaKey).toBeDefined();
    await ann.delete(`${API}/api-keys/${key.id}`);
    expect((await search(`target_id=${key.id}`)).map((e) => e.action)).toEqual([
      'api_key.revoked',
      'api_key.created',
    ]);
    const changed = await ann.put(`${API}/users/me/password`, {
      current_password: ann.password,
      new_password: 'a brand new passphrase',
    });
    expect(changed.status).toBe(200);
    ann.token = changed.body.data.token;
    ann.password = 'a brand new passphrase';
    await ann.post(`${API}/auth/logout`);
    const mine = (await search(`actor_id=${ann.user.id}`)).map((e) => e.action);
    expect(mine).toEqual(expect.arrayContaining(['user.password_changed', 'auth.logout']));

    await admin.patch(`${API}/admin/users/${bob.user.id}`, { disabled: true });
    await admin.patch(`${API}/admin/users/${bob.user.id}`, { disabled: false, role: 'admin' });
    const onBob = await search(`action=admin.&target_id=${bob.user.id}`);
    expect(onBob.map((e) => e.action).sort()).toEqual([
      'admin.role_changed',
      'admin.user_disabled',
      'admin.user_enabled',
    ]);
    expect(onBob.every((e) => e.actor_id === admin.user.id)).toBe(true);
    expect(onBob.find((e) => e.action === 'admin.role_changed')!.details).toEqual({
      from: 'user',
      to: 'admin',
    });
  });

  it('keeps the record of a deleted account', async () => {
    const gone = await signUp(t.app, { name: 'Gone' });
    await gone.post(`${API}/tasks`, { title: 'soon gone' });
    const res = await gone.delete(`${API}/users/me`, { password: gone.password });
    expect(res.status).toBe(204);
    const actions = (await search(`actor_id=${gone.user.id}`)).map((e) => e.action);
    expect(actions).toEqual(['user.deleted', 'task.created', 'auth.register']);
  });

  it('filters by time range and pages newest first without gaps or repeats', async () => {
    const all = await search('');
    const total = (await admin.get(`${API}/admin/audit?limit=1`)).body.meta.total;
    expect(total).toBe(all.length);
    const seen: string[] = [];
    for (let page = 1; page <= Math.ceil(total / 7); page++) {
      const res = await admin.get(`${API}/admin/audit?limit=7&page=${page}`);
      seen.push(...res.body.data.map((e: { id: string }) => e.id));
    }
    expect(seen).toEqual(all.map((e) => e.id));
    const times = all.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(await search(`to=${encodeURIComponent(new Date(Date.now() - 86_400_000).toISOString())}`)).toEqual(
      [],
    );
    expect(
      (await search(`from=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).length,
    ).toBe(all.length);
  });

  it('refuses bad filters with 400, and is for admins only', async () => {
    for (const q of [
      'actor_id=nope',
      'action=DROP%20TABLE',
      'limit=1000',
      'from=yesterday',
      'page=0',
      'evil=1',
    ]) {
      expectError(await admin.get(`${API}/admin/audit?${q}`), 400, 'VALIDATION_ERROR');
    }
    const user = await signUp(t.app);
    expectError(await user.get(`${API}/admin/audit`), 403, 'FORBIDDEN');
    expectError(await new Client(t.app).get(`${API}/admin/audit`), 401, 'UNAUTHORIZED');
  });

  it('shows users their own activity, including failed sign-ins on their account, and nobody else’s', async () => {
    const carol = await signUp(t.app, { name: 'Carol' });
    const carolEmail = carol.user.email as string;
    await login(t, carolEmail, 'not carol’s password');
    await carol.post(`${API}/projects`, { name: 'Mine' });
    await bob.post(`${API}/projects`, { name: 'Not Carol’s' });
    const res = await carol.get(`${API}/users/me/activity`);
    expect(res.status).toBe(200);
    const actions = res.body.data.map((e: { action: string }) => e.action);
    expect(actions).toEqual(['project.created', 'auth.login_failed', 'auth.register']);
    for (const e of res.body.data) {
      expect(e.actor_id === carol.user.id || e.target_id === carol.user.id).toBe(true);
    }
    const filtered = await carol.get(`${API}/users/me/activity?action=auth.`);
    expect(filtered.body.data.map((e: { action: string }) => e.action)).toEqual([
      'auth.login_failed',
      'auth.register',
    ]);
    // Sessions only: an API key cannot read where its owner signs in from.
    const key = await createKey(carol);
    expectError(await new Client(t.app, key.key).get(`${API}/users/me/activity`), 403, 'FORBIDDEN');
  });
});

describe('per-account sign-in throttling', () => {
  let t: TestApp;
  const clock = fakeClock();
  let ann: SignedUp;
  let annEmail: string;
  beforeAll(async () => {
    t = await createTestApp({ clock });
    annEmail = uniqueEmail('ann');
    ann = await signUp(t.app, { email: annEmail });
  });
  afterAll(() => t.close());

  const fail = (email: string) => login(t, email, 'definitely wrong');

  async function expectLocked(email: string, password: string, seconds: number) {
    const res = await login(t, email, password);
    const error = expectError(res, 429, 'RATE_LIMITED');
    expect(error.message).toMatch(/failed sign-ins/);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(seconds - 2);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(seconds);
    return res;
  }

  it('after 5 failures refuses even the right password, for a delay that doubles with each failure', async () => {
    for (let i = 0; i < 5; i++) expectError(await fail(annEmail), 401, 'UNAUTHORIZED');
    await expectLocked(annEmail, ann.password, 15);
    clock.advance(16_000);
    expectError(await fail(annEmail), 401, 'UNAUTHORIZED');
    await expectLocked(annEmail, ann.password, 30);
    clock.advance(31_000);
    expectError(await fail(annEmail), 401, 'UNAUTHORIZED');
    await expectLocked(annEmail, ann.password, 60);
    clock.advance(61_000);
    // The right password, once the wait is over, signs in and clears the count.
    expect((await login(t, annEmail, ann.password)).status).toBe(200);
    expectError(await fail(annEmail), 401, 'UNAUTHORIZED');
    expect((await login(t, annEmail, ann.password)).status).toBe(200);
  });

  it('throttles an unregistered email exactly the same way (no enumeration)', async () => {
    const ghost = uniqueEmail('ghost');
    const known = uniqueEmail('known');
    await signUp(t.app, { email: known });
    const answers = async (email: string) => {
      const out: string[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await fail(email);
        out.push(
          `${res.status} ${res.body.error.code} ${res.body.error.message} ${res.headers['retry-after'] ?? ''}`,
        );
      }
      return out;
    };
    expect(await answers(ghost)).toEqual(await answers(known));
  });

  it('keeps separate counts per address, whatever the case, and forgets failures after an hour', async () => {
    const cara = uniqueEmail('cara');
    const caraUser = await signUp(t.app, { email: cara });
    for (let i = 0; i < 4; i++) await fail(cara.toUpperCase());
    // Another address is not affected.
    expect((await login(t, annEmail, ann.password)).status).toBe(200);
    clock.advance(61 * 60_000);
    for (let i = 0; i < 4; i++) expectError(await fail(cara), 401, 'UNAUTHORIZED');
    expect((await login(t, cara, caraUser.password)).status).toBe(200);
  });

  it('stores no email address, only a keyed hash', async () => {
    const rows = await t.core.database.db.select().from(loginThrottle);
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toMatch(/example\.com/i);
  });
});

describe('password rules', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it.each(['password123', 'Password1', 'QWERTY123', '12345678', 'iloveyou', 'p@ssw0rd'])(
    'refuses the common password %s at registration, creating nothing',
    async (password) => {
      const email = uniqueEmail('common');
      const res = await new Client(t.app).post(`${API}/auth/register`, { email, password, name: 'C' });
      const error = expectError(res, 400, 'VALIDATION_ERROR');
      expect(error.details).toEqual([{ field: 'password', message: expect.stringMatching(/common/) }]);
      const [row] = await t.core.database.db.select({ n: count() }).from(users).where(eq(users.email, email));
      expect(Number(row!.n)).toBe(0);
    },
  );

  it('refuses the email address as the password', async () => {
    const email = uniqueEmail('self');
    const res = await new Client(t.app).post(`${API}/auth/register`, { email, password: email, name: 'S' });
    expect(expectError(res, 400, 'VALIDATION_ERROR').details![0]!.message).toMatch(/email/);
  });

  it('refuses a common new password, keeping the old one', async () => {
    const user = await signUp(t.app);
    const res = await user.put(`${API}/users/me/password`, {
      current_password: user.password,
      new_password: 'qwerty123',
    });
    expect(expectError(res, 400, 'VALIDATION_ERROR').details![0]!.field).toBe('new_password');
    expect((await login(t, user.user.email, user.password)).status).toBe(200);
  });

  it('accepts an uncommon passphrase', async () => {
    const res = await new Client(t.app).post(`${API}/auth/register`, {
      email: uniqueEmail('ok'),
      password: 'violet tractor umbrella',
      name: 'Ok',
    });
    expect(res.status).toBe(201);
  });
});
