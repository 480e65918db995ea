import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { type Client, expectError, signUp } from './helpers/client';

const TASKS = '/api/v1/tasks';
const PROJECTS = '/api/v1/projects';

describe('conditional requests: ETag, If-Match, If-None-Match', () => {
  let t: TestApp;
  let ann: Client;
  let bob: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    bob = await signUp(t.app);
  });
  afterAll(() => t.close());

  async function newTask(title = 'Write the report') {
    const res = await ann.post(TASKS, { title });
    expect(res.status).toBe(201);
    return res;
  }

  it('every task response carries the version as a strong ETag', async () => {
    const created = await newTask();
    expect(created.headers.etag).toBe('"1"');
    const id = created.body.data.id;
    const got = await ann.get(`${TASKS}/${id}`);
    expect(got.headers.etag).toBe('"1"');
    const patched = await ann.patch(`${TASKS}/${id}`, { priority: 'high' });
    expect(patched.headers.etag).toBe('"2"');
    expect(patched.body.data.version).toBe(2);
    const archived = await ann.post(`${TASKS}/${id}/archive`);
    expect(archived.headers.etag).toBe('"3"');
  });

  it('GET with If-None-Match naming the current version is 304 without a body; another version is 200', async () => {
    const id = (await newTask()).body.data.id;
    const same = await ann.get(`${TASKS}/${id}`, { 'if-none-match': '"1"' });
    expect(same.status).toBe(304);
    expect(same.raw).toBe('');
    expect(same.headers.etag).toBe('"1"');
    // A list, a weak tag (from a compressing proxy) and * match too.
    expect((await ann.get(`${TASKS}/${id}`, { 'if-none-match': '"7", W/"1"' })).status).toBe(304);
    expect((await ann.get(`${TASKS}/${id}`, { 'if-none-match': '*' })).status).toBe(304);
    await ann.patch(`${TASKS}/${id}`, { title: 'Changed' });
    const changed = await ann.get(`${TASKS}/${id}`, { 'if-none-match': '"1"' });
    expect(changed.status).toBe(200);
    expect(changed.body.data).toMatchObject({ title: 'Changed', version: 2 });
    // Someone else's task is 404 whatever the tag: no existence is revealed by a 304.
    expectError(await bob.get(`${TASKS}/${id}`, { 'if-none-match': '"2"' }), 404, 'NOT_FOUND');
  });

  it('PATCH with a stale If-Match is 412 with the current version and changes nothing', async () => {
    const id = (await newTask('Original')).body.data.id;
    // Phone and laptop both saw version 1; the laptop saves first.
    const laptop = await ann.patch(`${TASKS}/${id}`, { title: 'From the laptop' }, { 'if-match': '"1"' });
    expect(laptop.status).toBe(200);
    expect(laptop.body.data.version).toBe(2);
    const phone = await ann.patch(`${TASKS}/${id}`, { title: 'From the phone' }, { 'if-match': '"1"' });
    expectError(phone, 412, 'PRECONDITION_FAILED');
    expect(phone.body.error.current_version).toBe(2);
    expect(phone.headers.etag).toBe('"2"');
    const now = await ann.get(`${TASKS}/${id}`);
    expect(now.body.data).toMatchObject({ title: 'From the laptop', version: 2 });
    // Retrying against the version the 412 gave succeeds.
    const retry = await ann.patch(`${TASKS}/${id}`, { title: 'From the phone' }, { 'if-match': '"2"' });
    expect(retry.status).toBe(200);
    expect(retry.body.data).toMatchObject({ title: 'From the phone', version: 3 });
  });

  it('If-Match accepts a list, weak tags and *; a tag that is not a version never matches', async () => {
    const id = (await newTask()).body.data.id;
    expect((await ann.patch(`${TASKS}/${id}`, { priority: 'low' }, { 'if-match': '"5", "1"' })).status).toBe(
      200,
    );
    expect((await ann.patch(`${TASKS}/${id}`, { priority: 'high' }, { 'if-match': 'W/"2"' })).status).toBe(
      200,
    );
    expect((await ann.patch(`${TASKS}/${id}`, { priority: 'urgent' }, { 'if-match': '*' })).status).toBe(200);
    const junk = await ann.patch(`${TASKS}/${id}`, { priority: 'low' }, { 'if-match': 'abc' });
    expectError(junk, 412, 'PRECONDITION_FAILED');
    expect(junk.body.error.current_version).toBe(4);
    // A PATCH that changes nothing is still checked.
    expectError(await ann.patch(`${TASKS}/${id}`, {}, { 'if-match': '"1"' }), 412, 'PRECONDITION_FAILED');
    expect((await ann.get(`${TASKS}/${id}`)).body.data).toMatchObject({ priority: 'urgent', version: 4 });
  });

  it('two concurrent PATCHes against the same version: exactly one wins', async () => {
    const id = (await newTask()).body.data.id;
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((title) => ann.patch(`${TASKS}/${id}`, { title }, { 'if-match': '"1"' })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412, 412]);
    const winner = results.find((r) => r.status === 200)!.body.data.title;
    expect((await ann.get(`${TASKS}/${id}`)).body.data).toMatchObject({ title: winner, version: 2 });
  });

  it('DELETE and archive honour If-Match', async () => {
    const id = (await newTask()).body.data.id;
    await ann.patch(`${TASKS}/${id}`, { title: 'Edited elsewhere' });
    expectError(
      await ann.delete(`${TASKS}/${id}`, undefined, { 'if-match': '"1"' }),
      412,
      'PRECONDITION_FAILED',
    );
    expectError(
      await ann.post(`${TASKS}/${id}/archive`, undefined, { 'if-match': '"1"' }),
      412,
      'PRECONDITION_FAILED',
    );
    expect((await ann.get(`${TASKS}/${id}`)).body.data).toMatchObject({ archived_at: null, version: 2 });
    expect((await ann.delete(`${TASKS}/${id}`, undefined, { 'if-match': '"2"' })).status).toBe(204);
    expectError(await ann.get(`${TASKS}/${id}`), 404, 'NOT_FOUND');
    // Gone: 404, not 412.
    expectError(await ann.delete(`${TASKS}/${id}`, undefined, { 'if-match': '"2"' }), 404, 'NOT_FOUND');
  });

  it("another user's task is 404 with or without If-Match, and stays as it was", async () => {
    const id = (await newTask()).body.data.id;
    expectError(await bob.patch(`${TASKS}/${id}`, { title: 'x' }, { 'if-match': '"1"' }), 404, 'NOT_FOUND');
    expectError(await bob.delete(`${TASKS}/${id}`, undefined, { 'if-match': '"1"' }), 404, 'NOT_FOUND');
    expect((await ann.get(`${TASKS}/${id}`)).body.data.version).toBe(1);
  });

  it('projects: ETag, 304, and 412 on PATCH and DELETE', async () => {
    const created = await ann.post(PROJECTS, { name: 'Home' });
    expect(created.headers.etag).toBe('"1"');
    const id = created.body.data.id;
    expect((await ann.get(`${PROJECTS}/${id}`, { 'if-none-match': '"1"' })).status).toBe(304);
    const renamed = await ann.patch(`${PROJECTS}/${id}`, { name: 'House' }, { 'if-match': '"1"' });
    expect(renamed.status).toBe(200);
    expect(renamed.headers.etag).toBe('"2"');
    const stale = await ann.patch(`${PROJECTS}/${id}`, { name: 'Flat' }, { 'if-match': '"1"' });
    expectError(stale, 412, 'PRECONDITION_FAILED');
    expect(stale.body.error.current_version).toBe(2);
    expectError(
      await ann.delete(`${PROJECTS}/${id}`, undefined, { 'if-match': '"1"' }),
      412,
      'PRECONDITION_FAILED',
    );
    expect((await ann.get(`${PROJECTS}/${id}`)).body.data).toMatchObject({ name: 'House', version: 2 });
    expect((await ann.delete(`${PROJECTS}/${id}`, undefined, { 'if-match': '"2"' })).status).toBe(204);
  });

  it('an If-Match header longer than 1 KiB is a 400', async () => {
    const id = (await newTask()).body.data.id;
    const res = await ann.patch(`${TASKS}/${id}`, { title: 'x' }, { 'if-match': `"${'1'.repeat(2000)}"` });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect((await ann.get(`${TASKS}/${id}`)).body.data.title).toBe('Write the report');
  });
});
