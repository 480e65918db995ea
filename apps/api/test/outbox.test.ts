// The transactional outbox: each change to a task or project writes its event in the same
// transaction; a refused or failed change writes none.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { type Client, expectError, signUp } from './helpers/client';

interface EventRow {
  type: string;
  user_id: string;
  aggregate_id: string;
  payload: Record<string, any>;
  published_at: string | null;
}

describe('outbox', () => {
  let t: TestApp;
  let ann: Client & { user: any };
  let bob: Client & { user: any };

  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    bob = await signUp(t.app);
  });
  afterAll(() => t.close());

  /** Events of a user, oldest first; `since` drops the ones already seen. */
  async function events(userId: string): Promise<EventRow[]> {
    const res = (await t.core.database.db.execute(
      sql`select type, user_id, aggregate_id, payload, published_at from outbox_events where user_id = ${userId} order by created_at, id`,
    )) as unknown as { rows: EventRow[] };
    return res.rows;
  }
  async function newEvents(userId: string, action: () => Promise<unknown>): Promise<EventRow[]> {
    const before = (await events(userId)).length;
    await action();
    return (await events(userId)).slice(before);
  }

  it('writes task.created (and task.completed for a task created done), unpublished, with the task', async () => {
    let id = '';
    const created = await newEvents(ann.user.id, async () => {
      id = (await ann.post('/api/v1/tasks', { title: 'Evented' })).body.data.id;
    });
    expect(created.map((e) => e.type)).toEqual(['task.created']);
    expect(created[0]).toMatchObject({ user_id: ann.user.id, aggregate_id: id, published_at: null });
    expect(created[0]!.payload.task).toMatchObject({ id, title: 'Evented', status: 'todo', version: 1 });

    const done = await newEvents(ann.user.id, () =>
      ann.post('/api/v1/tasks', { title: 'Born done', status: 'done' }),
    );
    expect(done.map((e) => e.type)).toEqual(['task.created', 'task.completed']);
  });

  it('writes task.updated on every change, plus task.completed only when it becomes done', async () => {
    const id = (await ann.post('/api/v1/tasks', { title: 'Progress' })).body.data.id;
    expect(
      (await newEvents(ann.user.id, () => ann.patch(`/api/v1/tasks/${id}`, { priority: 'high' }))).map(
        (e) => e.type,
      ),
    ).toEqual(['task.updated']);
    const completing = await newEvents(ann.user.id, () =>
      ann.patch(`/api/v1/tasks/${id}`, { status: 'done' }),
    );
    expect(completing.map((e) => e.type)).toEqual(['task.updated', 'task.completed']);
    expect(completing[1]!.payload.task.status).toBe('done');
    // Already done: an edit is an update, not a second completion.
    expect(
      (await newEvents(ann.user.id, () => ann.patch(`/api/v1/tasks/${id}`, { title: 'Progress!' }))).map(
        (e) => e.type,
      ),
    ).toEqual(['task.updated']);
    expect(
      (await newEvents(ann.user.id, () => ann.post(`/api/v1/tasks/${id}/archive`))).map((e) => e.type),
    ).toEqual(['task.updated']);
    const deleted = await newEvents(ann.user.id, () => ann.delete(`/api/v1/tasks/${id}`));
    expect(deleted.map((e) => e.type)).toEqual(['task.deleted']);
    expect(deleted[0]!.payload).toMatchObject({ id, project_id: null, task: { id, title: 'Progress!' } });
  });

  it('writes project events; deleting a project also reports each task it let go', async () => {
    let projectId = '';
    const created = await newEvents(ann.user.id, async () => {
      projectId = (await ann.post('/api/v1/projects', { name: 'Evented project' })).body.data.id;
    });
    expect(created.map((e) => e.type)).toEqual(['project.created']);
    expect(created[0]!.payload.project).toMatchObject({ id: projectId, name: 'Evented project' });
    expect(
      (
        await newEvents(ann.user.id, () => ann.patch(`/api/v1/projects/${projectId}`, { name: 'Renamed' }))
      ).map((e) => e.type),
    ).toEqual(['project.updated']);
    const t1 = (await ann.post('/api/v1/tasks', { title: 'In it', project_id: projectId })).body.data.id;
    const t2 = (await ann.post('/api/v1/tasks', { title: 'Also in it', project_id: projectId })).body.data.id;
    const deleted = await newEvents(ann.user.id, () => ann.delete(`/api/v1/projects/${projectId}`));
    expect(deleted.map((e) => e.type).sort()).toEqual(['project.deleted', 'task.updated', 'task.updated']);
    const detached = deleted.filter((e) => e.type === 'task.updated').map((e) => e.payload.task);
    expect(detached.map((task) => task.id).sort()).toEqual([t1, t2].sort());
    expect(detached.every((task) => task.projectId === null)).toBe(true);
  });

  it('writes nothing for a refused change, and nothing for another user', async () => {
    const id = (await ann.post('/api/v1/tasks', { title: 'Guarded' })).body.data.id;
    const annBefore = (await events(ann.user.id)).length;
    const bobBefore = (await events(bob.user.id)).length;
    expectError(await ann.post('/api/v1/tasks', { title: '   ' }), 400, 'VALIDATION_ERROR');
    expectError(await ann.patch(`/api/v1/tasks/${id}`, { priority: 'critical' }), 400, 'VALIDATION_ERROR');
    expectError(await bob.patch(`/api/v1/tasks/${id}`, { title: 'Hijack' }), 404, 'NOT_FOUND');
    expectError(await bob.delete(`/api/v1/tasks/${id}`), 404, 'NOT_FOUND');
    expect((await events(ann.user.id)).length).toBe(annBefore);
    expect((await events(bob.user.id)).length).toBe(bobBefore);
  });

  it('is one transaction with the change: if the event cannot be written, the change is not made', async () => {
    const id = (await ann.post('/api/v1/tasks', { title: 'Atomic' })).body.data.id;
    await t.db.asOwner('alter table outbox_events add constraint outbox_refuses check (false) not valid');
    try {
      expect((await ann.post('/api/v1/tasks', { title: 'Never stored' })).status).toBe(500);
      expect((await ann.patch(`/api/v1/tasks/${id}`, { title: 'Never renamed' })).status).toBe(500);
      expect((await ann.delete(`/api/v1/tasks/${id}`)).status).toBe(500);
    } finally {
      await t.db.asOwner('alter table outbox_events drop constraint outbox_refuses');
    }
    expect((await ann.get('/api/v1/tasks?q=never')).body.meta.total).toBe(0);
    const task = (await ann.get(`/api/v1/tasks/${id}`)).body.data;
    expect(task).toMatchObject({ title: 'Atomic', version: 1 });
  });
});
