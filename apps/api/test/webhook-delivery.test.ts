// Webhook delivery end to end, in embedded mode: the outbox relay turns each domain event into a
// delivery row and a send_webhook job per subscribed webhook; in-process workers POST it, signed
// as Standard Webhooks define, to real HTTP receivers on loopback ports. Signatures are checked
// with the `standardwebhooks` package, not with our own code.
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isForbiddenAddress,
  newWebhookSecret,
  startJobWorker,
  urlProblem,
  WebhookRepository,
} from '@taskman/core';
import { sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp } from './helpers/app';
import { signUp } from './helpers/client';
import { query, until } from './helpers/wait';

const ENV = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  JOB_POLL_MS: '50',
  JOB_BACKOFF_MS: '100',
  JOB_ATTEMPTS: '4',
  WEBHOOK_TIMEOUT_MS: '500',
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  // Workers first, then receivers, then the app (reverse order of creation).
  const errors: unknown[] = [];
  for (const close of cleanups.splice(0).reverse()) await close().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

interface Received {
  headers: Record<string, string>;
  body: string;
}
type Reply = (res: http.ServerResponse, n: number) => void;

/** An HTTP server on a loopback port that records every request; `reply` answers the n-th (1-based). */
async function receiver(reply: Reply = (res) => res.end('ok')) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      received.push({ headers, body: Buffer.concat(chunks).toString('utf8') });
      reply(res, received.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  cleanups.push(close);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    waitFor: (n: number) => until(`${n} request(s)`, () => received.length >= n && received),
  };
}
type Receiver = Awaited<ReturnType<typeof receiver>>;

async function setup(env: Record<string, string> = ENV) {
  const t = await createTestApp({ env });
  cleanups.push(() => t.close());
  const owner = await signUp(t.app, { name: 'Ann' });
  const repo = new WebhookRepository(t.core.database.db);
  const deliveries = (webhookId: string) =>
    query(t, sql`select * from webhook_deliveries where webhook_id = ${webhookId} order by created_at, id`);
  return {
    t,
    owner,
    deliveries,
    webhook: (url: string, events: string[], userId: string = owner.user.id) =>
      repo.insert({ userId, url, events, secret: newWebhookSecret() }),
    startWorker() {
      const worker = startJobWorker(t.core);
      cleanups.push(() => worker.stop());
    },
    async createTask(body: Record<string, unknown>, as = owner): Promise<any> {
      const res = await as.post('/api/v1/tasks', body);
      expect(res.status, res.raw).toBe(201);
      return res.body.data;
    },
    async patchTask(id: string, body: Record<string, unknown>, as = owner): Promise<any> {
      const res = await as.patch(`/api/v1/tasks/${id}`, body);
      expect(res.status, res.raw).toBe(200);
      return res.body.data;
    },
    /** Waits for a delivery of this webhook to satisfy `check`. */
    deliveryWhere: (webhookId: string, what: string, check: (d: any) => boolean) =>
      until(what, async () => (await deliveries(webhookId)).find(check)),
    /** Every event is published and no send_webhook job is waiting or running. */
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
}

/** Proves a negative: the receiver's count stays at `count` for a short, bounded window. */
async function expectNoMore(r: Receiver, count: number, ms = 400): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    expect(r.received.length).toBe(count);
    await sleep(25);
  }
}

/** Verifies with the standardwebhooks package (throws if the signature is bad) and parses the body. */
const verified = (secret: string, r: Received): any => {
  new Webhook(secret).verify(r.body, r.headers);
  return JSON.parse(r.body);
};

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const future = (hours: number) =>
  new Date(Math.floor(Date.now() / 60_000 + hours * 60) * 60_000).toISOString();

describe('webhooks: delivery', () => {
  it('delivers each subscribed event once, signed, with the task as the API shows it', async () => {
    const c = await setup();
    const ann = await receiver();
    const bobs = await receiver();
    const hook = await c.webhook(ann.url, ['task.created', 'task.completed']);
    const bob = await signUp(c.t.app, { name: 'Bob' });
    await c.webhook(bobs.url, ['task.created', 'task.completed'], bob.user.id);
    c.startWorker();

    const project = (await c.owner.post('/api/v1/projects', { name: 'Home' })).body.data;
    const task = await c.createTask({ title: 'Hook me', due_date: future(5), project_id: project.id });
    await ann.waitFor(1);
    const done = await c.patchTask(task.id, { status: 'done' });
    await ann.waitFor(2);
    // Not subscribed: task.updated (a title change). Another user's events go to their hook only.
    await c.patchTask(task.id, { title: 'Renamed' });
    const theirs = await c.createTask({ title: 'Bob task' }, bob);
    await c.patchTask(theirs.id, { status: 'done' }, bob);
    await bobs.waitFor(2);
    await c.settled();
    await expectNoMore(ann, 2);

    const [created, completed] = ann.received.map((r) => verified(hook.secret, r));
    expect([created.type, completed.type]).toEqual(['task.created', 'task.completed']);
    for (const r of ann.received) {
      expect(r.headers['content-type']).toMatch(/^application\/json\b/);
      expect(r.headers['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      const body = JSON.parse(r.body);
      expect(Object.keys(body).sort()).toEqual(['created_at', 'data', 'id', 'type']);
      expect(body.created_at).toMatch(ISO);
      expect(r.body).not.toMatch(/user_?id|search_?vector/i);
      // Every key, however deep, is snake_case.
      const keys = JSON.stringify(body.data).match(/"[^"]+":/g) ?? [];
      for (const k of keys) expect(k).toMatch(/^"[a-z0-9_]+":$/);
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

    const rows = await c.deliveries(hook.id);
    expect(rows.map((d) => [d.event_type, d.state, d.attempts, d.response_status])).toEqual([
      ['task.created', 'succeeded', 1, 200],
      ['task.completed', 'succeeded', 1, 200],
    ]);
    expect(rows.map((d) => d.id)).toEqual(ann.received.map((r) => r.headers['webhook-id']));
    expect(rows.map((d) => d.body)).toEqual(ann.received.map((r) => r.body));
    for (const r of bobs.received) expect(JSON.parse(r.body).data.task.title).toBe('Bob task');
  });

  it('retries a failing receiver with the same webhook-id and body, each attempt validly signed', async () => {
    const c = await setup();
    const r = await receiver((res, n) => {
      res.statusCode = n <= 2 ? 500 : 200;
      res.end(n <= 2 ? 'oops' : 'ok');
    });
    const hook = await c.webhook(r.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'Flaky' });

    const d = await c.deliveryWhere(hook.id, 'the delivery to succeed', (x) => x.state === 'succeeded');
    await c.settled();
    await expectNoMore(r, 3, 300);
    expect(new Set(r.received.map((x) => x.headers['webhook-id']))).toEqual(new Set([d.id]));
    expect(new Set(r.received.map((x) => x.body))).toEqual(new Set([d.body]));
    for (const x of r.received) expect(verified(hook.secret, x).type).toBe('task.created');
    expect(d).toMatchObject({ state: 'succeeded', attempts: 3, response_status: 200, error: null });
  });

  it('switches the webhook off on 410 Gone, without retrying, and sends it nothing more', async () => {
    const c = await setup();
    const gone = await receiver((res) => {
      res.statusCode = 410;
      res.end();
    });
    const other = await receiver();
    const hook = await c.webhook(gone.url, ['task.created']);
    await c.webhook(other.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'First' });

    const [off] = await until('the webhook to be switched off', async () => {
      const rows = await query(c.t, sql`select * from webhooks where id = ${hook.id} and not active`);
      return rows.length ? rows : undefined;
    });
    expect(off.disabled_reason).toMatch(/410/);
    await c.settled();
    const [d] = await c.deliveries(hook.id);
    expect(d).toMatchObject({ state: 'failed', attempts: 1, response_status: 410 });
    const jobs = await query(c.t, sql`select state, attempts from jobs where key = ${`webhook.${d.id}`}`);
    expect(jobs).toEqual([{ state: 'failed', attempts: 1 }]);

    // A later event reaches the user's other webhook, not the disabled one.
    await c.createTask({ title: 'Second' });
    await other.waitFor(2);
    await c.settled();
    await expectNoMore(gone, 1);
    expect(await c.deliveries(hook.id)).toHaveLength(1);
  });

  it('does not follow a redirect: records the 302 and retries', async () => {
    const c = await setup();
    const target = await receiver();
    const redirecting = await receiver((res) => {
      res.writeHead(302, { location: target.url });
      res.end();
    });
    const hook = await c.webhook(redirecting.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'Redirected' });

    await redirecting.waitFor(2);
    const d = await c.deliveryWhere(hook.id, 'two attempts', (x) => x.attempts >= 2);
    expect(d).toMatchObject({ state: 'pending', response_status: 302 });
    expect(d.error).toMatch(/302/);
    expect(target.received).toHaveLength(0);
    const [job] = await query(c.t, sql`select state, last_error from jobs where key = ${`webhook.${d.id}`}`);
    expect(job.state).not.toBe('completed');
    expect(job.last_error).toMatch(/302/);
  });

  it('gives up on a receiver that never answers after WEBHOOK_TIMEOUT_MS, and retries', async () => {
    const c = await setup();
    const silent = await receiver(() => {}); // reads the request, never answers
    const hook = await c.webhook(silent.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'Into the void' });

    const first = await c.deliveryWhere(hook.id, 'a failed attempt', (x) => x.attempts >= 1);
    expect(first.state).toBe('pending');
    expect(first.response_status).toBeNull();
    expect(first.error).toMatch(/500 ms/);
    expect(first.duration_ms).toBeGreaterThanOrEqual(450);
    expect(first.duration_ms).toBeLessThan(3000);
    await silent.waitFor(2);
    expect(new Set(silent.received.map((x) => x.headers['webhook-id']))).toEqual(new Set([first.id]));
  });

  it('marks the delivery failed once JOB_ATTEMPTS attempts have failed (not pending for ever)', async () => {
    const c = await setup();
    const r = await receiver((res) => {
      res.statusCode = 503;
      res.end();
    });
    const hook = await c.webhook(r.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'Never' });

    await until('the job to fail for good', async () => {
      return (await query(c.t, sql`select 1 from jobs where name = 'send_webhook' and state = 'failed'`))
        .length;
    });
    await expectNoMore(r, 4, 200);
    const [d] = await c.deliveries(hook.id);
    expect(d).toMatchObject({ attempts: 4, response_status: 503, error: 'HTTP 503' });
    expect(d.state).toBe('failed');
  });
});

describe('webhooks: SSRF guard', () => {
  it('sends nothing to a loopback receiver unless WEBHOOK_ALLOW_PRIVATE', async () => {
    const { WEBHOOK_ALLOW_PRIVATE: _, ...env } = ENV;
    const c = await setup(env);
    expect(c.t.core.config.webhookAllowPrivate).toBe(false);
    const r = await receiver();
    const hook = await c.webhook(r.url, ['task.created']);
    c.startWorker();
    await c.createTask({ title: 'Internal' });

    const d = await c.deliveryWhere(hook.id, 'a refused attempt', (x) => x.attempts >= 1);
    expect(d.state).toBe('pending');
    expect(d.response_status).toBeNull();
    expect(d.error).toMatch(/private, loopback or link-local/);
    await expectNoMore(r, 0);
  });

  it('refuses, after resolving, a host name that points to a forbidden address', async (ctx) => {
    // This host's own name is a name (not an IP) that /etc/hosts usually maps to loopback or private.
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    if (name === 'localhost' || !addresses.length || !addresses.every((a) => isForbiddenAddress(a.address)))
      return ctx.skip();
    const { WEBHOOK_ALLOW_PRIVATE: _, ...env } = ENV;
    const c = await setup(env);
    const r = await receiver();
    const url = `http://${name}:${r.port}/hook`;
    expect(urlProblem(url, false)).toBeUndefined();
    const hook = await c.webhook(url, ['task.created']);
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
    const hook = await c.webhook(r.url, ['task.created', 'task.updated']);
    c.startWorker();
    const task = await c.createTask({ title: 'Once' });
    await c.patchTask(task.id, { title: 'Only once' });
    await r.waitFor(2);
    await c.settled();

    await c.t.core.database.db.execute(sql`update outbox_events set published_at = null`);
    expect(await c.t.core.relay.pending()).toBeGreaterThan(0);
    c.t.core.relay.poke();
    await c.settled();
    await expectNoMore(r, 2);

    const rows = await c.deliveries(hook.id);
    expect(rows.map((d) => d.event_type)).toEqual(['task.created', 'task.updated']);
    expect(new Set(rows.map((d) => d.event_id)).size).toBe(2);
    expect(rows.every((d) => d.state === 'succeeded' && d.attempts === 1)).toBe(true);
    // Two deliveries in flight at once may arrive in either order (receivers order by created_at).
    expect(r.received.map((x) => x.headers['webhook-id']).sort()).toEqual(rows.map((d) => d.id).sort());
    const [{ n }] = await query(c.t, sql`select count(*)::int as n from jobs where name = 'send_webhook'`);
    expect(n).toBe(2);
  });
});
