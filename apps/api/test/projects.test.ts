import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, type Res, signUp } from './helpers/client';

const PROJECTS = '/api/v1/projects';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
// A valid v7 uuid that no project has.
const MISSING_ID = '01900000-0000-7000-8000-000000000000';

/** Creates a project and returns its data, failing loudly when the API refuses. */
async function createProject(c: Client, body: Record<string, unknown>) {
  const res = await c.post(PROJECTS, body);
  if (res.status !== 201) throw new Error(`project create failed: ${res.status} ${res.raw}`);
  return res.body.data;
}

async function createTask(c: Client, body: Record<string, unknown>) {
  const res = await c.post('/api/v1/tasks', body);
  if (res.status !== 201) throw new Error(`task create failed: ${res.status} ${res.raw}`);
  return res.body.data;
}

async function projectCount(c: Client): Promise<number> {
  const res = await c.get(PROJECTS);
  expect(res.status).toBe(200);
  return res.body.meta.total;
}

/** The error body without its per-request id, to compare two answers. */
const withoutRequestId = (res: Res) => {
  const { request_id: _ignored, ...rest } = res.body;
  return rest;
};

describe('projects: create', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('answers 201 with Location and the envelope holding exactly the project fields', async () => {
    const res = await ann.post(PROJECTS, { name: 'Home', description: 'Chores and errands' });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    expect(Object.keys(res.body).sort()).toEqual(['data', 'success']);
    const p = res.body.data;
    expect(Object.keys(p).sort()).toEqual([
      'created_at',
      'description',
      'id',
      'name',
      'updated_at',
      'version',
    ]);
    expect(p).toMatchObject({ name: 'Home', description: 'Chores and errands', version: 1 });
    expect(p.id).toMatch(UUID);
    expect(p.created_at).toMatch(ISO);
    expect(p.updated_at).toMatch(ISO);
    expect(res.headers.location).toBe(`${PROJECTS}/${p.id}`);
    expect(res.headers['content-type']).toMatch(/^application\/json/);

    const fetched = await ann.get(res.headers.location as string);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual({ success: true, data: p });
  });

  it('trims the name and defaults the description to null', async () => {
    const p = await createProject(ann, { name: '   Garden \t ' });
    expect(p.name).toBe('Garden');
    expect(p.description).toBeNull();
  });

  it('stores an explicit null description as null, not as an empty string', async () => {
    const withNull = await createProject(ann, { name: 'Null description', description: null });
    expect(withNull.description).toBeNull();
    expect((await ann.get(`${PROJECTS}/${withNull.id}`)).body.data.description).toBeNull();
    const empty = await createProject(ann, { name: 'Empty description', description: '' });
    expect(empty.description).toBe('');
  });

  it('accepts a name of exactly 200 characters, and 200 characters inside surrounding spaces', async () => {
    const name = 'n'.repeat(200);
    expect((await createProject(ann, { name })).name).toBe(name);
    // The limit applies to the trimmed name (as for task titles), not to the raw input.
    const padded = await ann.post(PROJECTS, { name: `  ${name}  ` });
    expect(padded.status).toBe(201);
    expect(padded.body.data.name).toBe(name);
  });

  it('rejects a blank, empty, missing, too long or null name with 400 on field name', async () => {
    const before = await projectCount(ann);
    for (const body of [
      { name: '    ' },
      { name: '' },
      {},
      { name: 'n'.repeat(201) },
      { name: ` ${'n'.repeat(201)} ` },
      { name: null },
    ]) {
      const err = expectError(await ann.post(PROJECTS, body), 400, 'VALIDATION_ERROR');
      expect(err.details?.map((d) => d.field)).toEqual(['name']);
    }
    expect(await projectCount(ann)).toBe(before);
  });

  it('rejects JSON values of the wrong type instead of coercing them', async () => {
    const before = await projectCount(ann);
    for (const [body, field] of [
      [{ name: 42 }, 'name'],
      [{ name: true }, 'name'],
      [{ name: 'Typed', description: 7 }, 'description'],
    ] as const) {
      const err = expectError(await ann.post(PROJECTS, body), 400, 'VALIDATION_ERROR');
      expect(err.details?.map((d) => d.field)).toEqual([field]);
    }
    expect(await projectCount(ann)).toBe(before);
  });

  it('accepts a description of 10,000 characters and rejects 10,001', async () => {
    const long = 'd'.repeat(10_000);
    expect((await createProject(ann, { name: 'Long', description: long })).description).toBe(long);
    const before = await projectCount(ann);
    const err = expectError(
      await ann.post(PROJECTS, { name: 'Too long', description: `${long}d` }),
      400,
      'VALIDATION_ERROR',
    );
    expect(err.details).toEqual([{ field: 'description', message: expect.any(String) }]);
    expect(await projectCount(ann)).toBe(before);
  });

  it('rejects unknown fields with 400 naming the field, and creates nothing', async () => {
    const before = await projectCount(ann);
    const err = expectError(
      await ann.post(PROJECTS, { name: 'Sneaky', color: 'red' }),
      400,
      'VALIDATION_ERROR',
    );
    expect(err.details).toEqual([{ field: 'color', message: 'is not a known field' }]);
    const owner = expectError(
      await ann.post(PROJECTS, { name: 'Sneaky', user_id: MISSING_ID }),
      400,
      'VALIDATION_ERROR',
    );
    expect(owner.details).toEqual([{ field: 'user_id', message: 'is not a known field' }]);
    expect(await projectCount(ann)).toBe(before);
  });

  it('needs a token', async () => {
    const before = await projectCount(ann);
    const res = await new Client(t.app).post(PROJECTS, { name: 'Anonymous' });
    expectError(res, 401, 'UNAUTHORIZED');
    expect(await projectCount(ann)).toBe(before);
  });
});

describe('projects: read and list', () => {
  let t: TestApp;
  let ann: Client;
  let made: any[];
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    made = [];
    for (const name of ['Bravo', 'alpha', 'Charlie']) made.push(await createProject(ann, { name }));
  });
  afterAll(() => t.close());

  it('GET one returns the project; an unknown id is 404 and a malformed id is 400', async () => {
    const res = await ann.get(`${PROJECTS}/${made[0].id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, data: made[0] });

    const missing = expectError(await ann.get(`${PROJECTS}/${MISSING_ID}`), 404, 'NOT_FOUND');
    expect(missing.message).toBe('Project not found');
    const bad = expectError(await ann.get(`${PROJECTS}/not-a-uuid`), 400, 'VALIDATION_ERROR');
    expect(bad.details?.map((d) => d.field)).toEqual(['id']);
  });

  it('lists newest first by default with meta', async () => {
    const res = await ann.get(PROJECTS);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['data', 'meta', 'success']);
    expect(res.body.success).toBe(true);
    expect(res.body.meta).toEqual({ page: 1, limit: 20, total: 3, total_pages: 1 });
    expect(res.body.data).toEqual([made[2], made[1], made[0]]);
  });

  it('pages with limit and page', async () => {
    const first = await ann.get(`${PROJECTS}?limit=2&page=1&sort=created_at&order=asc`);
    expect(first.body.meta).toEqual({ page: 1, limit: 2, total: 3, total_pages: 2 });
    expect(first.body.data.map((p: any) => p.id)).toEqual([made[0].id, made[1].id]);
    const second = await ann.get(`${PROJECTS}?limit=2&page=2&sort=created_at&order=asc`);
    expect(second.body.meta).toEqual({ page: 2, limit: 2, total: 3, total_pages: 2 });
    expect(second.body.data.map((p: any) => p.id)).toEqual([made[2].id]);
    const beyond = await ann.get(`${PROJECTS}?limit=2&page=3`);
    expect(beyond.status).toBe(200);
    expect(beyond.body.data).toEqual([]);
    expect(beyond.body.meta).toEqual({ page: 3, limit: 2, total: 3, total_pages: 2 });
  });

  it('sorts by name (ascending by default) and honours order', async () => {
    const asc = await ann.get(`${PROJECTS}?sort=name`);
    expect(asc.status).toBe(200);
    const names = asc.body.data.map((p: any) => p.name);
    // Whatever the collation, the result is the database's stable order and desc is its reverse.
    expect(names).toHaveLength(3);
    expect(new Set(names)).toEqual(new Set(['alpha', 'Bravo', 'Charlie']));
    const desc = await ann.get(`${PROJECTS}?sort=name&order=desc`);
    expect(desc.body.data.map((p: any) => p.name)).toEqual([...names].reverse());
    // Bravo < Charlie under every collation (same case).
    expect(names.indexOf('Bravo')).toBeLessThan(names.indexOf('Charlie'));
  });

  it('sorts by updated_at: the last changed comes first by default', async () => {
    await sleep(5);
    const patched = await ann.patch(`${PROJECTS}/${made[0].id}`, { description: 'touched' });
    expect(patched.status).toBe(200);
    const res = await ann.get(`${PROJECTS}?sort=updated_at`);
    expect(res.body.data.map((p: any) => p.id)).toEqual([made[0].id, made[2].id, made[1].id]);
    const asc = await ann.get(`${PROJECTS}?sort=updated_at&order=asc`);
    expect(asc.body.data.map((p: any) => p.id)).toEqual([made[1].id, made[2].id, made[0].id]);
  });

  it('rejects bad list parameters with 400 naming the parameter', async () => {
    for (const [query, field] of [
      ['sort=title', 'sort'],
      ['sort=user_id', 'sort'],
      ['order=up', 'order'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['page=0', 'page'],
      ['page=abc', 'page'],
      ['colour=red', 'colour'],
    ] as const) {
      const err = expectError(await ann.get(`${PROJECTS}?${query}`), 400, 'VALIDATION_ERROR');
      expect(err.details?.map((d) => d.field)).toEqual([field]);
    }
  });

  it('accepts limit=100', async () => {
    const res = await ann.get(`${PROJECTS}?limit=100`);
    expect(res.status).toBe(200);
    expect(res.body.meta).toEqual({ page: 1, limit: 100, total: 3, total_pages: 1 });
  });
});

describe('projects: change and delete', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('PATCH changes fields, increments version and moves updated_at', async () => {
    const p = await createProject(ann, { name: 'Work', description: 'Office' });
    await sleep(5);
    const res = await ann.patch(`${PROJECTS}/${p.id}`, { name: '  Job  ' });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    const q = res.body.data;
    expect(q).toMatchObject({
      id: p.id,
      name: 'Job',
      description: 'Office',
      version: 2,
      created_at: p.created_at,
    });
    expect(Date.parse(q.updated_at)).toBeGreaterThan(Date.parse(p.updated_at));

    const described = await ann.patch(`${PROJECTS}/${p.id}`, { description: 'New place' });
    expect(described.status).toBe(200);
    expect(described.body.data).toMatchObject({ name: 'Job', description: 'New place', version: 3 });
    expect((await ann.get(`${PROJECTS}/${p.id}`)).body.data).toEqual(described.body.data);
  });

  it('PATCH description: null clears it to null', async () => {
    const p = await createProject(ann, { name: 'Clear me', description: 'something' });
    const cleared = await ann.patch(`${PROJECTS}/${p.id}`, { description: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.data).toMatchObject({ name: 'Clear me', description: null, version: 2 });
    expect((await ann.get(`${PROJECTS}/${p.id}`)).body.data.description).toBeNull();
  });

  it('PATCH with an empty body returns the project unchanged', async () => {
    const p = await createProject(ann, { name: 'Still' });
    const res = await ann.patch(`${PROJECTS}/${p.id}`, {});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, data: p });
  });

  it('PATCH refuses invalid values and unknown fields without changing anything', async () => {
    const p = await createProject(ann, { name: 'Firm' });
    for (const [body, field] of [
      [{ name: '   ' }, 'name'],
      [{ name: 'n'.repeat(201) }, 'name'],
      [{ name: null }, 'name'],
      [{ description: 'd'.repeat(10_001) }, 'description'],
      [{ version: 7 }, 'version'],
      [{ id: MISSING_ID }, 'id'],
    ] as const) {
      const err = expectError(await ann.patch(`${PROJECTS}/${p.id}`, body), 400, 'VALIDATION_ERROR');
      expect(err.details?.map((d) => d.field)).toEqual([field]);
    }
    expect((await ann.get(`${PROJECTS}/${p.id}`)).body.data).toEqual(p);
  });

  it('PATCH of an unknown project is 404', async () => {
    expectError(await ann.patch(`${PROJECTS}/${MISSING_ID}`, { name: 'x' }), 404, 'NOT_FOUND');
    expectError(await ann.patch(`${PROJECTS}/${MISSING_ID}`, {}), 404, 'NOT_FOUND');
  });

  it('DELETE answers 204 with no body; afterwards the project is 404 everywhere', async () => {
    const p = await createProject(ann, { name: 'Doomed' });
    const res = await ann.delete(`${PROJECTS}/${p.id}`);
    expect(res.status).toBe(204);
    expect(res.raw).toBe('');
    expectError(await ann.get(`${PROJECTS}/${p.id}`), 404, 'NOT_FOUND');
    expectError(await ann.patch(`${PROJECTS}/${p.id}`, { name: 'Back' }), 404, 'NOT_FOUND');
    expectError(await ann.delete(`${PROJECTS}/${p.id}`), 404, 'NOT_FOUND');
    expectError(await ann.get(`${PROJECTS}/${p.id}/tasks`), 404, 'NOT_FOUND');
    const list = await ann.get(`${PROJECTS}?limit=100`);
    expect(list.body.data.map((x: any) => x.id)).not.toContain(p.id);
  });

  it('deleting a project keeps its tasks: project_id becomes null and their version increments', async () => {
    const doomed = await createProject(ann, { name: 'Doomed with tasks' });
    const other = await createProject(ann, { name: 'Survivor' });
    const inDoomed = [
      await createTask(ann, { title: 'one', project_id: doomed.id }),
      await createTask(ann, { title: 'two', project_id: doomed.id, status: 'done' }),
    ];
    const inOther = await createTask(ann, { title: 'three', project_id: other.id });
    const loose = await createTask(ann, { title: 'four' });

    expect((await ann.delete(`${PROJECTS}/${doomed.id}`)).status).toBe(204);

    for (const before of inDoomed) {
      const res = await ann.get(`/api/v1/tasks/${before.id}`);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({
        id: before.id,
        title: before.title,
        status: before.status,
        completed_at: before.completed_at,
        project_id: null,
        version: before.version + 1,
      });
    }
    // Tasks elsewhere are untouched.
    expect((await ann.get(`/api/v1/tasks/${inOther.id}`)).body.data).toEqual(inOther);
    expect((await ann.get(`/api/v1/tasks/${loose.id}`)).body.data).toEqual(loose);
    const none = await ann.get('/api/v1/tasks?project_id=none&limit=100');
    expect(none.body.data.map((x: any) => x.id).sort()).toEqual(
      [inDoomed[0].id, inDoomed[1].id, loose.id].sort(),
    );
  });
});

describe("projects: a project's tasks", () => {
  let t: TestApp;
  let ann: Client;
  let home: any;
  let work: any;
  let homeTasks: any[];
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    home = await createProject(ann, { name: 'Home' });
    work = await createProject(ann, { name: 'Work' });
    homeTasks = [
      await createTask(ann, { title: 'dishes', project_id: home.id }),
      await createTask(ann, { title: 'laundry', project_id: home.id, status: 'done' }),
      await createTask(ann, { title: 'vacuum', project_id: home.id, status: 'done', priority: 'high' }),
    ];
    await createTask(ann, { title: 'report', project_id: work.id, status: 'done' });
    await createTask(ann, { title: 'no project', status: 'done' });
  });
  afterAll(() => t.close());

  it("lists only that project's tasks, with meta", async () => {
    const res = await ann.get(`${PROJECTS}/${home.id}/tasks`);
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.meta).toEqual({ page: 1, limit: 20, total: 3, total_pages: 1 });
    // Newest first by default.
    expect(res.body.data).toEqual([...homeTasks].reverse());
  });

  it('takes the task filters', async () => {
    const done = await ann.get(`${PROJECTS}/${home.id}/tasks?status=done`);
    expect(done.status).toBe(200);
    expect(done.body.data.map((x: any) => x.id)).toEqual([homeTasks[2].id, homeTasks[1].id]);
    expect(done.body.meta.total).toBe(2);

    const doneHigh = await ann.get(`${PROJECTS}/${home.id}/tasks?status=done&priority=high,urgent`);
    expect(doneHigh.body.data.map((x: any) => x.id)).toEqual([homeTasks[2].id]);

    const todo = await ann.get(`${PROJECTS}/${home.id}/tasks?status=todo`);
    expect(todo.body.data.map((x: any) => x.id)).toEqual([homeTasks[0].id]);

    const paged = await ann.get(`${PROJECTS}/${home.id}/tasks?limit=2&page=2&sort=created_at&order=desc`);
    expect(paged.body.meta).toEqual({ page: 2, limit: 2, total: 3, total_pages: 2 });
    expect(paged.body.data.map((x: any) => x.id)).toEqual([homeTasks[0].id]);
  });

  it('rejects a bad filter value', async () => {
    const bad = expectError(
      await ann.get(`${PROJECTS}/${home.id}/tasks?status=finished`),
      400,
      'VALIDATION_ERROR',
    );
    expect(bad.details?.[0]?.field).toMatch(/^status/);
    const limit = expectError(
      await ann.get(`${PROJECTS}/${home.id}/tasks?limit=101`),
      400,
      'VALIDATION_ERROR',
    );
    expect(limit.details?.map((d) => d.field)).toEqual(['limit']);
  });

  it('rejects the project_id filter and unknown parameters, as GET /tasks rejects unknown ones', async () => {
    const unknown = expectError(await ann.get(`/api/v1/tasks?colour=red`), 400, 'VALIDATION_ERROR');
    expect(unknown.details?.map((d) => d.field)).toEqual(['colour']);
    const colour = expectError(
      await ann.get(`${PROJECTS}/${home.id}/tasks?colour=red`),
      400,
      'VALIDATION_ERROR',
    );
    expect(colour.details?.map((d) => d.field)).toEqual(['colour']);
    const pid = expectError(
      await ann.get(`${PROJECTS}/${home.id}/tasks?project_id=${work.id}`),
      400,
      'VALIDATION_ERROR',
    );
    expect(pid.details?.map((d) => d.field)).toEqual(['project_id']);
  });

  it('is empty for a project without tasks and 404 for an unknown project', async () => {
    const empty = await createProject(ann, { name: 'Empty' });
    const res = await ann.get(`${PROJECTS}/${empty.id}/tasks`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([]);
    expect(res.body.meta).toEqual({ page: 1, limit: 20, total: 0, total_pages: 0 });
    const err = expectError(await ann.get(`${PROJECTS}/${MISSING_ID}/tasks`), 404, 'NOT_FOUND');
    expect(err.message).toBe('Project not found');
  });
});

describe('projects: isolation between users', () => {
  let t: TestApp;
  let ann: Client;
  let bob: Client;
  let annProject: any;
  let annTask: any;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    bob = await signUp(t.app);
    annProject = await createProject(ann, { name: 'Secret plans', description: 'Ann only' });
    annTask = await createTask(ann, { title: 'hidden', project_id: annProject.id, status: 'done' });
  });
  afterAll(() => t.close());

  /** Bob's answer for Ann's project must equal his answer for a project that does not exist. */
  async function expectSameAsMissing(method: 'GET' | 'PATCH' | 'DELETE', suffix: string, body?: unknown) {
    const theirs = await bob.request(method, `${PROJECTS}/${annProject.id}${suffix}`, body);
    const missing = await bob.request(method, `${PROJECTS}/${MISSING_ID}${suffix}`, body);
    expectError(theirs, 404, 'NOT_FOUND');
    expectError(missing, 404, 'NOT_FOUND');
    expect(withoutRequestId(theirs)).toEqual(withoutRequestId(missing));
    expect(theirs.raw).not.toContain(annProject.name);
  }

  it("another user's project is 404, exactly like a missing one, for GET, PATCH, DELETE and its tasks", async () => {
    await expectSameAsMissing('GET', '');
    await expectSameAsMissing('PATCH', '', { name: 'Mine now' });
    await expectSameAsMissing('PATCH', '', {});
    await expectSameAsMissing('DELETE', '');
    await expectSameAsMissing('GET', '/tasks');
    await expectSameAsMissing('GET', '/tasks?status=done');
  });

  it("another user's attempts leave the project and its tasks unchanged", async () => {
    await bob.patch(`${PROJECTS}/${annProject.id}`, { name: 'Hijacked', description: null });
    await bob.delete(`${PROJECTS}/${annProject.id}`);
    const res = await ann.get(`${PROJECTS}/${annProject.id}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual(annProject);
    expect((await ann.get(`/api/v1/tasks/${annTask.id}`)).body.data).toEqual(annTask);
    const tasks = await ann.get(`${PROJECTS}/${annProject.id}/tasks`);
    expect(tasks.body.data.map((x: any) => x.id)).toEqual([annTask.id]);
  });

  it("lists never show another user's projects", async () => {
    const bobs = await createProject(bob, { name: 'Bob stuff' });
    const list = await bob.get(PROJECTS);
    expect(list.body.data).toEqual([bobs]);
    expect(list.body.meta.total).toBe(1);
    const annList = await ann.get(PROJECTS);
    expect(annList.body.data.map((p: any) => p.id)).toEqual([annProject.id]);
  });

  it("cannot create a task in another user's project (400 on project_id, same as a missing project)", async () => {
    const before = (await bob.get('/api/v1/tasks')).body.meta.total;
    const theirs = await bob.post('/api/v1/tasks', { title: 'intruder', project_id: annProject.id });
    const missing = await bob.post('/api/v1/tasks', { title: 'intruder', project_id: MISSING_ID });
    const err = expectError(theirs, 400, 'VALIDATION_ERROR');
    expect(err.details?.map((d) => d.field)).toEqual(['project_id']);
    expect(withoutRequestId(theirs)).toEqual(withoutRequestId(missing));
    expect((await bob.get('/api/v1/tasks')).body.meta.total).toBe(before);
    const annTasks = await ann.get(`${PROJECTS}/${annProject.id}/tasks`);
    expect(annTasks.body.data.map((x: any) => x.id)).toEqual([annTask.id]);
  });

  it("cannot move their own task into another user's project", async () => {
    const own = await createTask(bob, { title: 'mine' });
    const res = await bob.patch(`/api/v1/tasks/${own.id}`, { project_id: annProject.id });
    const err = expectError(res, 400, 'VALIDATION_ERROR');
    expect(err.details?.map((d) => d.field)).toEqual(['project_id']);
    expect((await bob.get(`/api/v1/tasks/${own.id}`)).body.data).toEqual(own);
    const annTasks = await ann.get(`${PROJECTS}/${annProject.id}/tasks`);
    expect(annTasks.body.data.map((x: any) => x.id)).toEqual([annTask.id]);
  });
});
