// The calendar feed, parsed with ical.js (Mozilla's iCalendar library) as a calendar app would:
// every field of a VTODO is checked against the task it comes from.
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, type Res, signUp } from './helpers/client';

const API = '/api/v1';
let t: TestApp;
let ann: Client;
let bob: Client;

beforeAll(async () => {
  t = await createTestApp();
  ann = await signUp(t.app, { name: 'Ann', timezone: 'Europe/Paris' } as never);
  bob = await signUp(t.app, { name: 'Bob' });
});
afterAll(() => t?.close());

/** iCalendar times have whole seconds. */
const toSecond = (iso: string) => iso.replace(/\.\d{3}Z$/, '.000Z');

/** The path of a feed URL (the test app is reached by inject, not over the network). */
const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;

async function createFeed(as: Client): Promise<string> {
  const res = await as.post(`${API}/calendar/feed`);
  expect(res.status, res.raw).toBe(201);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body.data.url).toMatch(/^http.*\/api\/v1\/calendar\/feed\/tmcal_[A-Za-z0-9_-]{32}\.ics$/);
  return pathOf(res.body.data.url);
}

/** Fetches a feed without credentials, as a calendar app does. */
const fetchFeed = (path: string, headers: Record<string, string> = {}): Promise<Res> =>
  new Client(t.app).get(path, headers);

function todos(ics: string): ICAL.Component[] {
  const cal = new ICAL.Component(ICAL.parse(ics));
  expect(cal.name).toBe('vcalendar');
  return cal.getAllSubcomponents('vtodo');
}

async function task(as: Client, body: Record<string, unknown>) {
  const res = await as.post(`${API}/tasks`, body);
  expect(res.status, res.raw).toBe(201);
  return res.body.data;
}

describe('calendar feed', () => {
  it('lists tasks with a due date as VTODOs, every field mapped', async () => {
    const project = (await ann.post(`${API}/projects`, { name: 'Home' })).body.data;
    const rent = await task(ann, {
      title: 'Pay rent, now; with a title long enough to be folded over several lines by the writer',
      description: 'IBAN on file\nsecond line',
      due_date: '2030-01-05T09:00:00.000Z',
      priority: 'urgent',
      tags: ['bills', 'home'],
      project_id: project.id,
    });
    const started = await task(ann, {
      title: 'Started',
      due_date: '2030-01-06T10:00:00.000Z',
      priority: 'low',
    });
    await ann.patch(`${API}/tasks/${started.id}`, { status: 'in_progress' });
    const done = await task(ann, { title: 'Done one', due_date: '2030-01-07T10:00:00.000Z' });
    const completed = (await ann.patch(`${API}/tasks/${done.id}`, { status: 'done' })).body.data;
    await task(ann, { title: 'No due date' });
    const archived = await task(ann, { title: 'Archived', due_date: '2030-01-08T10:00:00.000Z' });
    await ann.post(`${API}/tasks/${archived.id}/archive`);
    await task(bob, { title: "Bob's", due_date: '2030-01-05T09:00:00.000Z' });

    const res = await fetchFeed(await createFeed(ann));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/calendar; charset=utf-8');
    expect(res.headers['cache-control']).toBe('private, max-age=300');
    expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(res.raw).toContain('\r\n');

    const cal = new ICAL.Component(ICAL.parse(res.raw));
    expect(cal.getFirstPropertyValue('version')).toBe('2.0');
    expect(cal.getFirstPropertyValue('prodid')).toContain('Taskman');
    expect(cal.getFirstPropertyValue('x-wr-timezone')).toBe('Europe/Paris');
    const items = todos(res.raw);
    // Due-dated, not archived, Ann's only; soonest first.
    expect(items.map((c) => c.getFirstPropertyValue('summary'))).toEqual([rent.title, 'Started', 'Done one']);

    const [r, s, d] = items as [ICAL.Component, ICAL.Component, ICAL.Component];
    expect(r.getFirstPropertyValue('uid')).toBe(`${rent.id}@localhost`);
    expect(r.getFirstPropertyValue('description')).toBe('IBAN on file\nsecond line');
    expect((r.getFirstPropertyValue('due') as ICAL.Time).toJSDate().toISOString()).toBe(
      '2030-01-05T09:00:00.000Z',
    );
    expect(r.getFirstPropertyValue('status')).toBe('NEEDS-ACTION');
    expect(r.getFirstPropertyValue('priority')).toBe(1);
    expect(r.getFirstProperty('categories')!.getValues()).toEqual(['bills', 'home']);
    expect(r.getFirstPropertyValue('url')).toBe(`http://localhost:3000/tasks/${rent.id}`);
    expect((r.getFirstPropertyValue('last-modified') as ICAL.Time).toJSDate().toISOString()).toBe(
      toSecond(rent.updated_at),
    );
    expect((r.getFirstPropertyValue('created') as ICAL.Time).toJSDate().toISOString()).toBe(
      toSecond(rent.created_at),
    );
    // The reminder: due minus the default 30 minutes, as an absolute trigger.
    const alarm = r.getFirstSubcomponent('valarm')!;
    expect(alarm.getFirstPropertyValue('action')).toBe('DISPLAY');
    expect((alarm.getFirstPropertyValue('trigger') as ICAL.Time).toJSDate().toISOString()).toBe(
      rent.remind_at,
    );
    expect(rent.remind_at).toBe('2030-01-05T08:30:00.000Z');

    expect(s.getFirstPropertyValue('status')).toBe('IN-PROCESS');
    expect(s.getFirstPropertyValue('priority')).toBe(9);
    expect(s.getFirstProperty('categories')).toBeNull();

    expect(d.getFirstPropertyValue('status')).toBe('COMPLETED');
    expect(d.getFirstPropertyValue('priority')).toBe(5);
    expect((d.getFirstPropertyValue('completed') as ICAL.Time).toJSDate().toISOString()).toBe(
      toSecond(completed.completed_at),
    );
    expect(d.getFirstPropertyValue('sequence')).toBe(completed.version - 1);
    // No alarm for a task that is done.
    expect(d.getFirstSubcomponent('valarm')).toBeNull();

    // The project filter.
    const url = await createFeed(ann);
    const only = await fetchFeed(`${url}?project_id=${project.id}`);
    expect(todos(only.raw).map((c) => c.getFirstPropertyValue('uid'))).toEqual([`${rent.id}@localhost`]);
    expect(new ICAL.Component(ICAL.parse(only.raw)).getFirstPropertyValue('x-wr-calname')).toBe(
      'Taskman: Home',
    );
  });

  it('answers 304 to a matching If-None-Match, and a new ETag after a change', async () => {
    const url = await createFeed(bob);
    const first = await fetchFeed(url);
    const etag = String(first.headers.etag);
    const again = await fetchFeed(url, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.raw).toBe('');
    await task(bob, { title: 'New', due_date: '2031-02-01T10:00:00.000Z' });
    const changed = await fetchFeed(url, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('rotating the URL retires the old one; revoking retires it; unknown tokens are 404', async () => {
    const old = await createFeed(bob);
    const fresh = await createFeed(bob);
    expect((await fetchFeed(old)).status).toBe(404);
    expect((await fetchFeed(fresh)).status).toBe(200);
    expect((await bob.get(`${API}/calendar/feed`)).body.data.active).toBe(true);
    expect((await bob.delete(`${API}/calendar/feed`)).status).toBe(204);
    expect((await fetchFeed(fresh)).status).toBe(404);
    expect((await bob.get(`${API}/calendar/feed`)).body.data).toEqual({ active: false, created_at: null });
    expect((await bob.delete(`${API}/calendar/feed`)).status).toBe(404);
    // Malformed tokens are refused by the schema; well-formed unknown ones are not found.
    expect((await fetchFeed(`${API}/calendar/feed/nope.ics`)).status).toBe(400);
    expect((await fetchFeed(`${API}/calendar/feed/tmcal_${'a'.repeat(32)}.ics`)).status).toBe(404);
  });

  it("never shows another user's project, and needs a session to manage the feed", async () => {
    const annProject = (await ann.post(`${API}/projects`, { name: 'Secret' })).body.data;
    const url = await createFeed(bob);
    const res = await fetchFeed(`${url}?project_id=${annProject.id}`);
    expect(res.status).toBe(404);
    expect(res.raw).not.toContain('Secret');
    expect((await new Client(t.app).post(`${API}/calendar/feed`)).status).toBe(401);
    const key = (await bob.post(`${API}/api-keys`, { name: 'k', scopes: ['tasks:read'] })).body.data.key;
    expect((await new Client(t.app, key).post(`${API}/calendar/feed`)).status).toBe(403);
  });
});
