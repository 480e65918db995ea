// OWASP API3:2023 Broken Object Property Level Authorization. Mass assignment: every body of the
// OpenAPI document gets, one at a time, the properties a client must never set (owner, role,
// version, timestamps, hashes, secrets, scopes…): each is refused with 400 naming it (bodies are
// closed: additionalProperties false) and nothing changes. Routes without a body get them too and
// must ignore them. Excessive data exposure: no answer, read or write, carries a password, a hash, a
// sealed secret, another user's email, or a secret outside the one answer documented to show it.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app';
import { Client, expectError, type Res, signUp } from '../helpers/client';
import { query } from '../helpers/wait';
import {
  ALL_SCOPES,
  API,
  changedTables,
  fill,
  keysOf,
  loadSpec,
  type Operation,
  type Owned,
  operations,
  populate,
  REFUSED_MAY_TOUCH,
  type SignedUp,
  snapshot,
  VALID_WRITES,
  withKey,
} from './support';

/** What a client must never set, with a value an attacker would send (Bob's id where it is an owner). */
const FORBIDDEN = (bobId: string): Record<string, unknown> => ({
  id: '00000000-0000-7000-8000-000000000001',
  user_id: bobId,
  userId: bobId,
  owner_id: bobId,
  role: 'admin',
  is_admin: true,
  admin: true,
  version: 999,
  created_at: '2000-01-01T00:00:00Z',
  updated_at: '2000-01-01T00:00:00Z',
  completed_at: '2000-01-01T00:00:00Z',
  archived_at: '2000-01-01T00:00:00Z',
  deleted_at: '2000-01-01T00:00:00Z',
  disabled_at: null,
  last_seen_at: '2000-01-01T00:00:00Z',
  password_hash: '$2b$04$abcdefghijklmnopqrstuuQ0uR7uR7uR7uR7uR7uR7uR7uR7uR7uR',
  passwordHash: 'x',
  session_epoch: 0,
  email_verified: true,
  scopes: ['tasks:read', 'tasks:write', 'projects:write', 'webhooks:manage', 'reports:read'],
  key_hash: 'a'.repeat(64),
  secret: `whsec_${Buffer.alloc(32).toString('base64')}`,
  previous_secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
  password_sealed: 'v1.x',
  token_hash: 'b'.repeat(64),
  disabled_reason: null,
  response_status: 200,
  state: 'succeeded',
  failures: 0,
});

/**
 * Who owns what, and the powers of each account and key: must be the same before and after every
 * attempt (the fingerprint of API1 covers rows; this names what changed when it fails).
 */
async function powers(t: TestApp) {
  const q = (s: string) => query(t, sql.raw(s));
  return {
    users: await q('select id, email, role, password_hash, session_epoch from users order by id'),
    owners: await q(
      `select 'task' k, id::text, user_id from tasks union all select 'project', id::text, user_id from projects
       union all select 'webhook', id::text, user_id from webhooks union all select 'key', id::text, user_id from api_keys
       union all select 'conn', id::text, user_id from calendar_connections order by 1, 2`,
    ),
    keys: await q('select id, scopes, key_hash, revoked_at, expires_at from api_keys order by id'),
    hooks: await q('select id, secret, url from webhooks order by id'),
  };
}

describe('API3:2023 Broken Object Property Level Authorization', () => {
  let t: TestApp;
  let ops: Operation[];
  let admin: SignedUp;
  let ann: Owned;
  let bob: Owned;

  beforeAll(async () => {
    t = await createTestApp({ env: { CALDAV_ALLOW_PRIVATE: 'true' } });
    admin = await signUp(t.app, { name: 'Admin' });
    ann = await populate(t.app, { name: 'Ann' });
    bob = await populate(t.app, { name: 'Bob' });
    ops = operations(await loadSpec(t.app));
  });
  afterAll(() => t?.close());

  it('knows a valid request for every write of the document', () => {
    const writes = ops.filter((o) => o.method !== 'GET').map((o) => o.key);
    expect(writes.filter((k) => !(k in VALID_WRITES))).toEqual([]);
  });

  it('refuses every property a client must not set, on every body of the document, and changes nothing', async () => {
    const forbidden = FORBIDDEN(bob.user.user.id);
    let tried = 0;
    for (const op of ops.filter((o) => o.body)) {
      const declared = new Set(Object.keys(op.body.properties ?? {}));
      expect(op.body.additionalProperties, `${op.key}: its body must be closed`).toBe(false);
      const base = VALID_WRITES[op.key]!(ann);
      const caller = op.path.startsWith(`${API}/admin/`) ? admin : ann.user;
      const url = fill(op.path, base.params ?? {});
      // Fingerprinted per route (per property, it would take half a minute): any change names the route.
      const before = await snapshot(t, REFUSED_MAY_TOUCH);
      for (const [prop, value] of Object.entries(forbidden)) {
        if (declared.has(prop)) continue;
        const res = await caller.request(op.method, url, { ...(base.body as object), [prop]: value });
        const what = `${op.key} with ${prop}`;
        if (res.status !== 400) throw new Error(`${what}: expected 400, got ${res.status} ${res.raw}`);
        const error = expectError(res, 400, 'VALIDATION_ERROR');
        expect(
          error.details?.map((d) => d.field),
          what,
        ).toContain(prop);
        tried++;
      }
      expect(changedTables(before, await snapshot(t, REFUSED_MAY_TOUCH)), op.key).toEqual([]);
    }
    expect(tried).toBeGreaterThan(200);
  });

  it('ignores those properties on routes that take no body', async () => {
    const forbidden = FORBIDDEN(bob.user.user.id);
    const before = await powers(t);
    // The writes without a body that keep their object (the deletions are API1's and the property test's).
    const routes = ops.filter((o) => !o.body && o.method === 'POST' && !o.path.endsWith('/logout'));
    expect(routes.length).toBeGreaterThan(5);
    for (const op of routes) {
      const base = VALID_WRITES[op.key]!(ann);
      const res = await ann.user.request(op.method, fill(op.path, base.params ?? {}), forbidden);
      expect(res.status, `${op.key}: ${res.raw}`).toBeLessThan(500);
      if (res.status < 300 && res.body?.data) {
        const data = res.body.data;
        for (const k of ['user_id', 'role', 'is_admin', 'scopes', 'secret', 'password_hash'])
          expect(data[k], `${op.key} answered ${k}`).toBeUndefined();
        if ('version' in data) expect(data.version, op.key).not.toBe(999);
        if ('created_at' in data) expect(data.created_at, op.key).not.toMatch(/^2000-/);
      }
    }
    expect(await powers(t)).toEqual(before);
    expect((await ann.user.get(`${API}/users/me`)).body.data.role).toBe('user');
  });

  it('keeps the role, the email and the password out of reach of PATCH /users/me', async () => {
    const before = await powers(t);
    for (const body of [
      { role: 'admin' },
      { name: 'Ann', role: 'admin' },
      { email: bob.user.user.email },
      { password: 'new-password-123' },
      { password_hash: 'x' },
      { id: bob.user.user.id },
      // Prototype pollution as sent on the wire (a JavaScript literal would drop it).
      '{"name":"Ann","__proto__":{"role":"admin"}}',
      '{"name":"Ann","constructor":{"prototype":{"role":"admin"}}}',
    ]) {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      const res = await ann.user.request('PATCH', `${API}/users/me`, raw, {
        'content-type': 'application/json',
      });
      expectError(res, 400, 'VALIDATION_ERROR');
    }
    expect(await powers(t)).toEqual(before);
  });

  it('does not let an API key widen its scopes, mint keys, or act beyond its scope', async () => {
    const reader = (await ann.user.post(`${API}/api-keys`, { name: 'reader', scopes: ['tasks:read'] })).body
      .data;
    const key = withKey(t.app, reader.key);
    const before = await powers(t);
    expectError(
      await key.post(`${API}/api-keys`, { name: 'escalated', scopes: ALL_SCOPES }),
      403,
      'FORBIDDEN',
    );
    expectError(await key.get(`${API}/api-keys`), 403, 'FORBIDDEN');
    expectError(await key.patch(`${API}/tasks/${ann.task}`, { title: 'x' }), 403, 'FORBIDDEN');
    expectError(await key.post(`${API}/tasks`, { title: 'x' }), 403, 'FORBIDDEN');
    expectError(await key.get(`${API}/webhooks`), 403, 'FORBIDDEN');
    expectError(await key.get(`${API}/reports/productivity`), 403, 'FORBIDDEN');
    expectError(await key.patch(`${API}/users/me`, { name: 'x' }), 403, 'FORBIDDEN');
    expectError(await key.delete(`${API}/api-keys/${reader.id}`), 403, 'FORBIDDEN');
    expect(await powers(t)).toEqual(before);
    // Scopes that do not exist, or wildcards, are refused at creation.
    for (const scopes of [['admin'], ['*'], ['tasks:*'], ['tasks:read', 'users:write'], ['TASKS:READ']]) {
      const res = await ann.user.post(`${API}/api-keys`, { name: 'wild', scopes });
      expectError(res, 400, 'VALIDATION_ERROR');
    }
    expect(await powers(t)).toEqual(before);
  });

  it('never answers with a password, a hash, a sealed or unshown secret, or another user’s email', async () => {
    const calDavPassword = 'caldav-password-of-the-victim';
    const secrets = [
      calDavPassword,
      ann.apiKeySecret,
      ann.feedFile.replace(/\.ics$/, ''),
      bob.user.user.email,
      admin.user.email,
    ];
    const rows = await query<{ v: string }>(
      t,
      sql`select password_hash as v from users union all select key_hash from api_keys
          union all select secret from webhooks union all select password_sealed from calendar_connections
          union all select token_hash from calendar_feeds`,
    );
    secrets.push(...rows.map((r) => r.v));
    const BAD_KEYS =
      /^(password|password_hash|passwordHash|key_hash|keyHash|password_sealed|session_epoch|sessionEpoch|token_hash|secret|previous_secret|previousSecret)$/;
    const check = (res: Res, what: string) => {
      const body = res.body === undefined ? [] : [...keysOf(res.body)];
      expect(
        body.filter((k) => BAD_KEYS.test(k)),
        what,
      ).toEqual([]);
      expect(res.raw, what).not.toMatch(/\$2[aby]\$\d\d\$/);
      expect(res.raw, what).not.toMatch(/whsec_/);
      for (const s of secrets) expect(res.raw.includes(s), `${what} shows a secret`).toBe(false);
    };
    // Every read of the document, with Ann's ids.
    const values = {
      id: '',
      delivery_id: ann.delivery,
      file: ann.feedFile,
    };
    const idFor: Record<string, string> = {
      projects: ann.project,
      tasks: ann.task,
      webhooks: ann.webhook,
      'api-keys': ann.apiKey,
      connections: ann.calendarConnection,
    };
    let reads = 0;
    for (const op of ops.filter((o) => o.method === 'GET' && o.path !== `${API}/events`)) {
      const resource = op.path.split('/').find((_s, i, all) => all[i + 1] === '{id}') ?? '';
      const url = fill(op.path, { ...values, id: idFor[resource] ?? '' });
      const res = await ann.user.get(url);
      expect(res.status, `${url}: ${res.raw}`).toBeLessThan(500);
      // The feed's own URL holds its secret; what it serves must not hold any other.
      if (op.path.endsWith('{file}')) {
        expect(res.raw).not.toContain(bob.user.user.email);
        continue;
      }
      check(res, url);
      reads++;
    }
    expect(reads).toBeGreaterThan(15);

    // The one answer that shows a webhook secret is its creation (and a rotation); the one that
    // shows an API key is its creation; nothing else, including the lists.
    const hook = await ann.user.post(`${API}/webhooks`, {
      url: 'https://93.184.216.34/other',
      events: ['task.created'],
    });
    expect(hook.body.data.secret).toMatch(/^whsec_/);
    const rotated = await ann.user.post(`${API}/webhooks/${hook.body.data.id}/rotate-secret`, {});
    expect(rotated.body.data.secret).toMatch(/^whsec_/);
    check(await ann.user.get(`${API}/webhooks/${hook.body.data.id}`), 'webhook after rotation');
    check(
      await ann.user.patch(`${API}/webhooks/${hook.body.data.id}`, { description: 'x' }),
      'webhook patch',
    );
    const created = await ann.user.post(`${API}/api-keys`, { name: 'shown once', scopes: ['tasks:read'] });
    expect(created.body.data.key).toMatch(/^tm_/);
    const listed = await ann.user.get(`${API}/api-keys?limit=100`);
    expect(listed.raw).not.toContain(created.body.data.key);
    expect(listed.raw).not.toContain(created.body.data.key.slice(3, 30));

    // A session answer carries the user and the token, nothing of the account's secrets.
    const login = await new Client(t.app).post(`${API}/auth/login`, {
      email: ann.user.user.email,
      password: ann.user.password,
    });
    check(login, 'login');
    const token = String(login.body.data.token).split('.')[1]!;
    const claims = JSON.parse(Buffer.from(token, 'base64url').toString());
    expect(JSON.stringify(claims)).not.toMatch(/@|password|\$2/);
    // Only admins see other accounts (and their emails).
    expectError(await ann.user.get(`${API}/users`), 403, 'FORBIDDEN');
    const all = await admin.get(`${API}/users?limit=100`);
    expect(all.status).toBe(200);
    for (const u of all.body.data) expect(Object.keys(u)).not.toContain('password_hash');
    expect(all.raw).not.toMatch(/\$2[aby]\$/);
  });
});
