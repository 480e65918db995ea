import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { type Client, expectError, signUp } from './helpers/client';
import { fakeClock } from './helpers/clock';

const TASKS = '/api/v1/tasks';

describe('recurring tasks', () => {
  let t: TestApp;
  const clock = fakeClock();
  let ann: Client; // Europe/Paris
  beforeAll(async () => {
    t = await createTestApp({ clock });
    ann = await signUp(t.app, { timezone: 'Europe/Paris' });
  });
  afterAll(() => t.close());

  async function create(body: Record<string, unknown>) {
    const res = await ann.post(TASKS, body);
    if (res.status !== 201) throw new Error(`create: ${res.status} ${res.raw}`);
    return res.body.data;
  }
  const complete = (id: string, headers?: Record<string, string>) =>
    ann.patch(`${TASKS}/${id}`, { status: 'done' }, headers);
  const completions = async (id: string) => (await ann.get(`${TASKS}/${id}/completions`)).body.data;
  /** Past the double-completion window. */
  const later = () => clock.advance(11_000);

  it('refuses a rule it cannot follow, or one without a due date, and creates nothing', async () => {
    clock.set('2027-01-10T08:00:00Z');
    const before = (await ann.get(TASKS)).body.meta.total;
    for (const [body, field] of [
      [{ title: 'x', recurrence: { rule: 'FREQ=DAILY' } }, 'recurrence'],
      [
        { title: 'x', due_date: '2027-01-11T08:00:00Z', recurrence: { rule: 'FREQ=HOURLY' } },
        'recurrence.rule',
      ],
      [{ title: 'x', due_date: '2027-01-11T08:00:00Z', recurrence: { rule: 'nonsense' } }, 'recurrence.rule'],
      [
        { title: 'x', due_date: '2027-01-11T08:00:00Z', recurrence: { rule: 'FREQ=DAILY', basis: 'never' } },
        'recurrence.basis',
      ],
      [
        { title: 'x', due_date: '2027-01-11T08:00:00Z', recurrence: { rule: 'FREQ=DAILY', extra: 1 } },
        'recurrence.extra',
      ],
    ] as const) {
      const res = await ann.post(TASKS, body);
      const error = expectError(res, 400, 'VALIDATION_ERROR');
      expect(error.details!.map((d: { field: string }) => d.field)).toContain(field);
    }
    expect((await ann.get(TASKS)).body.meta.total).toBe(before);
  });

  it('completing a daily task records the completion and moves it to the next day, same wall-clock time', async () => {
    clock.set('2027-03-26T06:00:00Z');
    // Friday 09:00 in Paris (UTC+1); the clocks go forward on Sunday 28 March.
    const task = await create({
      title: 'Stretch',
      due_date: '2027-03-26T08:00:00Z',
      recurrence: { rule: 'FREQ=DAILY' },
    });
    expect(task.recurrence).toEqual({ rule: 'FREQ=DAILY', basis: 'due', description: 'every day' });
    const done = await complete(task.id);
    expect(done.status).toBe(200);
    expect(done.body.data).toMatchObject({
      status: 'todo',
      completed_at: null,
      due_date: '2027-03-27T08:00:00.000Z',
      version: 2,
    });
    later();
    await complete(task.id);
    later();
    const third = await complete(task.id);
    // Sunday and Monday: 09:00 summer time is 07:00 UTC.
    expect(third.body.data.due_date).toBe('2027-03-29T07:00:00.000Z');
    const list = await completions(task.id);
    expect(list.map((c: { due_date: string }) => c.due_date)).toEqual([
      '2027-03-28T07:00:00.000Z',
      '2027-03-27T08:00:00.000Z',
      '2027-03-26T08:00:00.000Z',
    ]);
  });

  it('monthly from the 31st: the last day of shorter months, then the 31st again', async () => {
    clock.set('2027-01-20T10:00:00Z');
    const task = await create({
      title: 'Pay rent',
      due_date: '2027-01-31T09:00:00Z',
      recurrence: { rule: 'FREQ=MONTHLY' },
    });
    const dues: string[] = [];
    for (let i = 0; i < 3; i++) {
      later();
      dues.push((await complete(task.id)).body.data.due_date);
    }
    // Paris: 10:00 in winter is 09:00 UTC, in summer 08:00 UTC.
    expect(dues).toEqual([
      '2027-02-28T09:00:00.000Z',
      '2027-03-31T08:00:00.000Z',
      '2027-04-30T08:00:00.000Z',
    ]);
  });

  it('a late completion skips to the next date still ahead', async () => {
    clock.set('2027-05-01T10:00:00Z');
    const task = await create({
      title: 'Water plants',
      due_date: '2027-05-02T07:00:00Z',
      recurrence: { rule: 'FREQ=DAILY' },
    });
    clock.set('2027-05-05T12:00:00Z');
    expect((await complete(task.id)).body.data.due_date).toBe('2027-05-06T07:00:00.000Z');
  });

  it('"every 3 days after completion" counts from the day it was done', async () => {
    clock.set('2027-06-01T06:00:00Z');
    const task = await create({
      title: 'Change filter',
      due_date: '2027-06-01T16:00:00Z',
      recurrence: { rule: 'FREQ=DAILY;INTERVAL=3', basis: 'completion' },
    });
    expect(task.recurrence.description).toMatch(/after completion/);
    clock.set('2027-06-04T10:00:00Z');
    expect((await complete(task.id)).body.data.due_date).toBe('2027-06-07T16:00:00.000Z');
  });

  it('two devices completing at the same moment complete one occurrence', async () => {
    clock.set('2027-07-01T06:00:00Z');
    const task = await create({
      title: 'Standup',
      due_date: '2027-07-01T07:00:00Z',
      recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO,TH' },
    });
    const results = await Promise.all([complete(task.id), complete(task.id)]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    const now = (await ann.get(`${TASKS}/${task.id}`)).body.data;
    // Thursday 1 July → Monday 5 July, once.
    expect(now.due_date).toBe('2027-07-05T07:00:00.000Z');
    expect(await completions(task.id)).toHaveLength(1);
    // With If-Match the second device is told: 412.
    later();
    const [a, b] = await Promise.all([
      complete(task.id, { 'if-match': `"${now.version}"` }),
      complete(task.id, { 'if-match': `"${now.version}"` }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    expect(await completions(task.id)).toHaveLength(2);
    expect((await ann.get(`${TASKS}/${task.id}`)).body.data.due_date).toBe('2027-07-08T07:00:00.000Z');
  });

  it('changing the rule applies from the next completion; removing it makes the next completion final', async () => {
    clock.set('2027-08-02T06:00:00Z');
    const task = await create({
      title: 'Review',
      due_date: '2027-08-02T15:00:00Z',
      recurrence: { rule: 'FREQ=DAILY' },
    });
    const weekly = await ann.patch(`${TASKS}/${task.id}`, { recurrence: { rule: 'FREQ=WEEKLY' } });
    expect(weekly.body.data.recurrence.rule).toBe('FREQ=WEEKLY');
    expect(weekly.body.data.due_date).toBe('2027-08-02T15:00:00.000Z');
    expect((await complete(task.id)).body.data.due_date).toBe('2027-08-09T15:00:00.000Z');
    const removed = await ann.patch(`${TASKS}/${task.id}`, { recurrence: null });
    expect(removed.body.data).toMatchObject({ recurrence: null, due_date: '2027-08-09T15:00:00.000Z' });
    later();
    const done = await complete(task.id);
    expect(done.body.data.status).toBe('done');
    expect(done.body.data.completed_at).not.toBeNull();
    // Removing the due date of a repeating task is refused: it would have nothing to repeat from.
    const other = await create({
      title: 'x',
      due_date: '2027-08-03T10:00:00Z',
      recurrence: { rule: 'FREQ=DAILY' },
    });
    expectError(await ann.patch(`${TASKS}/${other.id}`, { due_date: null }), 400, 'VALIDATION_ERROR');
  });

  it('a series with COUNT ends: the last completion completes the task', async () => {
    clock.set('2027-09-01T06:00:00Z');
    const task = await create({
      title: 'Course',
      due_date: '2027-09-01T17:00:00Z',
      recurrence: { rule: 'FREQ=WEEKLY;COUNT=2' },
    });
    const first = await complete(task.id);
    expect(first.body.data).toMatchObject({ status: 'todo', due_date: '2027-09-08T17:00:00.000Z' });
    later();
    const last = await complete(task.id);
    expect(last.body.data.status).toBe('done');
    expect(await completions(task.id)).toHaveLength(2);
  });

  it('an automatic reminder moves with the due date; an explicit one keeps its distance', async () => {
    clock.set('2027-10-01T06:00:00Z');
    await ann.patch('/api/v1/users/me', { reminder_lead_minutes: 30 });
    const auto = await create({
      title: 'Auto',
      due_date: '2027-10-01T10:00:00Z',
      recurrence: { rule: 'FREQ=DAILY' },
    });
    expect(auto.remind_at).toBe('2027-10-01T09:30:00.000Z');
    expect((await complete(auto.id)).body.data.remind_at).toBe('2027-10-02T09:30:00.000Z');
    const explicit = await create({
      title: 'Explicit',
      due_date: '2027-10-01T10:00:00Z',
      remind_at: '2027-10-01T07:00:00Z',
      recurrence: { rule: 'FREQ=DAILY' },
    });
    expect((await complete(explicit.id)).body.data.remind_at).toBe('2027-10-02T07:00:00.000Z');
  });

  it('completions of another user’s task are 404', async () => {
    const bob = await signUp(t.app);
    const task = await create({
      title: 'Mine',
      due_date: '2027-12-01T10:00:00Z',
      recurrence: { rule: 'FREQ=DAILY' },
    });
    expectError(await bob.get(`${TASKS}/${task.id}/completions`), 404, 'NOT_FOUND');
  });
});

describe('quick add', () => {
  let t: TestApp;
  const clock = fakeClock();
  let ann: Client;
  let finance: string;
  beforeAll(async () => {
    t = await createTestApp({ clock });
    ann = await signUp(t.app, { timezone: 'Europe/Paris' });
    finance = (await ann.post('/api/v1/projects', { name: 'Finance' })).body.data.id;
  });
  afterAll(() => t.close());

  it('POST /tasks/parse reads the line in the user’s time zone and creates nothing', async () => {
    clock.set('2026-11-27T10:00:00Z');
    const res = await ann.post(`${TASKS}/parse`, {
      text: 'Pay rent tomorrow 9am !high #home +Finance every month',
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      title: 'Pay rent',
      due_date: '2026-11-28T08:00:00.000Z',
      due_has_time: true,
      priority: 'high',
      tags: ['home'],
      project_id: finance,
      project_name: 'Finance',
      recurrence: { rule: 'FREQ=MONTHLY', basis: 'due', description: 'every month' },
    });
    const text = 'Pay rent tomorrow 9am !high #home +Finance every month';
    for (const span of res.body.data.spans) expect(text.slice(span.start, span.end)).toBe(span.text);
    expect((await ann.get(TASKS)).body.meta.total).toBe(0);
  });

  it('POST /tasks {text} creates what parse says; fields sent alongside win', async () => {
    clock.set('2026-11-27T10:00:00Z');
    const created = await ann.post(TASKS, { text: 'Pay rent tomorrow 9am !high #home +Finance every month' });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({
      title: 'Pay rent',
      due_date: '2026-11-28T08:00:00.000Z',
      priority: 'high',
      tags: ['home'],
      project_id: finance,
      recurrence: { rule: 'FREQ=MONTHLY', basis: 'due' },
    });
    const overridden = await ann.post(TASKS, { text: 'Call the bank friday !urgent', priority: 'low' });
    expect(overridden.body.data).toMatchObject({ title: 'Call the bank', priority: 'low' });
    // Unknown words, unknown projects stay in the title.
    const unknown = await ann.post(TASKS, { text: 'Fix C# build +Nowhere' });
    expect(unknown.body.data).toMatchObject({ title: 'Fix C# build +Nowhere', project_id: null });
  });

  it('title and text together, or text that is too long, are 400 and create nothing', async () => {
    const before = (await ann.get(TASKS)).body.meta.total;
    expectError(await ann.post(TASKS, { title: 'a', text: 'b' }), 400, 'VALIDATION_ERROR');
    expectError(await ann.post(TASKS, { text: 'x'.repeat(2001) }), 400, 'VALIDATION_ERROR');
    expectError(await ann.post(`${TASKS}/parse`, { text: '' }), 400, 'VALIDATION_ERROR');
    expect((await ann.get(TASKS)).body.meta.total).toBe(before);
  });
});
