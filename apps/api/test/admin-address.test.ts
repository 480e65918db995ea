// ADMIN_IP_ALLOWLIST is checked before any credential: from elsewhere, Bull Board's sign-in says
// nothing about whether a password is right. And a reminder can be put back on automatic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, redisEnv, type TestApp } from './helpers/app';
import { type Client, expectError, signUp } from './helpers/client';

const basic = (email: string, password: string) =>
  `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;

describe('admin routes and ADMIN_IP_ALLOWLIST', () => {
  let t: TestApp;
  let admin: Client & { user: any };
  beforeAll(async () => {
    // Bull Board exists only with BullMQ, so this app has Redis.
    t = await createTestApp({ env: { ...redisEnv(), ADMIN_IP_ALLOWLIST: '10.1.0.0/16' } });
    admin = await signUp(t.app, { password: 'correct horse' });
  });
  afterAll(() => t.close());

  const board = (authorization: string | undefined, ip: string) =>
    t.app.inject({
      method: 'GET',
      url: '/admin/queues',
      remoteAddress: ip,
      headers: authorization ? { authorization } : {},
    });

  it('answers 403 from outside the list whatever the password, before checking it', async () => {
    const right = await board(basic(admin.user.email, 'correct horse'), '203.0.113.9');
    const wrong = await board(basic(admin.user.email, 'wrong password'), '203.0.113.9');
    const none = await board(undefined, '203.0.113.9');
    for (const res of [right, wrong, none]) {
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
    const api = await t.app.inject({
      method: 'GET',
      url: '/api/v1/admin/jobs',
      remoteAddress: '203.0.113.9',
      headers: { authorization: 'Bearer not-even-a-token' },
    });
    expect(api.statusCode).toBe(403);
  });

  it('from inside the list: a wrong password is 401, the right one opens the board', async () => {
    const wrong = await board(basic(admin.user.email, 'wrong password'), '10.1.2.3');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic realm="Taskman admin"/);
    const right = await board(basic(admin.user.email, 'correct horse'), '10.1.2.3');
    expect(right.statusCode).toBe(200);
    expect(right.headers['content-type']).toMatch(/text\/html/);
  });
});

describe('reminder_mode "auto" through PATCH', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('puts an explicit or switched-off reminder back on the due date minus the lead time', async () => {
    const ann = await signUp(t.app);
    const due = new Date(Date.now() + 3 * 86_400_000);
    due.setUTCMilliseconds(0);
    const explicit = new Date(Date.now() + 86_400_000);
    explicit.setUTCMilliseconds(0);
    const created = await ann.post('/api/v1/tasks', {
      title: 'Call the bank',
      due_date: due.toISOString(),
      remind_at: explicit.toISOString(),
    });
    expect(created.body.data).toMatchObject({ reminder_mode: 'explicit', remind_at: explicit.toISOString() });
    const id = created.body.data.id;

    const auto = await ann.patch(`/api/v1/tasks/${id}`, { reminder_mode: 'auto' });
    expect(auto.status).toBe(200);
    expect(auto.body.data).toMatchObject({
      reminder_mode: 'auto',
      remind_at: new Date(due.getTime() - 30 * 60_000).toISOString(),
    });

    await ann.patch(`/api/v1/tasks/${id}`, { remind_at: null });
    const again = await ann.patch(`/api/v1/tasks/${id}`, { reminder_mode: 'auto' });
    expect(again.body.data.reminder_mode).toBe('auto');
    expect(again.body.data.remind_at).toBe(new Date(due.getTime() - 30 * 60_000).toISOString());
  });

  it('refuses "auto" with a remind_at, and any other mode, changing nothing', async () => {
    const ann = await signUp(t.app);
    const id = (await ann.post('/api/v1/tasks', { title: 'Untouched' })).body.data.id;
    const before = (await ann.get(`/api/v1/tasks/${id}`)).body.data;
    const both = await ann.patch(`/api/v1/tasks/${id}`, {
      reminder_mode: 'auto',
      remind_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expectError(both, 400, 'VALIDATION_ERROR');
    expect(both.body.error.details.map((d: { field: string }) => d.field)).toContain('reminder_mode');
    expectError(await ann.patch(`/api/v1/tasks/${id}`, { reminder_mode: 'off' }), 400, 'VALIDATION_ERROR');
    expect((await ann.get(`/api/v1/tasks/${id}`)).body.data).toEqual(before);
  });
});
