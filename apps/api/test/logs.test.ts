// The request log: one JSON line per request, with ids and timings, and never a credential.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, signUp } from './helpers/client';
import { until } from './helpers/wait';

describe('request log', () => {
  let t: TestApp;
  const lines: string[] = [];
  beforeAll(async () => {
    t = await createTestApp({
      env: { LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
      logStream: { write: (line: string) => void lines.push(line) },
    });
  });
  afterAll(() => t.close());

  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  it('writes one line per request with request id, user id, route, status and duration', async () => {
    const ann = await signUp(t.app, { password: 'log-test-password-1' });
    const created = await ann.post('/api/v1/tasks', { title: 'Logged' }, { 'x-request-id': 'trace-me-123' });
    expect(created.status).toBe(201);
    const line = records().find((r) => r.reqId === 'trace-me-123');
    expect(line).toMatchObject({
      method: 'POST',
      route: '/api/v1/tasks',
      status: 201,
      user_id: ann.user.id,
    });
    expect(typeof line?.duration_ms).toBe('number');
    expect(records().filter((r) => r.reqId === 'trace-me-123')).toHaveLength(1);

    await ann.get(`/api/v1/tasks/${created.body.data.id}`);
    // Route templates, never raw ids.
    expect(records().some((r) => r.route === '/api/v1/tasks/:id')).toBe(true);
    expect(lines.join('\n')).not.toContain(created.body.data.id);
  });

  it('never contains passwords, tokens, API keys, webhook secrets, feed tokens or the Authorization header', async () => {
    const password = 'very-secret-password-42';
    const bob = await signUp(t.app, { password });
    const login = await new Client(t.app).post('/api/v1/auth/login', { email: bob.user.email, password });
    await new Client(t.app).post('/api/v1/auth/login', {
      email: bob.user.email,
      password: 'wrong-password-99',
    });
    await bob.put('/api/v1/users/me/password', {
      current_password: password,
      new_password: 'another-secret-77',
    });
    // An API key (created, used, refused when revoked), a webhook's signing secret (created,
    // rotated), a calendar feed URL (created, fetched).
    const session = new Client(
      t.app,
      (
        await new Client(t.app).post('/api/v1/auth/login', {
          email: bob.user.email,
          password: 'another-secret-77',
        })
      ).body.data.token,
    );
    const key = (await session.post('/api/v1/api-keys', { name: 'logged?', scopes: ['tasks:read'] })).body
      .data;
    await new Client(t.app, key.key).get('/api/v1/tasks');
    await session.delete(`/api/v1/api-keys/${key.id}`);
    await new Client(t.app, key.key).get('/api/v1/tasks');
    const hook = (
      await session.post('/api/v1/webhooks', { url: 'https://hooks.example.com/x', events: ['task.created'] })
    ).body.data;
    const rotated = (await session.post(`/api/v1/webhooks/${hook.id}/rotate-secret`)).body.data;
    const feed = (await session.post('/api/v1/calendar/feed')).body.data.url as string;
    expect((await new Client(t.app).get(new URL(feed).pathname)).status).toBe(200);
    const log = lines.join('\n');
    for (const secret of [
      password,
      'wrong-password-99',
      'another-secret-77',
      bob.token!,
      login.body.data.token,
      session.token!,
      key.key,
      hook.secret,
      rotated.secret,
      new URL(feed).pathname
        .split('/')
        .pop()!
        .replace(/\.ics$/, ''),
    ]) {
      expect(secret, 'a secret to look for').toBeTruthy();
      expect(log).not.toContain(secret);
    }
    expect(log.toLowerCase()).not.toContain('bearer');
    expect(log).not.toMatch(/\$2[aby]\$/);
  });

  it('the request id travels into the jobs a request leads to, and into their log lines', async () => {
    const { startJobWorker } = await import('@taskman/core');
    const carol = await signUp(t.app);
    await carol.post('/api/v1/webhooks', { url: 'https://hooks.invalid/taskman', events: ['task.created'] });
    const worker = startJobWorker(t.core);
    try {
      // Through the outbox: the task's event, published by the relay, leads to a webhook delivery.
      const created = await carol.post(
        '/api/v1/tasks',
        { title: 'Traced' },
        { 'x-request-id': 'trace-job-1' },
      );
      expect(created.status).toBe(201);
      const jobLine = await until('the webhook job logged with the request id', () =>
        records().find((r) => r.job === 'send_webhook' && r.request_id === 'trace-job-1'),
      );
      expect(jobLine.msg).toMatch(/^job send_webhook /);
      // The request's own line has the same id.
      expect(records().some((r) => r.reqId === 'trace-job-1' && r.route === '/api/v1/tasks')).toBe(true);
    } finally {
      await worker.stop();
    }
  });

  it('logs a failure without a stack trace and answers without one', async () => {
    const ann = await signUp(t.app);
    // Break the schema under the running app so the next task query fails inside the database.
    await t.db.asOwner('alter table tasks rename column title to title_gone');
    try {
      const res = await ann.get('/api/v1/tasks', { 'x-request-id': 'broken-1' });
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('INTERNAL');
      expect(res.raw).not.toMatch(/title_gone|select|\.ts:\d+/i);
    } finally {
      await t.db.asOwner('alter table tasks rename column title_gone to title');
    }
    const failure = records().filter((r) => r.reqId === 'broken-1');
    expect(failure.some((r) => r.level === 50 && (r.err as { message?: string })?.message)).toBe(true);
    expect(JSON.stringify(failure)).not.toMatch(/\n\s+at |"stack"/);
  });
});
