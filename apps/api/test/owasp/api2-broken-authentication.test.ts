// OWASP API2:2023 Broken Authentication. Forged, tampered, expired, revoked and stale credentials
// (JWTs and API keys) on a read and on a write: always 401 UNAUTHORIZED in the envelope, no data,
// nothing written. Then password guessing: one account (or an address that has none) is throttled
// after repeated failures, whatever IP the attempts come from, with the same answers either way.
//
// The tests named CONTRACT check what was specified alongside them: every access token carries
// iss "taskman" and aud "taskman-api", both required and checked; after 5 failed sign-ins for one
// email, attempts for it get 429 RATE_LIMITED with Retry-After (even with the right password)
// until the delay passes, and the delays grow; the same for an unregistered email.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_ENV, type TestApp } from '../helpers/app';
import { Client, expectError, type Res, signUp, uniqueEmail } from '../helpers/client';
import { fakeClock } from '../helpers/clock';
import { query } from '../helpers/wait';
import { ALL_SCOPES, API, errorShape, type SignedUp } from './support';

const ISSUER = 'taskman';
const AUDIENCE = 'taskman-api';
const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);
const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
const sign = (claims: Record<string, unknown>, key: string = TEST_ENV.JWT_SECRET, algorithm = 'HS256') =>
  createSigner({ key, algorithm: algorithm as 'HS256' })(claims);
const strongPassword = () => `pw-${randomBytes(12).toString('hex')}`;

/** 401 UNAUTHORIZED, the envelope, a Bearer challenge, no data and no internals. */
function expectUnauthorized(res: Res, what: string) {
  if (res.status !== 401) throw new Error(`${what}: expected 401, got ${res.status} ${res.raw}`);
  expectError(res, 401, 'UNAUTHORIZED');
  expect(res.body.data, what).toBeUndefined();
  expect(String(res.headers['www-authenticate']), what).toMatch(/^Bearer/);
  expect(res.raw, what).not.toMatch(/stack|FAST_JWT|at \w+ \(|node_modules/);
}

describe('API2:2023 Broken Authentication', () => {
  describe('forged, tampered, expired and revoked credentials', () => {
    let t: TestApp;
    let ann: SignedUp;
    let sep: number;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaPrivate = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const rsaPublic = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const claims = (over: Record<string, unknown> = {}) => {
      const c: Record<string, unknown> = {
        iss: ISSUER,
        aud: AUDIENCE,
        sub: ann.user.id,
        jti: randomUUID(),
        sep,
        iat: nowS(),
        exp: nowS() + 3600,
        ...over,
      };
      for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
      return c;
    };

    beforeAll(async () => {
      t = await createTestApp();
      await signUp(t.app, { name: 'Admin' });
      ann = await signUp(t.app, { name: 'Ann' });
      sep = payloadOf(ann.token!).sep;
    });
    afterAll(() => t?.close());

    /** The token on a read and on a write: 401 both times, and the write did not happen. */
    async function refused(authorization: string | undefined, what: string) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const anon = new Client(t.app);
      expectUnauthorized(await anon.get(`${API}/users/me`, headers), `${what} (read)`);
      const title = `forged ${randomUUID()}`;
      expectUnauthorized(await anon.post(`${API}/tasks`, { title }, headers), `${what} (write)`);
      const rows = await query(t, sql`select 1 from tasks where title = ${title}`);
      expect(rows, what).toEqual([]);
    }

    it('accepts a token signed here with every claim (the control for the forgeries below)', async () => {
      const res = await new Client(t.app, sign(claims())).get(`${API}/users/me`);
      expect(res.status, res.raw).toBe(200);
      expect(res.body.data.id).toBe(ann.user.id);
    });

    it('CONTRACT: issues tokens with iss "taskman" and aud "taskman-api"', () => {
      const p = payloadOf(ann.token!);
      expect(p.iss).toBe(ISSUER);
      expect(p.aud).toBe(AUDIENCE);
    });

    const forgeries: [string, () => string][] = [
      ['alg "none", no signature', () => `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(claims())}.`],
      ['alg "None"', () => `${b64json({ alg: 'None', typ: 'JWT' })}.${b64json(claims())}.`],
      ['alg "NONE" with a signature', () => `${b64json({ alg: 'NONE' })}.${b64json(claims())}.c2ln`],
      [
        'alg "none" carrying the real signature',
        () => {
          const [, p, s] = ann.token!.split('.');
          return `${b64json({ alg: 'none', typ: 'JWT' })}.${p}.${s}`;
        },
      ],
      [
        'HS256 signed with another secret',
        () => sign(claims(), `another-${randomBytes(24).toString('hex')}`),
      ],
      ['HS256 signed with an empty-ish secret', () => sign(claims(), ' '.repeat(32))],
      ['HS512 with the right secret', () => sign(claims(), TEST_ENV.JWT_SECRET, 'HS512')],
      ['HS384 with the right secret', () => sign(claims(), TEST_ENV.JWT_SECRET, 'HS384')],
      ['RS256 with the attacker’s key pair', () => sign(claims(), rsaPrivate, 'RS256')],
      // Algorithm confusion: HS256 keyed with a public key the attacker knows.
      ['HS256 keyed with an RSA public key', () => sign(claims(), rsaPublic, 'HS256')],
      [
        'a jku header pointing elsewhere, signed with another secret',
        () => {
          const [, p] = sign(claims(), 'x'.repeat(40)).split('.');
          const h = b64json({
            alg: 'HS256',
            jku: 'https://attacker.example/jwks.json',
            kid: '../../dev/null',
          });
          return `${h}.${p}.${sign(claims(), 'x'.repeat(40)).split('.')[2]}`;
        },
      ],
      [
        'the payload changed (another sub), signature kept',
        () => {
          const [h, , s] = ann.token!.split('.');
          return `${h}.${b64json({ ...payloadOf(ann.token!), sub: randomUUID() })}.${s}`;
        },
      ],
      [
        'the payload changed (role admin added), signature kept',
        () => {
          const [h, , s] = ann.token!.split('.');
          return `${h}.${b64json({ ...payloadOf(ann.token!), role: 'admin' })}.${s}`;
        },
      ],
      ['expired a day ago', () => sign(claims({ iat: nowS() - 2 * 86_400, exp: nowS() - 86_400 }))],
      ['expired a minute ago', () => sign(claims({ iat: nowS() - 3600, exp: nowS() - 60 }))],
      ['without exp', () => sign(claims({ exp: undefined }))],
      ['not valid before tomorrow (nbf)', () => sign(claims({ nbf: nowS() + 86_400 }))],
      ['without sub', () => sign(claims({ sub: undefined }))],
      ['without jti', () => sign(claims({ jti: undefined }))],
      ['with a stale session epoch', () => sign(claims({ sep: sep - 1 }))],
      ['for a user that does not exist', () => sign(claims({ sub: randomUUID() }))],
      ['with sub "admin"', () => sign(claims({ sub: 'admin' }))],
      ['CONTRACT: without iss', () => sign(claims({ iss: undefined }))],
      ['CONTRACT: without aud', () => sign(claims({ aud: undefined }))],
      ['CONTRACT: with another iss', () => sign(claims({ iss: 'someone-else' }))],
      ['CONTRACT: with another aud', () => sign(claims({ aud: 'another-api' }))],
      ['CONTRACT: with aud a list of other audiences', () => sign(claims({ aud: ['web', 'other'] }))],
    ];
    it.each(forgeries)('refuses a token %s', async (what, token) => {
      await refused(`Bearer ${token()}`, what);
    });

    const garbage: [string, () => string | undefined][] = [
      ['no Authorization header', () => undefined],
      ['an empty header', () => ''],
      ['"Bearer" alone', () => 'Bearer'],
      ['"Bearer null"', () => 'Bearer null'],
      ['"Bearer undefined"', () => 'Bearer undefined'],
      ['Basic credentials', () => `Basic ${Buffer.from('ann@example.com:password').toString('base64')}`],
      ['another scheme', () => `Token ${ann.token}`],
      ['two tokens', () => `Bearer ${ann.token} ${ann.token}`],
      ['a token with a trailing NUL', () => `Bearer ${ann.token}\u0000`],
      ['a token with non-ASCII characters', () => `Bearer ${ann.token}é`],
      ['two dots and nothing else', () => 'Bearer ..'],
      ['JSON instead of a token', () => `Bearer {"sub":"${randomUUID()}"}`],
      ['a 100 kB token', () => `Bearer ${'A'.repeat(50_000)}.${'B'.repeat(50_000)}.C`],
      ['a 100 kB API key', () => `Bearer tm_${'A'.repeat(100_000)}`],
      ['"tm_" alone', () => 'Bearer tm_'],
      ['a made-up API key', () => `Bearer tm_${randomBytes(30).toString('base64url').slice(0, 40)}`],
    ];
    it.each(garbage)('refuses %s', async (what, header) => {
      await refused(header(), what);
    });

    it('refuses the token of a deleted account, and its API key', async () => {
      const password = strongPassword();
      const gone = await signUp(t.app, { password });
      const key = (await gone.post(`${API}/api-keys`, { name: 'k', scopes: ALL_SCOPES })).body.data.key;
      expect((await new Client(t.app, key).get(`${API}/users/me`)).status).toBe(200);
      expect((await gone.delete(`${API}/users/me`, { password })).status).toBe(204);
      await refused(`Bearer ${gone.token}`, 'deleted account’s token');
      await refused(`Bearer ${key}`, 'deleted account’s API key');
      // Nobody can take the address over with the old token either: a new account with the same email is a new id.
      const again = await signUp(t.app, { email: gone.user.email });
      expect(again.user.id).not.toBe(gone.user.id);
      await refused(`Bearer ${gone.token}`, 'deleted account’s token after the email is reused');
    });

    it('refuses a signed-out token, and a token issued before a password change', async () => {
      const password = strongPassword();
      const bea = await signUp(t.app, { password });
      const login = async () =>
        (await new Client(t.app).post(`${API}/auth/login`, { email: bea.user.email, password })).body.data
          .token as string;
      const loggedOut = await login();
      expect((await new Client(t.app, loggedOut).post(`${API}/auth/logout`)).status).toBe(204);
      await refused(`Bearer ${loggedOut}`, 'signed-out token');

      const older = await login();
      const changed = await new Client(t.app, older).put(`${API}/users/me/password`, {
        current_password: password,
        new_password: strongPassword(),
      });
      expect(changed.status, changed.raw).toBe(200);
      await refused(`Bearer ${older}`, 'token issued before the password change');
      await refused(`Bearer ${bea.token}`, 'registration token, before the password change');
      expect((await new Client(t.app, changed.body.data.token).get(`${API}/users/me`)).status).toBe(200);
    });

    it('refuses a revoked API key, an expired one and one with a character changed', async () => {
      const make = async () =>
        (await ann.post(`${API}/api-keys`, { name: 'k', scopes: ALL_SCOPES })).body.data as {
          id: string;
          key: string;
        };
      const revoked = await make();
      expect((await ann.delete(`${API}/api-keys/${revoked.id}`)).status).toBe(204);
      await refused(`Bearer ${revoked.key}`, 'revoked API key');

      // Expired: made to expire in the past in the database before it was ever used (so nothing caches it).
      const expired = await make();
      await query(
        t,
        sql`update api_keys set expires_at = now() - interval '1 minute' where id = ${expired.id}`,
      );
      await refused(`Bearer ${expired.key}`, 'expired API key');

      const good = await make();
      const flipped = good.key.slice(0, -1) + (good.key.endsWith('A') ? 'B' : 'A');
      await refused(`Bearer ${flipped}`, 'API key with its last character changed');
      const body = good.key.slice(0, 12) + (good.key[12] === 'A' ? 'B' : 'A') + good.key.slice(13);
      await refused(`Bearer ${body}`, 'API key with a character of its body changed');
      expect((await new Client(t.app, good.key).get(`${API}/users/me`)).status).toBe(200);
    });

    it('answers headers larger than the server takes with 431 over a real socket, never with data', async () => {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = t.app.server.address() as AddressInfo;
      const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            path: `${API}/users/me`,
            headers: { authorization: `Bearer ${'A'.repeat(64 * 1024)}` },
          },
          (res) => {
            let body = '';
            res.on('data', (c) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(status.status).toBe(431);
      expect(status.body).not.toContain(ann.user.id);
    });
  });

  describe('CONTRACT: password guessing is throttled per account', () => {
    let t: TestApp;
    const clock = fakeClock();
    let ann: SignedUp;
    const password = strongPassword();
    const login = (email: string, pw: string) =>
      new Client(t.app).post(`${API}/auth/login`, { email, password: pw });

    beforeAll(async () => {
      // The per-IP limit on sign-ins (AUTH_RATE_LIMIT_MAX) is far out of the way: this measures the
      // per-account throttle, which holds whatever address the attempts come from.
      t = await createTestApp({ clock, env: { AUTH_RATE_LIMIT_MAX: '100000', RATE_LIMIT_MAX: '100000' } });
      await signUp(t.app, { name: 'Admin' });
      ann = await signUp(t.app, { name: 'Ann', password });
    });
    afterAll(() => t?.close());

    const retryAfter = (res: Res) => Number(res.headers['retry-after']);
    function expectThrottled(res: Res, what: string) {
      if (res.status !== 429) throw new Error(`${what}: expected 429, got ${res.status} ${res.raw}`);
      expectError(res, 429, 'RATE_LIMITED');
      expect(res.body.data, what).toBeUndefined();
      expect(retryAfter(res), `${what}: Retry-After`).toBeGreaterThan(0);
      return retryAfter(res);
    }

    it('locks an account after 5 failures, even for the right password, with growing delays; the same for an unknown email', async () => {
      const unknown = uniqueEmail('nobody');
      const steps: { known: Res; unknown: Res }[] = [];
      const both = async (pwKnown: string) => {
        const r = { known: await login(ann.user.email, pwKnown), unknown: await login(unknown, pwKnown) };
        steps.push(r);
        return r;
      };
      for (let i = 1; i <= 5; i++) {
        const r = await both(`wrong-${i}-${password}`);
        expectError(r.known, 401, 'UNAUTHORIZED');
        expectError(r.unknown, 401, 'UNAUTHORIZED');
      }
      // Locked: the right password is not even checked.
      const locked = await both(password);
      const first = expectThrottled(locked.known, 'right password after 5 failures');
      expect(expectThrottled(locked.unknown, 'unknown email after 5 failures')).toBe(first);
      expect(locked.known.raw).not.toContain('token');

      // Another account is not affected.
      const bob = await signUp(t.app, { password });
      expect((await login(bob.user.email, password)).status).toBe(200);

      // The delay passes; one more failure locks for longer.
      clock.advance((first + 1) * 1000);
      const sixth = await both(`wrong-6-${password}`);
      expectError(sixth.known, 401, 'UNAUTHORIZED');
      expectError(sixth.unknown, 401, 'UNAUTHORIZED');
      const again = await both(password);
      const second = expectThrottled(again.known, 'right password after 6 failures');
      expect(expectThrottled(again.unknown, 'unknown email after 6 failures')).toBe(second);
      expect(second).toBeGreaterThan(first);

      // Once the delay has passed, the right password signs in.
      clock.advance((second + 1) * 1000);
      const ok = await login(ann.user.email, password);
      expect(ok.status, ok.raw).toBe(200);

      // At every step the known and the unknown address got the same answer (status, code, message, Retry-After).
      for (const s of steps) {
        expect(errorShape(s.unknown)).toEqual(errorShape(s.known));
        expect(s.unknown.headers['retry-after']).toEqual(s.known.headers['retry-after']);
      }
    });

    it('gives the same answer for a wrong password and an unknown email', async () => {
      const wrong = await login(ann.user.email, `not-${password}`);
      const nobody = await login(uniqueEmail('ghost'), password);
      expectError(wrong, 401, 'UNAUTHORIZED');
      expect(errorShape(nobody)).toEqual(errorShape(wrong));
      expect(Object.keys(nobody.headers).sort()).toEqual(Object.keys(wrong.headers).sort());
    });
  });
});
