// OWASP API10:2023 Unsafe Consumption of APIs. Taskman consumes two kinds of third-party servers:
// CalDAV servers (it reads their XML and calendar data) and webhook receivers (it reads their
// answers into the delivery log). Here both are hostile: endless or huge bodies, entity bombs
// (billion laughs), external entities (XXE), the wrong content types, redirects to other schemes,
// slow or silent answers, NUL bytes, and calendar data aimed at other users' tasks. Taskman stays
// up, reads a bounded amount, records a failure the user can see (without secrets), and nothing
// lands outside the connection owner's own data. Both guards are off here (the servers are on
// loopback): API7 attacks the guards.
//
// Not here: a CalDAV server that answers slowly is cut off after 15 s per request (a constant of
// caldav.client.ts); a test would take that long. Slow webhook receivers are tested (the timeout
// is WEBHOOK_TIMEOUT_MS).

import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { type JobWorker, startJobWorker } from '@taskman/core';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app';
import { expectError, type Res, signUp } from '../helpers/client';
import { type Receiver, startReceiver } from '../helpers/receiver';
import { query, until } from '../helpers/wait';
import { type CalDavServer, davResponse, type Hostile, multistatus, startCalDav } from './caldav-server';
import { API, type SignedUp } from './support';

const MiB = 1024 * 1024;
const PASSWORD = 'the-caldav-password';

/** Streams `total` bytes (or until the client goes away), honouring backpressure. */
async function flood(res: http.ServerResponse, total: number, headers: Record<string, string | number>) {
  res.writeHead(207, headers);
  res.write('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>/');
  const chunk = Buffer.alloc(MiB, 'a');
  let sent = 0;
  while (sent < total && !res.destroyed && res.writable) {
    sent += chunk.length;
    if (!res.write(chunk))
      await new Promise<void>((resolve) => {
        res.once('drain', resolve);
        res.once('close', resolve);
      });
  }
  if (!res.destroyed) res.end('</d:href></d:response></d:multistatus>');
}

const once = (step: string, answer: (res: http.ServerResponse) => void | Promise<void>): Hostile => {
  let done = false;
  return async (req, res) => {
    if (done || req.step !== step) return false;
    done = true;
    await answer(res);
    return true;
  };
};

const lol = (depth: number) => {
  const entities = ['<!ENTITY l0 "lol">'];
  for (let i = 1; i <= depth; i++) entities.push(`<!ENTITY l${i} "${`&l${i - 1};`.repeat(10)}">`);
  return `<?xml version="1.0"?><!DOCTYPE d [${entities.join('')}]>`;
};

describe('API10:2023 Unsafe Consumption of APIs', () => {
  describe('a hostile CalDAV server', () => {
    let t: TestApp;
    let ann: SignedUp;
    let bob: SignedUp;
    const servers: CalDavServer[] = [];
    beforeAll(async () => {
      t = await createTestApp({
        env: { CALDAV_ALLOW_PRIVATE: 'true', ENCRYPTION_KEY: randomBytes(32).toString('hex') },
      });
      await signUp(t.app, { name: 'Admin' });
      ann = await signUp(t.app, { name: 'Ann' });
      bob = await signUp(t.app, { name: 'Bob' });
    });
    afterEach(async () => {
      for (const s of servers.splice(0)) await s.close();
    });
    afterAll(() => t?.close());

    async function hostile(h: Hostile) {
      const s = await startCalDav(h);
      servers.push(s);
      return s;
    }
    async function connect(s: CalDavServer) {
      const started = performance.now();
      const res = await ann.post(`${API}/calendar/connections`, {
        server_url: s.url,
        username: 'ann',
        password: PASSWORD,
      });
      return { res, ms: performance.now() - started };
    }
    /** Refused with a 400 on server_url that says nothing secret, quickly, storing nothing. */
    async function refusedConnect(s: CalDavServer, what: string, withinMs = 5000) {
      const before = (await ann.get(`${API}/calendar/connections`)).body.data.length;
      const { res, ms } = await connect(s);
      if (res.status !== 400)
        throw new Error(`${what}: expected 400, got ${res.status} ${res.raw.slice(0, 300)}`);
      const error = expectError(res, 400, 'VALIDATION_ERROR');
      expect(error.details?.[0]?.field, what).toBe('server_url');
      expect(res.raw, what).not.toContain(PASSWORD);
      expect(res.raw, what).not.toMatch(/root:x:0:0|lollol|at \w+ \(/);
      expect(res.raw.length, what).toBeLessThan(4096);
      expect(ms, what).toBeLessThan(withinMs);
      expect((await ann.get(`${API}/calendar/connections`)).body.data.length, what).toBe(before);
      expect((await ann.get(`${API}/users/me`)).status, `${what}: still up`).toBe(200);
      return error;
    }

    it('reads at most a bounded amount of an endless answer, with or without a Content-Length', async () => {
      const endless = await hostile(
        once('principal', (res) => flood(res, 512 * MiB, { 'content-type': 'application/xml' })),
      );
      await refusedConnect(endless, 'endless answer', 20_000);
      expect(endless.bytesOffered(), 'bytes the server managed to push').toBeLessThan(48 * MiB);

      const declared = await hostile(
        once('principal', (res) =>
          flood(res, 512 * MiB, { 'content-type': 'application/xml', 'content-length': 512 * MiB + 100 }),
        ),
      );
      await refusedConnect(declared, 'answer declaring 512 MB', 20_000);
      expect(declared.bytesOffered()).toBeLessThan(48 * MiB);
    });

    it('does not expand entities: billion laughs and external entities (XXE) fail cleanly', async () => {
      const bomb = await hostile((req, res) => {
        if (req.step !== 'principal') return false;
        res.writeHead(207, { 'content-type': 'application/xml' });
        res.end(
          `${lol(9)}<d:multistatus xmlns:d="DAV:"><d:response><d:href>/</d:href><d:propstat><d:prop><d:current-user-principal><d:href>&l9;</d:href></d:current-user-principal></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`,
        );
        return true;
      });
      await refusedConnect(bomb, 'billion laughs');

      const xxe = await hostile((req, res) => {
        if (req.step !== 'calendars') return false;
        res.writeHead(207, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY xxe2 SYSTEM "http://127.0.0.1:1/steal">]>${multistatus(
            davResponse(
              '/cal/tasks/',
              '<d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>&xxe;&xxe2;</d:displayname><c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set>',
            ),
          ).replace(/^<\?xml[^>]*>\n?/, '')}`,
        );
        return true;
      });
      const { res } = await connect(xxe);
      expect(res.status, res.raw).toBeLessThan(500);
      expect(res.raw).not.toMatch(/root:x:0:0|\/bin\/(ba)?sh/);
      const stored = await query<{ d: string | null }>(
        t,
        sql`select display_name as d from calendar_connections`,
      );
      for (const row of stored) expect(row.d ?? '').not.toMatch(/root:x:0:0/);
    });

    it('fails cleanly on the wrong content types, garbage, and redirects to other schemes', async () => {
      const answers: [string, Hostile][] = [
        [
          'JSON instead of XML',
          once(
            'principal',
            (res) => void res.writeHead(207, { 'content-type': 'application/json' }).end('{"a":1}'),
          ),
        ],
        [
          'HTML',
          once(
            'principal',
            (res) =>
              void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><script>alert(1)</script>'),
          ),
        ],
        [
          'XML that is not XML',
          once(
            'principal',
            (res) =>
              void res
                .writeHead(207, { 'content-type': 'application/xml' })
                .end('<d:multistatus xmlns:d="DAV:"><d:response><<<'),
          ),
        ],
        [
          'binary',
          once(
            'principal',
            (res) =>
              void res.writeHead(207, { 'content-type': 'application/xml' }).end(randomBytes(64 * 1024)),
          ),
        ],
        [
          'NUL bytes',
          once(
            'principal',
            (res) =>
              void res
                .writeHead(207, { 'content-type': 'application/xml' })
                .end('<?xml version="1.0"?>\u0000\u0000<d:multistatus/>'),
          ),
        ],
        [
          'a 5xx with a stack trace',
          once(
            'principal',
            (res) =>
              void res
                .writeHead(500, { 'content-type': 'text/plain' })
                .end('Error\n    at secret (/srv/app.js:1:1)'),
          ),
        ],
        [
          'a principal elsewhere (javascript:)',
          once(
            'principal',
            (res) =>
              void res
                .writeHead(207, { 'content-type': 'application/xml' })
                .end(
                  multistatus(
                    davResponse(
                      '/',
                      '<d:current-user-principal><d:href>javascript:alert(1)</d:href></d:current-user-principal>',
                    ),
                  ),
                ),
          ),
        ],
        ['a reset connection', once('principal', (res) => void res.destroy())],
      ];
      for (const [what, h] of answers) {
        const s = await hostile(h);
        const error = await refusedConnect(s, what);
        expect(error.message, what).not.toMatch(/\/srv\/app\.js|alert\(1\)/);
        // Only the hostile server itself was asked anything.
        expect(s.requests.every((r) => r.headers.host === `127.0.0.1:${s.port}`)).toBe(true);
      }
      // Discovery redirected to another scheme: not followed; Taskman carries on with the URL it
      // was given (or gives up), and stores nothing but that server's own URLs.
      for (const location of ['file:///etc/passwd', 'gopher://127.0.0.1:6379/_INFO', 'ftp://127.0.0.1/']) {
        const s = await hostile(
          (req, res) => req.step === 'discovery' && !!res.writeHead(301, { location }).end(),
        );
        const { res } = await connect(s);
        expect(res.status, `${location}: ${res.raw}`).toBeLessThan(500);
        expect(res.raw).not.toMatch(/root:x:0:0/);
        if (res.status === 201) {
          expect(res.body.data.server_url).toBe(s.url);
          expect(res.body.data.calendar_url.startsWith(s.url)).toBe(true);
          expect((await ann.delete(`${API}/calendar/connections/${res.body.data.id}`)).status).toBe(204);
        }
      }
    });

    it('keeps what a calendar sends within its owner’s tasks, within the limits, and records a failure', async () => {
      const s = await hostile(() => false);
      const { res } = await connect(s);
      expect(res.status, res.raw).toBe(201);
      const id = res.body.data.id;
      const due = new Date(Date.now() + 86_400_000).toISOString();
      const mine = (await ann.post(`${API}/tasks`, { title: 'Ann’s task', due_date: due })).body.data;
      const bobs = (await bob.post(`${API}/tasks`, { title: 'Bob’s task', due_date: due })).body.data;
      // A first sync pushes Ann's task to the calendar.
      await t.core.services.calendarConnections.sync(id);
      const href = [...s.objects.keys()].find((k) => k.includes(mine.id));
      expect(href).toBeTruthy();
      expect([...s.objects.keys()].some((k) => k.includes(bobs.id))).toBe(false);

      // The calendar now claims changes: to Ann's task (a title of 100,000 characters with NUL
      // bytes), and to Bob's task, by its id, under Ann's calendar.
      const vtodo = (uid: string, summary: string) =>
        `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//evil//EN\r\nBEGIN:VTODO\r\nUID:${uid}\r\nDTSTAMP:20990101T000000Z\r\nLAST-MODIFIED:20990101T000000Z\r\nSUMMARY:${summary}\r\nSTATUS:COMPLETED\r\nEND:VTODO\r\nEND:VCALENDAR\r\n`;
      const bobHref = href!.replace(mine.id, bobs.id);
      s.objects.set(href!, { data: vtodo(mine.id, `${'A'.repeat(100_000)}\u0000`), etag: '"evil1"' });
      s.objects.set(bobHref, { data: vtodo(bobs.id, 'pwned by a calendar'), etag: '"evil2"' });
      await t.core.services.calendarConnections.sync(id).catch(() => undefined);

      const annTask = (await ann.get(`${API}/tasks/${mine.id}`)).body.data;
      expect(annTask.title.length).toBeLessThanOrEqual(500);
      expect(annTask.title).not.toContain('\u0000');
      const bobTask = (await bob.get(`${API}/tasks/${bobs.id}`)).body.data;
      expect(bobTask).toMatchObject({ title: 'Bob’s task', status: 'todo' });
      expect(bobTask.version).toBe(bobs.version);
      const conn = (await ann.get(`${API}/calendar/connections`)).body.data.find((c: any) => c.id === id);
      // Ann sees how the sync went; the title the calendar sent did not fit, so the sync failed.
      expect(conn.last_error === null || conn.failures > 0 || annTask.title.length <= 500).toBe(true);
      expect(JSON.stringify(conn)).not.toContain(PASSWORD);
      // Nothing the calendar sent reached Bob, in any answer he gets.
      for (const url of [`${API}/tasks?include_archived=true`, `${API}/sync`]) {
        const r = await bob.get(url);
        expect(r.raw).not.toContain('pwned');
        expect(r.raw).not.toContain('AAAAAAAAAA');
      }
    });
  });

  describe('a hostile webhook receiver', () => {
    let t: TestApp;
    let worker: JobWorker;
    let ann: SignedUp;
    let bob: SignedUp;
    const receivers: Receiver[] = [];
    beforeAll(async () => {
      t = await createTestApp({
        env: {
          WEBHOOK_ALLOW_PRIVATE: 'true',
          JOB_POLL_MS: '50',
          WEBHOOK_RETRY_SCHEDULE: '0',
          WEBHOOK_TIMEOUT_MS: '1000',
        },
      });
      worker = startJobWorker(t.core);
      await signUp(t.app, { name: 'Admin' });
      ann = await signUp(t.app, { name: 'Ann' });
      bob = await signUp(t.app, { name: 'Bob' });
    });
    afterEach(async () => {
      for (const r of receivers.splice(0)) await r.close();
    });
    afterAll(async () => {
      await worker?.stop();
      await t?.close();
    });

    async function pingThrough(reply: Parameters<typeof startReceiver>[0]) {
      const r = await startReceiver(reply);
      receivers.push(r);
      const hook = (await ann.post(`${API}/webhooks`, { url: r.url, events: ['task.created'] })).body.data;
      const started = Date.now();
      const sent = (await ann.post(`${API}/webhooks/${hook.id}/ping`)).body.data;
      const d = await until(
        'the ping to be tried',
        async () => {
          const x: Res = await ann.get(`${API}/webhooks/${hook.id}/deliveries/${sent.id}`);
          expect(x.status).toBeLessThan(500);
          return x.body.data.attempts >= 1 ? x.body.data : undefined;
        },
        15_000,
      );
      return { d, ms: Date.now() - started, r };
    }

    it('reads at most a few kB of a huge answer into the delivery log', async () => {
      let offered = 0;
      const { d } = await pingThrough(async (res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(MiB, 'x');
        while (offered < 256 * MiB && !res.destroyed && res.writable) {
          offered += chunk.length;
          if (!res.write(chunk))
            await new Promise<void>((resolve) => {
              res.once('drain', resolve);
              res.once('close', resolve);
            });
        }
        res.end();
      });
      expect(d.response_status).toBe(200);
      expect((d.response_body ?? '').length).toBeLessThanOrEqual(4096);
      expect(offered).toBeLessThan(32 * MiB);
    });

    it('gives up on a receiver that never answers, or drips its answer, after the timeout', async () => {
      for (const reply of [
        () => new Promise<void>(() => {}),
        async (res: http.ServerResponse) => {
          res.writeHead(200);
          for (let i = 0; i < 100 && !res.destroyed; i++) {
            res.write('.');
            await new Promise((r) => setTimeout(r, 200));
          }
          res.end();
        },
      ]) {
        const { d, ms } = await pingThrough(reply);
        expect(d.duration_ms).toBeLessThan(5000);
        expect(ms).toBeLessThan(10_000);
      }
    });

    it('stores an answer with NUL bytes, invalid UTF-8 or markup as inert text, shown to its owner only', async () => {
      const marker = `MARK${randomBytes(4).toString('hex')}`;
      const { d } = await pingThrough((res) => {
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end(
          Buffer.concat([Buffer.from(`<script>${marker}</script>\u0000`), Buffer.from([0xc3, 0x28, 0xff])]),
        );
      });
      expect(d.state).toBe('failed');
      expect(d.response_status).toBe(500);
      const detail = await ann.get(`${API}/webhooks`);
      expect(String(detail.headers['content-type'])).toMatch(/^application\/json/);
      const rows = await query<{ b: string }>(
        t,
        sql`select response_body as b from webhook_deliveries where response_body like ${`%${marker}%`}`,
      );
      for (const row of rows) expect(row.b).not.toContain('\u0000');
      for (const url of [`${API}/webhooks`, `${API}/tasks`, `${API}/sync`, `${API}/users/me`]) {
        expect((await bob.get(url)).raw).not.toContain(marker);
      }
    });
  });
});
