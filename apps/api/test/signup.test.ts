// Sign-up with email confirmation (SIGNUP_VERIFY_EMAIL): the form answers the same for a new and a
// registered address, the account exists only once the mailed link is followed. A real SMTP server.
import { signupRequests, users } from '@taskman/core';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, signUp, uniqueEmail } from './helpers/client';
import { fakeClock, HOUR } from './helpers/clock';
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp';

const API = '/api/v1';
const PASSWORD = 'marble canyon whistle';

describe('sign-up with email confirmation', () => {
  let t: TestApp;
  let smtp: TestSmtpServer;
  const clock = fakeClock();
  const anon = () => new Client(t.app);
  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await createTestApp({ clock, env: { SMTP_URL: smtp.url, SIGNUP_VERIFY_EMAIL: 'true' } });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  const accounts = async (email: string) => {
    const [row] = await t.core.database.db.select({ n: count() }).from(users).where(eq(users.email, email));
    return Number(row!.n);
  };
  const register = (email: string, password = PASSWORD) =>
    anon().post(`${API}/auth/register`, { email, password, name: 'New Person' });
  /** The next mail to `email` (arriving after this call), and the token of its link if it has one. */
  async function mailTo(email: string) {
    const from = smtp.received.length;
    for (let i = 0; i < 300; i++) {
      const mail = smtp.received.slice(from).find((m) => m.to.includes(email));
      if (mail) {
        const token = /verify-email#token=([A-Za-z0-9_-]+)/.exec(mail.parsed.text ?? '')?.[1];
        return { mail, token };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no mail to ${email}`);
  }

  it('answers 202 and creates the account only when the mailed link is followed', async () => {
    const email = uniqueEmail('new');
    const waiting = mailTo(email);
    const res = await register(email);
    expect(res.status).toBe(202);
    expect(res.body.data).toEqual({ status: 'confirmation_sent', email, message: expect.any(String) });
    expect(res.raw).not.toMatch(/token/);
    const { mail, token } = await waiting;
    expect(mail.parsed.subject).toBe('Confirm your Taskman account');
    expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(await accounts(email)).toBe(0);
    // Only the token's hash is stored.
    const stored = await t.core.database.db
      .select()
      .from(signupRequests)
      .where(eq(signupRequests.email, email));
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(token!);

    const confirmed = await anon().post(`${API}/auth/verify-email`, { token });
    expect(confirmed.status).toBe(201);
    expect(confirmed.body.data.user.email).toBe(email);
    expect(await accounts(email)).toBe(1);
    const me = await new Client(t.app, confirmed.body.data.token).get(`${API}/users/me`);
    expect(me.body.data.email).toBe(email);
    expect((await anon().post(`${API}/auth/login`, { email, password: PASSWORD })).status).toBe(200);
    // A link works once.
    expectError(await anon().post(`${API}/auth/verify-email`, { token }), 400, 'VALIDATION_ERROR');
    expect(await accounts(email)).toBe(1);
  });

  it('answers a registered address exactly like a new one, and mails its owner instead', async () => {
    const taken = uniqueEmail('taken');
    const existing = await signUpVerified(taken);
    const fresh = uniqueEmail('fresh');
    const mails = Promise.all([mailTo(taken), mailTo(fresh)]);
    const a = await register(taken);
    const b = await register(fresh);
    expect(a.status).toBe(b.status);
    expect({ ...a.body.data, email: 'x' }).toEqual({ ...b.body.data, email: 'x' });
    expect(Object.keys(a.headers).sort()).toEqual(Object.keys(b.headers).sort());
    const [{ mail: toTaken }, { mail: toFresh }] = await mails;
    expect(toFresh.parsed.subject).toBe('Confirm your Taskman account');
    expect(toTaken.parsed.subject).toBe('Your Taskman account');
    expect(toTaken.parsed.text).toMatch(/already has one/);
    expect(toTaken.parsed.text).not.toMatch(/verify-email/);
    // The existing account is untouched: its password still works, nothing was added.
    expect(await accounts(taken)).toBe(1);
    expect((await anon().post(`${API}/auth/login`, { email: taken, password: existing })).status).toBe(200);
  });

  it('checks the input first, for everyone alike: bad passwords and fields are 400 and nothing is sent', async () => {
    const sent = smtp.received.length;
    const email = uniqueEmail('bad');
    expectError(await register(email, 'password123'), 400, 'VALIDATION_ERROR');
    expectError(await register(email, 'short'), 400, 'VALIDATION_ERROR');
    expectError(
      await anon().post(`${API}/auth/register`, { email, password: PASSWORD, name: 'X', role: 'admin' }),
      400,
      'VALIDATION_ERROR',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.received.length).toBe(sent);
    const [row] = await t.core.database.db
      .select({ n: count() })
      .from(signupRequests)
      .where(eq(signupRequests.email, email));
    expect(Number(row!.n)).toBe(0);
  });

  it('refuses an expired, made-up or malformed link, creating nothing', async () => {
    const email = uniqueEmail('late');
    const waiting = mailTo(email);
    await register(email);
    const { token } = await waiting;
    clock.advance(25 * HOUR);
    try {
      expectError(await anon().post(`${API}/auth/verify-email`, { token }), 400, 'VALIDATION_ERROR');
    } finally {
      clock.reset();
    }
    expect(await accounts(email)).toBe(0);
    expectError(
      await anon().post(`${API}/auth/verify-email`, { token: 'A'.repeat(43) }),
      400,
      'VALIDATION_ERROR',
    );
    for (const body of [{}, { token: 'short' }, { token: 'has spaces in it, not allowed' }, { token: 1 }]) {
      expectError(await anon().post(`${API}/auth/verify-email`, body), 400, 'VALIDATION_ERROR');
    }
  });

  it('creates one account when two links for one address are both followed', async () => {
    const email = uniqueEmail('twice');
    const first = mailTo(email);
    await register(email);
    const { token: t1 } = await first;
    const second = mailTo(email);
    await register(email);
    const { token: t2 } = await second;
    expect(t1).not.toBe(t2);
    expect((await anon().post(`${API}/auth/verify-email`, { token: t1 })).status).toBe(201);
    expectError(await anon().post(`${API}/auth/verify-email`, { token: t2 }), 409, 'CONFLICT');
    expect(await accounts(email)).toBe(1);
  });

  /** Signs up through the link; returns the password. */
  async function signUpVerified(email: string): Promise<string> {
    const waiting = mailTo(email);
    await register(email);
    const { token } = await waiting;
    expect((await anon().post(`${API}/auth/verify-email`, { token })).status).toBe(201);
    return PASSWORD;
  }
});

describe('sign-up without email confirmation (no SMTP: the default)', () => {
  it('answers 201 with a session', async () => {
    const t = await createTestApp({ env: { SIGNUP_VERIFY_EMAIL: 'false' } });
    try {
      const user = await signUp(t.app);
      expect(user.token).toBeTruthy();
      expect(t.core.config.signupVerifyEmail).toBe(false);
    } finally {
      await t.close();
    }
  });
});
