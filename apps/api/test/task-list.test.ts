import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { type Client, expectError, signUp } from './helpers/client';
import { DAY, fakeClock, HOUR } from './helpers/clock';

const TASKS = '/api/v1/tasks';

async function createTask(c: Client, body: Record<string, unknown>) {
  const res = await c.post(TASKS, body);
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.raw}`);
  return res.body.data;
}

async function createProject(c: Client, name: string): Promise<string> {
  const res = await c.post('/api/v1/projects', { name });
  if (res.status !== 201) throw new Error(`project create failed: ${res.status} ${res.raw}`);
  return res.body.data.id;
}

/** GETs the list with a raw query string and returns the response after checking it is a 200 list. */
async function list(c: Client, query = '') {
  const res = await c.get(`${TASKS}${query ? `?${query}` : ''}`);
  if (res.status !== 200) throw new Error(`list failed (${query}): ${res.status} ${res.raw}`);
  expect(res.body.success).toBe(true);
  expect(Array.isArray(res.body.data)).toBe(true);
  return res.body as {
    data: any[];
    meta: { page: number; limit: number; total: number; total_pages: number };
  };
}

/** Ids in the order listed. */
async function ids(c: Client, query = ''): Promise<string[]> {
  return (await list(c, query)).data.map((x) => x.id);
}

/** Ids as a sorted set, for filters where order is not the point; also checks meta.total agrees. */
async function idSet(c: Client, query = ''): Promise<string[]> {
  const body = await list(c, query.includes('limit=') ? query : `${query}${query ? '&' : ''}limit=100`);
  expect(body.meta.total).toBe(body.data.length);
  return body.data.map((x) => x.id).sort();
}

const sorted = (xs: string[]) => [...xs].sort();

/** A whole-second ISO instant `ms` from the real now. */
const instant = (ms: number) => new Date(Math.floor((Date.now() + ms) / 1000) * 1000);

describe('task list: filters', () => {
  let t: TestApp;
  let ann: Client;
  let bob: Client;
  let p1: string;
  let p2: string;
  let bobProject: string;
  const tk: Record<string, any> = {};
  // Due dates, in order: milk < taxes < report < holiday.
  const base = instant(DAY);
  const due = {
    milk: new Date(base.getTime()).toISOString(),
    taxes: new Date(base.getTime() + DAY).toISOString(),
    report: new Date(base.getTime() + 2 * DAY).toISOString(),
    holiday: new Date(base.getTime() + 9 * DAY).toISOString(),
  };

  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    bob = await signUp(t.app);
    p1 = await createProject(ann, 'Errands');
    p2 = await createProject(ann, 'Job');
    bobProject = await createProject(bob, 'Bob');
    tk.milk = await createTask(ann, {
      title: 'Buy milk',
      description: 'from the corner shop',
      priority: 'high',
      tags: ['home', 'shopping'],
      project_id: p1,
      due_date: due.milk,
    });
    tk.report = await createTask(ann, {
      title: 'Write report',
      description: 'quarterly numbers for finance',
      priority: 'urgent',
      status: 'in_progress',
      tags: ['work'],
      project_id: p2,
      due_date: due.report,
    });
    tk.plumber = await createTask(ann, {
      title: 'Call plumber',
      priority: 'low',
      status: 'done',
      tags: ['home'],
    });
    tk.holiday = await createTask(ann, { title: 'Plan holiday', due_date: due.holiday });
    tk.taxes = await createTask(ann, {
      title: 'Pay taxes',
      priority: 'urgent',
      tags: ['Finance', 'WORK'],
      project_id: p1,
      due_date: due.taxes,
    });
    tk.bike = await createTask(ann, {
      title: 'Fix bike',
      description: 'the rear tyre',
      priority: 'high',
      status: 'done',
      tags: ['hobby'],
      project_id: p2,
    });
    // Bob's tasks look like Ann's, so a filter leaking across users would show.
    await createTask(bob, {
      title: 'Buy milk too',
      priority: 'high',
      tags: ['home'],
      project_id: bobProject,
      due_date: due.milk,
    });
  });
  afterAll(() => t.close());

  const idsOf = (...names: string[]) => sorted(names.map((n) => tk[n].id));

  it('lists every task of the caller and none of another user', async () => {
    expect(await idSet(ann)).toEqual(idsOf('milk', 'report', 'plumber', 'holiday', 'taxes', 'bike'));
    expect((await list(bob)).data.map((x) => x.title)).toEqual(['Buy milk too']);
  });

  it('filters by one status', async () => {
    expect(await idSet(ann, 'status=done')).toEqual(idsOf('plumber', 'bike'));
    expect(await idSet(ann, 'status=in_progress')).toEqual(idsOf('report'));
  });

  it('filters by several statuses, comma-separated or repeated, with the same result', async () => {
    const expected = idsOf('milk', 'report', 'holiday', 'taxes');
    expect(await idSet(ann, 'status=todo,in_progress')).toEqual(expected);
    expect(await idSet(ann, 'status=todo&status=in_progress')).toEqual(expected);
    expect(await ids(ann, 'status=todo,in_progress')).toEqual(
      await ids(ann, 'status=todo&status=in_progress'),
    );
  });

  it('filters by several priorities, comma-separated or repeated, with the same result', async () => {
    const expected = idsOf('milk', 'report', 'taxes', 'bike');
    expect(await idSet(ann, 'priority=high,urgent')).toEqual(expected);
    expect(await idSet(ann, 'priority=high&priority=urgent')).toEqual(expected);
    expect(await ids(ann, 'priority=high,urgent')).toEqual(await ids(ann, 'priority=high&priority=urgent'));
    expect(await idSet(ann, 'priority=low')).toEqual(idsOf('plumber'));
    expect(await idSet(ann, 'priority=medium')).toEqual(idsOf('holiday'));
  });

  it('combines different filters with AND', async () => {
    expect(await idSet(ann, 'status=done&priority=high')).toEqual(idsOf('bike'));
    expect(await idSet(ann, `priority=urgent&project_id=${p1}`)).toEqual(idsOf('taxes'));
    expect(await idSet(ann, 'status=done&priority=urgent')).toEqual([]);
  });

  it('filters by tag: any of the given tags, case-insensitively', async () => {
    expect(await idSet(ann, 'tag=home')).toEqual(idsOf('milk', 'plumber'));
    expect(await idSet(ann, 'tag=HOME')).toEqual(idsOf('milk', 'plumber'));
    expect(await idSet(ann, 'tag=home,hobby')).toEqual(idsOf('milk', 'plumber', 'bike'));
    expect(await idSet(ann, 'tag=Work&tag=FINANCE')).toEqual(idsOf('report', 'taxes'));
    expect(await idSet(ann, 'tag=finance')).toEqual(idsOf('taxes'));
    expect(await idSet(ann, 'tag=nothing-has-this')).toEqual([]);
  });

  it('filters by project, and project_id=none lists tasks in no project', async () => {
    expect(await idSet(ann, `project_id=${p1}`)).toEqual(idsOf('milk', 'taxes'));
    expect(await idSet(ann, `project_id=${p2}`)).toEqual(idsOf('report', 'bike'));
    expect(await idSet(ann, 'project_id=none')).toEqual(idsOf('plumber', 'holiday'));
    expect(await idSet(ann, `project_id=${randomUUID()}`)).toEqual([]);
    expect(await idSet(ann, `project_id=${bobProject}`)).toEqual([]);
  });

  it('filters by due_after (inclusive) and due_before (exclusive), skipping tasks with no due date', async () => {
    const q = (k: string, v: string) => `${k}=${encodeURIComponent(v)}`;
    expect(await idSet(ann, q('due_after', due.taxes))).toEqual(idsOf('taxes', 'report', 'holiday'));
    expect(await idSet(ann, q('due_before', due.taxes))).toEqual(idsOf('milk'));
    expect(await idSet(ann, `${q('due_after', due.taxes)}&${q('due_before', due.holiday)}`)).toEqual(
      idsOf('taxes', 'report'),
    );
    // One millisecond either side of an exact due date moves it in or out.
    const afterTaxes = new Date(Date.parse(due.taxes) + 1).toISOString();
    expect(await idSet(ann, q('due_after', afterTaxes))).toEqual(idsOf('report', 'holiday'));
    expect(await idSet(ann, q('due_before', afterTaxes))).toEqual(idsOf('milk', 'taxes'));
    // Far bounds include every dated task and never the undated ones.
    expect(await idSet(ann, q('due_after', '2000-01-01T00:00:00Z'))).toEqual(
      idsOf('milk', 'report', 'holiday', 'taxes'),
    );
    expect(await idSet(ann, q('due_before', '2999-01-01T00:00:00Z'))).toEqual(
      idsOf('milk', 'report', 'holiday', 'taxes'),
    );
  });

  it('accepts due bounds with an offset as the same instant', async () => {
    // due.taxes written at UTC+02:00.
    const local = new Date(Date.parse(due.taxes) + 2 * HOUR).toISOString().replace('Z', '+02:00');
    expect(await idSet(ann, `due_after=${encodeURIComponent(local)}`)).toEqual(
      idsOf('taxes', 'report', 'holiday'),
    );
  });

  it('searches title and description with prefix matching', async () => {
    expect(await ids(ann, 'q=mil')).toEqual([tk.milk.id]);
    expect(await ids(ann, 'q=MILK')).toEqual([tk.milk.id]);
    expect(await ids(ann, 'q=buy%20mil')).toEqual([tk.milk.id]);
    // A word, or the start of one, in the description.
    expect(await ids(ann, 'q=quarterly')).toEqual([tk.report.id]);
    expect(await ids(ann, 'q=quart')).toEqual([tk.report.id]);
    expect(await ids(ann, 'q=tyre')).toEqual([tk.bike.id]);
    expect(await ids(ann, 'q=corner')).toEqual([tk.milk.id]);
    // Tags are not searched: only the report mentions finance in its text.
    expect(await ids(ann, 'q=finance')).toEqual([tk.report.id]);
    // Each user finds only their own matching task.
    expect((await list(bob, 'q=milk')).data.map((x) => x.title)).toEqual(['Buy milk too']);
    expect(await ids(ann, 'q=nothingmatchesthis')).toEqual([]);
  });

  it('returns nothing for a query of only punctuation, and never fails on query syntax', async () => {
    for (const q of ['!!!', '?', '&|:*', '()', "'", '-']) {
      const body = await list(ann, `q=${encodeURIComponent(q)}`);
      expect(body.data).toEqual([]);
      expect(body.meta.total).toBe(0);
    }
    // Operators around a word are ignored, the word still matches.
    for (const q of ['milk:*', 'milk&', '(milk', '!milk', "'milk'"]) {
      expect(await ids(ann, `q=${encodeURIComponent(q)}`)).toEqual([tk.milk.id]);
    }
    // SQL-looking input is only words to search for: a 200 list (checked by list()), not an error.
    await list(ann, `q=${encodeURIComponent("milk') or true --")}`);
  });

  it('filters by short_id: the start of the last 12 hex digits of the id, any case, own tasks only', async () => {
    const short = (name: string) => tk[name].id.slice(-12) as string;
    expect(await ids(ann, `short_id=${short('milk')}`)).toEqual([tk.milk.id]);
    expect(await ids(ann, `short_id=${short('taxes').slice(0, 6).toUpperCase()}`)).toEqual([tk.taxes.id]);
    // One digit: every task whose short id starts with it (what the CLI reports as ambiguous).
    const digit = short('report')[0]!;
    const expected = Object.values(tk)
      .filter((x) => x.id.slice(-12).startsWith(digit))
      .map((x) => x.id);
    expect(await idSet(ann, `short_id=${digit}`)).toEqual(sorted(expected));
    // Bob's short id finds nothing for Ann; archived tasks need include_archived as usual.
    const bobs = (await list(bob)).data[0]!.id as string;
    expect((await list(ann, `short_id=${bobs.slice(-12)}`)).meta.total).toBe(0);
    // The start of the id (its time part) is not a short id.
    expect((await list(ann, `short_id=${tk.milk.id.slice(0, 8)}`)).data.map((x) => x.id)).not.toContain(
      tk.milk.id,
    );
  });

  it('refuses invalid filter values with 400 VALIDATION_ERROR naming the parameter', async () => {
    const cases: [string, string][] = [
      ['status=bogus', 'status'],
      ['status=todo,bogus', 'status'],
      ['priority=critical', 'priority'],
      ['priority=high&priority=critical', 'priority'],
      ['due_before=yesterday', 'due_before'],
      ['due_after=2024-13-45', 'due_after'],
      ['overdue=maybe', 'overdue'],
      ['archived=maybe', 'archived'],
      ['sort=title', 'sort'],
      ['order=sideways', 'order'],
      ['project_id=not-a-uuid', 'project_id'],
      ['short_id=xyz', 'short_id'],
      ['short_id=0123456789abc', 'short_id'],
      ['short_id=', 'short_id'],
      ['short_id=%25', 'short_id'],
      [`tag=${'x'.repeat(51)}`, 'tag'],
      ['foo=1', 'foo'],
      [`user_id=${randomUUID()}`, 'user_id'],
    ];
    for (const [query, param] of cases) {
      const error = expectError(await ann.get(`${TASKS}?${query}`), 400, 'VALIDATION_ERROR');
      const fields = (error.details ?? []).map((d) => d.field);
      expect(
        fields.some((f) => f === param || f.startsWith(`${param}.`)),
        `${query} → ${JSON.stringify(fields)}`,
      ).toBe(true);
    }
  });
});

describe('task list: overdue', () => {
  let t: TestApp;
  let ann: Client;
  const clock = fakeClock();
  const tk: Record<string, any> = {};
  beforeAll(async () => {
    t = await createTestApp({ clock });
    ann = await signUp(t.app);
    const soon = instant(HOUR).toISOString();
    tk.late = await createTask(ann, { title: 'Late', due_date: soon });
    tk.lateInProgress = await createTask(ann, { title: 'Late too', due_date: soon, status: 'in_progress' });
    tk.lateButDone = await createTask(ann, { title: 'Done in time', due_date: soon, status: 'done' });
    tk.later = await createTask(ann, { title: 'Later', due_date: instant(3 * DAY).toISOString() });
    tk.undated = await createTask(ann, { title: 'Whenever' });
  });
  afterAll(() => t.close());

  const all = () => sorted(Object.values(tk).map((x) => x.id));
  const idsOf = (...names: string[]) => sorted(names.map((n) => tk[n].id));

  it('nothing is overdue while every due date is ahead', async () => {
    expect(await idSet(ann, 'overdue=true')).toEqual([]);
    expect(await idSet(ann, 'overdue=false')).toEqual(all());
  });

  it('once the clock passes a due date, overdue=true lists tasks due in the past and not done', async () => {
    clock.advance(2 * HOUR);
    try {
      expect(await idSet(ann, 'overdue=true')).toEqual(idsOf('late', 'lateInProgress'));
      expect(await idSet(ann, 'overdue=false')).toEqual(idsOf('lateButDone', 'later', 'undated'));
      expect(await idSet(ann, 'overdue=true&status=in_progress')).toEqual(idsOf('lateInProgress'));
    } finally {
      clock.reset();
    }
  });

  it('a task stops being overdue when it is done', async () => {
    clock.advance(2 * HOUR);
    try {
      const res = await ann.patch(`${TASKS}/${tk.lateInProgress.id}`, { status: 'done' });
      expect(res.status).toBe(200);
      expect(await idSet(ann, 'overdue=true')).toEqual(idsOf('late'));
      clock.advance(4 * DAY);
      expect(await idSet(ann, 'overdue=true')).toEqual(idsOf('late', 'later'));
      expect(await idSet(ann, 'overdue=false')).toEqual(idsOf('lateInProgress', 'lateButDone', 'undated'));
    } finally {
      clock.reset();
    }
  });
});

describe('task list: sort', () => {
  let t: TestApp;
  let ann: Client;
  const s: any[] = [];
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    const specs: [string, number | null][] = [
      ['low', 5],
      ['urgent', null],
      ['medium', 1],
      ['high', 3],
      ['medium', null],
      ['urgent', 2],
    ];
    for (const [i, [priority, days]] of specs.entries()) {
      s.push(
        await createTask(ann, {
          title: `S${i + 1}`,
          priority,
          due_date: days === null ? null : instant(days * DAY).toISOString(),
        }),
      );
    }
    // Touch S2 and then S1, so they are the most recently updated.
    for (const i of [1, 0]) {
      const res = await ann.patch(`${TASKS}/${s[i].id}`, { title: s[i].title });
      expect(res.status).toBe(200);
      s[i] = res.body.data;
    }
  });
  afterAll(() => t.close());

  const titles = async (query: string) => (await list(ann, query)).data.map((x) => x.title);

  it('defaults to created_at, newest first', async () => {
    const expected = ['S6', 'S5', 'S4', 'S3', 'S2', 'S1'];
    expect(await titles('')).toEqual(expected);
    expect(await titles('sort=created_at')).toEqual(expected);
    expect(await titles('sort=created_at&order=desc')).toEqual(expected);
    expect(await titles('order=desc')).toEqual(expected);
  });

  it('sorts by created_at ascending', async () => {
    expect(await titles('sort=created_at&order=asc')).toEqual(['S1', 'S2', 'S3', 'S4', 'S5', 'S6']);
    expect(await titles('order=asc')).toEqual(['S1', 'S2', 'S3', 'S4', 'S5', 'S6']);
  });

  it('sorts by updated_at in both directions', async () => {
    expect(await titles('sort=updated_at&order=desc')).toEqual(['S1', 'S2', 'S6', 'S5', 'S4', 'S3']);
    expect(await titles('sort=updated_at&order=asc')).toEqual(['S3', 'S4', 'S5', 'S6', 'S2', 'S1']);
  });

  it('sorts by priority as low < medium < high < urgent, in both directions', async () => {
    const asc = (await list(ann, 'sort=priority&order=asc')).data;
    expect(asc.map((x) => x.priority)).toEqual(['low', 'medium', 'medium', 'high', 'urgent', 'urgent']);
    expect(asc[0].title).toBe('S1');
    expect(sorted(asc.slice(1, 3).map((x) => x.title))).toEqual(['S3', 'S5']);
    expect(asc[3].title).toBe('S4');
    expect(sorted(asc.slice(4).map((x) => x.title))).toEqual(['S2', 'S6']);

    const desc = (await list(ann, 'sort=priority&order=desc')).data;
    expect(desc.map((x) => x.priority)).toEqual(['urgent', 'urgent', 'high', 'medium', 'medium', 'low']);
    expect(sorted(desc.slice(0, 2).map((x) => x.title))).toEqual(['S2', 'S6']);
    expect(desc[5].title).toBe('S1');
  });

  it('sorts by due_date in both directions, tasks without a due date last', async () => {
    const asc = await titles('sort=due_date&order=asc');
    expect(asc.slice(0, 4)).toEqual(['S3', 'S6', 'S4', 'S1']);
    expect(sorted(asc.slice(4))).toEqual(['S2', 'S5']);
    const desc = await titles('sort=due_date&order=desc');
    expect(desc.slice(0, 4)).toEqual(['S1', 'S4', 'S6', 'S3']);
    expect(sorted(desc.slice(4))).toEqual(['S2', 'S5']);
  });

  it('sorts the filtered set', async () => {
    const t2 = await titles('sort=due_date&order=desc&priority=urgent,medium');
    expect(t2.slice(0, 2)).toEqual(['S6', 'S3']);
    expect(sorted(t2.slice(2))).toEqual(['S2', 'S5']);
  });

  it('refuses an unknown sort field or order', async () => {
    for (const query of ['sort=title', 'sort=id', 'sort=', 'order=up', 'order=random']) {
      expectError(await ann.get(`${TASKS}?${query}`), 400, 'VALIDATION_ERROR');
    }
  });
});

describe('task list: paging', () => {
  let t: TestApp;
  let ann: Client;
  const TOTAL = 23;
  const created: string[] = [];
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    for (let i = 0; i < TOTAL; i++) created.push((await createTask(ann, { title: `Task ${i}` })).id);
  });
  afterAll(() => t.close());

  it('defaults to page 1 of 20', async () => {
    const body = await list(ann);
    expect(body.meta).toEqual({ page: 1, limit: 20, total: TOTAL, total_pages: 2 });
    expect(body.data).toHaveLength(20);
    // Newest first.
    expect(body.data.map((x) => x.id)).toEqual([...created].reverse().slice(0, 20));
  });

  it('pages with correct meta on every page, without overlap, covering every task once', async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    for (let page = 1; page <= 3; page++) {
      const body = await list(ann, `limit=10&page=${page}`);
      expect(body.meta).toEqual({ page, limit: 10, total: TOTAL, total_pages: 3 });
      sizes.push(body.data.length);
      seen.push(...body.data.map((x) => x.id));
    }
    expect(sizes).toEqual([10, 10, 3]);
    expect(new Set(seen).size).toBe(TOTAL);
    expect(seen).toEqual([...created].reverse());
    // The pages are the full list cut in pieces.
    expect(seen).toEqual(await ids(ann, 'limit=100'));
  });

  it('pages a sorted list the same way', async () => {
    const seen: string[] = [];
    for (let page = 1; page <= 5; page++) {
      const body = await list(ann, `sort=created_at&order=asc&limit=5&page=${page}`);
      expect(body.meta).toEqual({ page, limit: 5, total: TOTAL, total_pages: 5 });
      expect(body.data).toHaveLength(page < 5 ? 5 : 3);
      seen.push(...body.data.map((x) => x.id));
    }
    expect(seen).toEqual(created);
  });

  it('answers an empty page past the end with the same totals', async () => {
    const body = await list(ann, 'limit=10&page=4');
    expect(body.data).toEqual([]);
    expect(body.meta).toEqual({ page: 4, limit: 10, total: TOTAL, total_pages: 3 });
  });

  it('accepts limit 1 and limit 100', async () => {
    const one = await list(ann, 'limit=1');
    expect(one.data).toHaveLength(1);
    expect(one.meta).toEqual({ page: 1, limit: 1, total: TOTAL, total_pages: TOTAL });
    const hundred = await list(ann, 'limit=100');
    expect(hundred.data).toHaveLength(TOTAL);
    expect(hundred.meta).toEqual({ page: 1, limit: 100, total: TOTAL, total_pages: 1 });
  });

  it('counts only the filtered tasks in meta', async () => {
    const body = await list(ann, 'q=task&limit=100');
    expect(body.meta.total).toBe(TOTAL);
    const none = await list(ann, 'q=nomatch');
    expect(none.meta).toEqual({ page: 1, limit: 20, total: 0, total_pages: 0 });
    expect(none.data).toEqual([]);
  });

  it('refuses a bad page or limit', async () => {
    for (const query of [
      'limit=101',
      'limit=0',
      'limit=-1',
      'limit=abc',
      'page=0',
      'page=-1',
      'page=abc',
      'page=1.5',
    ]) {
      const error = expectError(await ann.get(`${TASKS}?${query}`), 400, 'VALIDATION_ERROR');
      const param = query.split('=')[0]!;
      expect((error.details ?? []).map((d) => d.field)).toContain(param);
    }
  });
});

describe('task list: archived tasks', () => {
  let t: TestApp;
  let ann: Client;
  const tk: Record<string, any> = {};
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    tk.live = await createTask(ann, { title: 'Live report', tags: ['work'], status: 'done' });
    tk.archived = await createTask(ann, { title: 'Archived report', tags: ['work'], status: 'done' });
    tk.other = await createTask(ann, { title: 'Something else', tags: ['home'] });
    await t.core.database.db.execute(sql`update tasks set archived_at = now() where id = ${tk.archived.id}`);
  });
  afterAll(() => t.close());

  it('hides archived tasks by default, from lists, filters, search and counts', async () => {
    expect(await idSet(ann)).toEqual(sorted([tk.live.id, tk.other.id]));
    expect(await idSet(ann, 'archived=false')).toEqual(sorted([tk.live.id, tk.other.id]));
    expect(await idSet(ann, 'q=report')).toEqual([tk.live.id]);
    expect(await idSet(ann, 'tag=work')).toEqual([tk.live.id]);
    expect(await idSet(ann, 'status=done')).toEqual([tk.live.id]);
  });

  it('lists archived tasks with archived=true, filters still applying', async () => {
    const body = await list(ann, 'archived=true');
    expect(body.data.map((x) => x.id)).toEqual([tk.archived.id]);
    expect(body.meta.total).toBe(1);
    expect(body.data[0].archived_at).toEqual(expect.any(String));
    expect(Number.isNaN(Date.parse(body.data[0].archived_at))).toBe(false);
    expect(await idSet(ann, 'archived=true&q=report')).toEqual([tk.archived.id]);
    expect(await idSet(ann, 'archived=true&tag=home')).toEqual([]);
  });
});
