// OWASP API1:2023 Broken Object Level Authorization. Bob (a plain user, and Bob's API key with
// every scope) sends every route of the OpenAPI document that takes an object id with the ids of
// Ann's objects: he must get 404 (never 403: that would say the object exists), exactly the answer
// an id that exists nowhere gets, and not one row of the database may change. The routes come
// from the document: a new route with an id fails this file until it is attacked here (or named in
// EXEMPT with the reason). Lists and filters given Ann's ids must show Bob nothing of hers.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startJobWorker } from '@taskman/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app';
import { type Client, expectError, type Res, signUp } from '../helpers/client';
import {
  API,
  changedTables,
  errorShape,
  expectNotFound,
  fill,
  loadSpec,
  type Operation,
  type Owned,
  operations,
  populate,
  REFUSED_MAY_TOUCH,
  snapshot,
  withKey,
} from './support';

/**
 * How each route with an id is attacked: the path's values (Ann's objects, or Bob's own where a
 * route mixes two) and a body the route accepts, so the request gets past validation to the
 * ownership check. `as: 'own webhook'`: Bob's webhook with Ann's delivery (a mixed reference).
 */
interface Attack {
  params: (ann: Owned, bob: Owned) => Record<string, string>;
  body?: unknown;
}
const ATTACKS: Record<string, Attack[]> = {
  'GET /api/v1/projects/{id}': [{ params: (a) => ({ id: a.project }) }],
  'PATCH /api/v1/projects/{id}': [{ params: (a) => ({ id: a.project }), body: { name: 'Taken over' } }],
  'DELETE /api/v1/projects/{id}': [{ params: (a) => ({ id: a.project }) }],
  'GET /api/v1/projects/{id}/tasks': [{ params: (a) => ({ id: a.project }) }],
  'GET /api/v1/tasks/{id}': [{ params: (a) => ({ id: a.task }) }],
  'GET /api/v1/tasks/{id}/completions': [{ params: (a) => ({ id: a.task }) }],
  'PATCH /api/v1/tasks/{id}': [
    { params: (a) => ({ id: a.task }), body: { title: 'Taken over', status: 'todo', tags: ['pwned'] } },
    // Moving Ann's task into Bob's project.
    { params: (a) => ({ id: a.task }), body: { project_id: '$bob.project' } },
  ],
  'DELETE /api/v1/tasks/{id}': [{ params: (a) => ({ id: a.task }) }],
  'POST /api/v1/tasks/{id}/archive': [{ params: (a) => ({ id: a.task }) }],
  'POST /api/v1/tasks/{id}/unarchive': [{ params: (a) => ({ id: a.archivedTask }) }],
  'DELETE /api/v1/api-keys/{id}': [{ params: (a) => ({ id: a.apiKey }) }],
  'GET /api/v1/webhooks/{id}': [{ params: (a) => ({ id: a.webhook }) }],
  'PATCH /api/v1/webhooks/{id}': [
    {
      params: (a) => ({ id: a.webhook }),
      body: { url: 'https://93.184.216.34/attacker', active: false, events: ['task.updated'] },
    },
  ],
  'DELETE /api/v1/webhooks/{id}': [{ params: (a) => ({ id: a.webhook }) }],
  'POST /api/v1/webhooks/{id}/rotate-secret': [
    { params: (a) => ({ id: a.webhook }), body: { previous_secret_hours: 0 } },
  ],
  'POST /api/v1/webhooks/{id}/ping': [{ params: (a) => ({ id: a.webhook }) }],
  'GET /api/v1/webhooks/{id}/deliveries': [{ params: (a) => ({ id: a.webhook }) }],
  'GET /api/v1/webhooks/{id}/deliveries/{delivery_id}': [
    { params: (a) => ({ id: a.webhook, delivery_id: a.delivery }) },
    { params: (a, b) => ({ id: b.webhook, delivery_id: a.delivery }) },
  ],
  'POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver': [
    { params: (a) => ({ id: a.webhook, delivery_id: a.delivery }) },
    { params: (a, b) => ({ id: b.webhook, delivery_id: a.delivery }) },
  ],
  'POST /api/v1/calendar/connections/{id}/sync': [{ params: (a) => ({ id: a.calendarConnection }) }],
  'DELETE /api/v1/calendar/connections/{id}': [{ params: (a) => ({ id: a.calendarConnection }) }],
};

/** Routes with a path parameter that are not object-level authorization questions. */
const EXEMPT: Record<string, string> = {
  'GET /api/v1/calendar/feed/{file}':
    'no Authorization: the secret in the URL is the credential (API6 checks it is unguessable; project_id cannot widen it: below)',
  'PATCH /api/v1/admin/users/{id}': 'admin only: function-level authorization, attacked in API5',
};

const UUID_PARAM = /(^|_)id$/;

describe('API1:2023 Broken Object Level Authorization', () => {
  let t: TestApp;
  let doc: any;
  let ops: Operation[];
  let ann: Owned;
  let bob: Owned;
  let bobKey: Client;
  const resolveBody = (body: unknown, b: Owned) =>
    JSON.parse(JSON.stringify(body ?? null).replace('"$bob.project"', JSON.stringify(b.project))) ??
    undefined;

  beforeAll(async () => {
    // CALDAV_ALLOW_PRIVATE: the victim's calendar connection is made against a CalDAV server on loopback.
    // The job worker runs only in the last test (the live events need its outbox relay); its
    // attempts to deliver Ann's ping to a public address are cut short.
    t = await createTestApp({
      env: { CALDAV_ALLOW_PRIVATE: 'true', JOB_POLL_MS: '50', WEBHOOK_TIMEOUT_MS: '500', JOB_ATTEMPTS: '1' },
    });
    // The first account is an admin: neither the victim nor the attacker.
    await signUp(t.app, { name: 'Admin' });
    ann = await populate(t.app, { name: 'Ann' });
    bob = await populate(t.app, { name: 'Bob' });
    bobKey = withKey(t.app, bob.apiKeySecret);
    doc = await loadSpec(t.app);
    ops = operations(doc);
  });
  afterAll(() => t?.close());

  it('has an attack for every route of the document with an object id, and none for a route that is gone', () => {
    const withIds = ops.filter((o) => o.pathParams.length > 0).map((o) => o.key);
    expect(withIds.length).toBeGreaterThan(15);
    const unknown = withIds.filter((k) => !(k in ATTACKS) && !(k in EXEMPT));
    expect(unknown, 'routes with an id that API1 does not attack: add them to ATTACKS').toEqual([]);
    const gone = Object.keys(ATTACKS).filter((k) => !withIds.includes(k));
    expect(gone, 'attacks on routes the document no longer has').toEqual([]);
    // Every path parameter that names an object is a UUID in the document (the ids are not guessable
    // counters), except the feed's secret file name.
    for (const o of ops)
      for (const p of o.pathParams.filter((n) => UUID_PARAM.test(n))) {
        const schema = [...(o.op.parameters ?? [])].find((x: any) => x.in === 'path' && x.name === p)?.schema;
        expect(schema?.format, `${o.key} {${p}}`).toBe('uuid');
      }
  });

  it("answers Bob 404 on every route with Ann's ids, exactly as for ids that exist nowhere, and changes nothing", async () => {
    const tried: string[] = [];
    for (const op of ops.filter((o) => o.key in ATTACKS)) {
      for (const attack of ATTACKS[op.key]!) {
        const params = attack.params(ann, bob);
        const url = fill(op.path, params);
        const body = resolveBody(attack.body, bob);
        // The same request with ids nobody has (Bob's own ids where the attack mixes them).
        const random = Object.fromEntries(
          Object.entries(params).map(([k, v]) => [k, Object.values(bob).includes(v) ? v : randomUUID()]),
        );
        const control = await bob.user.request(op.method, fill(op.path, random), body);
        expectNotFound(control, `${op.key} with ids that exist nowhere`);

        const clients: [string, Client][] = [['session', bob.user]];
        // With Bob's key (every scope) on the routes keys may call; the others refuse any key with
        // 403 before looking at the id (checked: the same answer as for an id that exists nowhere).
        clients.push(['API key', bobKey]);
        for (const [how, client] of clients) {
          const before = await snapshot(t, REFUSED_MAY_TOUCH);
          const res = await client.request(op.method, url, body);
          const what = `${op.key} as Bob (${how}) on ${url}`;
          if (how === 'API key' && op.apiKeyScopes === null) {
            expectError(res, 403, 'FORBIDDEN');
            const randomKey = await client.request(op.method, fill(op.path, random), body);
            expect(errorShape(res), what).toEqual(errorShape(randomKey));
          } else {
            expectNotFound(res, what);
            // Not one byte differs from the answer for an id that exists nowhere: existence is not revealed.
            const same =
              how === 'session' ? control : await client.request(op.method, fill(op.path, random), body);
            expect(errorShape(res), what).toEqual(errorShape(same));
            expect(res.raw, what).not.toContain(ann.user.user.email);
          }
          expect(changedTables(before, await snapshot(t, REFUSED_MAY_TOUCH)), what).toEqual([]);
          tried.push(`${how} ${op.key}`);
        }
      }
    }
    expect(tried.length).toBeGreaterThanOrEqual(Object.keys(ATTACKS).length * 2);
  });

  it("leaves Ann's objects as they were, as Ann sees them", async () => {
    const a = ann.user;
    const task = await a.get(`${API}/tasks/${ann.task}`);
    expect(task.status).toBe(200);
    expect(task.body.data).toMatchObject({
      title: 'Water the plants of Ann',
      project_id: ann.project,
      tags: ['private'],
    });
    expect((await a.get(`${API}/tasks/${ann.archivedTask}`)).body.data.archived_at).not.toBeNull();
    expect((await a.get(`${API}/projects/${ann.project}`)).body.data.name).toBe(ann.projectName);
    const hook = (await a.get(`${API}/webhooks/${ann.webhook}`)).body.data;
    expect(hook).toMatchObject({
      url: 'https://93.184.216.34/taskman-hook',
      active: true,
      events: ['task.created'],
    });
    expect(
      (await a.get(`${API}/webhooks/${ann.webhook}/deliveries`)).body.data.map((d: any) => d.id),
    ).toEqual([ann.delivery]);
    expect((await a.get(`${API}/api-keys`)).body.data.map((k: any) => k.id)).toContain(ann.apiKey);
    expect((await withKey(t.app, ann.apiKeySecret).get(`${API}/users/me`)).status).toBe(200);
    expect((await a.get(`${API}/calendar/connections`)).body.data.map((c: any) => c.id)).toEqual([
      ann.calendarConnection,
    ]);
    expect((await a.get(`${API}/calendar/feed`)).body.data.active).toBe(true);
  });

  it("shows Bob nothing of Ann's through lists, filters, search, sync and quick add", async () => {
    const annIds = [
      ann.project,
      ann.task,
      ann.archivedTask,
      ann.webhook,
      ann.delivery,
      ann.apiKey,
      ann.calendarConnection,
    ];
    const leaks = (res: Res) =>
      [...annIds, ann.user.user.email, ann.projectName, 'of Ann'].filter((s) => res.raw.includes(s));
    const shortId = ann.task.replace(/-/g, '').slice(-12);
    const reads = [
      `${API}/tasks?project_id=${ann.project}`,
      `${API}/tasks?project_id=${ann.project}&include_archived=true`,
      `${API}/tasks?short_id=${shortId}`,
      `${API}/tasks?short_id=${shortId.slice(0, 4)}&include_archived=true`,
      `${API}/tasks?q=Water&include_archived=true`,
      `${API}/tasks?q=secret&archived=true`,
      `${API}/tasks?tag=private&include_archived=true`,
      `${API}/projects?limit=100`,
      `${API}/webhooks?limit=100`,
      `${API}/api-keys?limit=100`,
      `${API}/calendar/connections`,
      `${API}/sync`,
      `${API}/sync?limit=1000`,
    ];
    for (const url of reads) {
      const res = await bob.user.get(url);
      expect(res.status, `${url} → ${res.raw}`).toBeLessThan(500);
      expect(leaks(res), url).toEqual([]);
    }
    // Every GET of the document without a path parameter, as Bob: nothing of Ann's in any answer.
    for (const op of ops.filter((o) => o.method === 'GET' && o.pathParams.length === 0)) {
      if (op.path === `${API}/events`) continue; // a stream: read over a socket below
      const res = await bob.user.get(op.path);
      expect(leaks(res), op.key).toEqual([]);
    }

    // A report or a calendar feed limited to Ann's project: the same 404 as for a project that does not exist.
    const report = await bob.user.get(`${API}/reports/productivity?project_id=${ann.project}`);
    const reportRandom = await bob.user.get(`${API}/reports/productivity?project_id=${randomUUID()}`);
    expectNotFound(report, 'report of Ann’s project');
    expect(errorShape(report)).toEqual(errorShape(reportRandom));
    const feed = await bob.user.get(`${API}/calendar/feed/${bob.feedFile}?project_id=${ann.project}`, {});
    const feedRandom = await bob.user.get(`${API}/calendar/feed/${bob.feedFile}?project_id=${randomUUID()}`);
    expect(feed.status).toBe(404);
    expect(errorShape(feed)).toEqual(errorShape(feedRandom));
    expect((await bob.user.get(`${API}/calendar/feed/${bob.feedFile}`)).raw).not.toContain('of Ann');

    // Filing a task in Ann's project: the same 400 as for a project that does not exist.
    const bobTask = (await bob.user.post(`${API}/tasks`, { title: 'Mine' })).body.data;
    for (const [method, url] of [
      ['POST', `${API}/tasks`],
      ['PATCH', `${API}/tasks/${bobTask.id}`],
    ] as const) {
      const into = await bob.user.request(method, url, { title: 'Mine', project_id: ann.project });
      const intoRandom = await bob.user.request(method, url, { title: 'Mine', project_id: randomUUID() });
      expectError(into, 400, 'VALIDATION_ERROR');
      expect(errorShape(into)).toEqual(errorShape(intoRandom));
    }
    // Quick add names a project by name: Ann's project name gives Bob no project of hers.
    const quick = await bob.user.post(`${API}/tasks`, {
      text: `Spy +${ann.projectName.split(' ').join('')}`,
    });
    expect(quick.status).toBe(201);
    expect([null, bob.project]).toContain(quick.body.data.project_id);
    const parsed = await bob.user.post(`${API}/tasks/parse`, { text: `Spy +${ann.projectName}` });
    expect(parsed.status).toBe(200);
    // (Bob's own words come back in the parse; none of Ann's ids do.)
    expect(annIds.filter((id) => parsed.raw.includes(id))).toEqual([]);
    // (It may match a project of Bob's own with a similar name, never Ann's.)
    expect([null, bob.project]).toContain(parsed.body.data.project_id ?? null);
  });

  it("sends Bob's live event stream none of Ann's changes", async () => {
    const worker = startJobWorker(t.core);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const abort = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}${API}/events`, {
      headers: { authorization: `Bearer ${bob.user.token}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    let text = '';
    const reader = res.body!.getReader();
    const reading = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += Buffer.from(value).toString('utf8');
        }
      } catch {
        // aborted
      }
    })();
    const annTask = (await ann.user.post(`${API}/tasks`, { title: 'Ann only, live' })).body.data;
    await ann.user.patch(`${API}/projects/${ann.project}`, { name: `${ann.projectName} (renamed)` });
    // Bob's own change arrives (the stream works), Ann's never do.
    const bobTask = (await bob.user.post(`${API}/tasks`, { title: 'Bob live' })).body.data;
    const deadline = Date.now() + 10_000;
    while (!text.includes(bobTask.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 200));
    abort.abort();
    await reading;
    await worker.stop();
    expect(text).toContain(bobTask.id);
    expect(text).not.toContain(annTask.id);
    expect(text).not.toContain(ann.project);
    expect(text).not.toContain('Ann only');
  });
});
