// OWASP API5:2023 Broken Function Level Authorization. Every admin function of the OpenAPI
// document (paths under /admin, the user list) and Bull Board (/admin/queues) is called by a plain
// user, by API keys with every scope (an admin's included), anonymously, by an admin from outside
// ADMIN_IP_ALLOWLIST (X-Forwarded-For does not help), with other HTTP methods and with spellings
// of the path: never a 2xx, and nothing changes.
//
// The tests named CONTRACT check what was specified alongside them: PATCH /api/v1/admin/users/{id}
// with {"disabled": boolean} or {"role": "user"|"admin"}, and GET /api/v1/admin/audit, attacked
// (and required in the document) by name, whatever the document says.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, redisEnv, type TestApp } from '../helpers/app';
import { Client, expectError, type Res, signUp } from '../helpers/client';
import { query } from '../helpers/wait';
import {
  ALL_SCOPES,
  API,
  changedTables,
  fill,
  loadSpec,
  type Method,
  operations,
  REFUSED_MAY_TOUCH,
  type SignedUp,
  snapshot,
  withKey,
} from './support';

interface AdminCall {
  method: Method;
  path: string;
  body?: (victimId: string) => unknown;
  contract?: boolean;
}

/** The admin functions of the CONTRACT, with the bodies they take (checked even if undocumented). */
const CONTRACT_CALLS: AdminCall[] = [
  { method: 'PATCH', path: `${API}/admin/users/{id}`, body: () => ({ disabled: true }), contract: true },
  { method: 'PATCH', path: `${API}/admin/users/{id}`, body: () => ({ role: 'admin' }), contract: true },
  { method: 'GET', path: `${API}/admin/audit`, contract: true },
];
const BODIES: Record<string, () => unknown> = {
  'POST /api/v1/admin/jobs/retry': () => ({ id: 'some-failed-job' }),
};

describe('API5:2023 Broken Function Level Authorization', () => {
  let t: TestApp;
  let admin: SignedUp;
  let ann: SignedUp;
  let calls: AdminCall[];
  const boardPaths = ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/api/redis/stats'];

  beforeAll(async () => {
    // With Redis, so that Bull Board is mounted too.
    t = await createTestApp({ env: redisEnv() });
    admin = await signUp(t.app, { name: 'Admin' });
    ann = await signUp(t.app, { name: 'Ann' });
    expect(admin.user.role).toBe('admin');
    expect(ann.user.role).toBe('user');
    const ops = operations(await loadSpec(t.app));
    const documented: AdminCall[] = ops
      .filter((o) => o.path.startsWith(`${API}/admin/`) || o.key === `GET ${API}/users`)
      .flatMap((o) => {
        const contract = CONTRACT_CALLS.filter((c) => c.method === o.method && c.path === o.path);
        return contract.length ? contract : [{ method: o.method, path: o.path, body: BODIES[o.key] }];
      });
    calls = documented;
  });
  afterAll(() => t?.close());

  const urlOf = (c: AdminCall, victimId: string) => fill(c.path, { id: victimId });

  async function each(client: Client, expectRes: (res: Res, what: string) => void, list = calls) {
    const before = await snapshot(t, REFUSED_MAY_TOUCH);
    const roles = await query(t, sql`select id, role from users order by id`);
    for (const c of list) {
      const res = await client.request(c.method, urlOf(c, ann.user.id), c.body?.(ann.user.id));
      expectRes(
        res,
        `${c.method} ${c.path}${c.contract ? ' (CONTRACT)' : ''} ${JSON.stringify(c.body?.(''))}`,
      );
    }
    expect(changedTables(before, await snapshot(t, REFUSED_MAY_TOUCH))).toEqual([]);
    expect(await query(t, sql`select id, role from users order by id`)).toEqual(roles);
  }
  const forbidden = (res: Res, what: string) => {
    if (res.status !== 403) throw new Error(`${what}: expected 403, got ${res.status} ${res.raw}`);
    expectError(res, 403, 'FORBIDDEN');
    expect(res.body.data, what).toBeUndefined();
  };

  it('lists the admin functions of the document', () => {
    const keys = calls.map((c) => `${c.method} ${c.path}`);
    expect(keys).toEqual(
      expect.arrayContaining([
        `GET ${API}/users`,
        `GET ${API}/admin/jobs`,
        `GET ${API}/admin/dashboard`,
        `POST ${API}/admin/jobs/retry`,
      ]),
    );
  });

  it('CONTRACT: documents PATCH /admin/users/{id} and GET /admin/audit', () => {
    const keys = calls.map((c) => `${c.method} ${c.path}`);
    expect(keys).toEqual(expect.arrayContaining([`PATCH ${API}/admin/users/{id}`, `GET ${API}/admin/audit`]));
  });

  it('CONTRACT: refuses the new admin functions to users (403), keys (403) and anonymous callers (401)', async () => {
    const annKey = (await ann.post(`${API}/api-keys`, { name: 'all', scopes: ALL_SCOPES })).body.data.key;
    await each(ann, forbidden, CONTRACT_CALLS);
    await each(withKey(t.app, annKey), forbidden, CONTRACT_CALLS);
    await each(
      new Client(t.app),
      (res, what) => {
        if (res.status !== 401) throw new Error(`${what}: expected 401, got ${res.status} ${res.raw}`);
      },
      CONTRACT_CALLS,
    );
    // Making oneself an admin, or switching the admin off.
    for (const [id, body] of [
      [ann.user.id, { role: 'admin' }],
      [admin.user.id, { disabled: true }],
      [admin.user.id, { role: 'user' }],
    ] as const) {
      forbidden(
        await ann.patch(`${API}/admin/users/${id}`, body),
        `PATCH admin/users ${JSON.stringify(body)}`,
      );
    }
    expect((await ann.get(`${API}/users/me`)).body.data.role).toBe('user');
    expect((await admin.get(`${API}/users`)).status).toBe(200);
  });

  it('CONTRACT: an admin disables an account: its token and keys stop working at once, and it cannot sign in', async () => {
    const cleo = await signUp(t.app, { name: 'Cleo', password: 'cleo-long-password-1' });
    const key = (await cleo.post(`${API}/api-keys`, { name: 'k', scopes: ALL_SCOPES })).body.data.key;
    expect((await withKey(t.app, key).get(`${API}/tasks`)).status).toBe(200);
    const off = await admin.patch(`${API}/admin/users/${cleo.user.id}`, { disabled: true });
    expect(off.status, off.raw).toBe(200);
    expectError(await cleo.get(`${API}/users/me`), 401, 'UNAUTHORIZED');
    expectError(await withKey(t.app, key).get(`${API}/tasks`), 401, 'UNAUTHORIZED');
    const login = await new Client(t.app).post(`${API}/auth/login`, {
      email: cleo.user.email,
      password: 'cleo-long-password-1',
    });
    expect([401, 403]).toContain(login.status);
    expect(login.body.data).toBeUndefined();
    // The audit log records it, and only admins read it.
    const audit = await admin.get(`${API}/admin/audit`);
    expect(audit.status).toBe(200);
    expect(audit.raw).toContain(cleo.user.id);
    forbidden(await ann.get(`${API}/admin/audit`), 'audit as a user');
  });

  it('answers a plain user 403 on every admin function, and changes nothing (not their own role either)', async () => {
    await each(ann, forbidden);
    expect((await ann.get(`${API}/users/me`)).body.data.role).toBe('user');
    expect((await admin.get(`${API}/users`)).status).toBe(200);
  });

  it('answers API keys 403 on every admin function, an admin’s key with every scope included', async () => {
    const adminKey = (await admin.post(`${API}/api-keys`, { name: 'all', scopes: ALL_SCOPES })).body.data.key;
    const annKey = (await ann.post(`${API}/api-keys`, { name: 'all', scopes: ALL_SCOPES })).body.data.key;
    await each(withKey(t.app, adminKey), forbidden);
    await each(withKey(t.app, annKey), forbidden);
  });

  it('answers anonymous callers and bad tokens 401 on every admin function', async () => {
    const unauthorized = (res: Res, what: string) => {
      if (res.status !== 401) throw new Error(`${what}: expected 401, got ${res.status} ${res.raw}`);
      expectError(res, 401, 'UNAUTHORIZED');
    };
    await each(new Client(t.app), unauthorized);
    await each(new Client(t.app, 'not-a-token'), unauthorized);
  });

  it('lets the admin in (the control): every admin function answers the admin', async () => {
    for (const c of calls.filter((x) => x.method === 'GET')) {
      const res = await admin.get(urlOf(c, ann.user.id));
      expect(res.status, `${c.path}: ${res.raw.slice(0, 200)}`).toBe(200);
    }
  });

  it('does not let other methods, method-override headers or other spellings of the path through', async () => {
    const documented = new Set(calls.map((c) => `${c.method} ${c.path}`));
    const all: Method[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    for (const path of new Set(calls.map((c) => c.path))) {
      for (const method of all.filter((m) => !documented.has(`${m} ${path}`))) {
        for (const client of [ann, admin]) {
          const res = await client.request(method, urlOf({ method, path }, ann.user.id), {});
          expect([403, 404, 405], `${method} ${path} → ${res.status}`).toContain(res.status);
          expect(res.body?.success, `${method} ${path}`).toBe(false);
        }
      }
    }
    // HEAD is GET without the body: the same checks.
    for (const c of calls.filter((x) => x.method === 'GET')) {
      const res = await t.app.inject({
        method: 'HEAD',
        url: urlOf(c, ann.user.id),
        headers: { authorization: `Bearer ${ann.token}` },
      });
      expect([403, 404], `HEAD ${c.path}`).toContain(res.statusCode);
    }
    // Method override headers are not honoured.
    for (const header of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
      const res = await ann.request('GET', `${API}/admin/jobs`, undefined, { [header]: 'POST' });
      forbidden(res, header);
      const post = await ann.request('POST', `${API}/users/me`, undefined, { [header]: 'GET' });
      expect(post.status, header).toBe(404);
    }
    // Other spellings of an admin path: never a 2xx for a plain user.
    for (const url of [
      `${API}/ADMIN/jobs`,
      `${API}/Admin/Dashboard`,
      `${API}/admin/jobs/`,
      `${API}//admin/jobs`,
      `${API}/admin//jobs`,
      `${API}/admin/./jobs`,
      `${API}/tasks/../admin/jobs`,
      `${API}/%61dmin/jobs`,
      `${API}/admin/%6Aobs`,
      `${API}/admin/jobs%2f`,
      `${API}/admin/jobs;x=1`,
      `${API}/admin/jobs%00`,
      `${API}/admin/jobs?role=admin`,
      `/api/v1/./admin/dashboard`,
      `/API/V1/admin/dashboard`,
    ]) {
      const res = await ann.get(url);
      expect(res.status >= 400 && res.status < 500, `${url} → ${res.status} ${res.raw.slice(0, 120)}`).toBe(
        true,
      );
      expect(res.body?.success, url).toBe(false);
    }
  });

  it('keeps Bull Board (/admin/queues) for admins: 401 anonymous, 403 for users, their passwords and keys', async () => {
    const annKey = (await ann.post(`${API}/api-keys`, { name: 'k', scopes: ALL_SCOPES })).body.data.key;
    const basic = (email: string, password: string) =>
      `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;
    for (const url of boardPaths) {
      const get = (authorization?: string) =>
        t.app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });
      expect((await get()).statusCode, url).toBe(401);
      expect((await get(`Bearer ${ann.token}`)).statusCode, url).toBe(403);
      expect((await get(`Bearer ${annKey}`)).statusCode, url).toBe(403);
      expect((await get(basic(ann.user.email, ann.password))).statusCode, url).toBe(403);
      expect((await get(basic(admin.user.email, 'wrong password'))).statusCode, url).toBe(401);
      // The control: the admin gets in.
      expect((await get(`Bearer ${admin.token}`)).statusCode, url).toBe(200);
    }
  });

  describe('ADMIN_IP_ALLOWLIST', () => {
    let fenced: TestApp;
    let boss: SignedUp;
    beforeAll(async () => {
      fenced = await createTestApp({ env: { ...redisEnv(), ADMIN_IP_ALLOWLIST: '10.20.0.0/16' } });
      boss = await signUp(fenced.app, { name: 'Boss' });
      expect(boss.user.role).toBe('admin');
    });
    afterAll(() => fenced?.close());

    const call = (
      c: { method: Method; url: string; body?: unknown },
      remoteAddress: string,
      headers: Record<string, string> = {},
    ) =>
      fenced.app.inject({
        method: c.method,
        url: c.url,
        remoteAddress,
        headers: { authorization: `Bearer ${boss.token}`, ...headers },
        ...(c.body === undefined ? {} : { payload: c.body as object }),
      });

    it('answers an admin from elsewhere 403 on every admin function, even claiming an allowed address', async () => {
      // Every admin function of the document (the contract ones too, once documented), and Bull Board.
      const targets = [
        ...calls.map((c) => ({
          method: c.method,
          url: urlOf(c, boss.user.id),
          body: c.body?.(boss.user.id),
        })),
        ...boardPaths.map((url) => ({ method: 'GET' as Method, url })),
      ];
      for (const c of targets) {
        for (const headers of <Record<string, string>[]>[
          {},
          { 'x-forwarded-for': '10.20.1.1' },
          { 'x-real-ip': '10.20.1.1' },
          { forwarded: 'for=10.20.1.1' },
        ]) {
          const res = await call(c, '203.0.113.9', headers);
          expect(res.statusCode, `${c.url} ${JSON.stringify(headers)}`).toBe(403);
        }
        // A wrong password from elsewhere gets the same answer as a right one: nothing to guess with.
        if (c.url.startsWith('/admin/queues')) {
          const basic = `Basic ${Buffer.from(`${boss.user.email}:wrong`).toString('base64')}`;
          const wrong = await fenced.app.inject({
            method: 'GET',
            url: c.url,
            remoteAddress: '203.0.113.9',
            headers: { authorization: basic },
          });
          expect(wrong.statusCode).toBe(403);
        }
      }
      // The control: from inside the list, the admin gets in.
      expect((await call({ method: 'GET', url: `${API}/admin/dashboard` }, '10.20.3.4')).statusCode).toBe(
        200,
      );
      expect((await call({ method: 'GET', url: `${API}/users` }, '::ffff:10.20.3.4')).statusCode).toBe(200);
    });
  });
});
