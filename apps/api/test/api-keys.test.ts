// API keys (personal access tokens): created and shown once, stored as a SHA-256 hash, limited to
// scopes, revocable at once on every API process, expiring, rate-limited per key.
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppPair, appPair, type CacheMode, createTestApp, redisEnv, type TestApp } from './helpers/app';
import { Client, expectError, type Res, signUp, uniqueEmail } from './helpers/client';
import { fakeClock, HOUR } from './helpers/clock';
import { query, sleep, until } from './helpers/wait';

// One database for the whole file; every app below (its own config, clock, cache and limiter) is an
// API process on it, so the file pays for a single fresh database.
const ADMIN_EMAIL = `keys.admin.${randomBytes(3).toString('hex')}@example.com`;
const ENV = { WEBHOOK_ALLOW_PRIVATE: 'true', ADMIN_EMAILS: ADMIN_EMAIL };
let base: TestApp;
beforeAll(async () => {
  base = await createTestApp({ env: ENV });
});
afterAll(() => base.close());
const newApp = (env: Record<string, string> = {}, clock?: ReturnType<typeof fakeClock>) =>
  createTestApp({ env: { ...ENV, ...env }, shareDatabaseOf: base, ...(clock ? { clock } : {}) });

const API = '/api/v1';
const PASSWORD = 'correct horse battery';
const HOOK_URL = 'http://127.0.0.1:9/hook';
const KEY_SHAPE = /^tm_[A-Za-z0-9_-]{40}$/;
const ISO_WITH_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const LISTED_FIELDS = [
  'created_at',
  'expired',
  'expires_at',
  'id',
  'last_used_at',
  'name',
  'prefix',
  'scopes',
];
const ALL_SCOPES = [
  'tasks:read',
  'tasks:write',
  'projects:read',
  'projects:write',
  'webhooks:manage',
  'reports:read',
] as const;
type Scope = (typeof ALL_SCOPES)[number];

type Session = Awaited<ReturnType<typeof signUp>>;
type KeyClient = Client & { id: string; key: string; created: Record<string, unknown> };

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Creates a key through the API as `owner`; returns a client that sends it (on `app`, default the owner's). */
async function createKey(
  owner: Client,
  scopes: readonly string[],
  extra: { name?: string; expires_at?: string | null } = {},
  app: FastifyInstance = owner.app,
): Promise<KeyClient> {
  const res = await owner.post(`${API}/api-keys`, { name: `key ${scopes.join(' ')}`, scopes, ...extra });
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${res.raw}`);
  const { key, id } = res.body.data;
  return Object.assign(new Client(app, key), { id, key, created: res.body.data });
}

async function listKeys(owner: Client, qs = '') {
  const res = await owner.get(`${API}/api-keys${qs}`);
  expect(res.status).toBe(200);
  return res.body as { data: any[]; meta: { total: number } };
}

async function keyRowsOf(t: TestApp, userId: string) {
  return query<{ id: string; key_hash: string; revoked_at: unknown; last_used_at: unknown }>(
    t,
    sql`select * from api_keys where user_id = ${userId} order by created_at`,
  );
}

/** A 401 UNAUTHORIZED that tells the client (RFC 6750) its token is no good. */
function expectRefusedKey(res: Res, message?: RegExp) {
  const error = expectError(res, 401, 'UNAUTHORIZED');
  expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer/);
  if (message) expect(error.message).toMatch(message);
  return error;
}

const login = (app: FastifyInstance, email: string, password: string) =>
  new Client(app).post(`${API}/auth/login`, { email, password });

// ---------------------------------------------------------------------------------------------

describe('API key lifecycle', () => {
  it('creates a key shown once, stores only its SHA-256, lists it without the key, uses it, revokes it', async () => {
    const ann = await signUp(base.app, { name: 'Ann' });
    const res = await ann.post(`${API}/api-keys`, {
      name: '  CI deploy  ',
      scopes: ['tasks:write', 'tasks:read'],
    });
    expect(res.status).toBe(201);
    const created = res.body.data;
    expect(res.headers.location).toBe(`${API}/api-keys/${created.id}`);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Object.keys(created).sort()).toEqual([...LISTED_FIELDS, 'key'].sort());
    const key: string = created.key;
    expect(key).toMatch(KEY_SHAPE);
    expect(key.startsWith(created.prefix)).toBe(true);
    expect(created.prefix).toMatch(/^tm_[A-Za-z0-9_-]{4,}$/);
    expect(created.prefix.length).toBeLessThanOrEqual(12); // a hint, never enough to use
    expect(created).toMatchObject({
      name: 'CI deploy',
      scopes: ['tasks:read', 'tasks:write'],
      expires_at: null,
      last_used_at: null,
      expired: false,
    });
    expect(created.created_at).toMatch(ISO_WITH_OFFSET);

    // The list never shows the key again.
    const list = await listKeys(ann);
    expect(list.meta.total).toBe(1);
    expect(Object.keys(list.data[0]).sort()).toEqual(LISTED_FIELDS);
    expect(list.data[0]).toEqual({ ...created, key: undefined });
    const listRaw = (await ann.get(`${API}/api-keys`)).raw;
    expect(listRaw).not.toContain(key.slice(created.prefix.length));

    // The database holds a 64-hex SHA-256, not the key, and the key appears in no column.
    const [row] = await query(base, sql`select * from api_keys where id = ${created.id}`);
    expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.key_hash).not.toBe(key);
    expect(row.key_hash).toBe(sha256(key));
    expect(JSON.stringify(row)).not.toContain(key.slice(created.prefix.length));

    // Used as a bearer token: acts as Ann.
    const byKey = new Client(base.app, key);
    expect((await byKey.get(`${API}/users/me`)).body.data.id).toBe(ann.user.id);
    const task = await byKey.post(`${API}/tasks`, { title: 'Made by a script' });
    expect(task.status).toBe(201);
    expect((await ann.get(`${API}/tasks/${task.body.data.id}`)).body.data.title).toBe('Made by a script');
    expect((await byKey.get(`${API}/tasks`)).body.meta.total).toBe(1);

    // Revoked: refused at once; gone from the list; revoking again is 404.
    expect((await ann.delete(`${API}/api-keys/${created.id}`)).status).toBe(204);
    expectRefusedKey(await byKey.get(`${API}/tasks`), /revoked/i);
    expect(String((await byKey.get(`${API}/users/me`)).headers['www-authenticate'])).toContain(
      'invalid_token',
    );
    expect((await listKeys(ann)).meta.total).toBe(0);
    expectError(await ann.delete(`${API}/api-keys/${created.id}`), 404, 'NOT_FOUND');
    // The row is kept (revoked), so the hash can never come back to life.
    const [revoked] = await query(base, sql`select revoked_at from api_keys where id = ${created.id}`);
    expect(revoked.revoked_at).not.toBeNull();
    // Ann's session is untouched.
    expect((await ann.get(`${API}/users/me`)).status).toBe(200);
  });

  it('lists newest first, with paging; revoking one leaves the others working', async () => {
    const ann = await signUp(base.app);
    const k1 = await createKey(ann, ['tasks:read'], { name: 'first' });
    const k2 = await createKey(ann, ['projects:read'], { name: 'second' });
    const k3 = await createKey(ann, ['webhooks:manage'], { name: 'third' });
    const list = await listKeys(ann);
    expect(list.data.map((k) => k.name)).toEqual(['third', 'second', 'first']);
    expect(list.meta.total).toBe(3);
    const page2 = await listKeys(ann, '?limit=2&page=2');
    expect(page2.data.map((k) => k.name)).toEqual(['first']);
    expect(page2.meta).toMatchObject({ page: 2, limit: 2, total: 3, total_pages: 2 });

    expect((await ann.delete(`${API}/api-keys/${k2.id}`)).status).toBe(204);
    expect((await listKeys(ann)).data.map((k) => k.name)).toEqual(['third', 'first']);
    expectRefusedKey(await k2.get(`${API}/projects`));
    expect((await k1.get(`${API}/tasks`)).status).toBe(200);
    expect((await k3.get(`${API}/webhooks`)).status).toBe(200);
  });

  it('POST /auth/logout with a key revokes that key only (any scope may), at once', async () => {
    const ann = await signUp(base.app);
    const leaving = await createKey(ann, ['reports:read']);
    const staying = await createKey(ann, ['tasks:read']);
    expect((await leaving.get(`${API}/users/me`)).status).toBe(200);
    expect((await leaving.post(`${API}/auth/logout`)).status).toBe(204);
    expectRefusedKey(await leaving.get(`${API}/users/me`));
    expectRefusedKey(await leaving.post(`${API}/auth/logout`));
    expect((await staying.get(`${API}/tasks`)).status).toBe(200);
    expect((await ann.get(`${API}/users/me`)).status).toBe(200);
    const [row] = await query(base, sql`select revoked_at from api_keys where id = ${leaving.id}`);
    expect(row.revoked_at).not.toBeNull();
    expect((await listKeys(ann)).data.map((k) => k.id)).toEqual([staying.id]);
  });

  it("another user can neither see, revoke nor use someone's keys, and a key sees only its owner's data", async () => {
    const ann = await signUp(base.app, { name: 'Ann' });
    const bob = await signUp(base.app, { name: 'Bob' });
    const annKey = await createKey(ann, ['tasks:write']);
    const annTask = (await ann.post(`${API}/tasks`, { title: "Ann's" })).body.data.id;

    const bobList = await listKeys(bob);
    expect(bobList.meta.total).toBe(0);
    expect(bobList.data).toEqual([]);
    expectError(await bob.delete(`${API}/api-keys/${annKey.id}`), 404, 'NOT_FOUND');
    expect((await annKey.get(`${API}/tasks/${annTask}`)).status).toBe(200);
    expect((await listKeys(ann)).meta.total).toBe(1);

    // Bob's key speaks for Bob only.
    const bobKey = await createKey(bob, ['tasks:write', 'projects:write']);
    expect((await bobKey.get(`${API}/users/me`)).body.data.id).toBe(bob.user.id);
    expectError(await bobKey.get(`${API}/tasks/${annTask}`), 404, 'NOT_FOUND');
    expectError(await bobKey.patch(`${API}/tasks/${annTask}`, { title: 'Bob was here' }), 404, 'NOT_FOUND');
    expect((await bobKey.get(`${API}/tasks`)).body.meta.total).toBe(0);
    expect((await ann.get(`${API}/tasks/${annTask}`)).body.data.title).toBe("Ann's");
  });

  it('revoking: an unknown id is 404, a malformed id 400', async () => {
    const ann = await signUp(base.app);
    expectError(await ann.delete(`${API}/api-keys/0190a0a0-0000-7000-8000-000000000000`), 404, 'NOT_FOUND');
    expectError(await ann.delete(`${API}/api-keys/not-a-uuid`), 400, 'VALIDATION_ERROR');
  });

  it('refuses malformed, made-up and altered keys with 401', async () => {
    const ann = await signUp(base.app);
    const good = await createKey(ann, ['tasks:read']);
    const body = good.key.slice(3);
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    const altered = [
      'tm_garbage',
      'tm_',
      `tm_${randomBytes(30).toString('base64url')}`, // the right shape, a wrong checksum
      `${good.key}x`,
      good.key.slice(0, -1),
      `tm_${flip(body[0]!)}${body.slice(1)}`, // one character of the random part
      `tm_${body.slice(0, -1)}${flip(body.at(-1)!)}`, // one character of the checksum
      `TM_${body}`,
    ];
    for (const token of altered) {
      const res = await new Client(base.app, token).get(`${API}/users/me`);
      expect(res.status, token).toBe(401);
      expectRefusedKey(res);
    }
    // The scheme is case-insensitive; the key is not altered by that.
    const res = await new Client(base.app).get(`${API}/users/me`, { authorization: `bearer ${good.key}` });
    expect(res.status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// The scope matrix: every kind of key against every group of routes.

interface Fixture {
  owner: Session;
  key: KeyClient;
  projectId: string;
  taskId: string;
}

/** What a route needs: scopes (all of them), any key, or a signed-in session (keys refused). */
type Needs = Scope[] | 'any' | 'session';

interface RouteCase {
  route: string;
  needs: Needs;
  /** The status when allowed. */
  ok?: number;
  call(f: Fixture): Promise<Res>;
  /** The state this call would change, read through the owner's session: a refused call must leave it as it was. */
  state?(f: Fixture): Promise<unknown>;
}

/** The scopes a key's scopes grant, by the contract: `X:write` includes `X:read`. */
const IMPLIES: Record<Scope, Scope[]> = {
  'tasks:read': ['tasks:read'],
  'tasks:write': ['tasks:write', 'tasks:read'],
  'projects:read': ['projects:read'],
  'projects:write': ['projects:write', 'projects:read'],
  'webhooks:manage': ['webhooks:manage'],
  'reports:read': ['reports:read'],
};
const missingFor = (keyScopes: Scope[], needed: Scope[]) => {
  const granted = new Set(keyScopes.flatMap((s) => IMPLIES[s]));
  return needed.filter((s) => !granted.has(s));
};

/** How the test names the expected outcome, e.g. "403 (lacks tasks:read)". */
function expectation(keyScopes: Scope[], needs: Needs): string {
  if (needs === 'session') return '403 (sessions only)';
  if (needs === 'any') return 'allowed';
  const missing = missingFor(keyScopes, needs);
  return missing.length ? `403 (lacks ${missing.join(' and ')})` : 'allowed';
}

const ids = (res: Res) => (res.body.data as { id: string }[]).map((x) => x.id).sort();
const statusOf = async (p: Promise<Res>) => (await p).status;

const ROUTES: RouteCase[] = [
  // tasks
  { route: 'GET /tasks', needs: ['tasks:read'], call: (f) => f.key.get(`${API}/tasks`) },
  { route: 'GET /tasks/:id', needs: ['tasks:read'], call: (f) => f.key.get(`${API}/tasks/${f.taskId}`) },
  {
    route: 'POST /tasks',
    needs: ['tasks:write'],
    ok: 201,
    call: (f) => f.key.post(`${API}/tasks`, { title: 'By a key' }),
    state: async (f) => ids(await f.owner.get(`${API}/tasks?limit=100`)),
  },
  {
    route: 'PATCH /tasks/:id',
    needs: ['tasks:write'],
    call: (f) => f.key.patch(`${API}/tasks/${f.taskId}`, { title: 'Changed by a key' }),
    state: async (f) => {
      const { title, version } = (await f.owner.get(`${API}/tasks/${f.taskId}`)).body.data;
      return { title, version };
    },
  },
  {
    route: 'DELETE /tasks/:id',
    needs: ['tasks:write'],
    ok: 204,
    call: (f) => f.key.delete(`${API}/tasks/${f.taskId}`),
    state: (f) => statusOf(f.owner.get(`${API}/tasks/${f.taskId}`)),
  },
  {
    route: 'POST /tasks/:id/archive',
    needs: ['tasks:write'],
    call: (f) => f.key.post(`${API}/tasks/${f.taskId}/archive`),
    state: async (f) => (await f.owner.get(`${API}/tasks/${f.taskId}`)).body.data.archived_at,
  },
  // projects
  { route: 'GET /projects', needs: ['projects:read'], call: (f) => f.key.get(`${API}/projects`) },
  {
    route: 'GET /projects/:id',
    needs: ['projects:read'],
    call: (f) => f.key.get(`${API}/projects/${f.projectId}`),
  },
  {
    route: 'POST /projects',
    needs: ['projects:write'],
    ok: 201,
    call: (f) => f.key.post(`${API}/projects`, { name: `By a key ${randomBytes(3).toString('hex')}` }),
    state: async (f) => ids(await f.owner.get(`${API}/projects?limit=100`)),
  },
  {
    route: 'PATCH /projects/:id',
    needs: ['projects:write'],
    call: (f) => f.key.patch(`${API}/projects/${f.projectId}`, { name: `Renamed ${f.projectId}` }),
    state: async (f) => (await f.owner.get(`${API}/projects/${f.projectId}`)).body.data.name,
  },
  {
    route: 'DELETE /projects/:id',
    needs: ['projects:write'],
    ok: 204,
    call: (f) => f.key.delete(`${API}/projects/${f.projectId}`),
    state: (f) => statusOf(f.owner.get(`${API}/projects/${f.projectId}`)),
  },
  {
    route: 'GET /projects/:id/tasks',
    needs: ['projects:read', 'tasks:read'],
    call: (f) => f.key.get(`${API}/projects/${f.projectId}/tasks`),
  },
  // webhooks
  { route: 'GET /webhooks', needs: ['webhooks:manage'], call: (f) => f.key.get(`${API}/webhooks`) },
  {
    route: 'POST /webhooks',
    needs: ['webhooks:manage'],
    ok: 201,
    call: (f) => f.key.post(`${API}/webhooks`, { url: HOOK_URL, events: ['task.created'] }),
    state: async (f) => ids(await f.owner.get(`${API}/webhooks`)),
  },
  // any key
  { route: 'GET /users/me', needs: 'any', call: (f) => f.key.get(`${API}/users/me`) },
  // signed-in sessions only
  {
    route: 'POST /api-keys',
    needs: 'session',
    call: (f) => f.key.post(`${API}/api-keys`, { name: 'made by a key', scopes: ['tasks:write'] }),
    state: async (f) => ids(await f.owner.get(`${API}/api-keys`)),
  },
  { route: 'GET /api-keys', needs: 'session', call: (f) => f.key.get(`${API}/api-keys`) },
  {
    route: 'DELETE /api-keys/:id (itself)',
    needs: 'session',
    call: (f) => f.key.delete(`${API}/api-keys/${f.key.id}`),
    state: async (f) => [
      ids(await f.owner.get(`${API}/api-keys`)),
      await statusOf(f.key.get(`${API}/users/me`)),
    ],
  },
  {
    route: 'PUT /users/me/password',
    needs: 'session',
    call: (f) =>
      f.key.put(`${API}/users/me/password`, {
        current_password: f.owner.password,
        new_password: 'a brand new horse battery',
      }),
    // The old password still signs in and the session still works.
    state: async (f) => [
      await statusOf(login(f.owner.app, f.owner.user.email, f.owner.password)),
      await statusOf(f.owner.get(`${API}/users/me`)),
    ],
  },
  {
    route: 'PATCH /users/me',
    needs: 'session',
    call: (f) => f.key.patch(`${API}/users/me`, { name: 'Renamed by a key', timezone: 'Asia/Tokyo' }),
    state: async (f) => {
      const { name, timezone } = (await f.owner.get(`${API}/users/me`)).body.data;
      return { name, timezone };
    },
  },
  {
    route: 'DELETE /users/me',
    needs: 'session',
    call: (f) => f.key.delete(`${API}/users/me`, { password: f.owner.password }),
    state: async (f) => [
      await statusOf(f.owner.get(`${API}/users/me`)),
      (await query(base, sql`select count(*)::int as n from users where id = ${f.owner.user.id}`))[0].n,
    ],
  },
  { route: 'GET /users (admin)', needs: 'session', call: (f) => f.key.get(`${API}/users`) },
  { route: 'GET /admin/jobs', needs: 'session', call: (f) => f.key.get(`${API}/admin/jobs`) },
];

const KEY_KINDS: Scope[][] = [
  ['tasks:read'],
  ['tasks:write'],
  ['projects:read'],
  ['projects:write'],
  ['webhooks:manage'],
  ['reports:read'], // no scope any route here needs
  ['projects:read', 'tasks:read'],
  ['projects:write', 'tasks:read'],
  ['tasks:write', 'projects:read', 'webhooks:manage'],
  [...ALL_SCOPES],
];

for (const scopes of KEY_KINDS) {
  describe(`a key with ${scopes.join(' + ')}`, () => {
    let owner: Session;
    let key: KeyClient;
    beforeAll(async () => {
      owner = await signUp(base.app, { name: 'Matrix' });
      key = await createKey(owner, scopes);
    });

    for (const route of ROUTES)
      it(`${route.route}: ${expectation(scopes, route.needs)}`, async () => {
        const project = await owner.post(`${API}/projects`, { name: `P ${randomBytes(4).toString('hex')}` });
        const task = await owner.post(`${API}/tasks`, { title: 'T', project_id: project.body.data.id });
        expect([project.status, task.status]).toEqual([201, 201]);
        const f: Fixture = { owner, key, projectId: project.body.data.id, taskId: task.body.data.id };

        const before = await route.state?.(f);
        const res = await route.call(f);
        const after = await route.state?.(f);

        const missing = Array.isArray(route.needs) ? missingFor(scopes, route.needs) : [];
        if (route.needs === 'session') {
          const error = expectError(res, 403, 'FORBIDDEN');
          expect(error.message).toMatch(/API keys cannot be used/);
          expect(after).toEqual(before);
        } else if (missing.length) {
          const error = expectError(res, 403, 'FORBIDDEN');
          for (const s of missing) expect(error.message).toContain(s);
          // Only what is missing is named.
          for (const s of (route.needs as Scope[]).filter((n) => !missing.includes(n)))
            expect(error.message).not.toContain(s);
          expect(after).toEqual(before);
        } else {
          expect(res.status, res.raw).toBe(route.ok ?? 200);
          if (route.state) expect(after).not.toEqual(before);
          if (route.route === 'GET /users/me') expect(res.body.data.id).toBe(owner.user.id);
          if (route.route === 'GET /projects/:id/tasks') expect(ids(res)).toEqual([f.taskId]);
          if (route.route === 'GET /tasks/:id') expect(res.body.data.id).toBe(f.taskId);
        }
      });

    it('is still valid and unchanged after the whole matrix', async () => {
      expect((await key.get(`${API}/users/me`)).status).toBe(200);
      const listed = (await listKeys(owner)).data;
      expect(listed.map((k) => [k.id, k.scopes])).toEqual([
        [key.id, ALL_SCOPES.filter((s) => scopes.includes(s))],
      ]);
      expect((await login(base.app, owner.user.email, owner.password)).status).toBe(200);
    });
  });
}

describe('scope implication', () => {
  it('tasks:write includes tasks:read, and nothing of projects or webhooks', async () => {
    const ann = await signUp(base.app);
    const project = (await ann.post(`${API}/projects`, { name: 'Home' })).body.data.id;
    const key = await createKey(ann, ['tasks:write']);
    expect(key.created.scopes).toEqual(['tasks:write']); // stored as given, implied at use
    const made = await key.post(`${API}/tasks`, { title: 'x', project_id: project });
    expect(made.status).toBe(201);
    expect((await key.get(`${API}/tasks`)).status).toBe(200);
    expect((await key.get(`${API}/tasks/${made.body.data.id}`)).status).toBe(200);
    expect(expectError(await key.get(`${API}/projects`), 403, 'FORBIDDEN').message).toContain(
      'projects:read',
    );
    const both = expectError(await key.get(`${API}/projects/${project}/tasks`), 403, 'FORBIDDEN');
    expect(both.message).toContain('projects:read');
    expect(both.message).not.toContain('tasks:read');
    expectError(await key.get(`${API}/webhooks`), 403, 'FORBIDDEN');
  });

  it('projects:write includes projects:read but not tasks; read never includes write', async () => {
    const ann = await signUp(base.app);
    const key = await createKey(ann, ['projects:write']);
    const made = await key.post(`${API}/projects`, { name: 'By key' });
    expect(made.status).toBe(201);
    expect((await key.get(`${API}/projects/${made.body.data.id}`)).status).toBe(200);
    expect((await key.get(`${API}/projects`)).body.meta.total).toBe(1);
    expect(expectError(await key.get(`${API}/tasks`), 403, 'FORBIDDEN').message).toContain('tasks:read');
    const both = expectError(await key.get(`${API}/projects/${made.body.data.id}/tasks`), 403, 'FORBIDDEN');
    expect(both.message).toContain('tasks:read');
    expect(both.message).not.toContain('projects:read');

    const reader = await createKey(ann, ['projects:read', 'tasks:read']);
    expect((await reader.get(`${API}/projects/${made.body.data.id}/tasks`)).status).toBe(200);
    expectError(await reader.post(`${API}/projects`, { name: 'Nope' }), 403, 'FORBIDDEN');
    expectError(await reader.post(`${API}/tasks`, { title: 'Nope' }), 403, 'FORBIDDEN');
    expect((await ann.get(`${API}/projects`)).body.meta.total).toBe(1);
    expect((await ann.get(`${API}/tasks`)).body.meta.total).toBe(0);
  });

  it('a refused key is refused before the body is looked at (403, not 400)', async () => {
    const ann = await signUp(base.app);
    const key = await createKey(ann, ['tasks:read']);
    expectError(await key.post(`${API}/tasks`, { nonsense: true }), 403, 'FORBIDDEN');
    expectError(await key.post(`${API}/api-keys`, { name: '' }), 403, 'FORBIDDEN');
  });

  it('HEAD takes the scope of its GET', async () => {
    const ann = await signUp(base.app);
    const reader = await createKey(ann, ['tasks:read']);
    const other = await createKey(ann, ['projects:read']);
    const head = (k: KeyClient, url: string) => k.request('HEAD', `${API}${url}`);
    expect((await head(reader, '/tasks')).status).toBe(200);
    expect((await head(other, '/tasks')).status).toBe(403);
    expect((await head(other, '/users/me')).status).toBe(200);
    expect((await head(reader, '/api-keys')).status).toBe(403);
  });
});

describe('secrecy', () => {
  it('the key never reaches a log line (created, used, refused, revoked)', async () => {
    const lines: string[] = [];
    const t = await createTestApp({
      env: { ...ENV, LOG_LEVEL: 'debug' },
      shareDatabaseOf: base,
      logStream: { write: (line) => lines.push(line) },
    });
    try {
      const ann = await signUp(t.app);
      const key = await createKey(ann, ['tasks:read']);
      expect((await key.get(`${API}/tasks`)).status).toBe(200);
      expect((await key.get(`${API}/projects`)).status).toBe(403);
      expect((await new Client(t.app, `${key.key}x`).get(`${API}/tasks`)).status).toBe(401);
      expect((await ann.delete(`${API}/api-keys/${key.id}`)).status).toBe(204);
      expect((await key.get(`${API}/tasks`)).status).toBe(401);
    } finally {
      await t.close();
    }
    expect(lines.length).toBeGreaterThan(5);
    const secret = /tm_[A-Za-z0-9_-]{20,}/;
    expect(lines.filter((l) => secret.test(l))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('expiry', () => {
  it('a key works until expires_at, then is 401 (real time, polled)', async () => {
    const ann = await signUp(base.app);
    const expiresAt = new Date(Date.now() + 2500);
    const key = await createKey(ann, ['tasks:read'], { expires_at: expiresAt.toISOString() });
    expect(key.created.expires_at).toBe(expiresAt.toISOString());
    expect(key.created.expired).toBe(false);
    expect((await key.get(`${API}/tasks`)).status).toBe(200);
    const refused = await until(
      'the key to expire',
      async () => {
        const res = await key.get(`${API}/tasks`);
        return res.status === 401 ? res : undefined;
      },
      8000,
      100,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
    expectRefusedKey(refused, /expired/i);
    // Still listed (it is not revoked), and says it has expired.
    const [listed] = (await listKeys(ann)).data;
    expect(listed).toMatchObject({ id: key.id, expired: true, expires_at: expiresAt.toISOString() });
  });

  it('with a fake clock: valid until expires_at, then 401 and listed as expired', async () => {
    const clock = fakeClock();
    const t = await newApp({}, clock);
    try {
      const ann = await signUp(t.app);
      const expiresAt = new Date(clock.now().getTime() + HOUR);
      // An offset other than Z is accepted and normalised.
      const local = expiresAt.toISOString().replace('Z', '+00:00');
      const key = await createKey(ann, ['projects:read'], { expires_at: local });
      expect(key.created.expires_at).toBe(expiresAt.toISOString());
      const forever = await createKey(ann, ['projects:read'], { expires_at: null });
      expect(forever.created.expires_at).toBeNull();

      expect((await key.get(`${API}/projects`)).status).toBe(200);
      clock.advance(HOUR - 5_000);
      expect((await key.get(`${API}/projects`)).status).toBe(200);
      expect((await listKeys(ann)).data.find((k) => k.id === key.id).expired).toBe(false);
      clock.advance(5_000);
      expectRefusedKey(await key.get(`${API}/projects`), /expired/i);
      expectRefusedKey(await key.get(`${API}/users/me`), /expired/i);
      expect((await listKeys(ann)).data.find((k) => k.id === key.id).expired).toBe(true);

      // "In the future" is the server's clock's future: an hour from now (real time) is past for it.
      clock.advance(HOUR);
      const stale = await ann.post(`${API}/api-keys`, {
        name: 'stale',
        scopes: ['tasks:read'],
        expires_at: new Date(Date.now() + HOUR).toISOString(),
      });
      expect(expectError(stale, 400, 'VALIDATION_ERROR').details?.map((d) => d.field)).toEqual([
        'expires_at',
      ]);
      // The expired key can still be revoked (and then leaves the list).
      expect((await ann.delete(`${API}/api-keys/${key.id}`)).status).toBe(204);
      expect((await listKeys(ann)).data.map((k) => k.id)).toEqual([forever.id]);
      // A key without expiry is still good a year later.
      clock.advance(365 * 24 * HOUR);
      expect((await forever.get(`${API}/projects`)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('validation', () => {
  let ann: Session;
  beforeAll(async () => {
    ann = await signUp(base.app);
    await createKey(ann, ['tasks:read'], { name: 'existing' });
  });

  const past = () => new Date(Date.now() - 60_000).toISOString();
  const scopes = ['tasks:read'];
  const BAD: [string, Record<string, unknown>, string][] = [
    ['an empty name', { name: '', scopes }, 'name'],
    ['a blank name', { name: '   ', scopes }, 'name'],
    ['a name of 101 characters', { name: 'x'.repeat(101), scopes }, 'name'],
    ['a name of 201 characters', { name: 'x'.repeat(201), scopes }, 'name'],
    ['no name', { scopes }, 'name'],
    ['a name that is not a string', { name: 42, scopes }, 'name'],
    ['empty scopes', { name: 'k', scopes: [] }, 'scopes'],
    ['no scopes', { name: 'k' }, 'scopes'],
    ['an unknown scope', { name: 'k', scopes: ['tasks:admin'] }, 'scopes'],
    ['a known and an unknown scope', { name: 'k', scopes: ['tasks:read', 'admin'] }, 'scopes'],
    ['a scope in the wrong case', { name: 'k', scopes: ['Tasks:Read'] }, 'scopes'],
    ['scopes as a string', { name: 'k', scopes: 'tasks:read' }, 'scopes'],
    ['a past expires_at', { name: 'k', scopes, expires_at: 'PAST' }, 'expires_at'],
    ['an expires_at that is not a date', { name: 'k', scopes, expires_at: 'tomorrow' }, 'expires_at'],
    ['a numeric expires_at', { name: 'k', scopes, expires_at: 1_900_000_000 }, 'expires_at'],
    ['an unknown field', { name: 'k', scopes, admin: true }, 'admin'],
  ];

  it.each(BAD.map(([label, body, field]) => ({ label, body, field })))(
    '$label → 400 naming $field, nothing created',
    async ({ body, field }) => {
      const payload = body.expires_at === 'PAST' ? { ...body, expires_at: past() } : body;
      const before = (await listKeys(ann)).meta.total;
      const error = expectError(await ann.post(`${API}/api-keys`, payload), 400, 'VALIDATION_ERROR');
      expect(error.details?.map((d) => d.field)).toContain(field);
      expect((await listKeys(ann)).meta.total).toBe(before);
      expect(await keyRowsOf(base, ann.user.id)).toHaveLength(before);
    },
  );

  it('no body, or not JSON → 400; nothing created', async () => {
    expectError(await ann.post(`${API}/api-keys`), 400, 'VALIDATION_ERROR');
    expectError(
      await ann.post(`${API}/api-keys`, 'name=k', { 'content-type': 'application/json' }),
      400,
      'VALIDATION_ERROR',
    );
    expect(await keyRowsOf(base, ann.user.id)).toHaveLength(1);
  });

  it('edge cases that are accepted: 100 characters (even astral ones), trimmed, duplicate scopes merged', async () => {
    const bob = await signUp(base.app);
    const long = await createKey(bob, ['tasks:read'], { name: 'n'.repeat(100) });
    expect(long.created.name).toBe('n'.repeat(100));
    const emoji = await createKey(bob, ['tasks:read'], { name: '🔑'.repeat(100) });
    expect(emoji.created.name).toBe('🔑'.repeat(100));
    const dup = await createKey(bob, ['tasks:read', 'reports:read', 'tasks:read']);
    expect(dup.created.scopes).toEqual(['tasks:read', 'reports:read']);
    const all = await createKey(bob, [...ALL_SCOPES].reverse());
    expect(all.created.scopes).toEqual([...ALL_SCOPES]);
    expect((await listKeys(bob)).meta.total).toBe(4);
  });

  it('without a token: 401 on every key route', async () => {
    const anon = new Client(base.app);
    for (const res of [
      await anon.post(`${API}/api-keys`, { name: 'k', scopes }),
      await anon.get(`${API}/api-keys`),
      await anon.delete(`${API}/api-keys/0190a0a0-0000-7000-8000-000000000000`),
    ])
      expectRefusedKey(res);
  });
});

// ---------------------------------------------------------------------------------------------

describe('last_used_at', () => {
  it('is null until the key is used, then set (once a minute at most)', async () => {
    const ann = await signUp(base.app);
    const key = await createKey(ann, ['tasks:read']);
    const other = await createKey(ann, ['tasks:read']);
    expect(key.created.last_used_at).toBeNull();
    const listed = async (id: string) => (await listKeys(ann)).data.find((k) => k.id === id);
    expect((await listed(key.id)).last_used_at).toBeNull();

    const start = Date.now();
    expect((await key.get(`${API}/tasks`)).status).toBe(200);
    const used = await until('last_used_at to be set', async () => (await listed(key.id)).last_used_at, 5000);
    expect(used).toMatch(ISO_WITH_OFFSET);
    expect(Math.abs(new Date(used).getTime() - start)).toBeLessThan(60_000);
    // Only the key that was used.
    expect((await listed(other.id)).last_used_at).toBeNull();

    // More uses within the minute do not write again.
    for (let i = 0; i < 3; i++) expect((await key.get(`${API}/tasks`)).status).toBe(200);
    await sleep(300);
    expect((await listed(key.id)).last_used_at).toBe(used);
    // A refused key (revoked) is not "used".
    expect((await ann.delete(`${API}/api-keys/${other.id}`)).status).toBe(204);
    expectRefusedKey(await other.get(`${API}/tasks`));
    await sleep(200);
    const [row] = await query(base, sql`select last_used_at from api_keys where id = ${other.id}`);
    expect(row.last_used_at).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------

describe('admin', () => {
  it("an admin's key, even with every scope, cannot do admin operations", async () => {
    const admin = await signUp(base.app, { email: ADMIN_EMAIL });
    expect(admin.user.role).toBe('admin');
    expect((await admin.get(`${API}/admin/jobs`)).status).toBe(200);
    expect((await admin.get(`${API}/users`)).status).toBe(200);

    const key = await createKey(admin, [...ALL_SCOPES]);
    expect((await key.get(`${API}/users/me`)).body.data.role).toBe('admin');
    for (const res of [
      await key.get(`${API}/admin/jobs`),
      await key.post(`${API}/admin/jobs/retry`, { id: 'some-job' }),
      await key.get(`${API}/users`),
    ])
      expect(expectError(res, 403, 'FORBIDDEN').message).toMatch(/API keys/);
  });
});

// ---------------------------------------------------------------------------------------------

async function apiKeyCacheHits(t: TestApp) {
  return (await t.core.metrics.cacheHits.get()).values.find((v) => v.labels.cache === 'api_key')?.value ?? 0;
}

/** Two uses of the key on `c`: the second is answered from the api_key cache. */
async function warmKey(t: TestApp, c: Client) {
  expect((await c.get(`${API}/users/me`)).status).toBe(200);
  const before = await apiKeyCacheHits(t);
  expect((await c.get(`${API}/users/me`)).status).toBe(200);
  expect((await apiKeyCacheHits(t)) - before).toBe(1);
}

describe.each<CacheMode>(['redis', 'memory'])('revocation with the cache (%s)', (mode) => {
  // With Redis: two API processes sharing it (writes on A, the key used on B). Embedded: one process.
  let pair: AppPair;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    pair = await appPair(mode, newApp);
    ({ a, b } = pair);
    expect(b.core.cacheStore.kind).toBe(mode);
  });
  afterAll(() => pair.close());

  it('revoked on A: B, which had the key cached as valid, refuses it at once', async () => {
    const ann = await signUp(a.app);
    const revoked = await createKey(ann, ['tasks:read'], {}, b.app);
    const kept = await createKey(ann, ['tasks:read'], {}, b.app);
    await warmKey(b, revoked);
    await warmKey(b, kept);

    if (mode === 'redis') {
      // Cached by hash: the key itself is never written to Redis.
      const keys = await pair.redis!.keys(`${pair.prefix}*`);
      expect(keys).toContain(`${pair.prefix}apikey:${sha256(revoked.key)}`);
      for (const k of keys) {
        const value = (await pair.redis!.type(k)) === 'string' ? await pair.redis!.get(k) : '';
        expect(`${k} ${value}`).not.toContain(revoked.key.slice(3));
      }
    }

    expect((await ann.delete(`${API}/api-keys/${revoked.id}`)).status).toBe(204);
    expectRefusedKey(await revoked.get(`${API}/users/me`), /revoked/i);
    expectRefusedKey(await new Client(a.app, revoked.key).get(`${API}/users/me`), /revoked/i);
    // Still refused once the "revoked" state is itself cached.
    expectRefusedKey(await revoked.get(`${API}/tasks`), /revoked/i);
    expect((await kept.get(`${API}/tasks`)).status).toBe(200);
    expect((await ann.get(`${API}/users/me`)).status).toBe(200);
  });

  it('account deleted on A: its keys cached on B are refused at once', async () => {
    const ann = await signUp(a.app);
    const key = await createKey(ann, ['tasks:read', 'projects:read'], {}, b.app);
    const key2 = await createKey(ann, ['webhooks:manage'], {}, b.app);
    await warmKey(b, key);
    await warmKey(b, key2);
    expect((await ann.delete(`${API}/users/me`, { password: ann.password })).status).toBe(204);
    expectRefusedKey(await key.get(`${API}/tasks`));
    expectRefusedKey(await key2.get(`${API}/webhooks`));
    expectRefusedKey(await new Client(a.app, key.key).get(`${API}/users/me`));
    expect(await keyRowsOf(a, ann.user.id)).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('the limit of 50 keys', () => {
  it('refuses the 51st active key with 409; revoking one makes room', async () => {
    const ann = await signUp(base.app);
    for (let i = 1; i <= 50; i++) {
      const res = await ann.post(`${API}/api-keys`, { name: `key ${i}`, scopes: ['tasks:read'] });
      expect(res.status, res.raw).toBe(201);
    }
    const error = expectError(
      await ann.post(`${API}/api-keys`, { name: 'one too many', scopes: ['tasks:read'] }),
      409,
      'CONFLICT',
    );
    expect(error.message).toMatch(/50/);
    const list = await listKeys(ann, '?limit=100');
    expect(list.meta.total).toBe(50);
    expect(list.data.some((k) => k.name === 'one too many')).toBe(false);
    expect(await keyRowsOf(base, ann.user.id)).toHaveLength(50);

    // Another user's keys are counted separately.
    const bob = await signUp(base.app);
    await createKey(bob, ['tasks:read']);

    expect((await ann.delete(`${API}/api-keys/${list.data[0].id}`)).status).toBe(204);
    expect((await ann.post(`${API}/api-keys`, { name: 'room again', scopes: ['tasks:read'] })).status).toBe(
      201,
    );
    expectError(
      await ann.post(`${API}/api-keys`, { name: 'full again', scopes: ['tasks:read'] }),
      409,
      'CONFLICT',
    );
  });
});

// create() counts and inserts under the user's row lock: concurrent creations cannot pass the limit.
it('the limit of 50 keys holds under concurrent creations', async () => {
  const ann = await signUp(base.app);
  for (let i = 1; i <= 48; i++) await createKey(ann, ['tasks:read'], { name: `key ${i}` });
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      ann.post(`${API}/api-keys`, { name: `racer ${i}`, scopes: ['tasks:read'] }),
    ),
  );
  expect(results.filter((r) => r.status === 201)).toHaveLength(2);
  expect(results.filter((r) => r.status === 409)).toHaveLength(8);
  expect(await keyRowsOf(base, ann.user.id)).toHaveLength(50);
});

// ---------------------------------------------------------------------------------------------

let ipSeq = 0;
const freshIp = () => `10.77.${++ipSeq}.${Math.floor(Math.random() * 250) + 1}`;

describe.each<CacheMode>(['memory', 'redis'])('rate limiting per key (%s)', (mode) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await newApp({ RATE_LIMIT_MAX: '3', ...(mode === 'redis' ? redisEnv() : {}) });
    expect(t.core.cacheStore.kind).toBe(mode);
  });
  afterAll(() => t.close());

  const call = (token: string | undefined, ip: string) =>
    t.app.inject({
      method: 'GET',
      url: `${API}/users/me`,
      remoteAddress: ip,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  /** A user and a key made through the services, so that setting up spends no budget. */
  async function userWithKey() {
    const session = await t.core.services.auth.register({
      email: uniqueEmail('rl'),
      password: PASSWORD,
      name: 'Limited',
    });
    const { key } = await t.core.services.apiKeys.create(session.user.id, {
      name: 'k',
      scopes: ['tasks:read'],
    });
    const { key: key2 } = await t.core.services.apiKeys.create(session.user.id, {
      name: 'k2',
      scopes: ['tasks:read'],
    });
    return { token: session.token, key, key2 };
  }

  it("a well-formed key has its own bucket, not its address's", async () => {
    const { token, key, key2 } = await userWithKey();
    const ip = freshIp();
    for (let i = 0; i < 3; i++) expect((await call(key, ip)).statusCode).toBe(200);
    const limited = await call(key, ip);
    expect(limited.statusCode).toBe(429);
    expect(JSON.parse(limited.body).error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The same key from anywhere else is still limited (the bucket is the key's).
    expect((await call(key, freshIp())).statusCode).toBe(429);

    // The address's own budget is untouched: three anonymous requests get their 401, the fourth 429.
    for (let i = 0; i < 3; i++) expect((await call(undefined, ip)).statusCode).toBe(401);
    expect((await call(undefined, ip)).statusCode).toBe(429);
    // Another key of the same user, and the user's session, have budgets of their own.
    expect((await call(key2, ip)).statusCode).toBe(200);
    expect((await call(token, ip)).statusCode).toBe(200);
  });

  it('a made-up key (right shape, wrong checksum) is counted against its address', async () => {
    const forged = `tm_${randomBytes(30).toString('base64url')}`;
    const ip = freshIp();
    for (let i = 0; i < 3; i++) expect((await call(forged, ip)).statusCode).toBe(401);
    expect((await call(forged, ip)).statusCode).toBe(429);
    expect((await call(undefined, ip)).statusCode).toBe(429);
    expect((await call('tm_garbage', ip)).statusCode).toBe(429);
    // Elsewhere, the same made-up key is a fresh address's problem.
    expect((await call(forged, freshIp())).statusCode).toBe(401);
  });
});
