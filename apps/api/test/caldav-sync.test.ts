// Two-way CalDAV sync against a real server (Debian's Radicale): a task becomes a VTODO, a
// completion made in the calendar comes back to the task, a deleted task's VTODO goes; the
// password is stored sealed; errors are shown on the connection. Calendar-side edits are made
// with plain CalDAV requests, as a calendar app would.
import { existsSync } from 'node:fs';
import { type JobWorker, startJobWorker } from '@taskman/core';
import { sql } from 'drizzle-orm';
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { type Client, signUp } from './helpers/client';
import { RADICALE_BIN, RADICALE_USER, type Radicale, startRadicale } from './helpers/radicale';
import { query, until } from './helpers/wait';

const API = '/api/v1/calendar/connections';
const ENV = { CALDAV_ALLOW_PRIVATE: 'true', JOB_POLL_MS: '50', JOB_BACKOFF_MS: '100', JOB_ATTEMPTS: '2' };

describe.skipIf(!existsSync(RADICALE_BIN))('CalDAV sync with Radicale', () => {
  let radicale: Radicale;
  let t: TestApp;
  let ann: Client;
  let calendarUrl: string;
  let connectionId: string;
  let worker: JobWorker;

  beforeAll(async () => {
    radicale = await startRadicale();
    calendarUrl = await radicale.makeTaskCalendar('tasks');
    t = await createTestApp({ env: ENV });
    // The outbox relay and the jobs, in this process (as `npm start` runs them in embedded mode).
    worker = startJobWorker(t.core);
    ann = await signUp(t.app, { name: 'Ann' });
  });
  afterAll(async () => {
    await worker?.stop();
    await t?.close();
    await radicale?.close();
  });

  const dav = (path: string, init: RequestInit = {}) =>
    fetch(new URL(path, calendarUrl), {
      ...init,
      headers: { authorization: radicale.auth, ...(init.headers as Record<string, string>) },
    });
  const objectOf = (taskId: string) => dav(`${taskId}.ics`);
  const connection = async () =>
    (await ann.get(API)).body.data.find((c: { id: string }) => c.id === connectionId);

  it('refuses a wrong password, a private address (unless allowed) and bad input, and stores nothing', async () => {
    const wrong = await ann.post(API, { server_url: radicale.url, username: 'ann', password: 'nope' });
    expect(wrong.status, wrong.raw).toBe(400);
    expect(wrong.body.error.details[0].field).toBe('server_url');
    expect(wrong.raw).not.toContain('nope');
    const strict = await createTestApp({ env: {} });
    try {
      const bea = await signUp(strict.app, { name: 'Bea' });
      const res = await bea.post(API, { server_url: radicale.url, ...RADICALE_USER });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/private|loopback|this host/);
    } finally {
      await strict.close();
    }
    expect((await ann.post(API, { server_url: radicale.url, username: 'ann' })).status).toBe(400);
    expect((await ann.get(API)).body.data).toEqual([]);
  });

  it('connects: finds the task calendar, seals the password, starts a sync', async () => {
    const res = await ann.post(API, { server_url: radicale.url, ...RADICALE_USER });
    expect(res.status, res.raw).toBe(201);
    expect(res.body.data).toMatchObject({
      calendar_url: calendarUrl,
      username: 'ann',
      display_name: 'tasks',
    });
    expect(res.raw).not.toContain(RADICALE_USER.password);
    connectionId = res.body.data.id;
    const [row] = await query<{ password_sealed: string }>(
      t,
      sql`select password_sealed from calendar_connections where id = ${connectionId}`,
    );
    expect(row!.password_sealed).toMatch(/^v2\.[0-9a-f]{8}\./);
    expect(row!.password_sealed).not.toContain(RADICALE_USER.password);
    await until('the first sync', async () => (await connection())?.last_success_at);
  });

  it('pushes a new task as a VTODO, and its changes', async () => {
    const task = (
      await ann.post('/api/v1/tasks', {
        title: 'Pay rent',
        due_date: '2030-01-05T09:00:00.000Z',
        priority: 'high',
      })
    ).body.data;
    const res = await until('the VTODO in Radicale', async () => {
      const r = await objectOf(task.id);
      return r.status === 200 ? r.text() : undefined;
    });
    const todo = new ICAL.Component(ICAL.parse(res)).getFirstSubcomponent('vtodo')!;
    expect(todo.getFirstPropertyValue('summary')).toBe('Pay rent');
    expect((todo.getFirstPropertyValue('due') as ICAL.Time).toJSDate().toISOString()).toBe(
      '2030-01-05T09:00:00.000Z',
    );
    expect(todo.getFirstPropertyValue('priority')).toBe(3);
    expect(todo.getFirstPropertyValue('status')).toBe('NEEDS-ACTION');

    await ann.patch(`/api/v1/tasks/${task.id}`, { title: 'Pay the rent' });
    await until('the new title in Radicale', async () =>
      (await (await objectOf(task.id)).text()).includes('SUMMARY:Pay the rent'),
    );
  });

  it('pulls a completion (and a new title and due date) made in the calendar app', async () => {
    const task = (
      await ann.post('/api/v1/tasks', { title: 'Call the bank', due_date: '2030-02-01T10:00:00.000Z' })
    ).body.data;
    const current = await until('the VTODO', async () => {
      const r = await objectOf(task.id);
      return r.status === 200 ? { body: await r.text(), etag: r.headers.get('etag')! } : undefined;
    });
    // The calendar app ticks it off, renames it and moves it, a minute after the task's last change.
    const cal = new ICAL.Component(ICAL.parse(current.body));
    const todo = cal.getFirstSubcomponent('vtodo')!;
    const later = ICAL.Time.fromJSDate(new Date(Date.now() + 60_000), true);
    todo.updatePropertyWithValue('status', 'COMPLETED');
    todo.updatePropertyWithValue('completed', later);
    todo.updatePropertyWithValue('summary', 'Called the bank');
    todo.updatePropertyWithValue('due', ICAL.Time.fromJSDate(new Date('2030-02-02T10:00:00.000Z'), true));
    todo.updatePropertyWithValue('last-modified', later);
    const put = await dav(`${task.id}.ics`, {
      method: 'PUT',
      headers: { 'content-type': 'text/calendar', 'if-match': current.etag },
      body: cal.toString(),
    });
    expect(put.status).toBeLessThan(300);

    expect((await ann.post(`${API}/${connectionId}/sync`)).status).toBe(202);
    const synced = await until('the task done', async () => {
      const r = (await ann.get(`/api/v1/tasks/${task.id}`)).body.data;
      return r.status === 'done' ? r : undefined;
    });
    expect(synced).toMatchObject({ title: 'Called the bank', due_date: '2030-02-02T10:00:00.000Z' });
    // And the calendar is not rewritten back (the two sides agree now).
    await until('a quiet sync', async () => (await connection())?.last_error === null);
    expect(await (await objectOf(task.id)).text()).toContain('SUMMARY:Called the bank');
  });

  it('deletes the VTODO of a deleted task, and archives a task whose VTODO was deleted', async () => {
    const gone = (await ann.post('/api/v1/tasks', { title: 'Temporary' })).body.data;
    await until('its VTODO', async () => (await objectOf(gone.id)).status === 200);
    expect((await ann.delete(`/api/v1/tasks/${gone.id}`)).status).toBe(204);
    await until('its VTODO gone', async () => (await objectOf(gone.id)).status === 404);

    const kept = (await ann.post('/api/v1/tasks', { title: 'Removed in the app' })).body.data;
    await until('its VTODO', async () => (await objectOf(kept.id)).status === 200);
    expect((await dav(`${kept.id}.ics`, { method: 'DELETE' })).status).toBeLessThan(300);
    await ann.post(`${API}/${connectionId}/sync`);
    await until(
      'the task archived',
      async () => (await ann.get(`/api/v1/tasks/${kept.id}`)).body.data.archived_at,
    );
  });

  it('shows a sync error on the connection and recovers when the server is back', async () => {
    await radicale.stop();
    try {
      await ann.post(`${API}/${connectionId}/sync`);
      const failed = await until('the error on the connection', async () => {
        const c = await connection();
        return c?.last_error ? c : undefined;
      });
      expect(failed.failures).toBeGreaterThanOrEqual(1);
      expect(new Date(failed.next_sync_at).getTime()).toBeGreaterThan(Date.now());
      expect(failed.last_error).not.toContain(RADICALE_USER.password);
    } finally {
      await radicale.start();
    }
    await ann.post(`${API}/${connectionId}/sync`);
    await until('a success again', async () => {
      const c = await connection();
      return c?.last_error === null && c.failures === 0;
    });
  });

  it('disconnects; another user cannot see or touch the connection', async () => {
    const bob = await signUp(t.app, { name: 'Bob' });
    expect((await bob.get(API)).body.data).toEqual([]);
    expect((await bob.post(`${API}/${connectionId}/sync`)).status).toBe(404);
    expect((await bob.delete(`${API}/${connectionId}`)).status).toBe(404);
    expect((await ann.delete(`${API}/${connectionId}`)).status).toBe(204);
    expect((await ann.get(API)).body.data).toEqual([]);
  });
});
