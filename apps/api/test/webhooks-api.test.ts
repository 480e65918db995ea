// The webhooks API: registration and its validation (the SSRF guard in every spelling of a
// private address), the 20-per-user limit, ownership, ping, the delivery log, redelivery and secret
// rotation. Deliveries go to real HTTP receivers on loopback ports through an in-process job
// worker; signatures are checked with the `standardwebhooks` package.
import { randomUUID } from 'node:crypto';
import { startJobWorker } from '@taskman/core';
import { sql } from 'drizzle-orm';
import { WebhookVerificationError } from 'standardwebhooks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { type Client, expectError, type Res, signUp } from './helpers/client';
import {
  answer,
  expectNoMore,
  loopbackHostName,
  type Receiver,
  type Reply,
  startReceiver,
  verified,
} from './helpers/receiver';
import { query, until } from './helpers/wait';

const API = '/api/v1/webhooks';
const ENV: Record<string, string | undefined> = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  JOB_POLL_MS: '50',
  WEBHOOK_RETRY_SCHEDULE: '0,100',
  WEBHOOK_TIMEOUT_MS: '3000',
  // Mail (a disabled webhook's notice) stays in memory: the delivery tests read it over SMTP.
  DATA_DIR: 'memory://webhooks-api',
};
const WEBHOOK_KEYS = [
  'active',
  'created_at',
  'description',
  'disabled_reason',
  'events',
  'id',
  'previous_secret_expires_at',
  'updated_at',
  'url',
];
const DELIVERY_KEYS = [
  'attempts',
  'created_at',
  'duration_ms',
  'error',
  'event_id',
  'event_type',
  'id',
  'last_attempt_at',
  'next_attempt_at',
  'response_status',
  'state',
];
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

// One app (with its in-process job worker) per environment, shared by the tests of this file:
// every test signs up its own users, and everything here belongs to a user.
const apps = new Map<string, Promise<TestApp>>();
afterAll(async () => {
  const errors: unknown[] = [];
  for (const app of apps.values()) await (await app).close().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

function appFor(overrides: Record<string, string | undefined>): Promise<TestApp> {
  const env = Object.fromEntries(
    Object.entries({ ...ENV, ...overrides }).filter(([, v]) => v !== undefined),
  ) as Record<string, string>;
  const key = JSON.stringify(env);
  let app = apps.get(key);
  if (!app) {
    app = createTestApp({ env }).then((t) => {
      const worker = startJobWorker(t.core);
      return {
        ...t,
        async close() {
          await worker.stop();
          await t.close();
        },
      };
    });
    apps.set(key, app);
  }
  return app;
}

// Receivers live as long as one test.
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  const errors: unknown[] = [];
  for (const close of cleanups.splice(0).reverse()) await close().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

async function receiver(reply?: Reply): Promise<Receiver> {
  const r = await startReceiver(reply);
  cleanups.push(() => r.close());
  return r;
}

/** The fields a 400 VALIDATION_ERROR names. */
const invalid = (res: Res) => (expectError(res, 400, 'VALIDATION_ERROR').details ?? []).map((d) => d.field);

async function setup(overrides: Record<string, string | undefined> = {}) {
  const t = await appFor(overrides);
  const ann = await signUp(t.app, { name: 'Ann' });
  const bob = await signUp(t.app, { name: 'Bob' });
  const c = {
    t,
    ann,
    bob,
    async hook(url: string, events: string[], extra: Record<string, unknown> = {}, as: Client = ann) {
      const res = await as.post(API, { url, events, ...extra });
      expect(res.status, res.raw).toBe(201);
      return res.body.data as {
        id: string;
        secret: string;
        url: string;
        events: string[];
        description: string;
      };
    },
    async get(id: string, as: Client = ann): Promise<any> {
      const res = await as.get(`${API}/${id}`);
      expect(res.status, res.raw).toBe(200);
      expect(Object.keys(res.body.data).sort()).toEqual(WEBHOOK_KEYS);
      return res.body.data;
    },
    async count(as: Client = ann): Promise<number> {
      const res = await as.get(`${API}?limit=100`);
      expect(res.status, res.raw).toBe(200);
      expect(res.body.data).toHaveLength(res.body.meta.total);
      return res.body.meta.total;
    },
    async log(id: string, qs = ''): Promise<Res> {
      const res = await ann.get(`${API}/${id}/deliveries${qs}`);
      expect(res.status, res.raw).toBe(200);
      for (const d of res.body.data) expect(Object.keys(d).sort()).toEqual(DELIVERY_KEYS);
      return res;
    },
    async detail(id: string, deliveryId: string): Promise<any> {
      const res = await ann.get(`${API}/${id}/deliveries/${deliveryId}`);
      expect(res.status, res.raw).toBe(200);
      expect(Object.keys(res.body.data).sort()).toEqual(
        [...DELIVERY_KEYS, 'request_body', 'response_body'].sort(),
      );
      return res.body.data;
    },
    /** Waits for a delivery in the log to satisfy `check`. */
    deliveryWhere: (id: string, what: string, check: (d: any) => boolean) =>
      until(what, async () => (await c.log(id, '?limit=100')).body.data.find(check)),
    async ping(id: string): Promise<any> {
      const res = await ann.post(`${API}/${id}/ping`);
      expect(res.status, res.raw).toBe(202);
      return res.body.data;
    },
    async redeliver(id: string, deliveryId: string): Promise<any> {
      const res = await ann.post(`${API}/${id}/deliveries/${deliveryId}/redeliver`);
      expect(res.status, res.raw).toBe(202);
      return res.body.data;
    },
    async rotate(id: string, body?: Record<string, unknown>): Promise<Res> {
      const res = await ann.post(`${API}/${id}/rotate-secret`, body);
      expect(res.status, res.raw).toBe(200);
      return res;
    },
    async createTask(body: Record<string, unknown>): Promise<any> {
      const res = await ann.post('/api/v1/tasks', body);
      expect(res.status, res.raw).toBe(201);
      return res.body.data;
    },
    async patchTask(id: string, body: Record<string, unknown>): Promise<any> {
      const res = await ann.patch(`/api/v1/tasks/${id}`, body);
      expect(res.status, res.raw).toBe(200);
      return res.body.data;
    },
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

describe('webhooks API: registration', () => {
  it('registers a webhook (the secret shown once), lists, gets, patches and deletes it', async () => {
    const c = await setup();
    const res = await c.ann.post(API, {
      url: '  http://127.0.0.1:9/hooks/taskman  ',
      events: ['task.completed', 'task.created', 'task.created'],
      description: '  CI  ',
    });
    expect(res.status, res.raw).toBe(201);
    const hook = res.body.data;
    expect(res.headers.location).toBe(`${API}/${hook.id}`);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Object.keys(hook).sort()).toEqual([...WEBHOOK_KEYS, 'secret'].sort());
    expect(hook.secret).toMatch(SECRET);
    expect(Buffer.from(hook.secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    // Trimmed, events deduplicated in catalogue order, on by default.
    expect(hook).toMatchObject({
      url: 'http://127.0.0.1:9/hooks/taskman',
      events: ['task.created', 'task.completed'],
      description: 'CI',
      active: true,
      disabled_reason: null,
      previous_secret_expires_at: null,
    });
    const { secret, ...shown } = hook;

    // Never the secret again: not in the list, not in the webhook.
    const list = await c.ann.get(API);
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([shown]);
    expect(list.body.meta).toEqual({ page: 1, limit: 20, total: 1, total_pages: 1 });
    expect(await c.get(hook.id)).toEqual(shown);
    for (const raw of [list.raw, (await c.ann.get(`${API}/${hook.id}`)).raw]) {
      expect(raw).not.toContain(secret);
      expect(raw).not.toMatch(/whsec_|"secret"/);
    }

    const patched = await c.ann.patch(`${API}/${hook.id}`, {
      url: 'http://127.0.0.1:9/v2',
      events: ['project.created'],
      description: null,
      active: false,
    });
    expect(patched.status, patched.raw).toBe(200);
    expect(patched.body.data).toMatchObject({
      url: 'http://127.0.0.1:9/v2',
      events: ['project.created'],
      description: null,
      active: false,
      // Switched off by its owner, not by Taskman: no reason.
      disabled_reason: null,
    });
    expect(patched.raw).not.toContain('whsec_');
    expect(await c.get(hook.id)).toEqual(patched.body.data);
    // An empty patch changes nothing.
    expect((await c.ann.patch(`${API}/${hook.id}`, {})).body.data).toEqual(patched.body.data);

    const created = await c.ann.post(API, { url: 'http://127.0.0.1:9/off', events: ['ping'], active: false });
    expect(created.body.data.active).toBe(false);
    expect(await c.count()).toBe(2);

    expect((await c.ann.delete(`${API}/${hook.id}`)).status).toBe(204);
    expectError(await c.ann.get(`${API}/${hook.id}`), 404, 'NOT_FOUND');
    expectError(await c.ann.delete(`${API}/${hook.id}`), 404, 'NOT_FOUND');
    expect(await c.count()).toBe(1);
  });

  it('refuses each bad input with 400 naming the field, and creates nothing', async () => {
    const c = await setup();
    const url = 'http://127.0.0.1:9/hook';
    const events = ['task.created'];
    const cases: [string, unknown][] = [
      ['url', { url: 'not a url', events }],
      ['url', { url: '', events }],
      ['url', { url: '   ', events }],
      ['url', { url: 'example.com/hook', events }],
      ['url', { url: `http://127.0.0.1:9/${'a'.repeat(2000)}`, events }],
      ['url', { url: 42, events }],
      ['url', { events }],
      ['url', { url: 'ftp://127.0.0.1/hook', events }],
      ['url', { url: 'http://user:secret@127.0.0.1:9/hook', events }],
      ['events', { url, events: ['task.exploded'] }],
      ['events', { url, events: ['task.created', 'TASK.CREATED'] }],
      ['events', { url, events: [] }],
      ['events', { url, events: 'task.created' }],
      ['events', { url }],
      ['description', { url, events, description: 'x'.repeat(201) }],
      ['description', { url, events, description: 'x'.repeat(401) }],
      ['description', { url, events, description: 7 }],
      ['active', { url, events, active: 'yes' }],
      ['secret', { url, events, secret: 'whsec_AAAA' }],
      ['user_id', { url, events, user_id: c.bob.user.id }],
    ];
    for (const [field, body] of cases) {
      const res = await c.ann.post(API, body);
      expect(invalid(res), `${JSON.stringify(body).slice(0, 100)} → ${res.raw}`).toEqual([field]);
    }
    expect(await c.count()).toBe(0);
    // A description of exactly 200 characters is fine (the limit is on characters, not bytes).
    const longest = await c.hook(url, events, { description: 'é'.repeat(200) });
    expect(longest.description).toHaveLength(200);
    expect(await c.count()).toBe(1);
    expect(await c.count(c.bob)).toBe(0);
  });

  it('refuses a bad PATCH with 400 naming the field, and changes nothing', async () => {
    const c = await setup();
    const hook = await c.hook('http://127.0.0.1:9/hook', ['task.created'], { description: 'Mine' });
    const before = await c.get(hook.id);
    const cases: [string, unknown][] = [
      ['url', { url: 'not a url' }],
      ['url', { url: '' }],
      ['url', { url: 'javascript:alert(1)' }],
      ['events', { events: [] }],
      ['events', { events: ['task.exploded'] }],
      ['description', { description: 'x'.repeat(201) }],
      ['active', { active: 1 }],
      ['secret', { secret: 'whsec_AAAA' }],
      ['disabled_reason', { disabled_reason: null }],
    ];
    for (const [field, body] of cases) {
      const res = await c.ann.patch(`${API}/${hook.id}`, body);
      expect(invalid(res), `${JSON.stringify(body)} → ${res.raw}`).toEqual([field]);
    }
    expect(await c.get(hook.id)).toEqual(before);
  });

  it('stores URLs as the URL parser writes them (short and odd spellings included)', async () => {
    const c = await setup();
    expect((await c.hook('http:x', ['task.created'])).url).toBe('http://x/');
    expect((await c.hook('HTTP://Example.COM/A b', ['task.created'])).url).toBe('http://example.com/A%20b');
    expect((await c.hook('  https://h.example/p?q=1  ', ['task.created'])).url).toBe(
      'https://h.example/p?q=1',
    );
  });

  it('allows 20 webhooks per user: the 21st is 409, until one is deleted', async () => {
    const c = await setup();
    const ids: string[] = [];
    for (let i = 1; i <= 20; i++)
      ids.push((await c.hook(`http://127.0.0.1:9/hook/${i}`, ['task.created'])).id);
    const res = await c.ann.post(API, { url: 'http://127.0.0.1:9/hook/21', events: ['task.created'] });
    expect(expectError(res, 409, 'CONFLICT').message).toMatch(/20 webhooks/);
    expect(await c.count()).toBe(20);
    // The limit is per user.
    await c.hook('http://127.0.0.1:9/bob', ['task.created'], {}, c.bob);
    // Pages of the list.
    const page2 = await c.ann.get(`${API}?page=2&limit=15`);
    expect(page2.body.meta).toEqual({ page: 2, limit: 15, total: 20, total_pages: 2 });
    expect(page2.body.data).toHaveLength(5);

    expect((await c.ann.delete(`${API}/${ids[0]}`)).status).toBe(204);
    await c.hook('http://127.0.0.1:9/hook/21', ['task.created']);
    expect(await c.count()).toBe(20);
  });

  it("answers 404 for another user's webhook everywhere, and leaves it alone", async () => {
    const c = await setup();
    const r = await receiver();
    const hook = await c.hook(r.url, ['task.created']);
    const own = await c.hook(r.url, ['task.created'], {}, c.bob);
    await c.createTask({ title: 'Ann only' });
    const delivery = await c.deliveryWhere(hook.id, 'a delivery', (d) => d.state === 'succeeded');
    const before = await c.get(hook.id);
    const bob = c.bob;
    const notFound = [
      await bob.get(`${API}/${hook.id}`),
      await bob.patch(`${API}/${hook.id}`, { url: 'http://127.0.0.1:9/bob' }),
      await bob.patch(`${API}/${hook.id}`, { active: false }),
      await bob.delete(`${API}/${hook.id}`),
      await bob.post(`${API}/${hook.id}/ping`),
      await bob.post(`${API}/${hook.id}/rotate-secret`, {}),
      await bob.get(`${API}/${hook.id}/deliveries`),
      await bob.get(`${API}/${hook.id}/deliveries/${delivery.id}`),
      await bob.post(`${API}/${hook.id}/deliveries/${delivery.id}/redeliver`),
      // Bob's own webhook with Ann's delivery.
      await bob.get(`${API}/${own.id}/deliveries/${delivery.id}`),
      await bob.post(`${API}/${own.id}/deliveries/${delivery.id}/redeliver`),
      // Ann's, and no such thing.
      await c.ann.get(`${API}/${randomUUID()}`),
      await c.ann.get(`${API}/${hook.id}/deliveries/${randomUUID()}`),
      await c.ann.post(`${API}/${own.id}/ping`),
    ];
    for (const res of notFound) expectError(res, 404, 'NOT_FOUND');
    expect((await bob.get(API)).body.data.map((w: any) => w.id)).toEqual([own.id]);
    expect(invalid(await c.ann.get(`${API}/not-a-uuid`))).toEqual(['id']);

    await c.settled();
    await expectNoMore(r, 1, 300);
    expect(await c.get(hook.id)).toEqual(before);
    expect((await c.log(hook.id)).body.data).toEqual([delivery]);
  });
});

describe('webhooks API: the SSRF guard at registration', () => {
  it('refuses loopback, private, link-local and metadata addresses in every spelling, on POST and on PATCH', async () => {
    const c = await setup({ WEBHOOK_ALLOW_PRIVATE: undefined });
    expect(c.t.core.config.webhookAllowPrivate).toBe(false);
    const name = await loopbackHostName();
    const refused = [
      'http://127.0.0.1/hook',
      'https://127.0.0.1:8443/hook',
      'http://127.1/hook',
      'http://2130706433/hook',
      'http://0x7f000001/hook',
      'http://0x7f.1/hook',
      'http://017700000001/hook',
      'http://0177.0.0.1/hook',
      'http://10.0.0.1/hook',
      'http://172.16.0.1/hook',
      'http://172.31.255.254/hook',
      'http://192.168.1.1/hook',
      'http://100.64.0.1/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/hook',
      'http://[0:0:0:0:0:0:0:1]/hook',
      'http://[::]/hook',
      'http://[fc00::1]/hook',
      'http://[fd12::1]/hook',
      'http://[fe80::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:169.254.169.254]/hook',
      'http://0.0.0.0/hook',
      'http://0/hook',
      'http://localhost/hook',
      'http://LOCALHOST:3000/hook',
      'http://localhost./hook',
      'http://foo.localhost/hook',
      // Not http(s), or with credentials.
      'ftp://93.184.216.34/hook',
      'file:///etc/passwd',
      'gopher://93.184.216.34:70/_',
      'javascript:alert(1)',
      'http://user:pass@93.184.216.34/hook',
      'https://user@93.184.216.34/hook',
      // A name (not an IP literal) that resolves to loopback on this machine.
      ...(name ? [`http://${name}:8080/hook`] : []),
    ];
    expect(name, 'a host name that resolves to loopback (/etc/hosts or this host)').toBeTruthy();

    for (const url of refused) {
      const res = await c.ann.post(API, { url, events: ['task.created'] });
      expect(invalid(res), `${url} → ${res.raw}`).toEqual(['url']);
    }
    expect(await c.count()).toBe(0);

    // Public addresses are fine; changing one to any of the above is refused the same way.
    const hook = await c.hook('https://93.184.216.34/hook', ['task.created']);
    await c.hook('http://[2606:4700:4700::1111]:8080/hook', ['task.created']);
    for (const url of refused) {
      const res = await c.ann.patch(`${API}/${hook.id}`, { url });
      expect(invalid(res), `PATCH ${url} → ${res.raw}`).toEqual(['url']);
    }
    expect((await c.get(hook.id)).url).toBe('https://93.184.216.34/hook');
    expect(await c.count()).toBe(2);
  });
});

describe('webhooks API: ping, events, the delivery log, redelivery, rotation', () => {
  it('ping: sent at once, signed, to a webhook not subscribed to ping and to a disabled one; once, never retried', async () => {
    const c = await setup();
    const r = await receiver();
    const hook = await c.hook(r.url, ['task.completed']);

    const sent = await c.ping(hook.id);
    expect(Object.keys(sent).sort()).toEqual(DELIVERY_KEYS);
    expect(sent).toMatchObject({ event_type: 'ping', state: 'pending', attempts: 0 });
    const [req] = await r.waitFor(1);
    expect(req!.headers['webhook-id']).toBe(sent.id);
    const body = verified(hook.secret, req!);
    expect(body).toEqual({
      id: sent.event_id,
      type: 'ping',
      created_at: expect.any(String),
      data: {
        webhook_id: hook.id,
        url: r.url,
        events: ['task.completed'],
        message: expect.stringMatching(/Taskman/),
      },
    });
    const done = await c.deliveryWhere(hook.id, 'the ping delivered', (d) => d.state === 'succeeded');
    expect(done).toMatchObject({ id: sent.id, attempts: 1, response_status: 200, next_attempt_at: null });
    expect((await c.detail(hook.id, sent.id)).request_body).toBe(req!.body);

    // Switched off: a ping still goes, once.
    await c.ann.patch(`${API}/${hook.id}`, { active: false });
    const again = await c.ping(hook.id);
    await r.waitFor(2);
    expect(verified(hook.secret, r.received[1]!).type).toBe('ping');
    expect(r.received[1]!.headers['webhook-id']).toBe(again.id);

    // A failing ping is not retried, and does not switch the webhook off.
    const failing = await receiver(answer(500, 'nope'));
    const other = await c.hook(failing.url, ['task.created']);
    const lost = await c.ping(other.id);
    const d = await c.deliveryWhere(other.id, 'the ping to fail', (x) => x.attempts === 1);
    expect(d).toMatchObject({ id: lost.id, state: 'failed', response_status: 500, next_attempt_at: null });
    await c.settled();
    await expectNoMore(failing, 1, 300);
    expect((await c.get(other.id)).active).toBe(true);

    expectError(await c.bob.post(`${API}/${hook.id}/ping`), 404, 'NOT_FOUND');
    await expectNoMore(r, 2, 200);
  });

  it('sends only the events a webhook subscribes to, and nothing to a webhook that is off', async () => {
    const c = await setup();
    const completedOnly = await receiver();
    const off = await receiver();
    const hook = await c.hook(completedOnly.url, ['task.completed']);
    await c.hook(off.url, ['task.created', 'task.completed'], { active: false });

    const task = await c.createTask({ title: 'Quiet' });
    await c.patchTask(task.id, { title: 'Still quiet' });
    await c.settled();
    await expectNoMore(completedOnly, 0, 200);
    await c.patchTask(task.id, { status: 'done' });
    const [req] = await completedOnly.waitFor(1);
    await c.settled();
    await expectNoMore(completedOnly, 1, 200);
    expect(verified(hook.secret, req!).type).toBe('task.completed');
    expect((await c.log(hook.id)).body.data.map((d: any) => d.event_type)).toEqual(['task.completed']);
    expect(off.received).toHaveLength(0);
  });

  it('PATCH active: true turns a webhook Taskman disabled back on and clears the reason', async () => {
    const c = await setup();
    let status = 410;
    const r = await receiver((res) => answer(status)(res));
    const hook = await c.hook(r.url, ['task.created']);

    await c.ping(hook.id);
    const disabled = await until('the webhook to be switched off', async () => {
      const w = await c.get(hook.id);
      return w.active ? undefined : w;
    });
    expect(disabled.disabled_reason).toBe('The endpoint answered 410 Gone');
    // While off, events are not sent.
    await c.createTask({ title: 'Missed' });
    await c.settled();
    await expectNoMore(r, 1, 200);

    status = 200;
    const res = await c.ann.patch(`${API}/${hook.id}`, { active: true });
    expect(res.status, res.raw).toBe(200);
    expect(res.body.data).toMatchObject({ active: true, disabled_reason: null });
    const [row] = await query(c.t, sql`select active, disabled_reason from webhooks where id = ${hook.id}`);
    expect(row).toEqual({ active: true, disabled_reason: null });

    await c.createTask({ title: 'Seen' });
    const [, req] = await r.waitFor(2);
    expect(verified(hook.secret, req!).data.task.title).toBe('Seen');
  });

  it('the delivery log: filters by state and event type, pages, and shows the bodies (the response capped at 4 KiB)', async () => {
    const c = await setup();
    // 10 KiB and more of a three-byte character: the cap falls inside one.
    const big = '€'.repeat(3500);
    const r = await receiver((res, _n, req) => {
      const type = JSON.parse(req.body).type;
      if (type === 'task.created') answer(200, big)(res);
      else if (type === 'task.updated') answer(500, 'no thanks')(res);
      else answer(200, 'pong')(res);
    });
    const hook = await c.hook(r.url, ['task.created', 'task.updated']);

    const task = await c.createTask({ title: 'One' });
    await c.createTask({ title: 'Two' });
    await c.createTask({ title: 'Three' });
    await r.waitFor(3);
    await c.ping(hook.id);
    await r.waitFor(4);
    await c.patchTask(task.id, { title: 'One, renamed' });
    // Both attempts fail: the delivery fails (and the webhook is switched off).
    await c.deliveryWhere(hook.id, 'the update to fail', (d) => d.state === 'failed');
    await c.settled();
    expect(r.received).toHaveLength(6);

    const all = (await c.log(hook.id)).body;
    expect(all.meta).toEqual({ page: 1, limit: 20, total: 5, total_pages: 1 });
    // Newest first.
    expect(all.data.map((d: any) => d.event_type)).toEqual([
      'task.updated',
      'ping',
      'task.created',
      'task.created',
      'task.created',
    ]);
    const times = all.data.map((d: any) => Date.parse(d.created_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const ids = async (qs: string) => {
      const res = (await c.log(hook.id, qs)).body;
      expect(res.meta.total, qs).toBe(res.data.length);
      return res.data.map((d: any) => d.id);
    };
    const idsOf = (check: (d: any) => boolean) => all.data.filter(check).map((d: any) => d.id);
    expect(await ids('?state=succeeded')).toEqual(idsOf((d) => d.state === 'succeeded'));
    expect(await ids('?state=succeeded')).toHaveLength(4);
    expect(await ids('?state=failed')).toEqual(idsOf((d) => d.event_type === 'task.updated'));
    expect(await ids('?state=pending')).toEqual([]);
    expect(await ids('?event_type=task.created')).toEqual(idsOf((d) => d.event_type === 'task.created'));
    expect(await ids('?event_type=task.created')).toHaveLength(3);
    expect(await ids('?event_type=ping&state=succeeded')).toEqual(idsOf((d) => d.event_type === 'ping'));
    expect(await ids('?event_type=task.created&state=failed')).toEqual([]);
    expect(await ids('?event_type=project.created')).toEqual([]);

    const pages = [];
    for (const page of [1, 2, 3, 4]) {
      const res = (await c.log(hook.id, `?page=${page}&limit=2`)).body;
      expect(res.meta).toEqual({ page, limit: 2, total: 5, total_pages: 3 });
      pages.push(res.data.map((d: any) => d.id));
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1, 0]);
    expect(pages.flat()).toEqual(all.data.map((d: any) => d.id));
    const filtered = (await c.log(hook.id, '?event_type=task.created&page=2&limit=2')).body;
    expect(filtered.meta).toEqual({ page: 2, limit: 2, total: 3, total_pages: 2 });
    expect(filtered.data).toHaveLength(1);

    for (const [qs, field] of [
      ['?state=done', 'state'],
      ['?limit=0', 'limit'],
      ['?limit=101', 'limit'],
      ['?page=0', 'page'],
      ['?bogus=1', 'bogus'],
    ])
      expect(invalid(await c.ann.get(`${API}/${hook.id}/deliveries${qs}`)), qs).toEqual([field]);

    // The detail: the exact bytes the receiver got, and the start of what it answered.
    for (const d of all.data) {
      const detail = await c.detail(hook.id, d.id);
      const { request_body, response_body, ...listed } = detail;
      expect(listed).toEqual(d);
      const got = r.received.filter((x) => x.headers['webhook-id'] === d.id);
      expect(got.length).toBe(d.attempts);
      for (const x of got) expect(x.bytes.equals(Buffer.from(request_body, 'utf8'))).toBe(true);
      if (d.event_type === 'task.created') {
        expect(Buffer.byteLength(big)).toBeGreaterThan(10_000);
        expect(Buffer.byteLength(response_body)).toBeLessThanOrEqual(4096);
        expect(Buffer.byteLength(response_body)).toBeGreaterThan(4090);
        expect(big.startsWith(response_body)).toBe(true);
        expect(d).toMatchObject({ state: 'succeeded', response_status: 200, error: null });
      } else if (d.event_type === 'ping') expect(response_body).toBe('pong');
      else {
        expect(response_body).toBe('no thanks');
        expect(d).toMatchObject({
          attempts: 2,
          response_status: 500,
          error: 'HTTP 500',
          next_attempt_at: null,
        });
      }
    }
    expect(invalid(await c.ann.get(`${API}/${hook.id}/deliveries/not-a-uuid`))).toEqual(['delivery_id']);
  });

  it('redeliver: the same body and webhook-id again, after a success or a failure, even to a disabled webhook', async () => {
    const c = await setup();
    let failing = false;
    const r = await receiver((res) => answer(failing ? 500 : 200, failing ? 'down' : 'ok')(res));
    const hook = await c.hook(r.url, ['task.created']);

    await c.createTask({ title: 'Delivered' });
    const ok = await c.deliveryWhere(hook.id, 'a success', (d) => d.state === 'succeeded');
    const again = await c.redeliver(hook.id, ok.id);
    expect(again).toMatchObject({ id: ok.id, event_id: ok.event_id, state: 'pending' });
    await r.waitFor(2);
    expect(r.received[1]!.headers['webhook-id']).toBe(ok.id);
    expect(r.received[1]!.bytes.equals(r.received[0]!.bytes)).toBe(true);
    verified(hook.secret, r.received[1]!);
    await c.deliveryWhere(hook.id, 'the redelivery', (d) => d.id === ok.id && d.attempts === 2);

    // Every attempt fails: the delivery fails and the webhook is switched off.
    failing = true;
    await c.createTask({ title: 'Lost' });
    const lost = await c.deliveryWhere(hook.id, 'a failure', (d) => d.state === 'failed');
    await c.settled();
    expect(lost.attempts).toBe(2);
    expect((await c.get(hook.id)).active).toBe(false);
    const lostBodies = r.received.filter((x) => x.headers['webhook-id'] === lost.id).map((x) => x.body);
    expect(lostBodies).toHaveLength(2);

    // The endpoint works again: redelivering the lost one and the first one reaches it though the
    // webhook is still off (redelivery does not turn it back on).
    failing = false;
    const before = r.received.length;
    await c.redeliver(hook.id, lost.id);
    await r.waitFor(before + 1);
    await c.redeliver(hook.id, ok.id);
    await r.waitFor(before + 2);
    const [first, second] = r.received.slice(before);
    expect([first!.headers['webhook-id'], second!.headers['webhook-id']]).toEqual([lost.id, ok.id]);
    expect(first!.body).toBe(lostBodies[0]);
    expect(verified(hook.secret, first!).data.task.title).toBe('Lost');
    await c.deliveryWhere(
      hook.id,
      'the lost one delivered',
      (d) => d.id === lost.id && d.state === 'succeeded',
    );
    const delivered = await c.deliveryWhere(
      hook.id,
      'the first one again',
      (d) => d.id === ok.id && d.attempts === 3,
    );
    expect(delivered).toMatchObject({ state: 'succeeded', next_attempt_at: null, error: null });
    const detail = await c.detail(hook.id, lost.id);
    expect(detail).toMatchObject({ state: 'succeeded', attempts: 3, response_status: 200, error: null });
    expect(detail.response_body).toBe('ok');
    expect((await c.get(hook.id)).active).toBe(false);

    // Not Bob's to redeliver.
    expectError(await c.bob.post(`${API}/${hook.id}/deliveries/${ok.id}/redeliver`), 404, 'NOT_FOUND');
    expectError(await c.ann.post(`${API}/${hook.id}/deliveries/${randomUUID()}/redeliver`), 404, 'NOT_FOUND');
    await c.settled();
    await expectNoMore(r, before + 2, 200);
  });

  it('rotation: both secrets sign during the overlap, only the new one after it or with previous_secret_hours: 0', async () => {
    const c = await setup();
    const r = await receiver();
    const hook = await c.hook(r.url, ['task.created']);
    const s1 = hook.secret;
    const signatures = (n: number) => r.received[n]!.headers['webhook-signature']!.split(' ');
    const rejects = (secret: string, n: number) =>
      expect(() => verified(secret, r.received[n]!)).toThrow(WebhookVerificationError);
    /** Neither the list nor the webhook shows a secret. */
    const expectNoSecrets = async () => {
      for (const res of [await c.ann.get(API), await c.ann.get(`${API}/${hook.id}`)]) {
        expect(res.status).toBe(200);
        expect(res.raw).not.toMatch(/whsec_|"secret"|previous_secret"/);
      }
    };

    // Default overlap: 24 hours.
    const rotated = await c.rotate(hook.id);
    expect(rotated.headers['cache-control']).toBe('no-store');
    const s2 = rotated.body.data.secret;
    expect(s2).toMatch(SECRET);
    expect(s2).not.toBe(s1);
    const until24h = Date.parse(rotated.body.data.previous_secret_expires_at) - Date.now();
    expect(Math.abs(until24h - 24 * 3_600_000)).toBeLessThan(60_000);
    expect((await c.get(hook.id)).previous_secret_expires_at).toBe(
      rotated.body.data.previous_secret_expires_at,
    );
    await expectNoSecrets();

    // One delivery, two signatures: a receiver on the old secret and one on the new both accept it.
    await c.createTask({ title: 'During the overlap' });
    await r.waitFor(1);
    expect(signatures(0)).toHaveLength(2);
    expect(verified(s1, r.received[0]!).data.task.title).toBe('During the overlap');
    expect(verified(s2, r.received[0]!).data.task.title).toBe('During the overlap');

    // Once the overlap is over, the old secret no longer signs.
    await c.t.core.database.db.execute(
      sql`update webhooks set previous_secret_expires_at = now() - interval '1 second' where id = ${hook.id}`,
    );
    expect((await c.get(hook.id)).previous_secret_expires_at).toBeNull();
    await c.ping(hook.id);
    await r.waitFor(2);
    expect(signatures(1)).toHaveLength(1);
    verified(s2, r.received[1]!);
    rejects(s1, 1);

    // No overlap: the old secret stops at once.
    const s3 = (await c.rotate(hook.id, { previous_secret_hours: 0 })).body.data.secret;
    expect((await c.get(hook.id)).previous_secret_expires_at).toBeNull();
    await c.ping(hook.id);
    await r.waitFor(3);
    expect(signatures(2)).toHaveLength(1);
    verified(s3, r.received[2]!);
    rejects(s2, 2);
    rejects(s1, 2);
    await expectNoSecrets();

    // A bad overlap changes nothing; others' webhooks are not found.
    for (const [body, field] of [
      [{ previous_secret_hours: 169 }, 'previous_secret_hours'],
      [{ previous_secret_hours: -1 }, 'previous_secret_hours'],
      [{ previous_secret_hours: 1.5 }, 'previous_secret_hours'],
      [{ previous_secret_hours: '24' }, 'previous_secret_hours'],
      [{ secret: s1 }, 'secret'],
    ] as const)
      expect(
        invalid(await c.ann.post(`${API}/${hook.id}/rotate-secret`, body)),
        JSON.stringify(body),
      ).toEqual([field]);
    expectError(await c.bob.post(`${API}/${hook.id}/rotate-secret`, {}), 404, 'NOT_FOUND');
    await c.ping(hook.id);
    await r.waitFor(4);
    verified(s3, r.received[3]!);
    expect(signatures(3)).toHaveLength(1);
    await c.settled();
    await expectNoMore(r, 4, 200);
  });
});
