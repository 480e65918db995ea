// Job workers as real processes (apps/worker): BullMQ on Redis, PostgreSQL, a real SMTP server.
// The API is built in-process (it only writes tasks and their outbox events); the workers relay
// the outbox to the queue and send the reminders.
import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, redisEnv, TEST_ENV, type TestApp, testDb } from './helpers/app';
import { Client, signUp } from './helpers/client';
import { type RunningProcess, spawnTs, startWorker } from './helpers/process';
import { RedisServer } from './helpers/redis-server';
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from './helpers/smtp';
import { until } from './helpers/wait';

const API = '/api/v1';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A reminder time `ms` from now, rounded up to a whole second (ISO 8601). */
const soon = (ms = 1500) => new Date(Math.ceil((Date.now() + ms) / 1000) * 1000).toISOString();

async function ok(res: Promise<{ status: number; raw: string; body: any }>, status = 200) {
  const r = await res;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status} ${r.raw}`);
  return r.body.data;
}

/** The task and reminder time of a reminder email, from its Message-ID `<reminder.<task>.<ms>@host>`. */
function reminderOf(m: ReceivedMail): { taskId: string; at: number } {
  const match = /reminder\.([0-9a-f-]{36})\.(\d+)@/.exec(m.parsed.messageId ?? '');
  if (!match) throw new Error(`not a reminder: ${m.parsed.messageId} ${m.parsed.subject}`);
  return { taskId: match[1]!, at: Number(match[2]) };
}

/** How many messages arrived per task. */
function perTask(received: ReceivedMail[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of received) {
    const { taskId } = reminderOf(m);
    counts[taskId] = (counts[taskId] ?? 0) + 1;
  }
  return counts;
}

/** A worker's JSON log lines. */
function logOf(w: RunningProcess): { msg: string; [k: string]: any }[] {
  return w
    .output()
    .split('\n')
    .flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
}

/** The tasks a worker logged a sent reminder for. */
const sentBy = (w: RunningProcess): string[] =>
  logOf(w)
    .filter((l) => l.msg === 'job send_reminder done' && l.result?.sent === true)
    .map((l) => l.result.task_id as string);

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Runs an entry point to its end; resolves once its output is complete. */
function runTs(entry: string, env: Record<string, string>, args: string[] = []) {
  const child = spawnTs(entry, env, args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

describe.skipIf(testDb !== 'postgres')('job workers (processes)', { timeout: 150_000 }, () => {
  let cleanups: (() => Promise<unknown>)[] = [];
  let workers: RunningProcess[] = [];

  afterEach(async () => {
    // Leftover workers first (even when the test failed): they hold connections to the rest.
    const dying = workers.filter((w) => alive(w.child)).map((w) => w.stop('SIGKILL'));
    await Promise.all(dying);
    workers = [];
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    cleanups = [];
  });

  async function spawnWorker(env: Record<string, string>): Promise<RunningProcess> {
    const w = await startWorker(env);
    workers.push(w);
    return w;
  }

  /** An SMTP server, an API on a fresh database, its first account (an admin), and the workers' env. */
  async function setup(redis: { REDIS_URL: string; REDIS_KEY_PREFIX: string } = redisEnv()) {
    const smtp: TestSmtpServer = await startSmtpServer();
    // A connection left half-open (a killed sender) must not hold the test for smtp-server's 30 s.
    cleanups.push(() => Promise.race([smtp.close(), sleep(2_000)]));
    const t: TestApp = await createTestApp({ env: { ...redis, JOBS_IN_PROCESS: 'false' } });
    cleanups.push(() => t.close());
    const admin = await signUp(t.app);
    const workerEnv = {
      DATABASE_URL: t.db.url!,
      ...redis,
      SMTP_URL: smtp.url,
      JWT_SECRET: TEST_ENV.JWT_SECRET,
      NODE_ENV: 'test',
      JOB_POLL_MS: '50',
      JOB_LOCK_MS: '1500',
      JOB_BACKOFF_MS: '200',
      LOG_LEVEL: 'info',
    };
    return { t, smtp, admin, workerEnv, redis };
  }

  const createTask = (c: Client, body: Record<string, unknown>) => ok(c.post(`${API}/tasks`, body), 201);

  it('two workers racing for 30 reminders due at the same moment send each exactly once', async () => {
    const { smtp, admin, workerEnv } = await setup();
    const [w1, w2] = await Promise.all([spawnWorker(workerEnv), spawnWorker(workerEnv)]);
    const at = soon(2_000);
    const tasks = await Promise.all(
      Array.from({ length: 30 }, (_, i) => createTask(admin, { title: `Race ${i}`, remind_at: at })),
    );
    const ids = tasks.map((x) => x.id as string).sort();

    await smtp.waitFor(30, 20_000);
    // More than a job lock and a few retries: a duplicate would have arrived by now.
    await sleep(2_500);
    expect(smtp.received).toHaveLength(30);
    const counts = perTask(smtp.received);
    expect(Object.keys(counts).sort()).toEqual(ids);
    expect(Object.values(counts).every((n) => n === 1)).toBe(true);
    expect(new Set(smtp.received.map((m) => m.parsed.messageId)).size).toBe(30);
    for (const m of smtp.received) {
      expect(m.to).toEqual([admin.user.email]);
      expect(reminderOf(m).at).toBe(Date.parse(at));
    }
    // Each send is logged once, by whichever worker made it (how they split the work is up to them).
    expect([...sentBy(w1), ...sentBy(w2)].sort()).toEqual(ids);
  });

  it('a worker SIGKILLed mid-send: the other one takes the job over once the lock runs out; one message', async () => {
    const { smtp, admin, workerEnv } = await setup();
    const a = await spawnWorker(workerEnv);
    // The first sender stalls at MAIL FROM: worker A, the only one running, is then mid-job.
    smtp.behaviour.stallMs = 30_000;
    const midSend = new Promise<void>((resolve) => {
      smtp.onMailFrom = () => resolve();
    });
    const task = await createTask(admin, { title: 'Killed mid-send', remind_at: soon() });
    await midSend;
    // B starts while A holds the job (and keeps renewing its lock): B cannot take it yet.
    const b = await spawnWorker(workerEnv);
    expect(smtp.received).toHaveLength(0);
    expect(sentBy(a)).toEqual([]);

    const killedAt = Date.now();
    expect(await a.stop('SIGKILL')).toBeNull();
    expect(a.child.signalCode).toBe('SIGKILL');
    smtp.behaviour.stallMs = 0;

    await smtp.waitFor(1, 20_000);
    // A's lock was renewed until the kill: B could only take the job over after it ran out.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(500);
    await sleep(2_500);
    expect(smtp.received).toHaveLength(1);
    expect(reminderOf(smtp.received[0]!).taskId).toBe(task.id);
    expect(sentBy(b)).toEqual([task.id]);
  });

  it('SIGTERM mid-job: the worker says it is stopping, finishes the send, and exits 0', async () => {
    const { t, smtp, admin, workerEnv } = await setup();
    const w = await spawnWorker(workerEnv);
    smtp.behaviour.stallMs = 1_000;
    const midSend = new Promise<void>((resolve) => {
      smtp.onMailFrom = () => resolve();
    });
    const task = await createTask(admin, { title: 'Stopped gracefully', remind_at: soon() });
    await midSend;

    expect(await w.stop('SIGTERM')).toBe(0);
    // The message was accepted before the worker exited, once.
    expect(smtp.received).toHaveLength(1);
    expect(reminderOf(smtp.received[0]!).taskId).toBe(task.id);
    const msgs = logOf(w).map((l) => l.msg);
    const stopping = msgs.indexOf('stopping: finishing the jobs in hand');
    expect(stopping).toBeGreaterThanOrEqual(0);
    expect(msgs.indexOf('job send_reminder done')).toBeGreaterThan(stopping);
    expect(msgs.at(-1)).toBe('stopped');
    expect(sentBy(w)).toEqual([task.id]);
    // The job was completed, not left active for another worker to run again.
    expect((await t.core.queue.counts()).send_reminder).toMatchObject({
      active: 0,
      waiting: 0,
      delayed: 0,
      failed: 0,
      completed: 1,
    });
  });

  it('Redis down at write time: the API still takes changes, events wait in the outbox, reminders go out once Redis is back', async () => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const { t, smtp, admin, workerEnv, redis } = await setup({
      REDIS_URL: server.url,
      REDIS_KEY_PREFIX: 'wk:',
    });
    const w = await spawnWorker(workerEnv);

    await server.stop();
    const at = soon(1_500);
    const later = new Date(Date.parse(at) + 1_000).toISOString();
    const created = await createTask(admin, { title: 'Created during the outage', remind_at: at });
    const plain = await createTask(admin, { title: 'Reminder added during the outage' });
    expect((await ok(admin.patch(`${API}/tasks/${plain.id}`, { remind_at: at }))).remind_at).toBe(at);
    const moved = await createTask(admin, { title: 'Reminder moved during the outage', remind_at: at });
    expect((await ok(admin.patch(`${API}/tasks/${moved.id}`, { remind_at: later }))).remind_at).toBe(later);
    // Signing up works too; so do their tasks.
    const bob = await signUp(t.app);
    const bobs = await createTask(bob, { title: 'Bob during the outage', remind_at: at });

    // What an admin sees while Redis is down: the outbox backlog, not an error. Asked of this API
    // (Redis went away under it) and of one started during the outage; both should answer at once.
    const late = await createTestApp({ env: { ...redis, JOBS_IN_PROCESS: 'false' }, shareDatabaseOf: t });
    cleanups.push(() => Promise.race([late.close(), sleep(5_000)]));
    const lateRequest = new Client(late.app, admin.token).get(`${API}/admin/jobs`);
    const [during, lateDuring] = await Promise.all([
      admin.get(`${API}/admin/jobs`),
      Promise.race([lateRequest, sleep(3_000).then(() => ({ status: 'no answer within 3 s' }))]),
      // Past every reminder's time.
      sleep(Math.max(0, Date.parse(later) - Date.now()) + 1_000),
    ]);
    // Nothing could be sent; the events wait in the outbox.
    expect(smtp.received).toHaveLength(0);
    expect(await t.core.relay.pending()).toBeGreaterThanOrEqual(6);
    expect.soft(during.status, `GET /admin/jobs during the outage: ${during.raw}`).toBe(200);
    expect.soft(during.body?.data).toMatchObject({ queues: null, queue_reachable: false, failed: [] });
    expect.soft(during.body?.data?.outbox_pending ?? 0).toBeGreaterThanOrEqual(6);
    expect.soft(lateDuring.status, 'GET /admin/jobs on an API started during the outage').toBe(200);

    await server.restart();
    // Generous: on a loaded 2-core CI machine the queue's reconnection backoff and the relay's
    // retry backoff add up to well over 30 s.
    await smtp.waitFor(4, 90_000);
    // (The late API's request, left hanging while Redis was down, is answered now.)
    expect((await lateRequest).status).toBe(200);
    await sleep(2_000);
    expect(smtp.received).toHaveLength(4);
    expect(perTask(smtp.received)).toEqual({ [created.id]: 1, [plain.id]: 1, [moved.id]: 1, [bobs.id]: 1 });
    // The moved reminder went out for its new time only.
    const movedMail = smtp.received.find((m) => reminderOf(m).taskId === moved.id)!;
    expect(reminderOf(movedMail).at).toBe(Date.parse(later));
    expect(smtp.received.find((m) => reminderOf(m).taskId === bobs.id)!.to).toEqual([bob.user.email]);
    expect(sentBy(w).sort()).toEqual([created.id, plain.id, moved.id, bobs.id].sort());

    const after = await until('the outbox to drain', async () => {
      const res = await admin.get(`${API}/admin/jobs`);
      return res.status === 200 && res.body.data.outbox_pending === 0 ? res.body.data : undefined;
    });
    expect(after).toMatchObject({ backend: 'bullmq', queue_reachable: true, outbox_pending: 0 });
    expect(after.queues.send_reminder.failed).toBe(0);
  });

  it('three workers on one prefix register the cleanup_tasks schedule once', async () => {
    const { workerEnv, redis } = await setup();
    const ws = await Promise.all([1, 2, 3].map(() => spawnWorker(workerEnv)));
    const connection = new Redis(redis.REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('cleanup_tasks', { connection, prefix: `${redis.REDIS_KEY_PREFIX}bull` });
    cleanups.push(async () => {
      await queue.close();
      await connection.quit();
    });
    await until('a schedule', async () => ((await queue.getJobSchedulers()).length > 0 ? true : undefined));
    // Every worker sends its registration as it starts: give the last ones time to land.
    await sleep(1_000);
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers).toHaveLength(1);
    expect(schedulers[0]).toMatchObject({ key: 'cleanup_tasks-schedule', pattern: '0 3 * * *', tz: 'UTC' });
    // One next run waiting, not one per worker.
    expect(await queue.getDelayedCount()).toBe(1);
    for (const w of ws) {
      expect(alive(w.child)).toBe(true);
      expect(w.output()).not.toContain('could not register scheduled jobs');
    }
  });

  it('`npm run job -- cleanup_tasks` archives a task done 40 days ago; unknown job: exit 2; worker without DATABASE_URL: exit 78', async () => {
    const { t, admin, workerEnv, redis } = await setup();
    const old = await createTask(admin, { title: 'Done long ago', status: 'done' });
    const recent = await createTask(admin, { title: 'Done today', status: 'done' });
    await t.core.database.db.execute(
      sql`update tasks set completed_at = now() - interval '40 days' where id = ${old.id}`,
    );
    const env = {
      DATABASE_URL: workerEnv.DATABASE_URL,
      ...redis,
      JWT_SECRET: TEST_ENV.JWT_SECRET,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
    };
    const cli = 'packages/core/src/jobs/job.cli.ts';
    const [run, unknown, noDb] = await Promise.all([
      runTs(cli, env, ['cleanup_tasks']),
      runTs(cli, env, ['send_fax']),
      runTs('apps/worker/src/main.ts', { ...redis, NODE_ENV: 'test', JWT_SECRET: TEST_ENV.JWT_SECRET }),
    ]);

    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toMatchObject({
      job: 'cleanup_tasks',
      archived: 1,
    });
    expect((await ok(admin.get(`${API}/tasks/${old.id}`))).archived_at).not.toBeNull();
    expect((await ok(admin.get(`${API}/tasks/${recent.id}`))).archived_at).toBeNull();

    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^usage: npm run job -- <send_reminder\|send_webhook\|cleanup_tasks\|generate_report\|sync_calendar>/,
    );
    expect(unknown.stdout).toBe('');

    expect(noDb.code).toBe(78);
    expect(noDb.stderr.trim()).toBe(
      'The worker needs DATABASE_URL (and REDIS_URL for BullMQ). In embedded mode `npm start` runs the jobs itself.',
    );
  });

  it('Bull Board at /admin/queues: admins only, by HTTP Basic (email:password) or bearer token', async () => {
    const { t, admin } = await setup();
    const bob = await signUp(t.app);
    const anon = new Client(t.app);
    const basic = (email: string, password: string) => ({
      authorization: `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`,
    });

    const none = await anon.get('/admin/queues');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="Taskman admin"/);
    const wrong = await anon.get('/admin/queues', basic(admin.user.email, 'not the password'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await anon.get('/admin/queues', basic(bob.user.email, bob.password))).status).toBe(403);
    expect((await bob.get('/admin/queues/api/queues')).status).toBe(403);

    const page = await anon.get('/admin/queues', basic(admin.user.email, admin.password));
    expect(page.status).toBe(200);
    expect(String(page.headers['content-type'])).toMatch(/^text\/html/);
    expect(page.raw).toMatch(/<html/i);
    const byToken = await admin.get('/admin/queues');
    expect(byToken.status).toBe(200);
    expect(String(byToken.headers['content-type'])).toMatch(/^text\/html/);

    const api = await admin.get('/admin/queues/api/queues');
    expect(api.status).toBe(200);
    expect(api.body.queues.map((q: { name: string }) => q.name).sort()).toEqual([
      'cleanup_tasks',
      'generate_report',
      'send_reminder',
      'send_webhook',
      'sync_calendar',
    ]);
  });
});
