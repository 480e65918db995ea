import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, signUp } from './helpers/client';
import { DAY, fakeClock, HOUR } from './helpers/clock';

const TASKS = '/api/v1/tasks';
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const TASK_KEYS = [
  'archived_at',
  'completed_at',
  'created_at',
  'description',
  'due_date',
  'id',
  'priority',
  'project_id',
  'recurrence',
  'remind_at',
  'reminder_mode',
  'status',
  'tags',
  'title',
  'updated_at',
  'version',
];

/** An ISO instant `ms` from the real now, whole seconds so it round-trips exactly. */
const fromNow = (ms: number) => new Date(Math.floor((Date.now() + ms) / 1000) * 1000).toISOString();

async function createTask(c: Client, body: Record<string, unknown>) {
  const res = await c.post(TASKS, body);
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.raw}`);
  return res.body.data;
}

async function getTask(c: Client, id: string) {
  const res = await c.get(`${TASKS}/${id}`);
  expect(res.status).toBe(200);
  return res.body.data;
}

async function countTasks(c: Client): Promise<number> {
  const res = await c.get(`${TASKS}?limit=1`);
  expect(res.status).toBe(200);
  return res.body.meta.total;
}

async function createProject(c: Client, name: string): Promise<string> {
  const res = await c.post('/api/v1/projects', { name });
  if (res.status !== 201) throw new Error(`project create failed: ${res.status} ${res.raw}`);
  return res.body.data.id;
}

const fieldsOf = (error: { details?: { field: string }[] }) => (error.details ?? []).map((d) => d.field);

describe('tasks: create, get, update, delete', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('creates a task: 201, Location, the full representation with defaults', async () => {
    const res = await ann.post(TASKS, { title: 'Buy milk' });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    const task = res.body.data;
    expect(Object.keys(task).sort()).toEqual(TASK_KEYS);
    expect(task.id).toMatch(UUID_V7);
    expect(res.headers.location).toBe(`/api/v1/tasks/${task.id}`);
    expect(task).toMatchObject({
      title: 'Buy milk',
      description: null,
      due_date: null,
      priority: 'medium',
      status: 'todo',
      tags: [],
      project_id: null,
      completed_at: null,
      archived_at: null,
      version: 1,
    });
    expect(task.created_at).toMatch(ISO_8601);
    expect(task.updated_at).toMatch(ISO_8601);
    expect(Number.isNaN(Date.parse(task.created_at))).toBe(false);
    expect(task.updated_at).toBe(task.created_at);
  });

  it('creates a task with every field set and returns them as stored', async () => {
    const due = fromNow(7 * DAY);
    const res = await ann.post(TASKS, {
      title: 'Write report',
      description: 'Quarterly numbers',
      due_date: due,
      priority: 'urgent',
      status: 'in_progress',
      tags: ['work'],
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      title: 'Write report',
      description: 'Quarterly numbers',
      due_date: due,
      priority: 'urgent',
      status: 'in_progress',
      tags: ['work'],
      completed_at: null,
      version: 1,
    });
    expect(res.body.data.due_date).toMatch(ISO_8601);
  });

  it('gives every task a distinct UUID v7 id', async () => {
    const a = await createTask(ann, { title: 'one' });
    const b = await createTask(ann, { title: 'two' });
    expect(a.id).toMatch(UUID_V7);
    expect(b.id).toMatch(UUID_V7);
    expect(a.id).not.toBe(b.id);
  });

  it('GET by id returns exactly what POST returned', async () => {
    const created = await createTask(ann, { title: 'Fetch me', tags: ['x'], priority: 'low' });
    const res = await ann.get(`${TASKS}/${created.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, data: created });
  });

  it('PATCH changes only the fields sent and bumps the version', async () => {
    const created = await createTask(ann, {
      title: 'Original',
      description: 'keep me',
      priority: 'high',
      tags: ['a', 'b'],
    });
    const res = await ann.patch(`${TASKS}/${created.id}`, { title: '  Renamed  ' });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    const updated = res.body.data;
    expect(updated).toEqual({
      ...created,
      title: 'Renamed',
      version: 2,
      updated_at: updated.updated_at,
    });
    expect(updated.updated_at).toMatch(ISO_8601);
    expect(Date.parse(updated.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.updated_at));
    expect(await getTask(ann, created.id)).toEqual(updated);
  });

  it('version starts at 1 and increments on every PATCH', async () => {
    const created = await createTask(ann, { title: 'Counter' });
    expect(created.version).toBe(1);
    const versions: number[] = [];
    for (const patch of [
      { priority: 'low' },
      { description: 'd' },
      { tags: ['t'] },
      { status: 'in_progress' },
    ]) {
      const res = await ann.patch(`${TASKS}/${created.id}`, patch);
      expect(res.status).toBe(200);
      versions.push(res.body.data.version);
    }
    expect(versions).toEqual([2, 3, 4, 5]);
    expect((await getTask(ann, created.id)).version).toBe(5);
  });

  it('PATCH with due_date null clears the due date', async () => {
    const created = await createTask(ann, { title: 'Clear date', due_date: fromNow(DAY) });
    const res = await ann.patch(`${TASKS}/${created.id}`, { due_date: null });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ due_date: null, version: 2 });
    expect((await getTask(ann, created.id)).due_date).toBeNull();
  });

  it('PATCH with description null clears the description to null', async () => {
    const created = await createTask(ann, { title: 'Clear description', description: 'something' });
    const res = await ann.patch(`${TASKS}/${created.id}`, { description: null });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ description: null, version: 2 });
    expect((await getTask(ann, created.id)).description).toBeNull();
  });

  it('DELETE answers 204 with no body, then the task is gone', async () => {
    const created = await createTask(ann, { title: 'Delete me' });
    const before = await countTasks(ann);
    const del = await ann.delete(`${TASKS}/${created.id}`);
    expect(del.status).toBe(204);
    expect(del.raw).toBe('');
    expectError(await ann.get(`${TASKS}/${created.id}`), 404, 'NOT_FOUND');
    expectError(await ann.patch(`${TASKS}/${created.id}`, { title: 'x' }), 404, 'NOT_FOUND');
    expectError(await ann.delete(`${TASKS}/${created.id}`), 404, 'NOT_FOUND');
    expect(await countTasks(ann)).toBe(before - 1);
  });

  it('answers 404 NOT_FOUND for an unknown id on GET, PATCH and DELETE', async () => {
    const id = randomUUID();
    for (const res of [
      await ann.get(`${TASKS}/${id}`),
      await ann.patch(`${TASKS}/${id}`, { title: 'x' }),
      await ann.delete(`${TASKS}/${id}`),
    ]) {
      const error = expectError(res, 404, 'NOT_FOUND');
      expect(error.details).toBeUndefined();
    }
  });

  it('answers 400 for a malformed id in the path', async () => {
    const before = await countTasks(ann);
    for (const res of [
      await ann.get(`${TASKS}/not-a-uuid`),
      await ann.patch(`${TASKS}/not-a-uuid`, { title: 'x' }),
      await ann.delete(`${TASKS}/not-a-uuid`),
    ]) {
      const error = expectError(res, 400, 'VALIDATION_ERROR');
      expect(fieldsOf(error)).toEqual(['id']);
    }
    expect(await countTasks(ann)).toBe(before);
  });

  it('requires a token', async () => {
    const created = await createTask(ann, { title: 'Private' });
    const anonymous = new Client(t.app);
    expectError(await anonymous.get(`${TASKS}/${created.id}`), 401, 'UNAUTHORIZED');
    expectError(await anonymous.post(TASKS, { title: 'x' }), 401, 'UNAUTHORIZED');
    expectError(await anonymous.get(TASKS), 401, 'UNAUTHORIZED');
  });
});

describe('tasks: field rules on create', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  /** POSTs a bad body, expects 400 naming `field`, and checks no task was created. */
  async function refusedCreate(body: unknown, field: string) {
    const before = await countTasks(ann);
    const error = expectError(await ann.post(TASKS, body), 400, 'VALIDATION_ERROR');
    expect(fieldsOf(error)).toContain(field);
    expect(await countTasks(ann)).toBe(before);
    return error;
  }

  it('trims the title', async () => {
    const task = await createTask(ann, { title: '  \t Buy milk \n ' });
    expect(task.title).toBe('Buy milk');
  });

  it('refuses a title that is blank after trimming', async () => {
    const error = await refusedCreate({ title: '   ' }, 'title');
    expect(error.details).toEqual([{ field: 'title', message: expect.any(String) }]);
  });

  it('refuses an empty or missing title', async () => {
    await refusedCreate({ title: '' }, 'title');
    await refusedCreate({ priority: 'high' }, 'title');
  });

  it('accepts a title of exactly 500 characters, also with surrounding spaces', async () => {
    const title = 'a'.repeat(500);
    expect((await createTask(ann, { title })).title).toBe(title);
    expect((await createTask(ann, { title: `  ${title}  ` })).title).toBe(title);
  });

  it('refuses a title of 501 characters', async () => {
    await refusedCreate({ title: 'a'.repeat(501) }, 'title');
    await refusedCreate({ title: ` ${'a'.repeat(501)} ` }, 'title');
  });

  it('accepts a description of 10,000 characters and refuses 10,001', async () => {
    const description = 'd'.repeat(10_000);
    expect((await createTask(ann, { title: 'long', description })).description).toBe(description);
    await refusedCreate({ title: 'too long', description: 'd'.repeat(10_001) }, 'description');
  });

  it('accepts every priority and defaults to medium', async () => {
    for (const priority of ['low', 'medium', 'high', 'urgent']) {
      expect((await createTask(ann, { title: priority, priority })).priority).toBe(priority);
    }
    expect((await createTask(ann, { title: 'default' })).priority).toBe('medium');
  });

  it('refuses an unknown priority with a message listing the allowed values', async () => {
    const error = await refusedCreate({ title: 'x', priority: 'critical' }, 'priority');
    const detail = error.details!.find((d) => d.field === 'priority')!;
    for (const allowed of ['low', 'medium', 'high', 'urgent']) expect(detail.message).toContain(allowed);
  });

  it('accepts every status, defaults to todo, refuses an unknown one', async () => {
    for (const status of ['todo', 'in_progress', 'done']) {
      expect((await createTask(ann, { title: status, status })).status).toBe(status);
    }
    expect((await createTask(ann, { title: 'default' })).status).toBe('todo');
    await refusedCreate({ title: 'x', status: 'closed' }, 'status');
  });

  it('refuses a due date in the past and accepts a future one', async () => {
    await refusedCreate({ title: 'late', due_date: fromNow(-60_000) }, 'due_date');
    const due = fromNow(HOUR);
    expect((await createTask(ann, { title: 'soon', due_date: due })).due_date).toBe(due);
  });

  it('accepts null for the nullable fields and stores null', async () => {
    const task = await createTask(ann, {
      title: 'nulls',
      due_date: null,
      description: null,
      project_id: null,
    });
    expect(task).toMatchObject({ due_date: null, description: null, project_id: null });
    expect(await getTask(ann, task.id)).toMatchObject({
      due_date: null,
      description: null,
      project_id: null,
    });
  });

  it('stores a due date given with an offset as the same instant', async () => {
    const due = new Date(Math.floor((Date.now() + 2 * DAY) / 1000) * 1000);
    // The same instant written at UTC+02:00.
    const local = new Date(due.getTime() + 2 * HOUR).toISOString().replace('Z', '+02:00');
    const task = await createTask(ann, { title: 'offset', due_date: local });
    expect(Date.parse(task.due_date)).toBe(due.getTime());
  });

  it('refuses a due date that is not an ISO date-time', async () => {
    await refusedCreate({ title: 'x', due_date: 'tomorrow' }, 'due_date');
  });

  it('trims, lower-cases and de-duplicates tags, keeping first-seen order', async () => {
    const task = await createTask(ann, { title: 'tags', tags: ['Home', ' home ', 'WORK'] });
    expect(task.tags).toEqual(['home', 'work']);
    expect((await getTask(ann, task.id)).tags).toEqual(['home', 'work']);
  });

  it('accepts 20 distinct tags, and 21 that collapse to 20', async () => {
    const twenty = Array.from({ length: 20 }, (_, i) => `tag${i}`);
    expect((await createTask(ann, { title: '20 tags', tags: twenty })).tags).toEqual(twenty);
    const collapsing = [...twenty, 'TAG0'];
    expect((await createTask(ann, { title: '21 → 20', tags: collapsing })).tags).toEqual(twenty);
  });

  it('refuses 21 distinct tags', async () => {
    const tags = Array.from({ length: 21 }, (_, i) => `tag${i}`);
    await refusedCreate({ title: 'too many', tags }, 'tags');
  });

  it('accepts a tag of 50 characters and refuses one of 51', async () => {
    const tag50 = 'x'.repeat(50);
    expect((await createTask(ann, { title: '50', tags: [` ${tag50.toUpperCase()} `] })).tags).toEqual([
      tag50,
    ]);
    await refusedCreate({ title: '51', tags: ['y'.repeat(51)] }, 'tags');
  });

  it('refuses an empty or blank tag', async () => {
    await refusedCreate({ title: 'x', tags: ['ok', ''] }, 'tags');
    await refusedCreate({ title: 'x', tags: ['   '] }, 'tags');
  });

  it('refuses unknown fields and creates nothing', async () => {
    const error = await refusedCreate({ title: 'x', user_id: randomUUID() }, 'user_id');
    expect(error.details).toEqual([{ field: 'user_id', message: expect.any(String) }]);
    await refusedCreate({ title: 'x', foo: 1 }, 'foo');
    await refusedCreate({ title: 'x', version: 5 }, 'version');
    await refusedCreate({ title: 'x', completed_at: new Date().toISOString() }, 'completed_at');
  });

  it('refuses a body with only unknown fields', async () => {
    const error = await refusedCreate({ foo: 1 }, 'foo');
    expect(fieldsOf(error).sort()).toEqual(['foo']);
    // Without the unknown field, the missing title (or quick-add text) is the problem.
    expect(fieldsOf(await refusedCreate({}, 'title'))).toEqual(['title']);
  });

  it.each([
    ['priority', { title: 'x', priority: 5 }],
    ['tags', { title: 'x', tags: 'x' }],
    ['tags', { title: 'x', tags: { a: 1 } }],
    ['tags', { title: 'x', tags: [5] }],
    ['title', { title: 123 }],
    ['status', { title: 'x', status: true }],
    ['project_id', { title: 'x', project_id: 'not-a-uuid' }],
    ['project_id', { title: 'x', project_id: 42 }],
  ])('refuses a wrong type for %s: %j', async (field, body) => {
    await refusedCreate(body, field);
  });

  it('refuses a body that is not an object', async () => {
    const before = await countTasks(ann);
    expectError(await ann.post(TASKS, ['x']), 400, 'VALIDATION_ERROR');
    expect(await countTasks(ann)).toBe(before);
  });

  it('reports every schema problem of one body', async () => {
    const error = await refusedCreate(
      { title: 'x', priority: 'critical', status: 'closed', due_date: 'soon', foo: 1 },
      'priority',
    );
    expect(fieldsOf(error).sort()).toEqual(['due_date', 'foo', 'priority', 'status']);
  });

  it('reports every business-rule problem of one body', async () => {
    const error = await refusedCreate(
      { title: '   ', due_date: fromNow(-HOUR), tags: ['ok', 'z'.repeat(51)] },
      'title',
    );
    expect(fieldsOf(error).sort()).toEqual(['due_date', 'tags', 'title']);
  });

  it('reports schema problems first: business rules are checked once the shape is right', async () => {
    const error = await refusedCreate({ title: '   ', priority: 'critical' }, 'priority');
    expect(fieldsOf(error)).toEqual(['priority']);
  });
});

describe('tasks: field rules on update', () => {
  let t: TestApp;
  let ann: Client;
  const clock = fakeClock();
  beforeAll(async () => {
    t = await createTestApp({ clock });
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  /** PATCHes a bad body, expects 400 naming `field`, and checks the task did not change. */
  async function refusedPatch(id: string, body: unknown, field: string) {
    const before = await getTask(ann, id);
    const error = expectError(await ann.patch(`${TASKS}/${id}`, body), 400, 'VALIDATION_ERROR');
    expect(fieldsOf(error)).toContain(field);
    expect(await getTask(ann, id)).toEqual(before);
    return error;
  }

  describe('refuses each bad field and leaves the task unchanged', () => {
    let task: any;
    beforeAll(async () => {
      task = await createTask(ann, {
        title: 'Stable',
        description: 'desc',
        priority: 'high',
        tags: ['keep'],
        due_date: fromNow(DAY),
      });
    });
    it.each([
      ['title', "{ title: '   ' }", { title: '   ' }],
      ['title', "{ title: '' }", { title: '' }],
      ['title', '{ title: null }', { title: null }],
      ['title', '{ title: 123 }', { title: 123 }],
      ['title', '{ title: 501 chars }', { title: 'a'.repeat(501) }],
      ['description', '{ description: 10,001 chars }', { description: 'd'.repeat(10_001) }],
      ['priority', "{ priority: 'critical' }", { priority: 'critical' }],
      ['priority', '{ priority: 5 }', { priority: 5 }],
      ['status', "{ status: 'closed' }", { status: 'closed' }],
      ['status', '{ status: null }', { status: null }],
      ['due_date', '{ due_date: an hour ago }', { due_date: fromNow(-HOUR) }],
      ['due_date', "{ due_date: 'yesterday' }", { due_date: 'yesterday' }],
      ['tags', '{ tags: 21 distinct }', { tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }],
      ['tags', '{ tags: [51 chars] }', { tags: ['y'.repeat(51)] }],
      ['tags', "{ tags: [''] }", { tags: [''] }],
      ['tags', "{ tags: 'x' }", { tags: 'x' }],
      ['tags', '{ tags: null }', { tags: null }],
      ['project_id', "{ project_id: 'not-a-uuid' }", { project_id: 'not-a-uuid' }],
      ['user_id', '{ user_id: a uuid }', { user_id: randomUUID() }],
      ['foo', '{ foo: 1 }', { foo: 1 }],
      ['version', '{ version: 9 }', { version: 9 }],
      ['archived_at', '{ archived_at: now }', { archived_at: new Date().toISOString() }],
    ])('%s %s', async (field, _label, body) => {
      await refusedPatch(task.id, body, field);
    });
  });

  it('refuses a whole PATCH when one field is bad: the good fields are not applied', async () => {
    const task = await createTask(ann, { title: 'All or nothing', priority: 'low' });
    await refusedPatch(task.id, { priority: 'urgent', title: '   ' }, 'title');
    await refusedPatch(task.id, { priority: 'urgent', foo: 1 }, 'foo');
    expect(await getTask(ann, task.id)).toMatchObject({
      priority: 'low',
      title: 'All or nothing',
      version: 1,
    });
  });

  it('normalises tags on PATCH', async () => {
    const task = await createTask(ann, { title: 'tags' });
    const res = await ann.patch(`${TASKS}/${task.id}`, { tags: ['Home', ' home ', 'WORK'] });
    expect(res.status).toBe(200);
    expect(res.body.data.tags).toEqual(['home', 'work']);
    const cleared = await ann.patch(`${TASKS}/${task.id}`, { tags: [] });
    expect(cleared.body.data.tags).toEqual([]);
  });

  it('accepts a future due date on PATCH and clears it with null', async () => {
    const task = await createTask(ann, { title: 'dates' });
    const due = fromNow(3 * DAY);
    const set = await ann.patch(`${TASKS}/${task.id}`, { due_date: due });
    expect(set.status).toBe(200);
    expect(set.body.data.due_date).toBe(due);
    const cleared = await ann.patch(`${TASKS}/${task.id}`, { due_date: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.data.due_date).toBeNull();
    expect(cleared.body.data.version).toBe(3);
  });

  it('allows re-sending the current due date after it has become past, but no other past date', async () => {
    const due = fromNow(HOUR);
    const task = await createTask(ann, { title: 'Deadline passes', due_date: due });
    clock.advance(2 * HOUR);
    try {
      // Re-sending it unchanged, alone or with other changes.
      const same = await ann.patch(`${TASKS}/${task.id}`, { due_date: due });
      expect(same.status).toBe(200);
      expect(same.body.data).toMatchObject({ due_date: due, version: 2 });
      const withTitle = await ann.patch(`${TASKS}/${task.id}`, { due_date: due, title: 'Renamed' });
      expect(withTitle.status).toBe(200);
      expect(withTitle.body.data).toMatchObject({ due_date: due, title: 'Renamed', version: 3 });
      // The same instant written with another offset is still the current date.
      const local = new Date(Date.parse(due) + 2 * HOUR).toISOString().replace('Z', '+02:00');
      expect((await ann.patch(`${TASKS}/${task.id}`, { due_date: local })).status).toBe(200);
      // Any other past date is refused, even one later than the current.
      await refusedPatch(task.id, { due_date: new Date(Date.parse(due) + 60_000).toISOString() }, 'due_date');
      await refusedPatch(task.id, { due_date: new Date(Date.parse(due) - 60_000).toISOString() }, 'due_date');
      // Other fields can still change without touching the now-past date.
      const other = await ann.patch(`${TASKS}/${task.id}`, { priority: 'urgent' });
      expect(other.status).toBe(200);
      expect(other.body.data).toMatchObject({ due_date: due, priority: 'urgent', version: 5 });
    } finally {
      clock.reset();
    }
  });

  it('judges "past" by the service clock', async () => {
    clock.advance(DAY);
    try {
      // An hour from the real now is already past for the service.
      const before = await countTasks(ann);
      const error = expectError(
        await ann.post(TASKS, { title: 'x', due_date: fromNow(HOUR) }),
        400,
        'VALIDATION_ERROR',
      );
      expect(fieldsOf(error)).toEqual(['due_date']);
      expect(await countTasks(ann)).toBe(before);
      const task = await createTask(ann, { title: 'y', due_date: fromNow(2 * DAY) });
      await refusedPatch(task.id, { due_date: fromNow(HOUR) }, 'due_date');
    } finally {
      clock.reset();
    }
  });

  it('reports every business-rule problem of one PATCH body', async () => {
    const task = await createTask(ann, { title: 'Many problems' });
    const error = await refusedPatch(
      task.id,
      { title: '   ', due_date: fromNow(-HOUR), tags: [''] },
      'title',
    );
    expect(fieldsOf(error).sort()).toEqual(['due_date', 'tags', 'title']);
  });
});

describe('tasks: completed_at follows status', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('is set when a task is created done', async () => {
    const task = await createTask(ann, { title: 'Already done', status: 'done' });
    expect(task.completed_at).toMatch(ISO_8601);
  });

  it('is set when status becomes done, kept while it stays done, cleared when reopened', async () => {
    const task = await createTask(ann, { title: 'Lifecycle' });
    expect(task.completed_at).toBeNull();
    const url = `${TASKS}/${task.id}`;

    const progress = await ann.patch(url, { status: 'in_progress' });
    expect(progress.body.data).toMatchObject({ status: 'in_progress', completed_at: null, version: 2 });

    const done = await ann.patch(url, { status: 'done' });
    expect(done.status).toBe(200);
    const completedAt = done.body.data.completed_at;
    expect(completedAt).toMatch(ISO_8601);
    expect(done.body.data).toMatchObject({ status: 'done', version: 3 });

    const again = await ann.patch(url, { status: 'done', title: 'Lifecycle!' });
    expect(again.body.data).toMatchObject({ status: 'done', completed_at: completedAt, version: 4 });

    const otherField = await ann.patch(url, { priority: 'high' });
    expect(otherField.body.data).toMatchObject({ status: 'done', completed_at: completedAt, version: 5 });
    expect((await getTask(ann, task.id)).completed_at).toBe(completedAt);

    const reopened = await ann.patch(url, { status: 'todo' });
    expect(reopened.body.data).toMatchObject({ status: 'todo', completed_at: null, version: 6 });
    expect((await getTask(ann, task.id)).completed_at).toBeNull();

    const doneAgain = await ann.patch(url, { status: 'done' });
    expect(doneAgain.body.data.completed_at).toMatch(ISO_8601);
    expect(Date.parse(doneAgain.body.data.completed_at)).toBeGreaterThanOrEqual(Date.parse(completedAt));

    const toProgress = await ann.patch(url, { status: 'in_progress' });
    expect(toProgress.body.data).toMatchObject({ status: 'in_progress', completed_at: null, version: 8 });
  });
});

describe('tasks: project_id', () => {
  let t: TestApp;
  let ann: Client & { user: any };
  let bob: Client & { user: any };
  let annProject: string;
  let bobProject: string;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    bob = await signUp(t.app);
    annProject = await createProject(ann, 'Ann home');
    bobProject = await createProject(bob, 'Bob work');
  });
  afterAll(() => t.close());

  it('accepts one of the caller’s projects', async () => {
    const task = await createTask(ann, { title: 'In project', project_id: annProject });
    expect(task.project_id).toBe(annProject);
    expect((await getTask(ann, task.id)).project_id).toBe(annProject);
  });

  it('refuses another user’s project or an unknown id alike, creating nothing', async () => {
    const before = await countTasks(ann);
    const bobs = expectError(
      await ann.post(TASKS, { title: 'x', project_id: bobProject }),
      400,
      'VALIDATION_ERROR',
    );
    const unknown = expectError(
      await ann.post(TASKS, { title: 'x', project_id: randomUUID() }),
      400,
      'VALIDATION_ERROR',
    );
    expect(fieldsOf(bobs)).toEqual(['project_id']);
    expect(unknown).toEqual(bobs);
    expect(await countTasks(ann)).toBe(before);
    expect(await countTasks(bob)).toBe(0);
  });

  it('moves a task between projects on PATCH, refuses foreign ones, and null detaches it', async () => {
    const task = await createTask(ann, { title: 'Mover' });
    const url = `${TASKS}/${task.id}`;
    const moved = await ann.patch(url, { project_id: annProject });
    expect(moved.status).toBe(200);
    expect(moved.body.data).toMatchObject({ project_id: annProject, version: 2 });

    for (const project_id of [bobProject, randomUUID()]) {
      const before = await getTask(ann, task.id);
      const error = expectError(await ann.patch(url, { project_id }), 400, 'VALIDATION_ERROR');
      expect(fieldsOf(error)).toEqual(['project_id']);
      expect(await getTask(ann, task.id)).toEqual(before);
    }

    const detached = await ann.patch(url, { project_id: null });
    expect(detached.status).toBe(200);
    expect(detached.body.data).toMatchObject({ project_id: null, version: 3 });
  });
});

describe('tasks: ownership', () => {
  let t: TestApp;
  let ann: Client & { user: any };
  let bob: Client & { user: any };
  let annTask: any;
  let annProject: string;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    bob = await signUp(t.app);
    annProject = await createProject(ann, 'Ann private');
    annTask = await createTask(ann, {
      title: 'Ann secret plan',
      description: 'nobody else may see this',
      tags: ['secret'],
      priority: 'urgent',
      due_date: fromNow(DAY),
      project_id: annProject,
    });
  });
  afterAll(() => t.close());

  const withoutRequestId = (body: any) => ({ ...body, request_id: undefined });

  it('another user gets 404 on GET, exactly as for an unknown id', async () => {
    const foreign = await bob.get(`${TASKS}/${annTask.id}`);
    const unknown = await bob.get(`${TASKS}/${randomUUID()}`);
    expectError(foreign, 404, 'NOT_FOUND');
    expect(withoutRequestId(foreign.body)).toEqual(withoutRequestId(unknown.body));
    expect(foreign.raw).not.toContain(annTask.id);
  });

  it('another user gets 404 on PATCH and the task is unchanged', async () => {
    const bobProject = await createProject(bob, 'Bob');
    const unknownId = randomUUID();
    for (const body of [
      { title: 'hijacked' },
      { status: 'done' },
      { due_date: null },
      { due_date: fromNow(-HOUR) },
      { project_id: bobProject },
    ]) {
      const foreign = await bob.patch(`${TASKS}/${annTask.id}`, body);
      const unknown = await bob.patch(`${TASKS}/${unknownId}`, body);
      expectError(foreign, 404, 'NOT_FOUND');
      expect(withoutRequestId(foreign.body)).toEqual(withoutRequestId(unknown.body));
    }
    expect(await getTask(ann, annTask.id)).toEqual(annTask);
  });

  it('another user gets 404 on DELETE and the task still exists', async () => {
    const foreign = await bob.delete(`${TASKS}/${annTask.id}`);
    const unknown = await bob.delete(`${TASKS}/${randomUUID()}`);
    expectError(foreign, 404, 'NOT_FOUND');
    expect(withoutRequestId(foreign.body)).toEqual(withoutRequestId(unknown.body));
    expect(await getTask(ann, annTask.id)).toEqual(annTask);
  });

  it('another user’s list never contains the task, whatever the filter', async () => {
    await createTask(bob, { title: 'Bob own task' });
    for (const query of [
      '',
      '?q=secret',
      '?tag=secret',
      '?priority=urgent',
      `?project_id=${annProject}`,
      '?archived=true',
      '?limit=100',
    ]) {
      const res = await bob.get(`${TASKS}${query}`);
      expect(res.status).toBe(200);
      expect(res.body.data.map((x: any) => x.id)).not.toContain(annTask.id);
      expect(res.raw).not.toContain(annTask.id);
    }
    const all = await bob.get(TASKS);
    expect(all.body.data.map((x: any) => x.title)).toEqual(['Bob own task']);
    expect(all.body.meta.total).toBe(1);
    // Ann still sees hers.
    const annList = await ann.get(TASKS);
    expect(annList.body.data.map((x: any) => x.id)).toEqual([annTask.id]);
  });
});
