// The cleanup_tasks job: archives tasks completed long ago, for every user, once.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertHandlers } from '../../../packages/core/src/jobs/job.catalogue';
import { createTestApp, type TestApp } from './helpers/app';
import { signUp } from './helpers/client';

describe('cleanup_tasks', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { ARCHIVE_AFTER_DAYS: '30' } });
  });
  afterAll(() => t.close());

  const completedDaysAgo = (id: string, days: number) =>
    t.core.database.db.execute(
      sql`update tasks set completed_at = now() - make_interval(days => ${days}) where id = ${id}`,
    );

  it('archives tasks completed more than ARCHIVE_AFTER_DAYS ago, of every user, and nothing else', async () => {
    const ann = await signUp(t.app);
    const bob = await signUp(t.app);
    const make = async (c: typeof ann, title: string, status: string) =>
      (await c.post('/api/v1/tasks', { title, status })).body.data.id as string;
    const annOld = await make(ann, 'Ann old', 'done');
    const annRecent = await make(ann, 'Ann recent', 'done');
    const annOpen = await make(ann, 'Ann open', 'todo');
    const bobOld = await make(bob, 'Bob old', 'done');
    await completedDaysAgo(annOld, 31);
    await completedDaysAgo(annRecent, 29);
    await completedDaysAgo(bobOld, 400);
    // Warm the cache: the job must invalidate it.
    expect((await ann.get('/api/v1/tasks')).body.meta.total).toBe(3);

    const result = await t.core.jobs.cleanup_tasks({});
    expect(result.archived).toBe(2);

    expect((await ann.get('/api/v1/tasks')).body.data.map((x: any) => x.id).sort()).toEqual(
      [annOpen, annRecent].sort(),
    );
    expect((await ann.get(`/api/v1/tasks/${annOld}`)).body.data.archived_at).not.toBeNull();
    expect((await bob.get('/api/v1/tasks?archived=true')).body.data.map((x: any) => x.id)).toEqual([bobOld]);
    // Nothing is deleted; each archived task reported a change.
    expect((await ann.get('/api/v1/tasks?include_archived=true')).body.meta.total).toBe(3);
    const events = (await t.core.database.db.execute(
      sql`select count(*)::int as n from outbox_events where type = 'task.updated' and aggregate_id in (${annOld}, ${bobOld})`,
    )) as unknown as { rows: { n: number }[] };
    expect(events.rows[0]!.n).toBe(2);

    // Idempotent: a second run finds nothing to do.
    expect((await t.core.jobs.cleanup_tasks({})).archived).toBe(0);
    // Unarchive brings one back; the next run leaves it archived again (it is still old and done).
    expect((await ann.post(`/api/v1/tasks/${annOld}/unarchive`)).status).toBe(200);
    expect((await t.core.jobs.cleanup_tasks({ olderThanDays: 60 })).archived).toBe(0);
  });

  it('refuses to start when a job has no handler or a handler has no job', () => {
    const ok = async () => ({});
    const all = {
      send_reminder: ok,
      send_webhook: ok,
      cleanup_tasks: ok,
      generate_report: ok,
      sync_calendar: ok,
    };
    expect(() => assertHandlers({})).toThrow(
      /no handler for send_reminder, send_webhook, cleanup_tasks, generate_report, sync_calendar/,
    );
    const { cleanup_tasks: _, ...withoutCleanup } = all;
    expect(() => assertHandlers(withoutCleanup)).toThrow(/no handler for cleanup_tasks$/);
    expect(() => assertHandlers({ ...all, send_fax: ok })).toThrow(/unknown jobs send_fax/);
    expect(() => assertHandlers(all)).not.toThrow();
  });
});
