// Row-level security (migration 0019, packages/core/src/db/rls.ts): the app's connection runs as
// taskman_app with taskman.row_scope set to the work's scope, so a query that forgets its
// `user_id = …` filter still sees and changes only the scope's rows. The raw queries below have no
// user filter on purpose; each runs in a scope the way a request would (requestContext).
import { randomUUID } from 'node:crypto';
import { loadConfig, openDatabase, requestContext } from '@taskman/core';
import { type SQL, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp, testDb } from './helpers/app';
import { type Client, signUp } from './helpers/client';

const API = '/api/v1';

let t: TestApp;
let ann: Client & { user: any };
let bob: Client & { user: any };

/** Runs `fn` in a scope, as the API runs a request (a user's id, 'system', or anything else). */
const inScope = <T>(scope: string, fn: () => Promise<T>) =>
  requestContext.run({ requestId: `rls-${randomUUID()}`, rowScope: scope }, fn);

const rows = async <T = any>(q: SQL): Promise<T[]> =>
  ((await t.core.database.db.execute(q)) as unknown as { rows: T[] }).rows;
const rowsIn = <T = any>(scope: string, q: SQL) => inScope(scope, () => rows<T>(q));
const countIn = async (scope: string, table: string) =>
  Number((await rowsIn(scope, sql`select count(*)::int as n from ${sql.identifier(table)}`))[0].n);

/** The SQLSTATE of a failed query (drizzle wraps the driver's error). */
async function sqlState(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (err) {
    const e = err as { code?: string; cause?: { code?: string } };
    return e.cause?.code ?? e.code ?? 'no code';
  }
  return 'no error';
}

// Every table with a user_id column (sync_tombstones is outside schema.ts).
const OWNED = [
  'projects',
  'tasks',
  'outbox_events',
  'webhooks',
  'api_keys',
  'calendar_feeds',
  'idempotency_keys',
  'sync_tombstones',
  'revoked_tokens',
  'webhook_deliveries',
  'task_completions',
  'weekly_reports',
  'calendar_connections',
];

async function seed(who: Client & { user: any }, label: string) {
  const project = (await who.post(`${API}/projects`, { name: `${label} project` })).body.data;
  for (const title of [`${label} one`, `${label} two`, `${label} three`])
    expect((await who.post(`${API}/tasks`, { title, project_id: project.id })).status).toBe(201);
  const gone = (await who.post(`${API}/tasks`, { title: `${label} deleted` })).body.data;
  expect((await who.delete(`${API}/tasks/${gone.id}`)).status).toBe(204);
  expect(
    (await who.post(`${API}/tasks`, { title: `${label} keyed` }, { 'idempotency-key': `${label}-1` })).status,
  ).toBe(201);
  expect(
    (await who.post(`${API}/webhooks`, { url: 'http://127.0.0.1:9/hook', events: ['task.created'] })).status,
  ).toBe(201);
  expect((await who.post(`${API}/api-keys`, { name: `${label} key`, scopes: ['tasks:read'] })).status).toBe(
    201,
  );
  expect((await who.post(`${API}/calendar/feed`)).status).toBe(201);
}

beforeAll(async () => {
  t = await createTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  ann = await signUp(t.app, { name: 'Ann' });
  bob = await signUp(t.app, { name: 'Bob' });
  await seed(ann, 'ann');
  await seed(bob, 'bob');
  // One more for Ann: the two users' counts differ.
  expect((await ann.post(`${API}/tasks`, { title: 'ann extra' })).status).toBe(201);
});
afterAll(() => t?.close());

describe('row-level security: the app connection', () => {
  it('runs as taskman_app, which owns no table', async () => {
    const [who] = await rows(sql`select current_user as role`);
    expect(who.role).toBe('taskman_app');
    const owners = await rows(
      sql`select distinct tableowner from pg_tables where schemaname = 'public' and tablename in ('tasks', 'users', 'audit_log')`,
    );
    expect(owners.length).toBe(1);
    expect(owners[0].tableowner).not.toBe('taskman_app');
  });

  it('has row-level security enabled and forced on every user-owned table, users and audit_log', async () => {
    const tables = await rows<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>(sql`
      select relname, relrowsecurity, relforcerowsecurity from pg_class
      where relnamespace = 'public'::regnamespace and relkind = 'r'`);
    const secured = tables.filter((r) => r.relrowsecurity && r.relforcerowsecurity).map((r) => r.relname);
    expect(secured.sort()).toEqual(
      [...OWNED, 'users', 'audit_log', 'reminder_deliveries', 'calendar_items'].sort(),
    );
    // Every table with a user_id column is among them (a new one must get a policy too).
    const withUserId = await rows<{ table_name: string }>(sql`
      select table_name from information_schema.columns
      where table_schema = 'public' and column_name = 'user_id'`);
    for (const { table_name } of withUserId) expect(secured).toContain(table_name);
  });

  it('cannot change the schema, switch row-level security off or empty a table', async () => {
    for (const statement of [
      'alter table tasks add column sneaky int',
      'alter table tasks disable row level security',
      'alter table tasks no force row level security',
      'drop policy tasks_owner on tasks',
      'drop table tasks',
      'truncate tasks',
      'create role sneaky',
    ]) {
      expect(await sqlState(() => rowsIn('system', sql.raw(statement))), statement).toBe('42501');
    }
  });

  it('cannot change or delete audit log entries, even in the system scope; it may append and read them', async () => {
    const id = randomUUID();
    await rowsIn(
      'system',
      sql`insert into audit_log (id, actor_id, action) values (${id}, ${ann.user.id}, 'auth.login')`,
    );
    for (const scope of ['system', ann.user.id]) {
      expect(
        await sqlState(() => rowsIn(scope, sql`update audit_log set action = 'x' where id = ${id}`)),
      ).toBe('42501');
      expect(await sqlState(() => rowsIn(scope, sql`delete from audit_log where id = ${id}`))).toBe('42501');
    }
    expect(await rowsIn(ann.user.id, sql`select action from audit_log where id = ${id}`)).toEqual([
      { action: 'auth.login' },
    ]);
    // Bob reads only his own entries: not Ann's sign-in.
    expect(await rowsIn(bob.user.id, sql`select id from audit_log where id = ${id}`)).toEqual([]);
    const bobs = await rowsIn<{ actor_id: string | null; target_id: string | null }>(
      bob.user.id,
      sql`select actor_id, target_id from audit_log`,
    );
    for (const r of bobs) expect(r.actor_id === bob.user.id || r.target_id === bob.user.id).toBe(true);
  });

  it('row_security = off does not help: the query fails instead of seeing everything', async () => {
    const state = await sqlState(() =>
      inScope(bob.user.id, () =>
        t.core.database.db.transaction(async (tx) => {
          await tx.execute(sql`set local row_security = off`);
          await tx.execute(sql`select * from tasks`);
        }),
      ),
    );
    expect(state).toBe('42501');
  });
});

describe('row-level security: a query without a user filter', () => {
  it("sees only the scope's rows in every user-owned table", async () => {
    for (const table of OWNED) {
      const all = await rowsIn<{ user_id: string }>(
        'system',
        sql`select user_id from ${sql.identifier(table)}`,
      );
      const bobs = await rowsIn<{ user_id: string }>(
        bob.user.id,
        sql`select user_id from ${sql.identifier(table)}`,
      );
      expect(
        bobs.every((r) => r.user_id === bob.user.id),
        table,
      ).toBe(true);
      expect(bobs.length, table).toBe(all.filter((r) => r.user_id === bob.user.id).length);
    }
    // Both users have rows where the seed made some: the scopes are really apart.
    for (const table of [
      'projects',
      'tasks',
      'outbox_events',
      'webhooks',
      'api_keys',
      'calendar_feeds',
      'idempotency_keys',
      'sync_tombstones',
    ]) {
      expect(await countIn(ann.user.id, table), table).toBeGreaterThan(0);
      expect(await countIn(bob.user.id, table), table).toBeGreaterThan(0);
      expect(await countIn('system', table), table).toBe(
        (await countIn(ann.user.id, table)) + (await countIn(bob.user.id, table)),
      );
    }
  });

  it('sees only its own account in users', async () => {
    expect(await rowsIn(bob.user.id, sql`select id from users`)).toEqual([{ id: bob.user.id }]);
    expect(await countIn('system', 'users')).toBeGreaterThanOrEqual(2);
  });

  it('sees nothing with an empty or unset scope, everything with system', async () => {
    expect(await countIn('', 'tasks')).toBe(0);
    expect(await countIn('', 'users')).toBe(0);
    expect(await countIn('system', 'tasks')).toBe(
      (await countIn(ann.user.id, 'tasks')) + (await countIn(bob.user.id, 'tasks')),
    );
    // Within a transaction, the setting reset to nothing at all.
    const unset = await inScope(bob.user.id, () =>
      t.core.database.db.transaction(async (tx) => {
        await tx.execute(sql`set local taskman.row_scope to default`);
        const [row] = (
          (await tx.execute(sql`select count(*)::int as n from tasks`)) as unknown as { rows: any[] }
        ).rows;
        return row.n;
      }),
    );
    expect(unset).toBe(0);
    // The transaction's setting ended with it.
    expect(await countIn(bob.user.id, 'tasks')).toBeGreaterThan(0);
  });

  it("cannot update or delete another user's rows", async () => {
    const annTasks = await rowsIn(ann.user.id, sql`select id, title from tasks order by id`);
    const updated = await rowsIn(
      bob.user.id,
      sql`update tasks set description = 'touched by bob' returning user_id`,
    );
    expect(updated.length).toBeGreaterThan(0);
    expect(updated.every((r) => r.user_id === bob.user.id)).toBe(true);
    expect(await rowsIn(ann.user.id, sql`select id, title from tasks order by id`)).toEqual(annTasks);
    expect(
      await rowsIn(
        'system',
        sql`select count(*)::int as n from tasks where description = 'touched by bob' and user_id <> ${bob.user.id}`,
      ),
    ).toEqual([{ n: 0 }]);

    const annHooks = await countIn(ann.user.id, 'webhooks');
    const deleted = await rowsIn(bob.user.id, sql`delete from webhooks returning user_id`);
    expect(deleted.length).toBeGreaterThan(0);
    expect(deleted.every((r) => r.user_id === bob.user.id)).toBe(true);
    expect(await countIn(ann.user.id, 'webhooks')).toBe(annHooks);
    expect(await rowsIn(bob.user.id, sql`delete from users where id = ${ann.user.id} returning id`)).toEqual(
      [],
    );
    expect(
      await rowsIn(bob.user.id, sql`update api_keys set revoked_at = now() returning user_id`),
    ).not.toContainEqual({
      user_id: ann.user.id,
    });
    expect(
      await rowsIn(ann.user.id, sql`select count(*)::int as n from api_keys where revoked_at is null`),
    ).toEqual([{ n: 1 }]);
  });

  it('cannot write a row for another user, nor give its own to one', async () => {
    const insert = sql`insert into projects (id, user_id, name) values (${randomUUID()}, ${ann.user.id}, 'Planted')`;
    expect(await sqlState(() => rowsIn(bob.user.id, insert))).toBe('42501');
    const [task] = await rowsIn(bob.user.id, sql`select id from tasks limit 1`);
    expect(
      await sqlState(() =>
        rowsIn(bob.user.id, sql`update tasks set user_id = ${ann.user.id} where id = ${task.id}`),
      ),
    ).toBe('42501');
    expect(
      await sqlState(() =>
        rowsIn(
          bob.user.id,
          sql`insert into revoked_tokens (jti, user_id, expires_at) values (${randomUUID()}, ${ann.user.id}, now())`,
        ),
      ),
    ).toBe('42501');
    expect(
      await rowsIn('system', sql`select count(*)::int as n from projects where name = 'Planted'`),
    ).toEqual([{ n: 0 }]);
  });

  it('keeps the scope of each caller apart on a shared connection pool, in and out of transactions', async () => {
    const db = t.core.database.db;
    const scopeOf = async () =>
      (
        (await db.execute(sql`select current_setting('taskman.row_scope') as s`)) as unknown as {
          rows: any[];
        }
      ).rows[0].s;
    const inTx = () =>
      db.transaction(async (tx) => {
        const [row] = (
          (await tx.execute(sql`select current_setting('taskman.row_scope') as s`)) as unknown as {
            rows: any[];
          }
        ).rows;
        return row.s;
      });
    const scopes = [ann.user.id, bob.user.id, 'system'];
    const expected = Array.from({ length: 60 }, (_, i) => scopes[i % 3]!);
    const seen = await Promise.all(expected.map((s, i) => inScope(s, i % 2 ? scopeOf : inTx)));
    expect(seen).toEqual(expected);
    // Outside any request: the system scope.
    expect(await scopeOf()).toBe('system');
  });
});

describe('row-level security: through the API', () => {
  it("runs a signed-in request's queries in its caller's scope", async () => {
    const seen: { scope: string; role: string; tasks: number }[] = [];
    const list = t.core.services.tasks.list.bind(t.core.services.tasks);
    const spy = vi.spyOn(t.core.services.tasks, 'list').mockImplementation(async (...args) => {
      // Inside the route's call: the request's context, and no user filter in this query.
      const [row] = await rows(
        sql`select current_setting('taskman.row_scope') as scope, current_user as role, (select count(*)::int from tasks) as tasks`,
      );
      seen.push(row);
      return list(...args);
    });
    try {
      const [a, b] = await Promise.all([
        ann.get(`${API}/tasks?limit=100`),
        bob.get(`${API}/tasks?limit=100`),
      ]);
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
    } finally {
      spy.mockRestore();
    }
    const annTasks = await countIn(ann.user.id, 'tasks');
    const bobTasks = await countIn(bob.user.id, 'tasks');
    expect(annTasks).not.toBe(bobTasks);
    expect(seen).toHaveLength(2);
    expect(seen).toContainEqual({ scope: ann.user.id, role: 'taskman_app', tasks: annTasks });
    expect(seen).toContainEqual({ scope: bob.user.id, role: 'taskman_app', tasks: bobTasks });
  });

  it('still answers what needs every row: sign-in, the calendar feed by its token, admin routes', async () => {
    const login = await ann.post(`${API}/auth/login`, {
      email: ann.user.email,
      password: 'correct horse battery',
    });
    expect(login.status).toBe(200);
    const feed = (await bob.post(`${API}/calendar/feed`)).body.data;
    const ics = await t.app.inject({ method: 'GET', url: new URL(feed.url).pathname });
    expect(ics.statusCode).toBe(200);
    expect(ics.body).toContain('BEGIN:VCALENDAR');
    // Ann, the first account, is an admin: the user list shows every account.
    const users = await ann.get(`${API}/users?limit=100`);
    expect(users.status).toBe(200);
    expect(users.body.data.map((u: { id: string }) => u.id)).toEqual(
      expect.arrayContaining([ann.user.id, bob.user.id]),
    );
  });
});

describe('row-level security: reads across users that stay legitimate', () => {
  it("a live stream resumes without a resync when the events before the user's oldest are other users'", async () => {
    // Stream positions: 9000001 was Ann's (since purged), 9000002 is Bob's, 9000003 Ann's. Ann
    // resumes after 9000001: nothing of hers is missing. Seen through her scope only, the oldest
    // kept position would be 9000003 and look like a purge (GET /events would send `resync`).
    const [annEvent] = await rowsIn(ann.user.id, sql`select id from outbox_events limit 1`);
    const [bobEvent] = await rowsIn(bob.user.id, sql`select id from outbox_events limit 1`);
    await rowsIn('system', sql`update outbox_events set stream_seq = null, published_at = null`);
    await rowsIn(
      'system',
      sql`update outbox_events set published_at = now(), stream_seq = case id when ${bobEvent.id} then 9000002 else 9000003 end
          where id in (${annEvent.id}, ${bobEvent.id})`,
    );
    const sent: unknown[] = [];
    const close = await inScope(ann.user.id, () =>
      t.core.services.live.open(ann.user.id, 9000001, (e) =>
        sent.push(e === 'resync' ? e : (e as { id: number }).id),
      ),
    );
    close();
    expect(sent).toEqual([9000003]);
  });
});

describe('row-level security: configuration', () => {
  it('DATABASE_APP_ROLE: taskman_app unless set; empty keeps the login role; a role name otherwise', () => {
    expect(loadConfig({}).databaseAppRole).toBe('taskman_app');
    expect(loadConfig({ DATABASE_APP_ROLE: '' }).databaseAppRole).toBe('');
    expect(loadConfig({ DATABASE_APP_ROLE: 'tm_app' }).databaseAppRole).toBe('tm_app');
    expect(() => loadConfig({ DATABASE_APP_ROLE: 'x; drop table tasks' })).toThrow(/DATABASE_APP_ROLE/);
  });
});

describe.runIf(testDb === 'postgres')("row-level security: a restricted login (DATABASE_APP_ROLE='')", () => {
  const login = `taskman_rls_login_${randomUUID().slice(0, 8)}`;
  const admin = () => new pg.Client({ connectionString: t.db.url });

  afterAll(async () => {
    const c = admin();
    await c.connect();
    await c.query(`drop role if exists ${login}`).finally(() => c.end());
  });

  it("starts without migrating (the owner did), and sees only the scope's rows", async () => {
    const c = admin();
    await c.connect();
    await c.query(`create role ${login} login in role taskman_app`).finally(() => c.end());
    const url = new URL(t.db.url!);
    url.username = login;
    const database = await openDatabase({ databaseUrl: url.toString(), dataDir: 'unused', poolMax: 2 });
    try {
      await database.migrate(); // checks, changes nothing
      await database.restrict('');
      const db = database.db;
      const count = (scope: string) =>
        inScope(scope, async () =>
          Number(
            ((await db.execute(sql`select count(*)::int as n from tasks`)) as unknown as { rows: any[] })
              .rows[0].n,
          ),
        );
      expect(await count(bob.user.id)).toBe(await countIn(bob.user.id, 'tasks'));
      expect(await count('system')).toBe(await countIn('system', 'tasks'));
      expect(await count('')).toBe(0);
      expect(
        await sqlState(() => inScope('system', () => db.execute(sql`alter table tasks add column x int`))),
      ).toBe('42501');
    } finally {
      await database.close();
    }
  });

  it('refuses an app role that cannot be taken, at start', async () => {
    const database = await openDatabase({ databaseUrl: t.db.url!, dataDir: 'unused', poolMax: 1 });
    try {
      await expect(database.restrict('no_such_role')).rejects.toThrow(/DATABASE_APP_ROLE/);
    } finally {
      await database.close();
    }
  });
});

describe('row-level security: a connection that never set a scope', () => {
  it.runIf(testDb === 'postgres')('sees nothing as taskman_app', async () => {
    const client = new pg.Client({ connectionString: t.db.url });
    await client.connect();
    try {
      await client.query('set role taskman_app');
      expect((await client.query('select count(*)::int as n from tasks')).rows).toEqual([{ n: 0 }]);
      expect((await client.query('select count(*)::int as n from users')).rows).toEqual([{ n: 0 }]);
    } finally {
      await client.end();
    }
  });
});
