import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, testDb } from './helpers/app';
import { type Client, expectError, signUp } from './helpers/client';
import { fakeClock, HOUR } from './helpers/clock';
import { type ApiPair, type RunningProcess, startApiPair } from './helpers/process';

const TASKS = '/api/v1/tasks';

describe('Idempotency-Key', () => {
  let t: TestApp;
  const clock = fakeClock();
  let ann: Client;
  let bob: Client;
  beforeAll(async () => {
    t = await createTestApp({ clock });
    ann = await signUp(t.app);
    bob = await signUp(t.app);
  });
  afterAll(() => t.close());

  const count = async (c: Client, q = '') =>
    (await c.get(`${TASKS}?limit=100&include_archived=true${q}`)).body.meta.total as number;

  it('a repeated POST gets the first response and creates nothing more', async () => {
    const before = await count(ann);
    const key = 'create-milk-1';
    const first = await ann.post(TASKS, { title: 'Buy milk' }, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await ann.post(TASKS, { title: 'Buy milk' }, { 'idempotency-key': key });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.raw).toBe(first.raw);
    expect(again.headers.location).toBe(first.headers.location);
    expect(again.headers.etag).toBe('"1"');
    expect(again.headers['content-type']).toMatch(/application\/json/);
    expect(await count(ann)).toBe(before + 1);
  });

  it('the same key with another body, path or method is 422 and does nothing', async () => {
    const key = 'reused-key';
    const first = await ann.post(TASKS, { title: 'One' }, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    const before = await count(ann);
    const other = await ann.post(TASKS, { title: 'Two' }, { 'idempotency-key': key });
    expectError(other, 422, 'IDEMPOTENCY_KEY_REUSED');
    const id = first.body.data.id;
    expectError(
      await ann.patch(`${TASKS}/${id}`, { title: 'One' }, { 'idempotency-key': key }),
      422,
      'IDEMPOTENCY_KEY_REUSED',
    );
    expect(await count(ann)).toBe(before);
    expect((await ann.get(`${TASKS}/${id}`)).body.data).toMatchObject({ title: 'One', version: 1 });
  });

  it('keys are per user', async () => {
    const key = 'shared-looking-key';
    const a = await ann.post(TASKS, { title: 'Ann’s' }, { 'idempotency-key': key });
    const b = await bob.post(TASKS, { title: 'Ann’s' }, { 'idempotency-key': key });
    expect(b.status).toBe(201);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.body.data.id).not.toBe(a.body.data.id);
    // Bob never sees Ann's response.
    expect((await bob.get(`${TASKS}/${a.body.data.id}`)).status).toBe(404);
  });

  it('a repeated PATCH is applied once (the version moves once)', async () => {
    const id = (await ann.post(TASKS, { title: 'Counter' })).body.data.id;
    const h = { 'idempotency-key': 'patch-once' };
    const first = await ann.patch(`${TASKS}/${id}`, { priority: 'high' }, h);
    const again = await ann.patch(`${TASKS}/${id}`, { priority: 'high' }, h);
    expect(first.body.data.version).toBe(2);
    expect(again.body).toEqual(first.body);
    expect((await ann.get(`${TASKS}/${id}`)).body.data.version).toBe(2);
  });

  it('concurrent repeats on one process: one task, every answer the same', async () => {
    const before = await count(ann);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => ann.post(TASKS, { title: 'Once' }, { 'idempotency-key': 'burst' })),
    );
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);
    expect(new Set(results.map((r) => r.body.data.id)).size).toBe(1);
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(5);
    expect(await count(ann)).toBe(before + 1);
  });

  it('an answer that refuses the request (400 from a business rule) is kept too; a schema error is not', async () => {
    const key = 'past-due';
    const body = { title: 'Late', due_date: '2001-01-01T00:00:00Z' };
    const first = await ann.post(TASKS, body, { 'idempotency-key': key });
    expectError(first, 400, 'VALIDATION_ERROR');
    const again = await ann.post(TASKS, body, { 'idempotency-key': key });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.raw).toBe(first.raw);
    // Refused before any work (schema), nothing is kept: the key is still free.
    expectError(
      await ann.post(TASKS, { title: 5 }, { 'idempotency-key': 'schema' }),
      400,
      'VALIDATION_ERROR',
    );
    expect((await ann.post(TASKS, { title: 'Fine' }, { 'idempotency-key': 'schema' })).status).toBe(201);
  });

  it('a bad key is a 400 and creates nothing', async () => {
    const before = await count(ann);
    for (const key of ['x'.repeat(256), 'has space', 'é']) {
      const res = await ann.post(TASKS, { title: 'Bad key' }, { 'idempotency-key': key });
      expectError(res, 400, 'VALIDATION_ERROR');
    }
    expect(await count(ann)).toBe(before);
  });

  it('after 24 hours a key is forgotten: the same request does the work again', async () => {
    const h = { 'idempotency-key': 'daily' };
    const first = await ann.post(TASKS, { title: 'Daily' }, h);
    clock.advance(23 * HOUR);
    expect((await ann.post(TASKS, { title: 'Daily' }, h)).body.data.id).toBe(first.body.data.id);
    clock.advance(2 * HOUR);
    const later = await ann.post(TASKS, { title: 'Daily' }, h);
    expect(later.status).toBe(201);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(later.body.data.id).not.toBe(first.body.data.id);
    // The cleanup job forgets old keys.
    clock.advance(25 * HOUR);
    expect(await t.core.services.idempotency.purge()).toBeGreaterThan(0);
  });

  it('a key whose first request died (its lease ran out without an answer) is taken over', async () => {
    const me = (await ann.get('/api/v1/users/me')).body.data;
    const now = t.core.clock.now();
    await t.core.database.db.execute(
      `insert into idempotency_keys (user_id, key, request_hash, locked_until, created_at)
       values ('${me.id}', 'orphan', 'whatever', '${new Date(now.getTime() - 1000).toISOString()}', '${now.toISOString()}')`,
    );
    const res = await ann.post(TASKS, { title: 'Taken over' }, { 'idempotency-key': 'orphan' });
    expect(res.status).toBe(201);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
  });

  it('the OpenAPI document lists the header and the 422 on POST and PATCH, not on GET', async () => {
    const doc = (await ann.get('/openapi.json')).body;
    const post = doc.paths['/api/v1/tasks'].post;
    expect(
      post.parameters.some(
        (p: { name: string; in: string }) => p.in === 'header' && p.name === 'idempotency-key',
      ),
    ).toBe(true);
    expect(post.responses['422']).toBeDefined();
    const patch = doc.paths['/api/v1/tasks/{id}'].patch;
    expect(patch.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['if-match', 'idempotency-key']),
    );
    const get = doc.paths['/api/v1/tasks/{id}'].get;
    expect((get.parameters ?? []).some((p: { name: string }) => p.name === 'idempotency-key')).toBe(false);
  });
});

// Two real API processes on one PostgreSQL database: the repeat reaches the other process while
// the first request is still running (held inside its transaction by a lock taken here).
describe.skipIf(testDb !== 'postgres')(
  'Idempotency-Key across two API processes',
  { timeout: 180_000 },
  () => {
    let pair: ApiPair;
    let a: RunningProcess;
    let b: RunningProcess;
    beforeAll(async () => {
      pair = await startApiPair();
      ({ a, b } = pair);
    }, 150_000);
    afterAll(() => pair?.stop());

    const call = async (
      base: string,
      method: string,
      url: string,
      token: string,
      body?: unknown,
      key?: string,
    ) => {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          ...(key ? { 'idempotency-key': key } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
    };

    it('a repeat on process B while the first runs on process A waits for it and gets its answer', async () => {
      const reg = await call(a.url, 'POST', '/api/v1/auth/register', '', {
        email: 'idem@example.com',
        password: 'lantern-orchid-42',
        name: 'Idem',
      });
      const token = reg.body.data.token as string;
      const locker = new pg.Client({ connectionString: pair.databaseUrl });
      await locker.connect();
      try {
        // Writes to tasks wait while this lock is held: A's insert hangs mid-request.
        await locker.query('begin');
        await locker.query('lock table tasks in share row exclusive mode');
        const body = { title: 'Exactly once' };
        const first = call(a.url, 'POST', '/api/v1/tasks', token, body, 'cross-process');
        // Let A claim the key and block, then repeat on B.
        await new Promise((r) => setTimeout(r, 500));
        const second = call(b.url, 'POST', '/api/v1/tasks', token, body, 'cross-process');
        await new Promise((r) => setTimeout(r, 500));
        await locker.query('commit');
        const [r1, r2] = await Promise.all([first, second]);
        expect(r1.status).toBe(201);
        expect(r2.status).toBe(201);
        expect(r2.headers.get('idempotent-replayed')).toBe('true');
        expect(r2.text).toBe(r1.text);
        const list = await call(b.url, 'GET', '/api/v1/tasks', token);
        expect(list.body.meta.total).toBe(1);
      } finally {
        await locker.end();
      }
    });
  },
);
