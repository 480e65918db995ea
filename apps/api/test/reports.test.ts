// GET /api/v1/reports/productivity: every figure of the report, as JSON and as CSV, for a known
// fixture. created_at and completed_at are set by the server, so each task is made through the API
// and then moved to a precise instant in SQL; "now" is a fixed clock, so nothing depends on today.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, type Res, signUp } from './helpers/client';
import { query } from './helpers/wait';

const API = '/api/v1';
const REPORT = `${API}/reports/productivity`;

// 2026-11-09 01:00 in Tokyo, while it is still 2026-11-08 in UTC: a default period computed in UTC
// would end a day early.
const NOW = new Date('2026-11-08T16:00:00Z');
const clock = { now: () => new Date(NOW.getTime()) };

const HOUR_S = 3600;

type Session = Awaited<ReturnType<typeof signUp>>;
type Priority = 'low' | 'medium' | 'high' | 'urgent';

/** A task to place at precise instants (ISO strings with the local offset written out). */
interface Placed {
  created: string;
  /** Done, completed at this instant; else open. */
  completed?: string;
  status?: 'todo' | 'in_progress';
  priority?: Priority;
  project?: string | null;
  tags?: string[];
  due?: string;
  archived?: string;
}

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ clock });
});
afterAll(() => t.close());

let seq = 0;
/** Creates the task through the API, then moves its timestamps and status in the database. */
async function place(owner: Client, p: Placed): Promise<string> {
  const res = await owner.post(`${API}/tasks`, {
    title: `Task ${++seq}`,
    priority: p.priority ?? 'medium',
    tags: p.tags ?? [],
    project_id: p.project ?? null,
  });
  if (res.status !== 201) throw new Error(`task creation failed: ${res.status} ${res.raw}`);
  const id = res.body.data.id as string;
  const status = p.completed ? 'done' : (p.status ?? 'todo');
  await query(
    t,
    sql`update tasks set
          created_at = ${p.created}::timestamptz,
          updated_at = coalesce(${p.completed ?? null}::timestamptz, ${p.created}::timestamptz),
          status = ${status}::task_status,
          completed_at = ${p.completed ?? null}::timestamptz,
          due_date = ${p.due ?? null}::timestamptz,
          archived_at = ${p.archived ?? null}::timestamptz
        where id = ${id}`,
  );
  return id;
}

async function project(owner: Client, name: string): Promise<string> {
  const res = await owner.post(`${API}/projects`, { name });
  if (res.status !== 201) throw new Error(`project creation failed: ${res.status} ${res.raw}`);
  return res.body.data.id as string;
}

/** The report as JSON (asserting a 200 and the envelope). */
async function report(c: Client, qs = ''): Promise<any> {
  const res = await c.get(`${REPORT}${qs}`);
  if (res.status !== 200) throw new Error(`report failed: ${res.status} ${res.raw}`);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body.success).toBe(true);
  return res.body.data;
}

/** Every day from `from` to `to` with its counts; days not listed in `counts` are [0, 0]. */
function days(from: string, to: string, counts: Record<string, [number, number]>) {
  const out: { date: string; created: number; completed: number }[] = [];
  for (let d = Date.parse(`${from}T00:00:00Z`); d <= Date.parse(`${to}T00:00:00Z`); d += 86_400_000) {
    const date = new Date(d).toISOString().slice(0, 10);
    const [created, completed] = counts[date] ?? [0, 0];
    out.push({ date, created, completed });
  }
  const unknown = Object.keys(counts).filter((k) => !out.some((x) => x.date === k));
  if (unknown.length) throw new Error(`days outside the period: ${unknown.join(', ')}`);
  return out;
}

/** by_priority, urgent first, always all four. */
const priorities = (c: Record<Priority, [number, number]>) =>
  (['urgent', 'high', 'medium', 'low'] as const).map((priority) => ({
    priority,
    created: c[priority][0],
    completed: c[priority][1],
  }));

const NO_PRIORITY = priorities({ urgent: [0, 0], high: [0, 0], medium: [0, 0], low: [0, 0] });

// ---- CSV --------------------------------------------------------------------------------------

/** RFC 4180: CRLF between records, quoted fields with "" for a quote; returns the records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quoted field');
        cell += text.slice(i, q);
        i = q + 1;
        if (text[i] === '"') {
          cell += '"';
          i++;
        } else break;
      }
    } else {
      const m = /[,\r\n]/.exec(text.slice(i));
      const end = m ? i + m.index : text.length;
      cell = text.slice(i, end);
      if (cell.includes('"')) throw new Error(`a quote in an unquoted field: ${cell}`);
      i = end;
    }
    row.push(cell);
    if (text[i] === ',') {
      i++;
      continue;
    }
    rows.push(row);
    row = [];
    if (i >= text.length) break;
    if (text.slice(i, i + 2) !== '\r\n') throw new Error(`a record not ended by CRLF at ${i}`);
    i += 2;
    if (i >= text.length) break;
  }
  return rows;
}

/** How a text cell must read in the CSV: a leading = + - @ defused with a quote. */
const defused = (s: string) => (/^[=+\-@]/.test(s) ? `'${s}` : s);
const cellOf = (v: string | number | null) =>
  v === null ? '' : typeof v === 'number' ? String(v) : defused(v);

/** The CSV rows the JSON report must give, figure by figure, in the documented order. */
function csvRowsOf(r: any): string[][] {
  const rows: string[][] = [['section', 'key', 'metric', 'value']];
  const summary: [string, string | number | null][] = [
    ['from', r.from],
    ['to', r.to],
    ['timezone', r.timezone],
    ['project_id', r.project_id],
    ['created', r.created],
    ['completed', r.completed],
    ['completion_rate', r.completion_rate],
    ['overdue', r.overdue],
    [
      'average_seconds_to_complete',
      r.average_seconds_to_complete === null ? null : Math.round(r.average_seconds_to_complete),
    ],
    [
      'median_seconds_to_complete',
      r.median_seconds_to_complete === null ? null : Math.round(r.median_seconds_to_complete),
    ],
  ];
  for (const [metric, value] of summary) rows.push(['summary', '', metric, cellOf(value)]);
  const counts = (section: string, key: string, c: { created: number; completed: number }) =>
    rows.push(
      [section, cellOf(key), 'created', String(c.created)],
      [section, cellOf(key), 'completed', String(c.completed)],
    );
  for (const d of r.days) counts('day', d.date, d);
  for (const p of r.by_priority) counts('priority', p.priority, p);
  for (const p of r.by_project) counts('project', p.project_name ?? '(no project)', p);
  for (const tag of r.by_tag) counts('tag', tag.tag, tag);
  return rows;
}

async function csv(c: Client, qs: string): Promise<{ res: Res; rows: string[][] }> {
  const res = await c.get(`${REPORT}${qs}${qs ? '&' : '?'}format=csv`);
  if (res.status !== 200) throw new Error(`CSV report failed: ${res.status} ${res.raw}`);
  return { res, rows: parseCsv(res.raw) };
}

/** Asserts the CSV of `qs` says exactly what its JSON says, and returns the CSV rows. */
async function expectCsvMatchesJson(c: Client, qs: string, json: any): Promise<string[][]> {
  const { res, rows } = await csv(c, qs);
  expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
  expect(res.headers['content-disposition']).toBe(
    `attachment; filename="taskman-productivity-${json.from}-${json.to}.csv"`,
  );
  // CRLF everywhere, and no bare LF or CR (tags and names here hold none).
  expect(res.raw.endsWith('\r\n')).toBe(true);
  expect(res.raw.replaceAll('\r\n', '')).not.toMatch(/[\r\n]/);
  expect(rows.every((r) => r.length === 4)).toBe(true);
  expect(rows).toEqual(csvRowsOf(json));
  // And the other way round: every number in the CSV is the JSON's.
  const summary = Object.fromEntries(rows.filter((r) => r[0] === 'summary').map((r) => [r[2], r[3]]));
  expect(Number(summary.created)).toBe(json.created);
  expect(Number(summary.completed)).toBe(json.completed);
  expect(Number(summary.overdue)).toBe(json.overdue);
  expect(summary.completion_rate === '' ? null : Number(summary.completion_rate)).toBe(json.completion_rate);
  const section = (name: string) => rows.filter((r) => r[0] === name);
  expect(section('day').length).toBe(json.days.length * 2);
  expect(section('priority').length).toBe(8);
  expect(section('project').length).toBe(json.by_project.length * 2);
  expect(section('tag').length).toBe(json.by_tag.length * 2);
  return rows;
}

// ---- the fixture -------------------------------------------------------------------------------
//
// Ann lives in Tokyo (+09:00, no DST); the period is 2026-11-02 .. 2026-11-08, i.e. from
// 2026-11-01T15:00Z to 2026-11-08T15:00Z. Tasks sit at 23:59:59 and 00:00:00 local, where a
// UTC-based cut would put them on the wrong day (or in the wrong period).
//
//   task  created (JST)          completed (JST)       pri     project  tags               state
//   A1    11-02 00:00:00          11-02 01:00 (1 h)     urgent  Alpha    work, =sum(a1)     done
//   A2    11-03 23:59:59          -                     high    Alpha    work               todo, due 11-05 (overdue)
//   A3    11-04 00:00:00          11-04 02:00 (2 h)     high    +Beta    home               done, archived since
//   A4    11-01 18:00:00 (before) 11-02 00:00 (6 h)     low     -        -x,"y"             done
//   A5    11-08 23:59:59          -                     medium  -        home, work         in progress
//   A6    11-09 00:00:00 (after)  -                     urgent  +Beta    work               todo, due exactly now
//   A7    11-01 23:59:59 (before) -                     medium  -        -                  todo, archived, past due
//   A8    11-05 12:00:00          11-09 00:30 (after)   medium  +Beta    -                  done, past due
//   A9    11-06 09:00:00          -                     low     Alpha    work               todo, due tomorrow
//   A10   10-20 09:00:00 (before) -                     high    -        -                  in progress, due 10-25 (overdue)
//   A11   11-04 23:59:59          -                     medium  -        -                  todo
//   A12   10-20 10:00:00 (before) 10-25 10:00 (5 days)  medium  -        old                done
const ANN_TZ = 'Asia/Tokyo';
const PERIOD = '?from=2026-11-02&to=2026-11-08';

async function annFixture(owner: Session) {
  const alpha = await project(owner, 'Alpha');
  const beta = await project(owner, '+Beta');
  const jst = (s: string) => `${s}+09:00`;
  await place(owner, {
    created: jst('2026-11-02T00:00:00'),
    completed: jst('2026-11-02T01:00:00'),
    priority: 'urgent',
    project: alpha,
    tags: ['work', '=sum(a1)'],
  });
  await place(owner, {
    created: jst('2026-11-03T23:59:59'),
    priority: 'high',
    project: alpha,
    tags: ['work'],
    due: jst('2026-11-05T00:00:00'),
  });
  await place(owner, {
    created: jst('2026-11-04T00:00:00'),
    completed: jst('2026-11-04T02:00:00'),
    priority: 'high',
    project: beta,
    tags: ['home'],
    // Archiving a task does not rewrite history: it still counts as created and completed.
    archived: jst('2026-11-08T12:00:00'),
  });
  await place(owner, {
    created: jst('2026-11-01T18:00:00'),
    completed: jst('2026-11-02T00:00:00'),
    priority: 'low',
    tags: ['-x,"y"'],
  });
  await place(owner, {
    created: jst('2026-11-08T23:59:59'),
    status: 'in_progress',
    priority: 'medium',
    tags: ['home', 'work'],
  });
  await place(owner, {
    created: jst('2026-11-09T00:00:00'),
    priority: 'urgent',
    project: beta,
    tags: ['work'],
    due: NOW.toISOString(),
  });
  await place(owner, {
    created: jst('2026-11-01T23:59:59'),
    due: jst('2026-11-08T00:00:00'),
    archived: jst('2026-11-08T09:00:00'),
  });
  await place(owner, {
    created: jst('2026-11-05T12:00:00'),
    completed: jst('2026-11-09T00:30:00'),
    project: beta,
    due: jst('2026-11-06T00:00:00'),
  });
  await place(owner, {
    created: jst('2026-11-06T09:00:00'),
    priority: 'low',
    project: alpha,
    tags: ['work'],
    due: new Date(NOW.getTime() + 86_400_000).toISOString(),
  });
  await place(owner, {
    created: jst('2026-10-20T09:00:00'),
    status: 'in_progress',
    priority: 'high',
    due: jst('2026-10-25T00:00:00'),
  });
  await place(owner, { created: jst('2026-11-04T23:59:59') });
  await place(owner, {
    created: jst('2026-10-20T10:00:00'),
    completed: jst('2026-10-25T10:00:00'),
    tags: ['old'],
  });
  return { alpha, beta };
}

/** Ann's report for 2026-11-02 .. 2026-11-08, every figure worked out by hand from the table. */
const annWeek = (alpha: string, beta: string) => ({
  from: '2026-11-02',
  to: '2026-11-08',
  timezone: ANN_TZ,
  project_id: null,
  // Created in the period: A1 A2 A3 A5 A8 A9 A11. Completed in it: A1 A3 A4.
  created: 7,
  completed: 3,
  // Of the 7, A1 A3 A8 are done now (A8 was completed after the period): 3/7.
  completion_rate: 0.4286,
  // A2 and A10; not A6 (due exactly now), A7 (archived), A8 (done), A9 (due tomorrow).
  overdue: 2,
  // A1 1 h, A3 2 h, A4 6 h.
  average_seconds_to_complete: 3 * HOUR_S,
  median_seconds_to_complete: 2 * HOUR_S,
  by_priority: priorities({ urgent: [1, 1], high: [2, 1], medium: [3, 0], low: [1, 1] }),
  // Beta and "no project" tie at 2/1: named projects first.
  by_project: [
    { project_id: alpha, project_name: 'Alpha', created: 3, completed: 1 },
    { project_id: beta, project_name: '+Beta', created: 2, completed: 1 },
    { project_id: null, project_name: null, created: 2, completed: 1 },
  ],
  by_tag: [
    { tag: 'work', created: 4, completed: 1 },
    { tag: 'home', created: 2, completed: 1 },
    { tag: '=sum(a1)', created: 1, completed: 1 },
    { tag: '-x,"y"', created: 0, completed: 1 },
  ],
  days: days('2026-11-02', '2026-11-08', {
    '2026-11-02': [1, 2], // A1 at 00:00:00; A1 and A4 completed (A4 at 00:00:00 exactly)
    '2026-11-03': [1, 0], // A2 at 23:59:59
    '2026-11-04': [2, 1], // A3 at 00:00:00, A11 at 23:59:59; A3 completed
    '2026-11-05': [1, 0], // A8
    '2026-11-06': [1, 0], // A9
    '2026-11-08': [1, 0], // A5 at 23:59:59
  }),
});

describe('GET /reports/productivity', () => {
  let ann: Session;
  let bob: Session;
  let annProjects: { alpha: string; beta: string };
  let bobProjects: { alpha: string; beta: string };

  beforeAll(async () => {
    ann = await signUp(t.app, { timezone: ANN_TZ });
    bob = await signUp(t.app, { timezone: ANN_TZ });
    annProjects = await annFixture(ann);
    // Bob has the very same tasks: neither may see the other's.
    bobProjects = await annFixture(bob);
  });

  it('counts every figure in the user’s time zone, days cut at local midnight', async () => {
    const r = await report(ann, PERIOD);
    expect(r).toEqual(annWeek(annProjects.alpha, annProjects.beta));
  });

  it('shows each user only their own tasks', async () => {
    expect(await report(ann, PERIOD)).toEqual(annWeek(annProjects.alpha, annProjects.beta));
    expect(await report(bob, PERIOD)).toEqual(annWeek(bobProjects.alpha, bobProjects.beta));
  });

  it('defaults to the last 7 days ending today in the user’s time zone', async () => {
    // Now is 2026-11-09 01:00 in Tokyo (2026-11-08 in UTC): 2026-11-03 .. 2026-11-09, from
    // 2026-11-02T15:00Z to 2026-11-09T15:00Z.
    const expected = {
      from: '2026-11-03',
      to: '2026-11-09',
      timezone: ANN_TZ,
      project_id: null,
      // A2 A3 A5 A6 A8 A9 A11 created; A3 and A8 (11-09 00:30) completed.
      created: 7,
      completed: 2,
      completion_rate: 0.2857,
      overdue: 2,
      // A3 2 h; A8 from 11-05 12:00 to 11-09 00:30, 84.5 h.
      average_seconds_to_complete: (2 * HOUR_S + 84.5 * HOUR_S) / 2,
      median_seconds_to_complete: (2 * HOUR_S + 84.5 * HOUR_S) / 2,
      by_priority: priorities({ urgent: [1, 0], high: [2, 1], medium: [3, 1], low: [1, 0] }),
      by_project: [
        { project_id: annProjects.beta, project_name: '+Beta', created: 3, completed: 2 },
        { project_id: annProjects.alpha, project_name: 'Alpha', created: 2, completed: 0 },
        { project_id: null, project_name: null, created: 2, completed: 0 },
      ],
      by_tag: [
        { tag: 'work', created: 4, completed: 0 },
        { tag: 'home', created: 2, completed: 1 },
      ],
      days: days('2026-11-03', '2026-11-09', {
        '2026-11-03': [1, 0],
        '2026-11-04': [2, 1],
        '2026-11-05': [1, 0],
        '2026-11-06': [1, 0],
        '2026-11-08': [1, 0],
        '2026-11-09': [1, 1], // A6 at 00:00:00; A8 at 00:30
      }),
    };
    expect(await report(ann)).toEqual(expected);
    // Either end alone: the other is 6 days away.
    expect(await report(ann, '?from=2026-11-03')).toEqual(expected);
    expect(await report(ann, '?to=2026-11-09')).toEqual(expected);
    expect(await report(ann, '?format=json')).toEqual(expected);
  });

  it('filters by project', async () => {
    const { alpha } = annProjects;
    const r = await report(ann, `${PERIOD}&project_id=${alpha}`);
    expect(r).toEqual({
      from: '2026-11-02',
      to: '2026-11-08',
      timezone: ANN_TZ,
      project_id: alpha,
      // A1 A2 A9; A1 completed (and the only one done).
      created: 3,
      completed: 1,
      completion_rate: 0.3333,
      // A2 only: A10 has no project.
      overdue: 1,
      average_seconds_to_complete: HOUR_S,
      median_seconds_to_complete: HOUR_S,
      by_priority: priorities({ urgent: [1, 1], high: [1, 0], medium: [0, 0], low: [1, 0] }),
      by_project: [{ project_id: alpha, project_name: 'Alpha', created: 3, completed: 1 }],
      by_tag: [
        { tag: 'work', created: 3, completed: 1 },
        { tag: '=sum(a1)', created: 1, completed: 1 },
      ],
      days: days('2026-11-02', '2026-11-08', {
        '2026-11-02': [1, 1],
        '2026-11-03': [1, 0],
        '2026-11-06': [1, 0],
      }),
    });
    // Bob's Alpha is not Ann's: "not found", as everywhere; so is a project nobody has.
    const other = await ann.get(`${REPORT}${PERIOD}&project_id=${bobProjects.alpha}`);
    expectError(other, 404, 'NOT_FOUND');
    expectError(await ann.get(`${REPORT}?project_id=00000000-0000-7000-8000-000000000000`), 404, 'NOT_FOUND');
  });

  it('has a null completion rate (and time to complete) when nothing was created or completed', async () => {
    const empty = {
      from: '2026-01-01',
      to: '2026-01-07',
      timezone: ANN_TZ,
      project_id: null,
      created: 0,
      completed: 0,
      completion_rate: null,
      // Overdue is about now, not about the period.
      overdue: 2,
      average_seconds_to_complete: null,
      median_seconds_to_complete: null,
      by_priority: NO_PRIORITY,
      by_project: [],
      by_tag: [],
      days: days('2026-01-01', '2026-01-07', {}),
    };
    expect(await report(ann, '?from=2026-01-01&to=2026-01-07')).toEqual(empty);
    // Completed but nothing created (A12, completed on 10-25 after 5 days): the rate is null.
    expect(await report(ann, '?from=2026-10-25&to=2026-10-25')).toEqual({
      ...empty,
      from: '2026-10-25',
      to: '2026-10-25',
      completed: 1,
      average_seconds_to_complete: 5 * 24 * HOUR_S,
      median_seconds_to_complete: 5 * 24 * HOUR_S,
      by_priority: priorities({ urgent: [0, 0], high: [0, 0], medium: [0, 1], low: [0, 0] }),
      by_project: [{ project_id: null, project_name: null, created: 0, completed: 1 }],
      by_tag: [{ tag: 'old', created: 0, completed: 1 }],
      days: [{ date: '2026-10-25', created: 0, completed: 1 }],
    });
  });

  it('answers the same report as CSV, defusing cells that would be formulas', async () => {
    const json = await report(ann, PERIOD);
    const rows = await expectCsvMatchesJson(ann, PERIOD, json);
    // Spelled out, the rows that matter most.
    expect(rows.slice(0, 11)).toEqual([
      ['section', 'key', 'metric', 'value'],
      ['summary', '', 'from', '2026-11-02'],
      ['summary', '', 'to', '2026-11-08'],
      ['summary', '', 'timezone', 'Asia/Tokyo'],
      ['summary', '', 'project_id', ''],
      ['summary', '', 'created', '7'],
      ['summary', '', 'completed', '3'],
      ['summary', '', 'completion_rate', '0.4286'],
      ['summary', '', 'overdue', '2'],
      ['summary', '', 'average_seconds_to_complete', '10800'],
      ['summary', '', 'median_seconds_to_complete', '7200'],
    ]);
    expect(rows.filter((r) => r[0] === 'project')).toEqual([
      ['project', 'Alpha', 'created', '3'],
      ['project', 'Alpha', 'completed', '1'],
      ['project', "'+Beta", 'created', '2'],
      ['project', "'+Beta", 'completed', '1'],
      ['project', '(no project)', 'created', '2'],
      ['project', '(no project)', 'completed', '1'],
    ]);
    expect(rows.filter((r) => r[0] === 'tag')).toEqual([
      ['tag', 'work', 'created', '4'],
      ['tag', 'work', 'completed', '1'],
      ['tag', 'home', 'created', '2'],
      ['tag', 'home', 'completed', '1'],
      ['tag', "'=sum(a1)", 'created', '1'],
      ['tag', "'=sum(a1)", 'completed', '1'],
      ['tag', `'-x,"y"`, 'created', '0'],
      ['tag', `'-x,"y"`, 'completed', '1'],
    ]);
    // On the wire: the defused tags, the one with a comma and quotes quoted.
    const { res: raw } = await csv(ann, PERIOD);
    expect(raw.raw).toContain("\r\ntag,'=sum(a1),created,1\r\n");
    expect(raw.raw).toContain(`\r\ntag,"'-x,""y""",completed,1\r\n`);
    expect(raw.raw).toContain("\r\nproject,'+Beta,created,2\r\n");
    expect(raw.raw.startsWith('section,key,metric,value\r\nsummary,,from,2026-11-02\r\n')).toBe(true);
    expect(raw.raw).not.toMatch(/(^|[,\n])[=+\-@]/);

    // The other reports of this file, as CSV too.
    for (const qs of [
      '',
      `${PERIOD}&project_id=${annProjects.alpha}`,
      '?from=2026-01-01&to=2026-01-07',
      '?from=2026-10-25&to=2026-10-25',
    ]) {
      const j = await report(ann, qs);
      await expectCsvMatchesJson(ann, qs || '?', j);
    }
    const filtered = (await csv(ann, `${PERIOD}&project_id=${annProjects.alpha}`)).rows;
    expect(filtered[4]).toEqual(['summary', '', 'project_id', annProjects.alpha]);
    const empty = (await csv(ann, '?from=2026-01-01&to=2026-01-07')).rows;
    expect(empty.filter((r) => r[0] === 'summary' && r[3] === '').map((r) => r[2])).toEqual([
      'project_id',
      'completion_rate',
      'average_seconds_to_complete',
      'median_seconds_to_complete',
    ]);
  });

  it('follows the user’s time zone when it changes', async () => {
    const carl = await signUp(t.app, { timezone: ANN_TZ });
    const { alpha, beta } = await annFixture(carl);
    expect(await report(carl, PERIOD)).toEqual(annWeek(alpha, beta));
    const patched = await carl.patch(`${API}/users/me`, { timezone: 'UTC' });
    expect(patched.status).toBe(200);
    // The same dates in UTC: 2026-11-02T00:00Z .. 2026-11-09T00:00Z. A1 and A4 (and their
    // completions) fall on 11-01 now; A6 (11-08T15:00Z) and A8's completion (11-08T15:30Z) come in.
    expect(await report(carl, PERIOD)).toEqual({
      from: '2026-11-02',
      to: '2026-11-08',
      timezone: 'UTC',
      project_id: null,
      // A2 A3 A5 A6 A8 A9 A11; completed A3, A8.
      created: 7,
      completed: 2,
      completion_rate: 0.2857,
      overdue: 2,
      average_seconds_to_complete: (2 * HOUR_S + 84.5 * HOUR_S) / 2,
      median_seconds_to_complete: (2 * HOUR_S + 84.5 * HOUR_S) / 2,
      by_priority: priorities({ urgent: [1, 0], high: [2, 1], medium: [3, 1], low: [1, 0] }),
      by_project: [
        { project_id: beta, project_name: '+Beta', created: 3, completed: 2 },
        { project_id: alpha, project_name: 'Alpha', created: 2, completed: 0 },
        { project_id: null, project_name: null, created: 2, completed: 0 },
      ],
      by_tag: [
        { tag: 'work', created: 4, completed: 0 },
        { tag: 'home', created: 2, completed: 1 },
      ],
      days: days('2026-11-02', '2026-11-08', {
        '2026-11-03': [2, 1], // A2 14:59:59Z, A3 15:00Z and its completion 17:00Z
        '2026-11-04': [1, 0], // A11 14:59:59Z
        '2026-11-05': [1, 0], // A8 03:00Z
        '2026-11-06': [1, 0], // A9 00:00Z
        '2026-11-08': [2, 1], // A5 14:59:59Z, A6 15:00Z; A8 completed 15:30Z
      }),
    });
  });

  it('keeps the period within 366 days', async () => {
    // 2025-11-08 .. 2026-11-08 is 366 days; a day more is refused.
    const year = await report(ann, '?from=2025-11-08&to=2026-11-08');
    expect(year.days.length).toBe(366);
    expect(year.days[0]).toEqual({ date: '2025-11-08', created: 0, completed: 0 });
    expect(year.days.at(-1)).toEqual({ date: '2026-11-08', created: 1, completed: 0 }); // A5
    // Every task of the week and October: created A1..A5 A7..A12 but A6 (11-09).
    expect([year.created, year.completed, year.overdue]).toEqual([11, 4, 2]);
    expect(year.days.reduce((n: number, d: any) => n + d.created, 0)).toBe(11);
    expect(year.days.reduce((n: number, d: any) => n + d.completed, 0)).toBe(4);
    // A leap year is 366 days too.
    expect((await report(ann, '?from=2024-01-01&to=2024-12-31')).days.length).toBe(366);
    const tooLong = expectError(
      await ann.get(`${REPORT}?from=2025-11-07&to=2026-11-08`),
      400,
      'VALIDATION_ERROR',
    );
    expect(tooLong.details).toEqual([{ field: 'from', message: 'the period may cover at most 366 days' }]);
  });

  it('refuses bad periods and parameters with 400 VALIDATION_ERROR', async () => {
    const after = expectError(
      await ann.get(`${REPORT}?from=2026-11-09&to=2026-11-08`),
      400,
      'VALIDATION_ERROR',
    );
    expect(after.details).toEqual([{ field: 'from', message: 'must not be after to' }]);
    // A single day is fine.
    expect((await report(ann, '?from=2026-11-08&to=2026-11-08')).days).toEqual([
      { date: '2026-11-08', created: 1, completed: 0 },
    ]);
    for (const qs of [
      '?from=2026-02-30&to=2026-03-02',
      '?from=2026-02-29',
      '?to=2026-13-01',
      '?from=garbage',
      '?to=garbage',
      '?from=2026-1-2',
      '?from=20261102',
      '?from=2026-11-02T00:00:00Z',
      '?from=',
      '?format=xml',
      '?project_id=not-a-uuid',
      '?unknown=1',
      `${PERIOD}&sort=created`,
    ]) {
      const res = await ann.get(`${REPORT}${qs}`);
      expectError(res, 400, 'VALIDATION_ERROR');
    }
  });

  // Year 0000 passes `format: date` and JavaScript, but PostgreSQL has no year 0: periods start
  // in 1900 at the earliest (also when the default `from`, 6 days before `to`, would not).
  it('refuses periods starting before 1900 with 400', async () => {
    for (const qs of ['?from=0000-01-01&to=0000-01-07', '?to=0001-01-03', '?from=1899-12-31&to=1900-01-02'])
      expectError(await ann.get(`${REPORT}${qs}`), 400, 'VALIDATION_ERROR');
  });

  it('lists the 100 busiest tags, busiest first, then by name', async () => {
    const fay = await signUp(t.app, { timezone: 'UTC' });
    const tag = (i: number) => `t${String(i).padStart(3, '0')}`;
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    // 120 tags on six tasks (the most a task may have is 20); the first task is done; a seventh
    // task makes t118 and t119 the busiest.
    for (let k = 0; k < 6; k++)
      await place(fay, {
        created: '2026-06-10T12:00:00Z',
        ...(k === 0 ? { completed: '2026-06-10T13:00:00Z' } : {}),
        tags: range(k * 20, k * 20 + 19).map(tag),
      });
    await place(fay, { created: '2026-06-10T12:00:00Z', tags: [tag(119), tag(118)] });
    const r = await report(fay, '?from=2026-06-10&to=2026-06-10');
    expect(r.by_tag).toEqual([
      { tag: 't118', created: 2, completed: 0 },
      { tag: 't119', created: 2, completed: 0 },
      ...range(0, 19).map((i) => ({ tag: tag(i), created: 1, completed: 1 })),
      ...range(20, 97).map((i) => ({ tag: tag(i), created: 1, completed: 0 })),
    ]);
    expect([r.created, r.completed, r.completion_rate]).toEqual([7, 1, 0.1429]);
    const rows = await expectCsvMatchesJson(fay, '?from=2026-06-10&to=2026-06-10', r);
    expect(rows.filter((x) => x[0] === 'tag').length).toBe(200);
  });

  it('needs a session or an API key with reports:read', async () => {
    expectError(await new Client(t.app).get(`${REPORT}${PERIOD}`), 401, 'UNAUTHORIZED');
    const keyFor = async (scopes: string[]) => {
      const res = await ann.post(`${API}/api-keys`, { name: `report ${scopes.join(' ')}`, scopes });
      expect(res.status).toBe(201);
      return new Client(t.app, res.body.data.key as string);
    };
    const tasksOnly = await keyFor(['tasks:read']);
    expectError(await tasksOnly.get(`${REPORT}${PERIOD}`), 403, 'FORBIDDEN');
    expectError(await tasksOnly.get(`${REPORT}${PERIOD}&format=csv`), 403, 'FORBIDDEN');
    const everythingElse = await keyFor([
      'tasks:read',
      'tasks:write',
      'projects:read',
      'projects:write',
      'webhooks:manage',
    ]);
    expectError(await everythingElse.get(`${REPORT}${PERIOD}`), 403, 'FORBIDDEN');

    const reader = await keyFor(['reports:read']);
    expect(await report(reader, PERIOD)).toEqual(annWeek(annProjects.alpha, annProjects.beta));
    await expectCsvMatchesJson(reader, PERIOD, await report(ann, PERIOD));
    // The key is Ann's: Bob's project is not found through it either.
    expectError(await reader.get(`${REPORT}${PERIOD}&project_id=${bobProjects.alpha}`), 404, 'NOT_FOUND');
  });
});

describe('days across a DST change', () => {
  it('Europe/Paris, 2026-03-29 (23 hours): 23:30 that day and 00:30 the next land right', async () => {
    const dan = await signUp(t.app, { timezone: 'Europe/Paris' });
    // Clocks go from 02:00 CET (+01:00) to 03:00 CEST (+02:00): 2026-03-29 runs from
    // 2026-03-28T23:00Z to 2026-03-29T22:00Z.
    await place(dan, { created: '2026-03-27T23:59:59+01:00' }); // before the period
    await place(dan, { created: '2026-03-28T23:59:59+01:00' }); // 03-28
    await place(dan, { created: '2026-03-29T00:00:00+01:00' }); // 03-29 (still 03-28 in UTC)
    await place(dan, {
      created: '2026-03-29T03:30:00+02:00', // 03-29, just after the jump
      completed: '2026-03-30T00:00:00+02:00', // 03-30 at midnight: 20.5 h later
    });
    await place(dan, { created: '2026-03-29T23:30:00+02:00' }); // 03-29: its last half hour
    await place(dan, { created: '2026-03-30T00:30:00+02:00' }); // 03-30 (23:30 at +01:00)
    await place(dan, { created: '2026-03-30T23:59:59+02:00' }); // 03-30
    await place(dan, { created: '2026-03-31T00:00:00+02:00' }); // after the period

    const base = {
      timezone: 'Europe/Paris',
      project_id: null,
      overdue: 0,
      by_tag: [],
    };
    expect(await report(dan, '?from=2026-03-28&to=2026-03-30')).toEqual({
      ...base,
      from: '2026-03-28',
      to: '2026-03-30',
      created: 6,
      completed: 1,
      completion_rate: 0.1667,
      average_seconds_to_complete: 20.5 * HOUR_S,
      median_seconds_to_complete: 20.5 * HOUR_S,
      by_priority: priorities({ urgent: [0, 0], high: [0, 0], medium: [6, 1], low: [0, 0] }),
      by_project: [{ project_id: null, project_name: null, created: 6, completed: 1 }],
      days: [
        { date: '2026-03-28', created: 1, completed: 0 },
        { date: '2026-03-29', created: 3, completed: 0 },
        { date: '2026-03-30', created: 2, completed: 1 },
      ],
    });
    // The 23-hour day alone: the completion at the next midnight is outside it.
    expect(await report(dan, '?from=2026-03-29&to=2026-03-29')).toEqual({
      ...base,
      from: '2026-03-29',
      to: '2026-03-29',
      created: 3,
      completed: 0,
      completion_rate: 0.3333,
      average_seconds_to_complete: null,
      median_seconds_to_complete: null,
      by_priority: priorities({ urgent: [0, 0], high: [0, 0], medium: [3, 0], low: [0, 0] }),
      by_project: [{ project_id: null, project_name: null, created: 3, completed: 0 }],
      days: [{ date: '2026-03-29', created: 3, completed: 0 }],
    });
  });

  it('America/New_York, 2026-11-01 (25 hours): both 01:30s, 23:30 that day and 00:30 the next land right', async () => {
    const eve = await signUp(t.app, { timezone: 'America/New_York' });
    // Clocks go from 02:00 EDT (-04:00) back to 01:00 EST (-05:00): 2026-11-01 runs from
    // 2026-11-01T04:00Z to 2026-11-02T05:00Z.
    await place(eve, { created: '2026-10-31T23:59:59-04:00' }); // 10-31
    await place(eve, {
      created: '2026-11-01T00:00:00-04:00', // 11-01
      completed: '2026-11-01T23:59:59-05:00', // 11-01, 24 h 59 min 59 s later
    });
    await place(eve, {
      created: '2026-11-01T01:30:00-04:00', // 11-01, the first 01:30
      completed: '2026-11-02T00:00:00-05:00', // 11-02 at midnight: 23.5 h later
    });
    await place(eve, { created: '2026-11-01T01:30:00-05:00' }); // 11-01, the second 01:30
    await place(eve, { created: '2026-11-01T23:30:00-05:00' }); // 11-01 (00:30 at -04:00)
    await place(eve, { created: '2026-11-02T00:30:00-05:00' }); // 11-02
    await place(eve, { created: '2026-11-02T23:59:59-05:00' }); // 11-02
    await place(eve, { created: '2026-11-03T00:00:00-05:00' }); // after the period

    const first = 25 * HOUR_S - 1;
    const second = 23.5 * HOUR_S;
    const base = {
      timezone: 'America/New_York',
      project_id: null,
      overdue: 0,
      by_tag: [],
    };
    const r = await report(eve, '?from=2026-10-31&to=2026-11-02');
    expect(r).toEqual({
      ...base,
      from: '2026-10-31',
      to: '2026-11-02',
      created: 7,
      completed: 2,
      completion_rate: 0.2857,
      average_seconds_to_complete: (first + second) / 2,
      median_seconds_to_complete: (first + second) / 2,
      by_priority: priorities({ urgent: [0, 0], high: [0, 0], medium: [7, 2], low: [0, 0] }),
      by_project: [{ project_id: null, project_name: null, created: 7, completed: 2 }],
      days: [
        { date: '2026-10-31', created: 1, completed: 0 },
        { date: '2026-11-01', created: 4, completed: 1 },
        { date: '2026-11-02', created: 2, completed: 1 },
      ],
    });
    // 87299.5 s on average: the CSV rounds it.
    const rows = await expectCsvMatchesJson(eve, '?from=2026-10-31&to=2026-11-02', r);
    expect(rows.find((x) => x[2] === 'average_seconds_to_complete')).toEqual([
      'summary',
      '',
      'average_seconds_to_complete',
      '87300',
    ]);
    // The 25-hour day alone: the completion at 23:59:59 is in, the one at the next midnight out.
    expect(await report(eve, '?from=2026-11-01&to=2026-11-01')).toEqual({
      ...base,
      from: '2026-11-01',
      to: '2026-11-01',
      created: 4,
      completed: 1,
      completion_rate: 0.5,
      average_seconds_to_complete: first,
      median_seconds_to_complete: first,
      by_priority: priorities({ urgent: [0, 0], high: [0, 0], medium: [4, 1], low: [0, 0] }),
      by_project: [{ project_id: null, project_name: null, created: 4, completed: 1 }],
      days: [{ date: '2026-11-01', created: 4, completed: 1 }],
    });
  });

  it('America/Santiago, 2026-09-06: a day with no midnight starts at 01:00', async () => {
    const gil = await signUp(t.app, { timezone: 'America/Santiago' });
    // At 00:00 (-04:00) clocks jump to 01:00 (-03:00): 2026-09-06 runs from 04:00Z to
    // 2026-09-07T03:00Z (23 hours).
    await place(gil, { created: '2026-09-05T23:59:59-04:00' }); // 09-05
    await place(gil, { created: '2026-09-06T01:00:00-03:00' }); // 09-06, its first second
    await place(gil, { created: '2026-09-06T23:59:59-03:00' }); // 09-06, its last second
    await place(gil, { created: '2026-09-07T00:00:00-03:00' }); // after the period
    const r = await report(gil, '?from=2026-09-05&to=2026-09-06');
    expect([r.created, r.completed, r.completion_rate]).toEqual([3, 0, 0]);
    expect(r.days).toEqual([
      { date: '2026-09-05', created: 1, completed: 0 },
      { date: '2026-09-06', created: 2, completed: 0 },
    ]);
    const day = await report(gil, '?from=2026-09-06&to=2026-09-06');
    expect(day.created).toBe(2);
  });
});
