// Webhook delivery end to end, in embedded mode: the outbox relay turns each domain event into a
// delivery row and a send_webhook job per subscribed webhook; in-process workers POST it, signed
// as Standard Webhooks define, to real HTTP receivers on loopback ports. Each attempt is its own
// job: a failed one records the outcome on the delivery and enqueues the next attempt on
// WEBHOOK_RETRY_SCHEDULE (compressed here to 0,100,200,300 ms: four attempts). Signatures are
// checked with the `standardwebhooks` package; mail goes to a real SMTP server.
import {
  ConfigError,
  isForbiddenAddress,
  loadConfig,
  newWebhookSecret,
  startJobWorker,
  urlProblem,
  WebhookRepository,
} from '@taskman/core';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp } from './helpers/app';
import { type Client, signUp } from './helpers/client';
import {
  answer,
  expectNoMore,
  gate,
  loopbackHostName,
  type Receiver,
  type Reply,
  startReceiver,
  verified,
} from './helpers/receiver';
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from './helpers/smtp';
import { query, sleep, until } from './helpers/wait';

const APP_URL = 'https://tasks.example.com';
const ENV: Record<string, string | undefined> = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  JOB_POLL_MS: '50',
  WEBHOOK_RETRY_SCHEDULE: '0,100,200,300',
  // Long enough that a receiver holding its answer (see gate()) is not timed out meanwhile.
  WEBHOOK_TIMEOUT_MS: '3000',
  APP_URL,
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  // Workers first, then receivers, then the app and its SMTP server (reverse order of creation).
  const errors: unknown[] = [];
  for (const close of cleanups.splice(0).reverse()) await close().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

async function receiver(reply?: Reply): Promise<Receiver> {
  const r = await startReceiver(reply);
  cleanups.push(() => r.close());
  return r;
}

async function setup(overrides: Record<string, string | undefined> = {}) {
  const smtp = await startSmtpServer();
  cleanups.push(() => smtp.close());
  const env = Object.fromEntries(
    Object.entries({ ...ENV, SMTP_URL: smtp.url, ...overrides }).filter(([, v]) => v !== undefined),
  ) as Record<string, string>;
  const t = await createTestApp({ env });
  cleanups.push(() => t.close());
  const owner = await signUp(t.app, { name: 'Ann' });
  const api = '/api/v1/webhooks';
  const c = {
    t,
    smtp,
    owner,
    /** Registers a webhook through the API; the answer includes its secret. */
    async hook(url: string, events: string[], extra: Record<string, unknown> = {}, as: Client = owner) {
      const res = await as.post(api, { url, events, ...extra });
      expect(res.status, res.raw).toBe(201);
      return res.body.data as { id: string; secret: string; url: string };
    },
    /** The delivery log, newest first, as the API shows it. */
    async log(webhookId: string, qs = ''): Promise<any[]> {
      const res = await owner.get(`${api}/${webhookId}/deliveries${qs}`);
      expect(res.status, res.raw).toBe(200);
      return res.body.data;
    },
    async detail(webhookId: string, deliveryId: string): Promise<any> {
      const res = await owner.get(`${api}/${webhookId}/deliveries/${deliveryId}`);
      expect(res.status, res.raw).toBe(200);
      return res.body.data;
    },
    async webhook(id: string): Promise<any> {
      const res = await owner.get(`${api}/${id}`);
      expect(res.status, res.raw).toBe(200);
      return res.body.data;
    },
    /** Waits for a delivery in the log of this webhook to satisfy `check`. */
    deliveryWhere: (webhookId: string, what: string, check: (d: any) => boolean) =>
      until(what, async () => (await c.log(webhookId)).find(check)),
    /** The send_webhook jobs of a delivery (one per attempt), oldest first. */
    jobsOf: (deliveryId: string) =>
      query(
        t,
        sql`select key, state, attempts from jobs where name = 'send_webhook' and key like ${`webhook.${deliveryId}%`} order by created_at, id`,
      ),
    startWorker() {
      const worker = startJobWorker(t.core);
      cleanups.push(() => worker.stop());
    },
    async post(path: string, body: Record<string, unknown>, as: Client = owner): Promise<any> {
      const res = await as.post(`/api/v1${path}`, body);
      expect(res.status, res.raw).toBe(201);
      return res.body.data;
    },
    async patch(path: string, body: Record<string, unknown>, as: Client = owner): Promise<any> {
      const res = await as.patch(`/api/v1${path}`, body);
      expect(res.status, res.raw).toBe(200);
      return res.body.data;
    },
    async del(path: string, as: Client = owner): Promise<void> {
      const res = await as.delete(`/api/v1${path}`);
      expect(res.status, res.raw).toBe(204);
    },
    createTask: (body: Record<string, unknown>, as: Client = owner) => c.post('/tasks', body, as),
    /** Every event is published and no send_webhook job is waiting (retries included) or running. */
    async settled(): Promise<void> {
      await until('the relay and the webhook jobs to settle', async () => {
        if ((await t.core.relay.pending()) > 0) return false;
        const [busy] = await query<{ n: number }>(
          t,
          sql`select count(*)::int as n from jobs where name = 'send_webhook' and state in ('waiting', 'active')`,
        );
        return busy!.n === 0;
      });
    },
  };
  return c;
}

/** Proves a negative for mail: no more than `count` messages arrive in a short, bounded window. */
async function expectNoMoreMail(smtp: TestSmtpServer, count: number, ms = 300): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    expect(smtp.received.length).toBe(count);
    await sleep(25);
  }
  expect(smtp.received.length).toBe(count);
}

/** The "webhook disabled" message: to the owner, naming the endpoint, why, and where to turn it back on. */
function expectDisabledMail(
  mail: ReceivedMail,
  owner: { user: { email: string } },
  url: string,
  why: RegExp,
) {
  expect(mail.to).toEqual([owner.user.email]);
  expect(mail.parsed.subject).toBe(`Taskman stopped sending to your webhook ${new URL(url).host}`);
  expect(mail.parsed.text).toContain(url);
  expect(mail.parsed.text).toMatch(why);
  expect(mail.parsed.text).toContain(`${APP_URL}/settings#webhooks`);
  expect(mail.parsed.html).toContain(url);
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const future = (hours: number) =>
  new Date(Math.floor(Date.now() / 60_000 + hours * 60) * 60_000).toISOString();
const idsOf = (r: Receiver) => new Set(r.received.map((x) => x.headers['webhook-id']));

describe('webhooks: delivery', () => {
  it('delivers each subscribed event once, signed, with the task as the API shows it', async () => {
    const c = await setup();
    const ann = await receiver();
    const bobs = await receiver();
    const hook = await c.hook(ann.url, ['task.created', 'task.completed']);
    const bob = await signUp(c.t.app, { name: 'Bob' });
    await c.hook(bobs.url, ['task.created', 'task.completed'], {}, bob);
    c.startWorker();

    const project = await c.post('/projects', { name: 'Home' });
    const task = await c.createTask({ title: 'Hook me', due_date: future(5), project_id: project.id });
    await ann.waitFor(1);
    const done = await c.patch(`/tasks/${task.id}`, { status: 'done' });
    await ann.waitFor(2);
    // Not subscribed: task.updated (a title change). Another user's events go to their hook only.
    await c.patch(`/tasks/${task.id}`, { title: 'Renamed' });
    const theirs = await c.createTask({ title: 'Bob task' }, bob);
    await c.patch(`/tasks/${theirs.id}`, { status: 'done' }, bob);
    await bobs.waitFor(2);
    await c.settled();
    await expectNoMore(ann, 2);

    const [created, completed] = ann.received.map((r) => verified(hook.secret, r));
    expect([created.type, completed.type]).toEqual(['task.created', 'task.completed']);
    for (const r of ann.received) {
      expect(r.method).toBe('POST');
      expect(r.path).toBe('/hook');
      expect(r.headers['content-type']).toMatch(/^application\/json\b/);
      expect(r.headers['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    }
    expect(created.data.task).toEqual(task);
    expect(created.data.task).toMatchObject({
      title: 'Hook me',
      due_date: task.due_date,
      project_id: project.id,
    });
    expect(completed.data.task).toEqual(done);
    expect(completed.data.task.completed_at).toMatch(ISO);
    expect(created.id).not.toBe(completed.id);

    const rows = (await c.log(hook.id)).reverse();
    expect(
      rows.map((d) => [d.event_type, d.state, d.attempts, d.response_status, d.next_attempt_at]),
    ).toEqual([
      ['task.created', 'succeeded', 1, 200, null],
      ['task.completed', 'succeeded', 1, 200, null],
    ]);
    expect(rows.map((d) => d.id)).toEqual(ann.received.map((r) => r.headers['webhook-id']));
    expect(rows.map((d) => d.event_id)).toEqual([created.id, completed.id]);
    for (const r of bobs.received) expect(JSON.parse(r.body).data.task.title).toBe('Bob task');
  });

  it('signs every task and project event; the body is {id, type, created_at, data}, snake_case, without user_id', async () => {
    const c = await setup();
    const r = await receiver();
    const all = [
      'task.created',
      'task.updated',
      'task.completed',
      'task.deleted',
      'project.created',
      'project.updated',
      'project.deleted',
    ];
    const hook = await c.hook(r.url, all);
    c.startWorker();

    const project = await c.post('/projects', { name: 'Garden' });
    const renamed = await c.patch(`/projects/${project.id}`, { name: 'Garden and shed' });
    const task = await c.createTask({ title: 'Dig', project_id: project.id, tags: ['outside'] });
    const updated = await c.patch(`/tasks/${task.id}`, { title: 'Dig deeper' });
    const done = await c.patch(`/tasks/${task.id}`, { status: 'done' });
    const kept = await c.createTask({ title: 'Water', project_id: project.id });
    await c.del(`/tasks/${task.id}`);
    // Deleting the project detaches its remaining task: project.deleted and a task.updated.
    await c.del(`/projects/${project.id}`);
    const expected = [
      'project.created',
      'project.updated',
      'task.created',
      'task.updated',
      // Completing is a change too: task.updated, then task.completed.
      'task.updated',
      'task.completed',
      'task.created',
      'task.deleted',
      'project.deleted',
      'task.updated',
    ];
    await r.waitFor(expected.length);
    await c.settled();
    await expectNoMore(r, expected.length, 300);

    // Each one verifies with the standardwebhooks package; concurrent sends may arrive in any order.
    const bodies = r.received.map((x) => verified(hook.secret, x));
    const byEvent = new Map(bodies.map((b) => [b.id, b]));
    const log = (await c.log(hook.id, '?limit=100')).reverse();
    expect(log.map((d) => d.event_type)).toEqual(expected);
    expect(log.every((d) => d.state === 'succeeded' && d.attempts === 1)).toBe(true);
    const events = log.map((d) => byEvent.get(d.event_id));
    expect(events.map((e) => e?.type)).toEqual(expected);
    for (const e of events) {
      expect(Object.keys(e).sort()).toEqual(['created_at', 'data', 'id', 'type']);
      expect(e.created_at).toMatch(ISO);
    }
    for (const x of r.received) {
      expect(x.body).not.toMatch(/user_?id|search_?vector/i);
      // Every key, however deep, is snake_case.
      const keys = x.body.match(/"[^"]+":/g) ?? [];
      for (const k of keys) expect(k).toMatch(/^"[a-z0-9_]+":$/);
    }
    const [pCreated, pUpdated, tCreated, tUpdated, tDone, tCompleted, , tDeleted, pDeleted, detached] =
      events;
    expect(pCreated.data).toEqual({ project });
    expect(pUpdated.data).toEqual({ project: renamed });
    expect(tCreated.data).toEqual({ task });
    expect(tUpdated.data.task).toEqual(updated);
    expect(tUpdated.data.previous).toEqual({ title: 'Dig' });
    expect(tDone.data).toEqual({ task: done, previous: { status: 'todo', completed_at: null } });
    expect(tCompleted.data.task).toEqual(done);
    expect(tDeleted.data).toMatchObject({ id: task.id, project_id: project.id, task: { id: task.id } });
    expect(pDeleted.data).toEqual({ id: project.id });
    expect(detached.data.task).toMatchObject({ id: kept.id, project_id: null });
  });

  it('retries on WEBHOOK_RETRY_SCHEDULE with the same webhook-id, the log showing when the next attempt is due', async () => {
    const c = await setup();
    const held = gate();
    const r = await receiver(async (res, n) => {
      // The second attempt is held until the test has read the log between attempts.
      if (n === 2) await held.opened;
      answer(n <= 2 ? 500 : 200, n <= 2 ? `oops ${n}` : 'thanks')(res);
    });
    const hook = await c.hook(r.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'Flaky' });

    await r.waitFor(2);
    const [waiting] = await c.log(hook.id);
    expect(waiting).toMatchObject({ state: 'pending', attempts: 1, response_status: 500, error: 'HTTP 500' });
    expect(waiting.next_attempt_at).toMatch(ISO);
    // Attempt 2 waits 100 ms, give or take 10 % of jitter.
    const wait = Date.parse(waiting.next_attempt_at) - Date.parse(waiting.last_attempt_at);
    expect(wait).toBeGreaterThanOrEqual(90);
    expect(wait).toBeLessThanOrEqual(110);
    expect((await c.detail(hook.id, waiting.id)).response_body).toBe('oops 1');
    held.open();

    const d = await c.deliveryWhere(hook.id, 'the delivery to succeed', (x) => x.state === 'succeeded');
    await c.settled();
    await expectNoMore(r, 3, 300);
    expect(d).toMatchObject({
      state: 'succeeded',
      attempts: 3,
      response_status: 200,
      error: null,
      next_attempt_at: null,
    });
    expect((await c.detail(hook.id, d.id)).response_body).toBe('thanks');
    expect(idsOf(r)).toEqual(new Set([d.id]));
    expect(new Set(r.received.map((x) => x.body)).size).toBe(1);
    for (const x of r.received) expect(verified(hook.secret, x).type).toBe('task.created');
    // Attempt 3 came at least 200 ms (less 10 %) after attempt 2.
    expect(r.received[2]!.at - r.received[1]!.at).toBeGreaterThanOrEqual(180);
    // One job per attempt, each completed: the queue's own retries play no part.
    expect(await c.jobsOf(d.id)).toEqual([
      { key: `webhook.${d.id}`, state: 'completed', attempts: 1 },
      { key: `webhook.${d.id}.2`, state: 'completed', attempts: 1 },
      { key: `webhook.${d.id}.3`, state: 'completed', attempts: 1 },
    ]);
    expect(c.smtp.received).toHaveLength(0);
  });

  it('switches the webhook off on 410 Gone, without retrying, emails the owner, and sends it nothing more', async () => {
    const c = await setup();
    const gone = await receiver(answer(410, 'gone for good'));
    const other = await receiver();
    const hook = await c.hook(gone.url, ['task.created'], { description: 'Old CRM' });
    await c.hook(other.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'First' });

    const [mail] = await c.smtp.waitFor(1);
    const off = await c.webhook(hook.id);
    expect(off).toMatchObject({ active: false, disabled_reason: 'The endpoint answered 410 Gone' });
    await c.settled();
    const [d] = await c.log(hook.id);
    expect(d).toMatchObject({
      state: 'failed',
      attempts: 1,
      response_status: 410,
      error: 'HTTP 410',
      next_attempt_at: null,
    });
    expect((await c.detail(hook.id, d.id)).response_body).toBe('gone for good');
    expect(await c.jobsOf(d.id)).toEqual([{ key: `webhook.${d.id}`, state: 'completed', attempts: 1 }]);
    expectDisabledMail(mail!, c.owner, gone.url, /410 Gone/);
    expect(mail!.parsed.text).toContain('Old CRM');

    // A later event reaches the user's other webhook, not the disabled one.
    await c.createTask({ title: 'Second' });
    await other.waitFor(2);
    await c.settled();
    await expectNoMore(gone, 1);
    expect(await c.log(hook.id)).toHaveLength(1);
    await expectNoMoreMail(c.smtp, 1);
  });

  it('does not follow a redirect: records the 302 and retries', async () => {
    const c = await setup();
    const target = await receiver();
    const redirecting = await receiver((res) => {
      res.writeHead(302, { location: target.url });
      res.end('moved');
    });
    const hook = await c.hook(redirecting.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'Redirected' });

    const first = await c.deliveryWhere(hook.id, 'a first attempt', (x) => x.attempts >= 1);
    expect(first).toMatchObject({ response_status: 302, error: 'HTTP 302' });
    const d = await c.deliveryWhere(hook.id, 'the last attempt', (x) => x.state === 'failed');
    await c.settled();
    expect(d).toMatchObject({ attempts: 4, response_status: 302, error: 'HTTP 302', next_attempt_at: null });
    expect(redirecting.received).toHaveLength(4);
    expect(idsOf(redirecting)).toEqual(new Set([d.id]));
    expect(target.received).toHaveLength(0);
    expect((await c.jobsOf(d.id)).map((j) => j.state)).toEqual(Array(4).fill('completed'));
  });

  it('gives up on a receiver that never answers after WEBHOOK_TIMEOUT_MS, records it, and retries', async () => {
    const c = await setup({ WEBHOOK_TIMEOUT_MS: '300', WEBHOOK_RETRY_SCHEDULE: '0,100,100' });
    const silent = await receiver(() => {}); // reads the request, never answers
    const hook = await c.hook(silent.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'Into the void' });

    const first = await c.deliveryWhere(hook.id, 'a timed-out attempt', (x) => x.attempts >= 1);
    expect(first).toMatchObject({ response_status: null, error: 'no answer within 300 ms' });
    expect(first.duration_ms).toBeGreaterThanOrEqual(280);
    expect(first.duration_ms).toBeLessThan(3000);
    const d = await c.deliveryWhere(hook.id, 'the last attempt', (x) => x.state === 'failed');
    expect(d).toMatchObject({ attempts: 3, response_status: null, error: 'no answer within 300 ms' });
    expect(silent.received).toHaveLength(3);
    expect(idsOf(silent)).toEqual(new Set([d.id]));
  });

  it('after the last scheduled attempt fails: delivery failed, webhook disabled, owner emailed once (JOB_ATTEMPTS plays no part)', async () => {
    const c = await setup({ JOB_ATTEMPTS: '1' });
    const r = await receiver(answer(503, 'down for maintenance'));
    const hook = await c.hook(r.url, ['task.created']);
    c.startWorker();
    // Two deliveries fail side by side: the webhook is switched off, and its owner told, once.
    await c.createTask({ title: 'Never' });
    await c.createTask({ title: 'Nor this' });

    await until('both deliveries to fail', async () => (await c.log(hook.id, '?state=failed')).length === 2);
    const [mail] = await c.smtp.waitFor(1);
    await c.settled();
    await expectNoMoreMail(c.smtp, 1);
    const off = await c.webhook(hook.id);
    expect(off.active).toBe(false);
    expect(off.disabled_reason).toBe('All 4 delivery attempts failed (the last: HTTP 503)');
    expectDisabledMail(mail!, c.owner, r.url, /All 4 delivery attempts failed \(the last: HTTP 503\)/);

    const log = await c.log(hook.id);
    expect(log.every((d) => d.state === 'failed' && d.next_attempt_at === null)).toBe(true);
    // The one that switched the webhook off made all four attempts; the other stopped there too.
    const sent = (id: string) => r.received.filter((x) => x.headers['webhook-id'] === id).length;
    const full = log.filter((d) => d.error === 'HTTP 503');
    expect(full.length).toBeGreaterThanOrEqual(1);
    for (const d of full) expect([d.attempts, d.response_status, sent(d.id)]).toEqual([4, 503, 4]);
    for (const d of log) expect(sent(d.id)).toBeLessThanOrEqual(4);
    const jobs = await query(c.t, sql`select distinct state from jobs where name = 'send_webhook'`);
    expect(jobs).toEqual([{ state: 'completed' }]);
  });
});

describe('webhooks: SSRF guard at delivery', () => {
  /** A webhook the API would refuse, written straight to the database. */
  const insertHook = (c: Awaited<ReturnType<typeof setup>>, url: string) =>
    new WebhookRepository(c.t.core.database.db).insert({
      userId: c.owner.user.id,
      url,
      events: ['task.created'],
      secret: newWebhookSecret(),
    });

  it('sends nothing to a loopback receiver unless WEBHOOK_ALLOW_PRIVATE; each attempt records why', async () => {
    const c = await setup({ WEBHOOK_ALLOW_PRIVATE: undefined });
    expect(c.t.core.config.webhookAllowPrivate).toBe(false);
    const r = await receiver();
    const hook = await insertHook(c, r.url);
    c.startWorker();
    await c.createTask({ title: 'Internal' });

    const first = await c.deliveryWhere(hook.id, 'a refused attempt', (x) => x.attempts >= 1);
    expect(first.response_status).toBeNull();
    expect(first.error).toBe('URL must not point to a private, loopback or link-local address');
    const d = await c.deliveryWhere(hook.id, 'the last attempt', (x) => x.state === 'failed');
    expect(d.attempts).toBe(4);
    await c.smtp.waitFor(1);
    expect((await c.webhook(hook.id)).active).toBe(false);
    await expectNoMore(r, 0);
  });

  it('refuses, after resolving, a host name that points to a forbidden address', async (ctx) => {
    const name = await loopbackHostName();
    if (!name) return ctx.skip();
    const c = await setup({ WEBHOOK_ALLOW_PRIVATE: undefined });
    const r = await receiver();
    const url = `http://${name}:${r.port}/hook`;
    expect(urlProblem(url, false)).toBeUndefined();
    const hook = await insertHook(c, url);
    c.startWorker();
    await c.createTask({ title: 'Rebound' });

    const d = await c.deliveryWhere(hook.id, 'a refused attempt', (x) => x.attempts >= 1);
    expect(d.error).toMatch(/forbidden address/);
    expect(d.response_status).toBeNull();
    await expectNoMore(r, 0);
  });

  it('urlProblem refuses private, loopback and odd URLs; isForbiddenAddress knows the ranges', () => {
    const privateUrls = [
      'http://127.0.0.1/',
      'http://localhost/',
      'http://2130706433/',
      'http://0x7f000001/',
      'http://017700000001/',
      'http://0177.0.0.1/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://10.0.0.1/',
      'http://172.16.5.4/',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data',
      'http://[fe80::1]/',
      'http://[fd00::1]/',
    ];
    const alwaysBad = ['http://user:pw@example.com/', 'ftp://example.com/', 'not a url'];
    for (const url of [...privateUrls, ...alwaysBad])
      expect(urlProblem(url, false), url).toBeTypeOf('string');
    for (const url of ['https://example.com/hook', 'http://93.184.216.34/'])
      expect(urlProblem(url, false), url).toBeUndefined();
    for (const url of privateUrls) expect(urlProblem(url, true), url).toBeUndefined();
    for (const url of alwaysBad) expect(urlProblem(url, true), url).toBeTypeOf('string');
    expect(urlProblem('http://user:pw@example.com/', false)).toMatch(/credentials/);
    expect(urlProblem('ftp://example.com/', false)).toMatch(/http/);

    const forbidden = [
      '127.0.0.1',
      '10.1.2.3',
      '100.64.0.1',
      '169.254.169.254',
      '0.0.0.0',
      '::',
      '::1',
      '::ffff:10.0.0.1',
      '::ffff:7f00:1',
      'fe80::1',
      'fd12:3456::1',
      'not-an-ip',
    ];
    for (const a of forbidden) expect(isForbiddenAddress(a), a).toBe(true);
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      expect(isForbiddenAddress(a), a).toBe(false);
  });
});

describe('webhooks: at-least-once relay', () => {
  it('keeps one delivery per (webhook, event) and sends each event once when the relay publishes twice', async () => {
    const c = await setup();
    const r = await receiver();
    const hook = await c.hook(r.url, ['task.created', 'task.updated']);
    c.startWorker();
    const task = await c.createTask({ title: 'Once' });
    await c.patch(`/tasks/${task.id}`, { title: 'Only once' });
    await r.waitFor(2);
    await c.settled();

    await c.t.core.database.db.execute(sql`update outbox_events set published_at = null`);
    expect(await c.t.core.relay.pending()).toBeGreaterThan(0);
    c.t.core.relay.poke();
    await c.settled();
    await expectNoMore(r, 2);

    const rows = (await c.log(hook.id)).reverse();
    expect(rows.map((d) => d.event_type)).toEqual(['task.created', 'task.updated']);
    expect(new Set(rows.map((d) => d.event_id)).size).toBe(2);
    expect(rows.every((d) => d.state === 'succeeded' && d.attempts === 1)).toBe(true);
    // Two deliveries in flight at once may arrive in either order (receivers order by created_at).
    expect(r.received.map((x) => x.headers['webhook-id']).sort()).toEqual(rows.map((d) => d.id).sort());
    const [{ n }] = await query(c.t, sql`select count(*)::int as n from jobs where name = 'send_webhook'`);
    expect(n).toBe(2);
  });
});

describe('WEBHOOK_RETRY_SCHEDULE', () => {
  const schedule = (value?: string) =>
    loadConfig(value === undefined ? {} : { WEBHOOK_RETRY_SCHEDULE: value }).webhookRetrySchedule;

  it('is a list of durations (a bare number is milliseconds); unset or empty, the Standard Webhooks one', () => {
    const H = 3_600_000;
    const standard = [0, 5_000, 5 * 60_000, 30 * 60_000, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H];
    expect(schedule()).toEqual(standard);
    expect(schedule('')).toEqual(standard);
    expect(schedule('0,100ms,200')).toEqual([0, 100, 200]);
    expect(schedule(' 0 , 5s, 1m ,2h,1d')).toEqual([0, 5_000, 60_000, 2 * H, 24 * H]);
    expect(schedule('0')).toEqual([0]);
    expect(schedule('7d')).toEqual([7 * 24 * H]);
    expect(schedule(Array(50).fill('1s').join(','))).toHaveLength(50);
  });

  it.each([
    ['soon'],
    ['5x'],
    ['5S'],
    ['1.5s'],
    ['-5'],
    ['5 s'],
    ['0,,5s'],
    [','],
    ['0;5s'],
    ['8d'],
    ['0,169h'],
    [Array(51).fill('1s').join(',')],
  ])('stops loadConfig, naming the variable, for %j', (value) => {
    expect(() => schedule(value)).toThrow(ConfigError);
    expect(() => schedule(value)).toThrow(/^Invalid configuration: WEBHOOK_RETRY_SCHEDULE /);
  });
});
