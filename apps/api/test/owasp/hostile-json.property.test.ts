// Property: whatever JSON (or almost-JSON) arrives at a write route, the API never answers 5xx,
// always answers in its envelope, and when it refuses (4xx) not one row of the database changed.
// Every POST/PUT/PATCH/DELETE of the OpenAPI document is fuzzed, its path ids filled with the
// caller's real objects (so requests reach the handlers, not a 404), with bodies built from the
// route's own fields: the right ones with wrong or hostile values (NUL, lone surrogates, 100 kB
// strings, numbers like 1e309, -0 and "NaN", dates that do not exist), unknown and
// prototype-polluting keys (__proto__, constructor.prototype), deep nesting, big arrays, other
// JSON values at the top, and raw bytes (overlong UTF-8, a BOM, trailing garbage). And
// Object.prototype is never polluted.
//
// The database is compared table by table (md5 of every row), except what a refused request may
// legitimately write: the caller's last-seen time (users.last_seen_at, updated in the background
// by any authenticated request), the last use of an API key, the audit log (it records refused
// attempts: failed sign-ins, forbidden calls), failed sign-in counters (login_throttle) and the
// metrics sampler's rows (process_samples, on a timer).
//
// OWASP_FUZZ_RUNS (default 30) sets the runs per route; a failure prints fast-check's seed and path.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app';
import { type Client, type Res, signUp } from '../helpers/client';
import {
  changedTables,
  fill,
  loadSpec,
  type Operation,
  type Owned,
  operations,
  populate,
  REFUSED_MAY_TOUCH,
  type SignedUp,
  snapshot,
  VALID_WRITES,
} from './support';

const RUNS = Number(process.env.OWASP_FUZZ_RUNS ?? 30);
/** Routes that end the caller's session or account: each run gets a fresh user. */
const FRESH_USER = new Set([
  'POST /api/v1/auth/logout',
  'DELETE /api/v1/users/me',
  'PUT /api/v1/users/me/password',
]);
/** Bases that must not reach the network (the default base of VALID_WRITES names a public address). */
const BASE_OVERRIDES: Record<string, unknown> = {
  'POST /api/v1/calendar/connections': { server_url: 'http://127.0.0.1:9/', username: 'u', password: 'p' },
};

// ---------------------------------------------------------------------------------------------
// Hostile values

/** Raw JSON text: numbers JSON.stringify cannot write (1e309, -0…) and deep nesting. */
class RawNumber {
  constructor(readonly text: string) {}
  toString() {
    return this.text.length > 60 ? `${this.text.slice(0, 30)}…(${this.text.length})` : this.text;
  }
}

const hostileStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFF\uD800',
  '\uFFFE\uFFFF',
  '\u202Egnp.exe',
  '\r\nX-Injected: 1',
  "' OR '1'='1' --",
  "'; DROP TABLE tasks; --",
  '"; select pg_sleep(10); --',
  '<script>alert(1)</script>',
  '{{7*7}}$\u{7b}7*7}',
  '../../../../etc/passwd',
  '%00%0d%0a',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  'null',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  '2030-02-30T25:61:61Z',
  '0000-00-00T00:00:00Z',
  '99999-12-31T23:59:59Z',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  'FREQ=SECONDLY',
  'FREQ=DAILY;COUNT=999999999',
  'tm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  'x'.repeat(100_000),
  'é'.repeat(30_000),
  '🙂'.repeat(5_000),
  '\u0000'.repeat(1000),
);
/** Hostile content a schema accepts (short, no NUL): it reaches the handlers and the database. */
const plausibleStrings = fc.constantFrom(
  "' OR '1'='1' --",
  "'; DROP TABLE tasks; --",
  "x' AND pg_sleep(5) IS NULL --",
  '"; select pg_sleep(10); --',
  '\\x27 UNION SELECT password_hash FROM users --',
  '$1 $2 %s %n %x',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '{{7*7}}$\u{7b}7*7}<%= 7*7 %>',
  '../../../../etc/passwd',
  '\u202Egnp.exe',
  '\r\nX-Injected: 1',
  '  padded  ',
  'Ünïcödé 日本語 🙂 \u200b',
  '__proto__',
  'constructor',
  'NaN',
  '-0',
  'Europe/Paris',
  'UTC',
  'monday',
  'high',
  'done',
  'task.created',
  'tasks:read',
  'FREQ=WEEKLY;BYDAY=MO',
  '2031-01-01T00:00:00Z',
  '2031-01-01T00:00:00+14:00',
);
const hostileNumbers = fc.oneof(
  fc.constantFrom(
    new RawNumber('1e309'),
    new RawNumber('-1e309'),
    new RawNumber('-0'),
    new RawNumber('1e-400'),
    new RawNumber('123456789012345678901234567890'),
    new RawNumber('0.1e1'),
    new RawNumber('1E2'),
  ),
  fc.constantFrom(0, -1, 1.5, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), Number.MAX_SAFE_INTEGER, Number.MIN_VALUE),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
const leaf = fc.oneof(
  { weight: 4, arbitrary: hostileStrings },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: hostileNumbers },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
);
const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  '',
  ' ',
  '\u0000',
  'user_id',
  'role',
  'id',
  '$where',
];
const anyKey = fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 12 }));

/** Pollution attempts: the marker must never show up on a plain object. */
const POLLUTION = fc.constantFrom(
  { __proto__key: { polluted: 'yes', isAdmin: true } },
  { constructor: { prototype: { polluted: 'yes' } } },
  { prototype: { polluted: 'yes' } },
);

const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(tie('v'), { maxLength: 5 }) },
    { weight: 1, arbitrary: fc.dictionary(anyKey, tie('v'), { maxKeys: 5 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  ),
})).v;

/** Deep nesting, as raw JSON text (a JavaScript value that deep would overflow the test's own stack). */
const deep = fc
  .tuple(fc.integer({ min: 100, max: 20_000 }), fc.boolean(), leaf)
  .map(([depth, asArray, inner]) =>
    asArray
      ? new RawNumber(`${'['.repeat(depth)}${serialize(inner)}${']'.repeat(depth)}`)
      : new RawNumber(`${'{"a":'.repeat(depth)}${serialize(inner)}${'}'.repeat(depth)}`),
  );
const big = fc.oneof(
  fc.integer({ min: 1000, max: 50_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
  fc.integer({ min: 100, max: 2000 }).map((n) => Array.from({ length: n }, (_, i) => `t${i}`)),
  fc
    .integer({ min: 100, max: 2000 })
    .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
);

// ---------------------------------------------------------------------------------------------
// Bodies

/** JSON text, with RawNumber written as is and the pollution key spelled __proto__. */
function serialize(v: unknown): string {
  if (v instanceof RawNumber) return v.text;
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(serialize).join(',')}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${JSON.stringify(k === '__proto__key' ? '__proto__' : k)}:${serialize(x)}`)
    .join(',')}}`;
}

type Wire = { payload: string | Buffer | undefined; contentType: string | undefined };

/** Raw-byte damage to a JSON text. */
const damage = fc.constantFrom<(s: string) => Buffer>(
  (s) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(s)]),
  (s) => Buffer.from(`${s}garbage`),
  (s) => Buffer.from(s.replace(/"([^"]*)"/, '"$1\\ud800"')),
  (s) => {
    const b = Buffer.from(s);
    const at = Math.max(1, b.indexOf(0x22, 1) + 1);
    return Buffer.concat([
      b.subarray(0, at),
      Buffer.from([0xc0, 0x80, 0xed, 0xa0, 0x80, 0xff]),
      b.subarray(at),
    ]);
  },
  (s) => Buffer.from(s.slice(0, Math.floor(s.length / 2))),
  (s) => Buffer.from(s.replace(/^\{/, '{"a":1,"a":2,')),
);

function bodies(op: Operation, base: unknown): fc.Arbitrary<Wire> {
  const fields = Object.keys(op.body?.properties ?? {});
  const baseObject = (base && typeof base === 'object' ? base : {}) as Record<string, unknown>;
  const fieldKey = fields.length ? fc.constantFrom(...fields) : anyKey;
  const stringFields = fields.filter((f) => JSON.stringify(op.body.properties[f]).includes('"string"'));
  const json: fc.Arbitrary<unknown> = fc.oneof(
    // The route's own fields with hostile content of the right type: these reach the handlers.
    {
      weight: 4,
      arbitrary: stringFields.length
        ? fc
            .dictionary(fc.constantFrom(...stringFields), plausibleStrings, { minKeys: 1, maxKeys: 3 })
            .map((over) => ({ ...baseObject, ...over }))
        : fc.constant(baseObject),
    },
    // The route's own fields, some given hostile values.
    {
      weight: 5,
      arbitrary: fc
        .dictionary(
          fieldKey,
          fc.oneof(
            { weight: 3, arbitrary: value },
            { weight: 1, arbitrary: deep },
            { weight: 1, arbitrary: big },
          ),
          {
            maxKeys: 4,
          },
        )
        .map((over) => ({ ...baseObject, ...over })),
    },
    // Unknown and polluting keys next to valid fields.
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.dictionary(anyKey, value, { maxKeys: 3 }), POLLUTION)
        .map(([extra, pollution]) => ({ ...baseObject, ...extra, ...pollution })),
    },
    // Anything at all, at the top.
    { weight: 2, arbitrary: value },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: big },
  );
  return fc.oneof(
    { weight: 8, arbitrary: json.map((v) => ({ payload: serialize(v), contentType: 'application/json' })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(json, damage)
        .map(([v, d]) => ({ payload: d(serialize(v)), contentType: 'application/json' })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          json,
          fc.constantFrom(
            'text/plain',
            'application/json; charset=latin1',
            'application/x-www-form-urlencoded',
            'application/JSON',
          ),
        )
        .map(([v, ct]) => ({ payload: serialize(v), contentType: ct })),
    },
    { weight: 1, arbitrary: fc.constant({ payload: undefined, contentType: undefined }) },
    { weight: 1, arbitrary: fc.constant({ payload: '', contentType: 'application/json' }) },
  );
}

// ---------------------------------------------------------------------------------------------

function expectEnvelope(res: Res, what: string) {
  expect(res.status, `${what}: ${res.raw.slice(0, 300)}`).toBeLessThan(500);
  if (res.status === 204 || res.status === 304) return expect(res.raw, what).toBe('');
  expect(res.body, `${what}: not JSON: ${res.raw.slice(0, 200)}`).toBeTypeOf('object');
  if (res.status >= 400) {
    expect(res.body.success, what).toBe(false);
    expect(typeof res.body.error?.code, what).toBe('string');
    expect(typeof res.body.error?.message, what).toBe('string');
    expect(typeof res.body.request_id, what).toBe('string');
  } else {
    expect(res.body.success, what).toBe(true);
  }
}

function expectNoPollution() {
  const plain: Record<string, unknown> = {};
  expect(plain.polluted).toBeUndefined();
  expect(plain.isAdmin).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
}

describe('hostile JSON on every write route (property)', () => {
  let t: TestApp;
  let ops: Operation[];
  let owner: Owned;
  let target: SignedUp;

  beforeAll(async () => {
    t = await createTestApp({ env: { CALDAV_ALLOW_PRIVATE: 'true' } });
    // The first account is an admin: the caller can reach the admin routes' validation too.
    owner = await populate(t.app, { name: 'Owner' });
    target = await signUp(t.app, { name: 'Target' });
    ops = operations(await loadSpec(t.app)).filter((o) => o.method !== 'GET');
  }, 60_000);
  afterAll(() => t?.close());

  it('has a valid request for every write route of the document', () => {
    expect(ops.map((o) => o.key).filter((k) => !(k in VALID_WRITES))).toEqual([]);
    expect(ops.length).toBeGreaterThan(25);
  });

  it.each(Object.keys(VALID_WRITES))(
    '%s',
    async (key) => {
      const op = ops.find((o) => o.key === key);
      if (!op) return; // a route of the contract not in the document yet
      const valid = VALID_WRITES[key]!(owner);
      const base = BASE_OVERRIDES[key] ?? valid.body;
      const params = key.includes('/admin/users/') ? { id: target.user.id } : (valid.params ?? {});
      const url = fill(op.path, params);
      let before = await snapshot(t, REFUSED_MAY_TOUCH);
      await fc.assert(
        fc.asyncProperty(bodies(op, base), async (wire) => {
          let caller: Client = owner.user;
          if (FRESH_USER.has(key)) {
            caller = await signUp(t.app, { password: owner.user.password });
            before = await snapshot(t, REFUSED_MAY_TOUCH);
          }
          const res = await caller.request(
            op.method,
            url,
            wire.payload,
            wire.contentType ? { 'content-type': wire.contentType } : {},
          );
          const what = `${key} ${String(wire.payload ?? '').slice(0, 120)}`;
          expectEnvelope(res, what);
          expectNoPollution();
          const after = await snapshot(t, REFUSED_MAY_TOUCH);
          if (res.status >= 400) expect(changedTables(before, after), `${what} → ${res.status}`).toEqual([]);
          before = after;
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: false },
      );
    },
    60_000,
  );
});
