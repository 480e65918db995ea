// OWASP API4:2023 Unrestricted Resource Consumption. Every list caps its page size and page
// number (from the document: a `limit` without a maximum fails); every body is capped in bytes
// (413) and every field, list and nesting level in size (400, quickly, storing nothing); a page
// far past the end is answered at once; requests beyond the rate limit get 429 with Retry-After,
// tokens or not; what a user can accumulate (webhooks, keys, calendars, tags) is capped. There
// are no bulk endpoints: each write is one object (the sync read is capped at 1000 items).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app';
import { Client, expectError, type Res, signUp } from '../helpers/client';
import { startCalDav } from './caldav-server';
import {
  API,
  changedTables,
  fill,
  loadSpec,
  type Operation,
  type Owned,
  operations,
  populate,
  REFUSED_MAY_TOUCH,
  snapshot,
  VALID_WRITES,
} from './support';

const MiB = 1024 * 1024;
const timed = async (f: () => Promise<Res>) => {
  const started = performance.now();
  const res = await f();
  return { res, ms: performance.now() - started };
};

describe('API4:2023 Unrestricted Resource Consumption', () => {
  let t: TestApp;
  let ops: Operation[];
  let ann: Owned;
  let admin: Client;
  /** Admin routes are called as an admin (else 403 comes first); the rest as Ann. */
  const as = (path: string) =>
    path.startsWith(`${API}/admin/`) || path === `${API}/users` ? admin : ann.user;

  beforeAll(async () => {
    t = await createTestApp({ env: { CALDAV_ALLOW_PRIVATE: 'true' } });
    admin = await signUp(t.app, { name: 'Admin' });
    ann = await populate(t.app, { name: 'Ann' });
    ops = operations(await loadSpec(t.app));
  });
  afterAll(() => t?.close());

  /** The app still answers a plain request (quickly) after an attack. */
  async function stillUp() {
    const { res, ms } = await timed(() => ann.user.get(`${API}/users/me`));
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(2000);
  }

  it('caps the page size and the page number of every list in the document', async () => {
    const lists = ops.filter((o) => o.method === 'GET' && o.queryParams.some((p) => p.name === 'limit'));
    expect(lists.length).toBeGreaterThan(6);
    for (const op of lists) {
      const limit = op.queryParams.find((p) => p.name === 'limit')!.schema;
      expect(limit.maximum, `${op.key}: limit has no maximum`).toBeLessThanOrEqual(1000);
      const url = fill(op.path, {
        id: op.path.includes('/webhooks/') ? ann.webhook : ann.project,
      });
      for (const bad of ['1000000', String(limit.maximum + 1), '0', '-1', '1e9', '99999999999999999999']) {
        const res = await as(op.path).get(`${url}?limit=${bad}`);
        const error = expectError(res, 400, 'VALIDATION_ERROR');
        expect(
          error.details?.map((d) => d.field),
          `${op.key} limit=${bad}`,
        ).toContain('limit');
      }
      if (op.queryParams.some((p) => p.name === 'page')) {
        for (const bad of ['0', '-1', '1000001', '1e12']) {
          expectError(await as(op.path).get(`${url}?page=${bad}`), 400, 'VALIDATION_ERROR');
        }
        // The last page allowed, far past the end: empty, and answered at once.
        const { res, ms } = await timed(() => as(op.path).get(`${url}?page=1000000&limit=${limit.maximum}`));
        expect(res.status, `${op.key}: ${res.raw}`).toBe(200);
        expect(res.body.data).toEqual([]);
        expect(ms, op.key).toBeLessThan(2000);
      }
    }
  });

  it('answers 413 to a body over the limit on every write that takes one, storing nothing', async () => {
    const writes = ops.filter((o) => o.body);
    const big = JSON.stringify({ title: 'x'.repeat(MiB + 10) });
    const before = await snapshot(t, REFUSED_MAY_TOUCH);
    for (const op of writes) {
      const base = VALID_WRITES[op.key]!(ann);
      const res = await as(op.path).request(op.method, fill(op.path, base.params ?? {}), big, {
        'content-type': 'application/json',
      });
      expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    }
    expect(changedTables(before, await snapshot(t, REFUSED_MAY_TOUCH))).toEqual([]);
    await stillUp();
  });

  it('answers 413 to a chunked body (no Content-Length) over the limit, over a real socket', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: `${API}/tasks`,
          headers: { authorization: `Bearer ${ann.user.token}`, 'content-type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', (err) =>
        String(err).includes('EPIPE') || String(err).includes('ECONNRESET') ? undefined : reject(err),
      );
      req.write('{"title":"');
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 3 * MiB) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end('"}');
      };
      pump();
    });
    expect(address).toMatch(/^http/);
    expect(status.status).toBe(413);
    expect(JSON.parse(status.body).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses oversized fields and lists with 400, quickly, storing nothing', async () => {
    const long = (n: number) => 'x'.repeat(n);
    const cases: [string, string, unknown, Record<string, string>?][] = [
      ['POST', `${API}/tasks`, { title: 'ok', tags: Array.from({ length: 10_000 }, (_, i) => `t${i}`) }],
      ['POST', `${API}/tasks`, { title: 'ok', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }],
      ['POST', `${API}/tasks`, { title: 'ok', tags: [long(10_000)] }],
      ['POST', `${API}/tasks`, { title: 'ok', tags: [long(51)] }],
      ['POST', `${API}/tasks`, { title: long(100_000) }],
      ['POST', `${API}/tasks`, { title: long(501) }],
      ['POST', `${API}/tasks`, { title: 'ok', description: long(500_000) }],
      ['POST', `${API}/tasks`, { title: 'ok', description: long(10_001) }],
      ['POST', `${API}/tasks`, { text: long(100_000) }],
      [
        'POST',
        `${API}/tasks`,
        { title: 'ok', recurrence: { rule: `FREQ=DAILY;${'BYDAY=MO;'.repeat(1000)}` } },
      ],
      ['POST', `${API}/tasks/parse`, { text: long(100_000) }],
      ['PATCH', `${API}/tasks/${ann.task}`, { tags: Array.from({ length: 10_000 }, () => 'a') }],
      ['POST', `${API}/projects`, { name: long(100_000) }],
      ['POST', `${API}/projects`, { name: 'ok', description: long(200_000) }],
      ['PATCH', `${API}/users/me`, { name: long(100_000) }],
      [
        'POST',
        `${API}/webhooks`,
        { url: `https://93.184.216.34/${long(100_000)}`, events: ['task.created'] },
      ],
      [
        'POST',
        `${API}/webhooks`,
        { url: 'https://93.184.216.34/', events: Array(10_000).fill('task.created') },
      ],
      ['POST', `${API}/api-keys`, { name: 'k', scopes: Array(10_000).fill('tasks:read') }],
      ['POST', `${API}/api-keys`, { name: long(100_000), scopes: ['tasks:read'] }],
      [
        'POST',
        `${API}/auth/register`,
        { email: `${long(100_000)}@example.com`, password: 'p4ssword!', name: 'n' },
      ],
      ['POST', `${API}/auth/login`, { email: 'a@example.com', password: long(100_000) }],
      ['POST', `${API}/tasks`, { title: 'ok' }, { 'idempotency-key': long(10_000) }],
      ['PATCH', `${API}/tasks/${ann.task}`, { title: 'ok' }, { 'if-match': `"${long(10_000)}"` }],
    ];
    const before = await snapshot(t, REFUSED_MAY_TOUCH);
    for (const [method, url, body, headers] of cases) {
      const { res, ms } = await timed(() => ann.user.request(method as 'POST', url, body, headers));
      const what = `${method} ${url} ${JSON.stringify(body).slice(0, 80)}`;
      expect(res.status, `${what} → ${res.raw.slice(0, 300)}`).toBe(400);
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(ms, what).toBeLessThan(2000);
      expect(res.raw.length, `${what}: the error repeats the input`).toBeLessThan(10_000);
    }
    // Query strings: the search, the sync cursor, the report's period, a path id.
    for (const url of [
      `${API}/tasks?q=${long(10_000)}`,
      `${API}/tasks?q=${long(201)}`,
      `${API}/sync?cursor=${long(20_000)}`,
      `${API}/sync?limit=1001`,
      `${API}/reports/productivity?from=1900-01-01&to=2100-01-01`,
      `${API}/tasks?due_before=${long(5000)}`,
    ]) {
      const { res, ms } = await timed(() => ann.user.get(url));
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(ms, url.slice(0, 80)).toBeLessThan(2000);
    }
    const longId = await ann.user.get(`${API}/tasks/${long(5000)}`);
    expect([400, 404]).toContain(longId.status);
    expect(longId.body.success).toBe(false);
    expect(changedTables(before, await snapshot(t, REFUSED_MAY_TOUCH))).toEqual([]);
    await stillUp();
  });

  it('refuses deeply nested JSON quickly', async () => {
    for (const raw of [
      `{"title":"x","description":${'['.repeat(400_000)}${']'.repeat(400_000)}}`,
      `{"title":"x","tags":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}`,
      `{"title":"x","zz":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`,
      `{"title":"x","recurrence":${'{"rule":'.repeat(50_000)}"FREQ=DAILY"${'}'.repeat(50_000)}}`,
    ]) {
      const { res, ms } = await timed(() =>
        ann.user.request('POST', `${API}/tasks`, raw, { 'content-type': 'application/json' }),
      );
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(ms).toBeLessThan(2000);
    }
    // Unauthenticated too: sign-in bodies are parsed before any password is checked.
    const login = `{"email":"a@example.com","password":${'['.repeat(300_000)}${']'.repeat(300_000)}}`;
    const { res } = await timed(() =>
      new Client(t.app).request('POST', `${API}/auth/login`, login, { 'content-type': 'application/json' }),
    );
    expectError(res, 400, 'VALIDATION_ERROR');
    await stillUp();
  });

  // VULNERABILITY found by this test: every unknown field of a body becomes one error detail, and
  // apps/api/src/plugins/errors.ts (fieldIssues) removes duplicates with `out.some(...)` for each:
  // quadratic. 20,000 unknown fields (160 kB) cost seconds of CPU and a 1.5 MB answer; a 1 MB
  // body to POST /auth/login (no account needed) blocks the event loop for about a minute. Fix:
  // a Set of the fields seen, and a cap on the details listed (e.g. the first 50).
  it('refuses a body with thousands of unknown fields quickly, with a short answer', async () => {
    const body = (n: number) =>
      `{"email":"a@example.com","password":"x",${Array.from({ length: n }, (_, i) => `"${i.toString(36)}":0`).join(',')}}`;
    for (const url of [`${API}/auth/login`, `${API}/auth/register`]) {
      const { res, ms } = await timed(() =>
        new Client(t.app).request('POST', url, body(20_000), { 'content-type': 'application/json' }),
      );
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(ms, `${url}: ${Math.round(ms)} ms of CPU for one request`).toBeLessThan(1000);
      expect(res.raw.length, `${url}: a ${res.raw.length}-byte answer`).toBeLessThan(64 * 1024);
    }
    await stillUp();
  });

  it('caps what one account can accumulate: webhooks, API keys, calendar connections', async () => {
    const bea = await signUp(t.app, { name: 'Bea' });
    const made = async (url: string, body: () => unknown, max: number) => {
      for (let i = 0; i < max; i++) {
        const res = await bea.post(url, body());
        expect(res.status, `${url} #${i + 1}: ${res.raw}`).toBe(201);
      }
      expectError(await bea.post(url, body()), 409, 'CONFLICT');
    };
    await made(`${API}/webhooks`, () => ({ url: 'https://93.184.216.34/h', events: ['task.created'] }), 20);
    await made(`${API}/api-keys`, () => ({ name: 'k', scopes: ['tasks:read'] }), 50);
    const caldav = await startCalDav();
    try {
      let n = 0;
      // Each connection is a different calendar of the server (the same one twice is a conflict too).
      caldav.hostile = (req, res) => {
        if (req.step !== 'calendars') return false;
        res.writeHead(207, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response><d:href>/cal/c${++n}/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`,
        );
        return true;
      };
      await made(
        `${API}/calendar/connections`,
        () => ({ server_url: caldav.url, username: 'u', password: 'p' }),
        5,
      );
    } finally {
      await caldav.close();
    }
  });

  it('refuses repeating rules that never occur, without searching for them', async () => {
    const due = new Date(Date.now() + 86_400_000).toISOString();
    for (const rule of ['FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30', 'FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31']) {
      const { res, ms } = await timed(() =>
        ann.user.post(`${API}/tasks`, { title: 'never', due_date: due, recurrence: { rule } }),
      );
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(ms).toBeLessThan(1000);
    }
    // A rare but real one (29 February) completes at once.
    const leap = await ann.user.post(`${API}/tasks`, {
      title: 'leap',
      due_date: due,
      recurrence: { rule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29' },
    });
    expect(leap.status, leap.raw).toBe(201);
    const { res, ms } = await timed(() =>
      ann.user.patch(`${API}/tasks/${leap.body.data.id}`, { status: 'done' }),
    );
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(1000);
  });

  describe('rate limits', () => {
    let limited: TestApp;
    beforeAll(async () => {
      limited = await createTestApp({
        env: { RATE_LIMIT_MAX: '5', AUTH_RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW: '60' },
      });
    });
    afterAll(() => limited?.close());

    function expectLimited(res: Res, what: string) {
      expectError(res, 429, 'RATE_LIMITED');
      expect(Number(res.headers['retry-after']), what).toBeGreaterThan(0);
      expect(Number(res.headers['retry-after']), what).toBeLessThanOrEqual(60);
    }

    it('answers 429 with Retry-After past the limit, for a user, and for anyone sending made-up tokens', async () => {
      const cora = await signUp(limited.app, { name: 'Cora' });
      const answers: number[] = [];
      for (let i = 0; i < 7; i++) answers.push((await cora.get(`${API}/tasks`)).status);
      expect(answers.slice(0, 4).every((s) => s === 200)).toBe(true);
      expectLimited(await cora.get(`${API}/tasks`), 'user');

      // A made-up token each time is counted per address: no way around the limit.
      const anon = new Client(limited.app);
      let last: Res | undefined;
      for (let i = 0; i < 8; i++)
        last = await anon.get(`${API}/tasks`, { authorization: `Bearer made.up.${i}` });
      expectLimited(last!, 'made-up tokens');
    });
  });
});
