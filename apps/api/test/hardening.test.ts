// Inputs found by review and by trying the product: each once broke a rule of the contract.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, signUp } from './helpers/client';

describe('hardening', () => {
  let t: TestApp;
  const lines: string[] = [];
  beforeAll(async () => {
    t = await createTestApp({
      env: { LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
      logStream: { write: (l: string) => void lines.push(l) },
    });
  });
  afterAll(() => t.close());

  it('refuses NUL characters in bodies and query strings with 400, storing nothing', async () => {
    const ann = await signUp(t.app);
    const raw = '{"title":"Bo\\u0000b"}';
    const res = await ann.request('POST', '/api/v1/tasks', raw, { 'content-type': 'application/json' });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.headers['x-request-id']).toBeTruthy();
    const reg = await new Client(t.app).request(
      'POST',
      '/api/v1/auth/register',
      '{"email":"nul@example.com","password":"lantern-orchid-42","name":"N\\u0000ul"}',
      { 'content-type': 'application/json' },
    );
    expectError(reg, 400, 'VALIDATION_ERROR');
    expectError(await ann.get('/api/v1/tasks?tag=a%00b'), 400, 'VALIDATION_ERROR');
    expect((await ann.get('/api/v1/tasks')).body.meta.total).toBe(0);
    // The text "\u0000" itself (an escaped backslash, then u0000) is ordinary text.
    const literal = await ann.request('POST', '/api/v1/tasks', '{"title":"\\\\u0000 is NUL"}', {
      'content-type': 'application/json',
    });
    expect(literal.status).toBe(201);
    expect(literal.body.data.title).toBe('\\u0000 is NUL');
  });

  it('never accepts a password longer than 72 bytes, even one that starts with the right 72', async () => {
    const password = 'p'.repeat(72);
    const ann = await signUp(t.app, { password });
    const login = (pw: string) =>
      new Client(t.app).post('/api/v1/auth/login', { email: ann.user.email, password: pw });
    expect((await login(password)).status).toBe(200);
    expectError(await login(`${password}GARBAGE`), 401, 'UNAUTHORIZED');
    const del = await ann.delete('/api/v1/users/me', { password: `${password}x` });
    expectError(del, 400, 'VALIDATION_ERROR');
  });

  it('counts lengths in characters, not UTF-16 units', async () => {
    const ann = await signUp(t.app);
    const title = '🙂'.repeat(500);
    const created = await ann.post('/api/v1/tasks', { title, tags: ['🏷'.repeat(50)] });
    expect(created.status).toBe(201);
    expect(created.body.data.title).toBe(title);
    expectError(await ann.post('/api/v1/tasks', { title: '🙂'.repeat(501) }), 400, 'VALIDATION_ERROR');
    const project = await ann.post('/api/v1/projects', { name: '📁'.repeat(200) });
    expect(project.status).toBe(201);
  });

  it('answers a malformed URL with the envelope and a request id', async () => {
    const res = await new Client(t.app).get('/api/v1/tasks/%E0%A4%A');
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('treats an empty search as no search', async () => {
    const ann = await signUp(t.app);
    await ann.post('/api/v1/tasks', { title: 'One' });
    expect((await ann.get('/api/v1/tasks?q=')).body.meta.total).toBe(1);
    expect((await ann.get('/api/v1/tasks?q=%20%20')).body.meta.total).toBe(1);
  });

  it('archives and unarchives a task: hidden from lists, kept, version bumped; 404 for others', async () => {
    const ann = await signUp(t.app);
    const bob = await signUp(t.app);
    const task = (await ann.post('/api/v1/tasks', { title: 'Old news' })).body.data;
    expectError(await bob.post(`/api/v1/tasks/${task.id}/archive`), 404, 'NOT_FOUND');
    const archived = await ann.post(`/api/v1/tasks/${task.id}/archive`);
    expect(archived.status).toBe(200);
    expect(archived.body.data.archived_at).not.toBeNull();
    expect(archived.body.data.version).toBe(2);
    expect((await ann.get('/api/v1/tasks')).body.meta.total).toBe(0);
    expect((await ann.get('/api/v1/tasks?include_archived=true')).body.meta.total).toBe(1);
    expect((await ann.get('/api/v1/tasks?archived=true')).body.data[0].id).toBe(task.id);
    const restored = await ann.post(`/api/v1/tasks/${task.id}/unarchive`);
    expect(restored.body.data.archived_at).toBeNull();
    expect((await ann.get('/api/v1/tasks')).body.meta.total).toBe(1);
  });

  it('stores time zones in their canonical spelling', async () => {
    const ann = await signUp(t.app, { timezone: 'europe/paris' });
    expect(ann.user.timezone).toBe('Europe/Paris');
  });

  it('completes a task created as done no earlier than it was created', async () => {
    const ann = await signUp(t.app);
    const task = (await ann.post('/api/v1/tasks', { title: 'Done already', status: 'done' })).body.data;
    expect(Date.parse(task.completed_at)).toBeGreaterThanOrEqual(Date.parse(task.created_at));
  });

  it('logs a failed query without its parameters (no emails, no password hashes)', async () => {
    await t.db.asOwner('alter table users rename column name to name_gone');
    try {
      const res = await new Client(t.app).post('/api/v1/auth/register', {
        email: 'leak-check@example.com',
        password: 'leak-check-password',
        name: 'Leak',
      });
      expect(res.status).toBe(500);
    } finally {
      await t.db.asOwner('alter table users rename column name_gone to name');
    }
    const log = lines.join('\n');
    expect(log).toContain('request failed');
    expect(log).not.toContain('leak-check@example.com');
    expect(log).not.toMatch(/\$2[aby]\$/);
    expect(log).not.toContain('params');
  });
});
