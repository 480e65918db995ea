// OWASP API6:2023 Unrestricted Access to Sensitive Business Flows. Taskman's flows worth automating
// for an attacker, and what bounds each:
// - creating accounts (spam, and probing which emails have one: registering a taken email answers
//   409) and signing in (credential stuffing): a stricter limit per IP and per email
//   (AUTH_RATE_LIMIT_MAX per window), from any number of addresses for one email;
// - making Taskman send HTTP requests (webhook ping and redelivery: each is an outgoing request to
//   a URL of the caller's choice, so Taskman could be used to flood a third party): the per-user
//   rate limit bounds them, and each request sends at most one delivery;
// - reading someone's calendar through the feed URL, whose secret is the only credential: it is
//   long and random (unguessable), a new one replaces the old, revoking ends it, and guesses all get
//   the same 404.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app';
import { Client, expectError, type Res, signUp, uniqueEmail } from '../helpers/client';
import { query } from '../helpers/wait';
import { API, errorShape, PUBLIC_HOOK_URL } from './support';

const expectLimited = (res: Res, what: string) => {
  if (res.status !== 429) throw new Error(`${what}: expected 429, got ${res.status} ${res.raw}`);
  expectError(res, 429, 'RATE_LIMITED');
  expect(Number(res.headers['retry-after']), what).toBeGreaterThan(0);
  expect(res.body.data, what).toBeUndefined();
};

describe('API6:2023 Unrestricted Access to Sensitive Business Flows', () => {
  describe('accounts: registration and sign-in floods', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ env: { AUTH_RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX: '1000' } });
    });
    afterAll(() => t?.close());

    const from = (ip: string, url: string, payload: unknown) =>
      t.app.inject({ method: 'POST', url, payload: payload as object, remoteAddress: ip }).then((r) => ({
        status: r.statusCode,
        headers: r.headers,
        body: r.json(),
        raw: r.body,
      }));

    it('stops a registration flood from one address, creating no account past the limit', async () => {
      const count = async () => (await query<{ n: number }>(t, sql`select count(*)::int n from users`))[0]!.n;
      const before = await count();
      const answers: Res[] = [];
      for (let i = 0; i < 6; i++)
        answers.push(
          await from('198.51.100.7', `${API}/auth/register`, {
            email: uniqueEmail('flood'),
            password: 'flood-password-1',
            name: 'Bot',
          }),
        );
      expect(answers.slice(0, 3).map((r) => r.status)).toEqual([201, 201, 201]);
      for (const r of answers.slice(3)) expectLimited(r, 'registration 4+');
      expect(await count()).toBe(before + 3);
      // Probing which emails are taken is limited the same way.
      const probe = await from('198.51.100.7', `${API}/auth/register`, {
        email: answers[0]!.body.data.user.email,
        password: 'flood-password-1',
        name: 'Bot',
      });
      expectLimited(probe, 'probing a taken email');
    });

    it('stops credential stuffing: many emails from one address, and one email from many addresses', async () => {
      const one = [];
      for (let i = 0; i < 5; i++)
        one.push(
          await from('198.51.100.8', `${API}/auth/login`, { email: uniqueEmail('s'), password: 'guess-123' }),
        );
      expect(one.slice(0, 3).map((r) => r.status)).toEqual([401, 401, 401]);
      for (const r of one.slice(3)) expectLimited(r, 'sign-in 4+ from one address');

      const target = await signUp(t.app, { password: 'target-password-1' });
      const many = [];
      for (let i = 0; i < 5; i++)
        many.push(
          await from(`203.0.113.${10 + i}`, `${API}/auth/login`, {
            email: target.user.email,
            password: `guess-${i}-password`,
          }),
        );
      // (Its registration counted for the email too.)
      expect(many.filter((r) => r.status === 401).length).toBeLessThanOrEqual(3);
      for (const r of many.slice(3)) expectLimited(r, 'sign-in 4+ for one email from many addresses');
      // The right password from a new address is limited too while the window lasts: no oracle.
      const right = await from('203.0.113.99', `${API}/auth/login`, {
        email: target.user.email,
        password: 'target-password-1',
      });
      expectLimited(right, 'the right password during the flood');
    });
  });

  describe('outgoing requests on demand: webhook ping and redelivery', () => {
    let t: TestApp;
    beforeAll(async () => {
      // No job worker runs here: nothing is actually sent; the deliveries are counted.
      t = await createTestApp({ env: { RATE_LIMIT_MAX: '12', AUTH_RATE_LIMIT_MAX: '100' } });
    });
    afterAll(() => t?.close());

    it('bounds pings and redeliveries by the per-user rate limit: one delivery per accepted request', async () => {
      const ann = await signUp(t.app);
      const hook = (await ann.post(`${API}/webhooks`, { url: PUBLIC_HOOK_URL, events: ['task.created'] }))
        .body.data;
      const statuses: number[] = [];
      let first: string | undefined;
      let last: Res | undefined;
      for (let i = 0; i < 20; i++) {
        last =
          i % 2 === 0 || !first
            ? await ann.post(`${API}/webhooks/${hook.id}/ping`)
            : await ann.post(`${API}/webhooks/${hook.id}/deliveries/${first}/redeliver`);
        if (last.status === 202) first ??= last.body.data.id;
        statuses.push(last.status);
      }
      expectLimited(last!, 'ping flood');
      const accepted = statuses.filter((s) => s === 202).length;
      expect(accepted).toBeLessThanOrEqual(12);
      const [jobs] = await query<{ n: number }>(
        t,
        sql`select count(*)::int n from jobs where name = 'send_webhook'`,
      );
      expect(jobs!.n).toBeLessThanOrEqual(accepted);
    });
  });

  describe('the calendar feed URL', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp();
    });
    afterAll(() => t?.close());

    it('has a long random secret; a new one replaces the old; revoking ends it; guesses all look alike', async () => {
      const ann = await signUp(t.app);
      await ann.post(`${API}/tasks`, {
        title: 'Dentist',
        due_date: new Date(Date.now() + 86_400_000).toISOString(),
      });
      const feedOf = async () => new URL((await ann.post(`${API}/calendar/feed`)).body.data.url).pathname;
      const first = await feedOf();
      const secret = first
        .split('/')
        .pop()!
        .replace(/\.ics$/, '');
      // At least 128 bits of base64url after any fixed prefix.
      const random = secret.replace(/^[a-z]+_/, '');
      expect(random).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(random.length * 6).toBeGreaterThanOrEqual(128);
      const anon = new Client(t.app);
      expect((await anon.get(first)).status).toBe(200);
      expect((await anon.get(first)).raw).toContain('Dentist');

      const second = await feedOf();
      expect(second).not.toBe(first);
      expect((await anon.get(first)).status).toBe(404);
      expect((await anon.get(second)).status).toBe(200);

      // Guesses: random secrets, the right one with a character changed, its start, another case.
      const prefix = secret.slice(0, secret.length - random.length);
      const control = await anon.get(
        `${API}/calendar/feed/${prefix}${randomBytes(24).toString('base64url')}.ics`,
      );
      expect(control.status).toBe(404);
      const real = second
        .split('/')
        .pop()!
        .replace(/\.ics$/, '');
      const guesses = [
        ...Array.from({ length: 50 }, () => `${prefix}${randomBytes(24).toString('base64url')}`),
        `${real.slice(0, -1)}${real.endsWith('A') ? 'B' : 'A'}`,
        real.slice(0, 20),
        real.toUpperCase() === real ? real.toLowerCase() : real.toUpperCase(),
        `${real}x`,
        `../${real}`,
        `${real}%00`,
        '*',
        '%25',
      ];
      for (const g of guesses) {
        const res = await anon.get(`${API}/calendar/feed/${g}.ics`);
        expect(res.status, g).toBeGreaterThanOrEqual(400);
        expect(res.raw, g).not.toContain('Dentist');
        // Every well-formed guess gets exactly the answer a random one gets.
        if (/^tmcal_[A-Za-z0-9_-]{32}$/.test(g))
          expect(errorShape(res).body.error, g).toEqual(errorShape(control).body.error);
      }
      // The feed is not a way in to anything else.
      expectError(await new Client(t.app, real).get(`${API}/users/me`), 401, 'UNAUTHORIZED');

      expect((await ann.delete(`${API}/calendar/feed`)).status).toBe(204);
      expect((await anon.get(second)).status).toBe(404);
    });
  });
});
