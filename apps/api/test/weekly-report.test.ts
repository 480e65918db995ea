// The weekly report email (job generate_report): due at the user's weekday and hour in their
// zone, sent once per week whatever the number of workers, with HTML and plain-text parts whose
// figures are the productivity report's. A real SMTP server receives it; the clock is fake.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { type Client, signUp } from './helpers/client';
import { fakeClock } from './helpers/clock';
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp';
import { query } from './helpers/wait';

let smtp: TestSmtpServer;
let t: TestApp;
let second: TestApp;
const clock = fakeClock();
/** Sets the fake clock to read `iso`. */
const setNow = (iso: string) => clock.advance(Date.parse(iso) - clock.now().getTime());

beforeAll(async () => {
  smtp = await startSmtpServer();
  // No in-process workers: the test runs the jobs itself, from two "processes" at once.
  const env = { SMTP_URL: smtp.url, JOBS_IN_PROCESS: 'false' };
  t = await createTestApp({ env, clock });
  second = await createTestApp({ env, clock, shareDatabaseOf: t });
});
afterAll(async () => {
  await second?.close();
  await t?.close();
  await smtp?.close();
});

async function optIn(c: Client, day: string | null, hour?: number) {
  const res = await c.patch('/api/v1/users/me', {
    weekly_report_day: day,
    ...(hour === undefined ? {} : { weekly_report_hour: hour }),
  });
  expect(res.status, res.raw).toBe(200);
  return res.body.data;
}

/** Runs the dispatcher: the users (by id) whose report it enqueued, with their week. */
async function dispatch(app: TestApp = t): Promise<{ userId: string; weekStart: string }[]> {
  await app.core.jobs.generate_report({});
  const rows = await query<{ payload: { userId: string; weekStart: string } }>(
    t,
    sql`select payload from jobs where name = 'generate_report' and state = 'waiting' and payload ? 'userId' order by created_at`,
  );
  await query(t, sql`delete from jobs where name = 'generate_report'`);
  return rows.map((r) => r.payload);
}

describe('weekly report email', () => {
  it('is opted into with a weekday and hour, shown on the profile, and validated', async () => {
    const ann = await signUp(t.app, { name: 'Ann' });
    const me = await optIn(ann, 'friday', 17);
    expect(me).toMatchObject({ weekly_report_day: 'friday', weekly_report_hour: 17 });
    for (const body of [
      { weekly_report_day: 'funday' },
      { weekly_report_hour: 24 },
      { weekly_report_hour: -1 },
    ]) {
      const res = await ann.patch('/api/v1/users/me', body);
      expect(res.status).toBe(400);
    }
    expect((await ann.get('/api/v1/users/me')).body.data).toMatchObject({
      weekly_report_day: 'friday',
      weekly_report_hour: 17,
    });
    expect(await optIn(ann, null)).toMatchObject({ weekly_report_day: null });
  });

  it("is due at the user's weekday and hour in their zone, for a day, until sent", async () => {
    const paris = await signUp(t.app, { name: 'Paris', timezone: 'Europe/Paris' } as never);
    const tokyo = await signUp(t.app, { name: 'Tokyo', timezone: 'Asia/Tokyo' } as never);
    await optIn(paris, 'monday', 8);
    await optIn(tokyo, 'monday', 8);
    const ids = { paris: paris.user.id, tokyo: tokyo.user.id };
    const due = async () => (await dispatch()).filter((d) => Object.values(ids).includes(d.userId));

    // Monday 30 Nov 2026, 07:59 in Paris (06:59 UTC) = 15:59 in Tokyo: only Tokyo is due.
    setNow('2026-11-30T06:59:00Z');
    expect(await due()).toEqual([{ userId: ids.tokyo, weekStart: '2026-11-30' }]);
    // 08:00 in Paris: both.
    setNow('2026-11-30T07:00:00Z');
    expect((await due()).map((d) => d.userId).sort()).toEqual([ids.paris, ids.tokyo].sort());
    // A day later neither (missed by more than a day is skipped until next week).
    setNow('2026-12-01T07:00:00Z');
    expect(await due()).toEqual([]);
  });

  it('sends once per user and week, even with two workers at it at once; HTML and text agree with the report', async () => {
    const bea = await signUp(t.app, { name: 'Bea', timezone: 'Europe/Paris' } as never);
    await optIn(bea, 'monday', 8);
    // Last week (Mon 23 – Sun 29 Nov, Paris): 3 created, 2 of them completed; one created the week before.
    setNow('2026-11-30T09:00:00Z');
    const make = async (title: string, created: string, completed?: string) => {
      const task = (await bea.post('/api/v1/tasks', { title })).body.data;
      await query(
        t,
        sql`update tasks set created_at = ${created}::timestamptz, updated_at = ${created}::timestamptz,
          status = ${completed ? 'done' : 'todo'}::task_status, completed_at = ${completed ?? null}::timestamptz
          where id = ${task.id}`,
      );
    };
    await make('a', '2026-11-23T09:00:00Z', '2026-11-23T12:00:00Z');
    await make('b', '2026-11-25T09:00:00Z', '2026-11-26T09:00:00Z');
    await make('c', '2026-11-29T22:30:00Z'); // Sunday 23:30 in Paris: still last week
    await make('d', '2026-11-29T23:30:00Z'); // Monday 00:30 in Paris: this week, not in the report

    const due = (await dispatch()).find((d) => d.userId === bea.user.id);
    expect(due).toEqual({ userId: bea.user.id, weekStart: '2026-11-30' });
    const before = smtp.received.length;
    const results = await Promise.allSettled([
      t.core.jobs.generate_report(due!),
      second.core.jobs.generate_report(due!),
    ]);
    // One sent it; the other found it claimed (and would retry: then it finds it sent).
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.sent === true)).toHaveLength(1);
    expect(await t.core.jobs.generate_report(due!)).toEqual({ skipped: 'already sent' });
    const mails = await smtp.waitFor(before + 1);
    expect(mails.length).toBe(before + 1);
    const mail = mails.at(-1)!;
    expect(mail.to).toEqual([bea.user.email]);
    expect(mail.parsed.subject).toBe(
      'Your week in Taskman: 2 done, 3 added, 0 overdue (Mon 23 Nov – Sun 29 Nov)',
    );
    const text = mail.parsed.text ?? '';
    expect(text).toContain('Completed: 2');
    expect(text).toContain('Added: 3');
    expect(text).toContain('Completion rate: 67 %');
    // 3 h and 24 h: 13.5 h on average → "14 h"; the median of two is their mean.
    expect(text).toMatch(/Time to complete: 14 h on average, 14 h median/);
    expect(text).toMatch(/Mon 23 Nov\s+1 \/ 1/);
    expect(text).toMatch(/Sun 29 Nov\s+1 \/ 0/);
    expect(mail.parsed.html).toContain('<strong>Mon 23 Nov – Sun 29 Nov</strong>');
    expect(mail.parsed.html).toContain('/settings');
    // The next dispatch does not pick her again this week.
    expect((await dispatch()).some((d) => d.userId === bea.user.id)).toBe(false);
  });

  it('skips a user who turned the report off after it was enqueued', async () => {
    const cy = await signUp(t.app, { name: 'Cy', timezone: 'UTC' } as never);
    await optIn(cy, 'tuesday', 6);
    setNow('2026-12-01T06:10:00Z');
    const due = (await dispatch()).find((d) => d.userId === cy.user.id);
    expect(due).toBeDefined();
    await optIn(cy, null);
    const before = smtp.received.length;
    expect(await t.core.jobs.generate_report(due!)).toEqual({ skipped: 'weekly report turned off' });
    expect(smtp.received.length).toBe(before);
  });
});
