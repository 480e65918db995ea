// Task reminders end to end, in embedded mode: the outbox relay turns task changes into
// send_reminder jobs in the database queue, in-process workers run them when the (fake) clock
// reaches remind_at, and the mail reaches a real SMTP server (or an .eml file without SMTP).
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { reminderKey, startJobWorker } from '@taskman/core';
import { sql } from 'drizzle-orm';
import { type AddressObject, simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, type Res, signUp } from './helpers/client';
import { fakeClock, HOUR } from './helpers/clock';
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from './helpers/smtp';
import { query, until } from './helpers/wait';

const APP_URL = 'https://tasks.example.com';
const MINUTE = 60_000;
const JOB_ENV = { JOB_POLL_MS: '50', JOB_BACKOFF_MS: '100', JOB_ATTEMPTS: '3', JOB_LOCK_MS: '1000', APP_URL };

type JobRowJson = { id: string; key: string | null; state: string; attempts: number; result: any };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  // Workers first, then apps (the second one before the first, whose database it shares), then the rest.
  const errors: unknown[] = [];
  for (const close of cleanups.splice(0).reverse()) await close().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

const reminderJobs = (t: TestApp) =>
  query<JobRowJson>(
    t,
    sql`select id, key, state, attempts, result from jobs where name = 'send_reminder' order by created_at, id`,
  );
const jobByKey = async (t: TestApp, key: string) => (await reminderJobs(t)).find((j) => j.key === key);
/** At-least-once delivery, forced: every outbox event is published again. */
const republish = (t: TestApp) =>
  t.core.database.db.execute(sql`update outbox_events set published_at = null`);

/** Every event is published and no reminder job is running or waiting to run now. */
async function settled(t: TestApp): Promise<void> {
  await until('the relay and the reminder jobs to settle', async () => {
    if ((await t.core.relay.pending()) > 0) return false;
    const [busy] = await query<{ n: number }>(
      t,
      sql`select count(*)::int as n from jobs where name = 'send_reminder' and (state = 'active' or (state = 'waiting' and run_at <= ${t.core.clock.now()}))`,
    );
    return busy!.n === 0;
  });
}

/** Proves a negative: no more than `count` messages arrive in a short, bounded window. */
async function expectNoMoreMail(smtp: TestSmtpServer, count: number, ms = 400): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    expect(smtp.received.length).toBe(count);
    await sleep(25);
  }
  expect(smtp.received.length).toBe(count);
}

const messageId = (taskId: string, at: string) =>
  `<reminder.${taskId}.${new Date(at).getTime()}@tasks.example.com>`;
const taskIdOf = (m: ReceivedMail) => /^<reminder\.([0-9a-f-]+)\.\d+@/.exec(m.parsed.messageId ?? '')?.[1];
const addressesOf = (a: AddressObject | AddressObject[] | undefined) =>
  (Array.isArray(a) ? a : a ? [a] : []).flatMap((x) => x.value.map((v) => v.address));
const minus = (iso: string, minutes: number) =>
  new Date(new Date(iso).getTime() - minutes * MINUTE).toISOString();
const retryJob = (as: Client, id: string) => as.post('/api/v1/admin/jobs/retry', { id });
/** The fields of a 400 VALIDATION_ERROR. */
const invalid = (res: Res) => (expectError(res, 400, 'VALIDATION_ERROR').details ?? []).map((d) => d.field);

async function setup(opts: { env?: Record<string, string>; smtp?: boolean } = {}) {
  const smtp = await startSmtpServer();
  cleanups.push(() => smtp.close());
  const clock = fakeClock();
  const env = { ...JOB_ENV, ...(opts.smtp === false ? {} : { SMTP_URL: smtp.url }), ...opts.env };
  const t = await createTestApp({ env, clock });
  cleanups.push(() => t.close());
  // The first account of a fresh database: an admin.
  const owner = await signUp(t.app, { timezone: 'Europe/Paris', name: 'Ann' });
  return {
    t,
    env,
    clock,
    smtp,
    owner,
    startWorker(on: TestApp = t): void {
      const worker = startJobWorker(on.core);
      cleanups.push(() => worker.stop());
    },
    /** Moves the clock so that it reads `at` plus `ms`. */
    advanceTo(at: string, ms = 0): void {
      clock.advance(new Date(at).getTime() + ms - clock.now().getTime());
    },
    /** A time `ms` from the clock's now, on a whole minute, as ISO. */
    inFuture: (ms: number) =>
      new Date(Math.floor((clock.now().getTime() + ms) / MINUTE) * MINUTE).toISOString(),
    async createTask(body: Record<string, unknown>): Promise<any> {
      const res = await owner.post('/api/v1/tasks', body);
      expect(res.status, res.raw).toBe(201);
      return res.body.data;
    },
    waitForJob: (key: string, state = 'waiting') =>
      until(`job ${key} ${state}`, async () => (await jobByKey(t, key))?.state === state),
    /** Waits for one message, for the jobs to settle, and checks that no second one follows. */
    async oneMail(): Promise<ReceivedMail> {
      const [mail] = await smtp.waitFor(1);
      await settled(t);
      await expectNoMoreMail(smtp, 1, 300);
      return mail!;
    },
  };
}
type Ctx = Awaited<ReturnType<typeof setup>>;

describe('reminders: sending', () => {
  it('sends one reminder to the owner at remind_at, not before, with the due time in their zone', async () => {
    const c = await setup();
    c.startWorker();
    const due = c.inFuture(2 * HOUR);
    const remindAt = minus(due, 45);
    const task = await c.createTask({ title: 'Call <Bob> & co', due_date: due, remind_at: remindAt });
    expect(task).toMatchObject({ remind_at: remindAt, reminder_mode: 'explicit' });
    const key = reminderKey(task.id, remindAt);
    await c.waitForJob(key);

    c.advanceTo(remindAt, -MINUTE);
    await expectNoMoreMail(c.smtp, 0);

    c.advanceTo(remindAt, 1000);
    const m = await c.oneMail();
    expect((await jobByKey(c.t, key))?.state).toBe('completed');
    expect(m.to).toEqual([c.owner.user.email]);
    expect(addressesOf(m.parsed.to)).toEqual([c.owner.user.email]);
    expect(m.parsed.subject).toContain('Call <Bob> & co');
    expect(m.parsed.messageId).toBe(messageId(task.id, remindAt));
    // The due time as the owner sees it in Paris (CET/CEST), not in UTC.
    const zone = { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } as const;
    const paris = new Date(due).toLocaleTimeString('en-GB', zone);
    expect(paris).not.toBe(due.slice(11, 16));
    expect(m.parsed.text).toMatch(new RegExp(`Due: .* at ${paris} CES?T`));
    expect(m.parsed.subject).toContain(`${paris} CE`);
    expect(m.parsed.text).toContain(`${APP_URL}/tasks/${task.id}`);
    expect(m.parsed.text).toContain('Hi Ann');
    const html = String(m.parsed.html);
    expect(html).toContain('Call &lt;Bob&gt; &amp; co');
    expect(html).not.toContain('<Bob>');
    expect(html).toContain(`href="${APP_URL}/tasks/${task.id}"`);
  });

  it('reminds automatically due_date minus the lead time, which the user sets or turns off', async () => {
    const c = await setup();
    const reminder = (task: any) => [task.reminder_mode, task.remind_at];
    const patchTask = async (id: string, body: object) =>
      (await c.owner.patch(`/api/v1/tasks/${id}`, body)).body.data;
    const setLead = async (minutes: number | null) => {
      const res = await c.owner.patch('/api/v1/users/me', { reminder_lead_minutes: minutes });
      expect(res.status, res.raw).toBe(200);
      expect(res.body.data.reminder_lead_minutes).toBe(minutes);
    };
    expect((await c.owner.get('/api/v1/users/me')).body.data.reminder_lead_minutes).toBe(30);
    const due = c.inFuture(5 * HOUR);
    const later = c.inFuture(8 * HOUR);

    const auto30 = await c.createTask({ title: 'Auto', due_date: due });
    expect(reminder(auto30)).toEqual(['auto', minus(due, 30)]);
    const undated = await c.createTask({ title: 'No due date' });
    expect(reminder(undated)).toEqual(['auto', null]);

    await setLead(60);
    expect(reminder(await c.createTask({ title: 'Auto 60', due_date: due }))).toEqual([
      'auto',
      minus(due, 60),
    ]);
    // Tasks keep the reminders they have…
    expect((await c.owner.get(`/api/v1/tasks/${auto30.id}`)).body.data.remind_at).toBe(minus(due, 30));
    // … until their due date moves: an automatic reminder moves with it (at the current lead time)…
    const moved = await patchTask(auto30.id, { due_date: later });
    expect(reminder(moved)).toEqual(['auto', minus(later, 60)]);
    expect(reminder(await patchTask(undated.id, { due_date: due }))).toEqual(['auto', minus(due, 60)]);
    // … an explicit one does not, and a reminder turned off stays off.
    const fixed = c.inFuture(HOUR);
    const explicit = await c.createTask({ title: 'Explicit', due_date: due, remind_at: fixed });
    expect(reminder(explicit)).toEqual(['explicit', fixed]);
    const explicitMoved = await patchTask(explicit.id, { due_date: later });
    expect([explicitMoved.due_date, ...reminder(explicitMoved)]).toEqual([later, 'explicit', fixed]);
    const off = await c.createTask({ title: 'Off', due_date: due, remind_at: null });
    expect(reminder(off)).toEqual(['off', null]);
    const offMoved = await patchTask(off.id, { due_date: later });
    expect([offMoved.due_date, ...reminder(offMoved)]).toEqual([later, 'off', null]);
    expect(reminder(await patchTask(explicit.id, { remind_at: null }))).toEqual(['off', null]);

    await setLead(null);
    expect(reminder(await c.createTask({ title: 'No auto', due_date: due }))).toEqual(['auto', null]);
  });

  it('sends a rescheduled reminder at the new time only', async () => {
    const c = await setup();
    c.startWorker();
    const first = c.inFuture(HOUR);
    const second = c.inFuture(2 * HOUR);
    const task = await c.createTask({ title: 'Moved', due_date: c.inFuture(3 * HOUR), remind_at: first });
    await c.waitForJob(reminderKey(task.id, first));

    const res = await c.owner.patch(`/api/v1/tasks/${task.id}`, { remind_at: second });
    expect(res.body.data).toMatchObject({ remind_at: second, reminder_mode: 'explicit' });
    await c.waitForJob(reminderKey(task.id, second));

    c.advanceTo(first, MINUTE);
    await settled(c.t);
    await expectNoMoreMail(c.smtp, 0);
    const old = await jobByKey(c.t, reminderKey(task.id, first));
    expect(old === undefined || (old.state === 'completed' && old.result?.skipped)).toBeTruthy();

    c.advanceTo(second, MINUTE);
    expect((await c.oneMail()).parsed.messageId).toBe(messageId(task.id, second));
  });

  it('sends nothing for a task completed or deleted before its reminder', async () => {
    const c = await setup();
    c.startWorker();
    const at = c.inFuture(HOUR);
    const done = await c.createTask({ title: 'Done early', remind_at: at });
    const gone = await c.createTask({ title: 'Deleted', remind_at: at });
    await until('both jobs', async () => (await reminderJobs(c.t)).length === 2);

    expect((await c.owner.patch(`/api/v1/tasks/${done.id}`, { status: 'done' })).status).toBe(200);
    expect((await c.owner.delete(`/api/v1/tasks/${gone.id}`)).status).toBe(204);
    // The relay drops the pending jobs.
    await until('the jobs to be cancelled', async () => (await reminderJobs(c.t)).length === 0);

    c.advanceTo(at, MINUTE);
    await settled(c.t);
    await expectNoMoreMail(c.smtp, 0, 500);
  });

  it('re-arms the reminder of a reopened task whose remind_at is still ahead', async () => {
    const c = await setup();
    c.startWorker();
    const at = c.inFuture(HOUR);
    const task = await c.createTask({ title: 'Reopened', remind_at: at });
    const key = reminderKey(task.id, at);
    await c.waitForJob(key);
    await c.owner.patch(`/api/v1/tasks/${task.id}`, { status: 'done' });
    await until('the job to be cancelled', async () => !(await jobByKey(c.t, key)));

    const reopened = await c.owner.patch(`/api/v1/tasks/${task.id}`, { status: 'todo' });
    expect(reopened.body.data).toMatchObject({ status: 'todo', remind_at: at, completed_at: null });
    await c.waitForJob(key);

    c.advanceTo(at, MINUTE);
    const mail = await c.oneMail();
    expect(taskIdOf(mail)).toBe(task.id);
    expect(mail.parsed.subject).toContain('Reopened');
  });

  it('refuses a remind_at in the past or not ISO 8601, and a lead time out of range', async () => {
    const c = await setup();
    const at = c.inFuture(HOUR);
    const task = await c.createTask({ title: 'Valid', remind_at: at });
    const past = new Date(c.clock.now().getTime() - MINUTE).toISOString();
    const url = `/api/v1/tasks/${task.id}`;

    expect(invalid(await c.owner.patch(url, { remind_at: past }))).toContain('remind_at');
    for (const bad of ['tomorrow at noon', '2030-13-45T25:00:00Z', 12345])
      expect(invalid(await c.owner.patch(url, { remind_at: bad })).join()).toContain('remind_at');
    const unchanged = (await c.owner.get(url)).body.data;
    expect(unchanged).toMatchObject({ remind_at: at, reminder_mode: 'explicit', version: task.version });
    expect(invalid(await c.owner.post('/api/v1/tasks', { title: 'Late', remind_at: past }))).toContain(
      'remind_at',
    );
    invalid(await c.owner.post('/api/v1/tasks', { title: 'Vague', remind_at: 'soon' }));
    expect((await c.owner.get('/api/v1/tasks')).body.meta.total).toBe(1);

    for (const bad of [10_081, -1, 1.5, '60']) {
      const fields = invalid(await c.owner.patch('/api/v1/users/me', { reminder_lead_minutes: bad }));
      expect(fields.join()).toContain('reminder_lead_minutes');
    }
    expect((await c.owner.get('/api/v1/users/me')).body.data.reminder_lead_minutes).toBe(30);
  });
});

describe('reminders: delivery guarantees', () => {
  it('emails once per task though the relay publishes twice and two workers run duplicates', async () => {
    const c = await setup();
    const t2 = await createTestApp({ env: c.env, clock: c.clock, shareDatabaseOf: c.t });
    cleanups.push(() => t2.close());
    c.startWorker();
    c.startWorker(t2);
    const at = c.inFuture(HOUR);
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await c.createTask({ title: `Task ${i}`, remind_at: at })).id);
    const published = async () => (await c.t.core.relay.pending()) === 0;
    await until('20 jobs', async () => (await published()) && (await reminderJobs(c.t)).length === 20);

    // Every event published again: the job keys make the repeats no-ops…
    await republish(c.t);
    await until('the events to be published again', published);
    expect((await reminderJobs(c.t)).length).toBe(20);
    // … and a duplicate job without a key (a second delivery of the same job) meets the delivery claim.
    const duplicate = (taskId: string) => ({
      name: 'send_reminder' as const,
      payload: { taskId, remindAt: at },
      runAt: new Date(at),
    });
    await c.t.core.queue.enqueue([...ids].map(duplicate));
    expect((await reminderJobs(c.t)).length).toBe(40);

    c.advanceTo(at, MINUTE);
    await c.smtp.waitFor(20);
    await settled(c.t);
    await republish(c.t);
    await settled(c.t);
    await expectNoMoreMail(c.smtp, 20, 500);

    const byTask = new Map<string, number>();
    for (const m of c.smtp.received) byTask.set(taskIdOf(m)!, (byTask.get(taskIdOf(m)!) ?? 0) + 1);
    expect([...byTask.keys()].sort()).toEqual([...ids].sort());
    expect([...byTask.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(c.smtp.received.map((m) => m.parsed.messageId)).size).toBe(20);
    const [sent] = await query<{ n: number }>(
      c.t,
      sql`select count(*)::int as n from reminder_deliveries where sent_at is not null`,
    );
    expect(sent!.n).toBe(20);
  });

  it('retries a refused send with backoff and delivers it once when the server accepts', async () => {
    const c = await setup();
    const times: number[] = [];
    c.smtp.behaviour.refuseWith = 451;
    c.smtp.onMailFrom = (n) => {
      times.push(Date.now());
      // The third (last) attempt is accepted.
      if (n === 3) c.smtp.behaviour.refuseWith = undefined;
    };
    c.startWorker();
    const at = c.inFuture(HOUR);
    const task = await c.createTask({ title: 'Flaky server', remind_at: at });
    await c.waitForJob(reminderKey(task.id, at));

    c.advanceTo(at, MINUTE);
    expect(taskIdOf(await c.oneMail())).toBe(task.id);
    expect(times).toHaveLength(3);
    // Exponential backoff: 100 ms, then 200 ms.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(95);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(195);
    expect((await reminderJobs(c.t))[0]).toMatchObject({ state: 'completed', attempts: 3 });
  });

  it('ends failed after JOB_ATTEMPTS refusals; an admin sees it and retries it', async () => {
    const c = await setup();
    c.smtp.behaviour.refuseWith = 451;
    c.startWorker();
    const at = c.inFuture(HOUR);
    const task = await c.createTask({ title: 'Refused', remind_at: at });
    await c.waitForJob(reminderKey(task.id, at));

    c.advanceTo(at, MINUTE);
    const overview = await until('the failed job', async () => {
      const res = await c.owner.get('/api/v1/admin/jobs');
      expect(res.status, res.raw).toBe(200);
      // The counts and the list are two reads: the job may fail between them. Wait for both.
      const data = res.body.data;
      return data.failed.length > 0 && data.queues.send_reminder.failed >= 1 ? data : undefined;
    });
    expect(overview).toMatchObject({ backend: 'database', queue_reachable: true });
    const job = overview.failed[0];
    expect(job).toMatchObject({ name: 'send_reminder', attempts: 3 });
    // With the id of the request that created the task, for the job's logs.
    expect(job.payload).toEqual({ taskId: task.id, remindAt: at, request_id: expect.any(String) });
    expect(job.error).toMatch(/451/);
    expect(job.failed_at).toEqual(expect.any(String));
    await expectNoMoreMail(c.smtp, 0, 300);

    c.smtp.behaviour.refuseWith = undefined;
    const retried = await retryJob(c.owner, job.id);
    expect(retried.status, retried.raw).toBe(204);
    expect(taskIdOf(await c.oneMail())).toBe(task.id);
    const after = (await c.owner.get('/api/v1/admin/jobs')).body.data;
    expect(after.failed).toEqual([]);
    expect(after.queues.send_reminder).toMatchObject({ failed: 0, completed: 1 });

    expectError(await retryJob(c.owner, job.id), 404, 'NOT_FOUND');
    expectError(await retryJob(c.owner, randomUUID()), 404, 'NOT_FOUND');
  });

  it('writes the reminder as an .eml file under DATA_DIR/mail without SMTP_URL', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'taskman-mail-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const c = await setup({ smtp: false, env: { DATA_DIR: dir } });
    expect(c.t.core.mailer.kind).toBe('file');
    c.startWorker();
    const at = c.inFuture(HOUR);
    const task = await c.createTask({ title: 'On disk', remind_at: at });
    await c.waitForJob(reminderKey(task.id, at));

    const mailDir = path.join(dir, 'mail');
    const emls = async () =>
      (await readdir(mailDir).catch(() => [] as string[])).filter((f) => /^[^.].*\.eml$/.test(f));
    c.advanceTo(at, MINUTE);
    const [file] = await until('the .eml file', async () => ((await emls()).length ? emls() : undefined));
    await settled(c.t);
    expect(await emls()).toHaveLength(1);

    const parsed = await simpleParser(await readFile(path.join(mailDir, file!)));
    expect(addressesOf(parsed.to)).toEqual([c.owner.user.email]);
    expect(parsed.subject).toContain('Reminder: On disk');
    expect(parsed.messageId).toBe(messageId(task.id, at));
    expect(parsed.text).toContain(`${APP_URL}/tasks/${task.id}`);
    expect(c.smtp.received).toHaveLength(0);
  });
});

describe('reminders: admin routes', () => {
  const fromIp = (c: Ctx, ip: string, token?: string, url = '/api/v1/admin/jobs') =>
    c.t.app.inject({
      method: 'GET',
      url,
      remoteAddress: ip,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  it('need a token (401) and an admin (403)', async () => {
    const c = await setup();
    const bob = await signUp(c.t.app);
    expect([c.owner.user.role, bob.user.role]).toEqual(['admin', 'user']);
    expect((await c.owner.get('/api/v1/admin/jobs')).status).toBe(200);
    expectError(await bob.get('/api/v1/admin/jobs'), 403, 'FORBIDDEN');
    expectError(await retryJob(bob, randomUUID()), 403, 'FORBIDDEN');
    expectError(await new Client(c.t.app).get('/api/v1/admin/jobs'), 401, 'UNAUTHORIZED');
    expectError(await retryJob(c.owner, randomUUID()), 404, 'NOT_FOUND');
  });

  it('are refused outside ADMIN_IP_ALLOWLIST, even to an admin', async () => {
    const c = await setup({ env: { ADMIN_IP_ALLOWLIST: '10.0.0.0/8,2001:db8::/32' } });
    const bob = await signUp(c.t.app);
    const token = c.owner.token!;
    expect((await fromIp(c, '10.1.2.3', token)).statusCode).toBe(200);
    expect((await fromIp(c, '2001:db8::7', token)).statusCode).toBe(200);
    for (const ip of ['192.0.2.7', '127.0.0.1', '11.0.0.1']) {
      const res = await fromIp(c, ip, token);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
    }
    expect((await fromIp(c, '10.1.2.3', bob.token)).statusCode).toBe(403);
    expect((await fromIp(c, '10.1.2.3')).statusCode).toBe(401);
    // Only admin routes are fenced: the owner's own routes work from anywhere.
    expect((await fromIp(c, '192.0.2.7', token, '/api/v1/users/me')).statusCode).toBe(200);
  });

  it('answer 404 (not 500) to a retry of a failed-job id that is not a UUID', async () => {
    const c = await setup();
    expectError(await retryJob(c.owner, 'not-a-job'), 404, 'NOT_FOUND');
    expectError(await retryJob(c.owner, 'send_reminder:12345'), 404, 'NOT_FOUND');
  });
});
