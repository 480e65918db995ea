import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, testDb } from './helpers/app';
import { type Client, expectError, signUp } from './helpers/client';
import { DAY, fakeClock } from './helpers/clock';

const SYNC = '/api/v1/sync';
const TASKS = '/api/v1/tasks';
const PROJECTS = '/api/v1/projects';

interface SyncData {
  projects: { id: string; name: string; version: number }[];
  tasks: { id: string; title: string; version: number; project_id: string | null }[];
  deleted: { projects: string[]; tasks: string[] };
  cursor: string;
  has_more: boolean;
  full: boolean;
}

async function sync(c: Client, cursor?: string, limit?: number): Promise<SyncData> {
  const qs = new URLSearchParams();
  if (cursor) qs.set('cursor', cursor);
  if (limit) qs.set('limit', String(limit));
  const res = await c.get(`${SYNC}?${qs}`);
  if (res.status !== 200) throw new Error(`sync: ${res.status} ${res.raw}`);
  return res.body.data;
}

/** Every page until has_more is false: what a client receives in one sync, and the cursor after it. */
async function syncAll(c: Client, cursor?: string, limit?: number) {
  const tasks = new Map<string, SyncData['tasks'][number]>();
  const projects = new Map<string, SyncData['projects'][number]>();
  const deletedTasks = new Set<string>();
  const deletedProjects = new Set<string>();
  let pages = 0;
  let page: SyncData;
  let full = false;
  do {
    page = await sync(c, cursor, limit);
    if (pages === 0) full = page.full;
    pages++;
    for (const p of page.projects) projects.set(p.id, p);
    for (const t of page.tasks) tasks.set(t.id, t);
    for (const id of page.deleted.tasks) deletedTasks.add(id);
    for (const id of page.deleted.projects) deletedProjects.add(id);
    cursor = page.cursor;
  } while (page.has_more);
  return { tasks, projects, deletedTasks, deletedProjects, cursor: cursor!, pages, full };
}

async function newTask(c: Client, title: string, extra: Record<string, unknown> = {}) {
  const res = await c.post(TASKS, { title, ...extra });
  if (res.status !== 201) throw new Error(`create: ${res.status} ${res.raw}`);
  return res.body.data as { id: string; version: number };
}

describe('delta sync', () => {
  let t: TestApp;
  const clock = fakeClock();
  let ann: Client;
  let bob: Client;
  beforeAll(async () => {
    t = await createTestApp({ clock });
    ann = await signUp(t.app);
    bob = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('a full sync brings everything; then only what changed, deletions by id; then nothing', async () => {
    const project = (await ann.post(PROJECTS, { name: 'Home' })).body.data;
    const a = await newTask(ann, 'A', { project_id: project.id });
    const b = await newTask(ann, 'B');
    const c = await newTask(ann, 'C');
    await newTask(bob, 'Not yours');

    const first = await syncAll(ann);
    expect(first.full).toBe(true);
    expect([...first.tasks.keys()].sort()).toEqual([a.id, b.id, c.id].sort());
    expect([...first.projects.keys()]).toEqual([project.id]);
    expect(first.deletedTasks.size).toBe(0);
    expect(first.tasks.get(a.id)).toMatchObject({ title: 'A', project_id: project.id, version: 1 });

    await ann.patch(`${TASKS}/${b.id}`, { title: 'B2' });
    expect((await ann.delete(`${TASKS}/${c.id}`)).status).toBe(204);
    await ann.patch(`${PROJECTS}/${project.id}`, { name: 'House' });

    const second = await syncAll(ann, first.cursor);
    expect(second.full).toBe(false);
    expect([...second.tasks.keys()]).toEqual([b.id]);
    expect(second.tasks.get(b.id)).toMatchObject({ title: 'B2', version: 2 });
    expect([...second.deletedTasks]).toEqual([c.id]);
    expect([...second.projects.values()].map((p) => p.name)).toEqual(['House']);

    const third = await syncAll(ann, second.cursor);
    expect(third.tasks.size + third.projects.size + third.deletedTasks.size).toBe(0);
    // The empty answer's cursor still works.
    await ann.patch(`${TASKS}/${a.id}`, { priority: 'high' });
    expect([...(await syncAll(ann, third.cursor)).tasks.keys()]).toEqual([a.id]);
  });

  it('deleting a project: its tombstone, and its tasks changed (moved to no project)', async () => {
    const project = (await ann.post(PROJECTS, { name: 'Temp' })).body.data;
    const task = await newTask(ann, 'In temp', { project_id: project.id });
    const before = await syncAll(ann);
    expect((await ann.delete(`${PROJECTS}/${project.id}`)).status).toBe(204);
    const after = await syncAll(ann, before.cursor);
    expect([...after.deletedProjects]).toEqual([project.id]);
    expect(after.tasks.get(task.id)).toMatchObject({ project_id: null, version: 2 });
  });

  it('pages a large account; changes made while paging arrive, in this sync or the next', async () => {
    const fresh = await signUp(t.app);
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await newTask(fresh, `T${i}`)).id);
    const p1 = await sync(fresh, undefined, 10);
    expect(p1.tasks).toHaveLength(10);
    expect(p1.has_more).toBe(true);
    // While the client pages: one already sent changes, one not yet sent is deleted, one is new.
    await fresh.patch(`${TASKS}/${p1.tasks[0]!.id}`, { title: 'changed while paging' });
    const unsent = ids.find((id) => !p1.tasks.some((x) => x.id === id))!;
    await fresh.delete(`${TASKS}/${unsent}`);
    const late = await newTask(fresh, 'created while paging');
    const rest = await syncAll(fresh, p1.cursor, 10);
    const seen = new Map([...p1.tasks.map((x) => [x.id, x] as const), ...rest.tasks]);
    const next = await syncAll(fresh, rest.cursor, 10);
    for (const [id, x] of next.tasks) seen.set(id, x);
    for (const id of next.deletedTasks) seen.delete(id);
    // The client ends with exactly the server's state.
    const server = (await fresh.get(`${TASKS}?limit=100&include_archived=true`)).body.data as {
      id: string;
      title: string;
    }[];
    expect([...seen.keys()].sort()).toEqual(server.map((x) => x.id).sort());
    expect(seen.get(p1.tasks[0]!.id)!.title).toBe('changed while paging');
    expect(seen.has(late.id)).toBe(true);
    expect(seen.has(unsent)).toBe(false);
  });

  it('an archived task is a change like any other', async () => {
    const task = await newTask(ann, 'To archive');
    const before = await syncAll(ann);
    await ann.post(`${TASKS}/${task.id}/archive`);
    const after = await syncAll(ann, before.cursor);
    expect([...after.tasks.keys()]).toEqual([task.id]);
  });

  it('never shows another user anything, not even deletions', async () => {
    const bobStart = await syncAll(bob);
    const task = await newTask(ann, 'Secret');
    await ann.delete(`${TASKS}/${task.id}`);
    const bobNext = await syncAll(bob, bobStart.cursor);
    expect(bobNext.tasks.size + bobNext.deletedTasks.size + bobNext.projects.size).toBe(0);
    // A cursor is not a key: bob using ann's cursor sees only his own changes.
    const annCursor = (await syncAll(ann)).cursor;
    await newTask(ann, 'Still secret');
    const stolen = await syncAll(bob, annCursor);
    expect([...stolen.tasks.values()].some((x) => x.title.includes('ecret'))).toBe(false);
  });

  it('the cleanup job forgets deletions older than 31 days, not newer ones', async () => {
    const task = await newTask(ann, 'Deleted long ago');
    await ann.delete(`${TASKS}/${task.id}`);
    const count = async () =>
      Number(
        (
          (await t.core.database.db.execute(
            `select count(*)::int as n from sync_tombstones where id = '${task.id}'`,
          )) as unknown as {
            rows: { n: number }[];
          }
        ).rows[0]!.n,
      );
    expect(await count()).toBe(1);
    await t.core.services.sync.purgeTombstones();
    expect(await count()).toBe(1);
    clock.advance(32 * DAY);
    await t.core.services.sync.purgeTombstones();
    expect(await count()).toBe(0);
  });

  it('a malformed cursor is a 400; a cursor older than 30 days is 410 GONE', async () => {
    for (const bad of ['nope', Buffer.from('{"v":1}').toString('base64url'), 'x'.repeat(20_000)]) {
      expectError(await ann.get(`${SYNC}?cursor=${bad}`), 400, 'VALIDATION_ERROR');
    }
    const forged = Buffer.from(
      JSON.stringify({ v: 1, s: "1:2:'; drop table tasks; --", st: 1, u: null, ut: null, a: null }),
    ).toString('base64url');
    expectError(await ann.get(`${SYNC}?cursor=${forged}`), 400, 'VALIDATION_ERROR');
    expectError(await ann.get(`${SYNC}?limit=0`), 400, 'VALIDATION_ERROR');
    expectError(await ann.get(`${SYNC}?limit=1001`), 400, 'VALIDATION_ERROR');
    const { cursor } = await syncAll(ann);
    clock.advance(29 * DAY);
    expect((await ann.get(`${SYNC}?cursor=${cursor}`)).status).toBe(200);
    clock.advance(2 * DAY);
    const old = await ann.get(`${SYNC}?cursor=${cursor}`);
    expectError(old, 410, 'GONE');
    expect(old.body.error.message).toMatch(/full sync/);
  });

  it('deleting the account leaves no tombstones behind', async () => {
    const carl = await signUp(t.app);
    const task = await newTask(carl, 'Gone with the account');
    await carl.delete(`${TASKS}/${task.id}`);
    await newTask(carl, 'Deleted by the cascade');
    const me = (await carl.get('/api/v1/users/me')).body.data;
    const res = await carl.delete('/api/v1/users/me', { password: carl.password });
    expect(res.status).toBe(204);
    const rows = (await t.core.database.db.execute(
      `select count(*)::int as n from sync_tombstones where user_id = '${me.id}'`,
    )) as unknown as { rows: { n: number }[] };
    expect(rows.rows[0]!.n).toBe(0);
  });
});

// PGlite has one connection: no two transactions ever overlap there.
describe.skipIf(testDb !== 'postgres')('delta sync under concurrent transactions (PostgreSQL)', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('a transaction that commits after a later one is not skipped', async () => {
    const early = await newTask(ann, 'early');
    const other = await newTask(ann, 'other');
    const start = await syncAll(ann);
    // A slow writer: its transaction starts (and takes its id) first, and commits last.
    const slow = new pg.Client({ connectionString: t.db.url });
    await slow.connect();
    try {
      await slow.query('begin');
      await slow.query(`update tasks set title = 'slow writer', version = version + 1 where id = $1`, [
        early.id,
      ]);
      // A fast writer commits meanwhile, and a client syncs.
      await ann.patch(`${TASKS}/${other.id}`, { title: 'fast writer' });
      const mid = await syncAll(ann, start.cursor);
      expect([...mid.tasks.values()].map((x) => x.title)).toEqual(['fast writer']);
      await slow.query('commit');
      // A cursor made of a time or a sequence number would be past the slow change by now.
      const end = await syncAll(ann, mid.cursor);
      expect([...end.tasks.values()].map((x) => x.title)).toEqual(['slow writer']);
    } finally {
      await slow.end();
    }
  });
});
