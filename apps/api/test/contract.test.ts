import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, expectError, type Res, signUp, uniqueEmail } from './helpers/client';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MISSING_ID = '01900000-0000-7000-8000-000000000000';
const JSON_TYPE = { 'content-type': 'application/json' };

/** Every authenticated operation of the API, with a path that would otherwise be valid. */
const PROTECTED: [string, string][] = [
  ['POST', '/api/v1/auth/logout'],
  ['GET', '/api/v1/users/me'],
  ['PATCH', '/api/v1/users/me'],
  ['DELETE', '/api/v1/users/me'],
  ['PUT', '/api/v1/users/me/password'],
  ['GET', '/api/v1/users'],
  ['POST', '/api/v1/projects'],
  ['GET', '/api/v1/projects'],
  ['GET', `/api/v1/projects/${MISSING_ID}`],
  ['PATCH', `/api/v1/projects/${MISSING_ID}`],
  ['DELETE', `/api/v1/projects/${MISSING_ID}`],
  ['GET', `/api/v1/projects/${MISSING_ID}/tasks`],
  ['POST', '/api/v1/tasks'],
  ['GET', '/api/v1/tasks'],
  ['GET', `/api/v1/tasks/${MISSING_ID}`],
  ['PATCH', `/api/v1/tasks/${MISSING_ID}`],
  ['DELETE', `/api/v1/tasks/${MISSING_ID}`],
];

/** Asserts the exact error envelope of DESIGN.md §4 and that nothing internal leaks into it. */
function expectEnvelope(res: Res, status: number, code: string) {
  const err = expectError(res, status, code);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body).sort()).toEqual(['error', 'request_id', 'success']);
  expect(res.body.success).toBe(false);
  for (const key of Object.keys(err)) expect(['code', 'message', 'details']).toContain(key);
  expect(typeof err.message).toBe('string');
  expect(err.message.length).toBeGreaterThan(0);
  if (err.details !== undefined) {
    expect(Array.isArray(err.details)).toBe(true);
    expect(err.details.length).toBeGreaterThan(0);
    for (const d of err.details) {
      expect(Object.keys(d).sort()).toEqual(['field', 'message']);
      expect(typeof d.field).toBe('string');
      expect(typeof d.message).toBe('string');
    }
  }
  expect(res.body.request_id).toBe(res.headers['x-request-id']);
  expectNoLeak(res.raw);
  return err;
}

/** No stack frames, source paths or SQL in a response body. */
function expectNoLeak(raw: string) {
  expect(raw).not.toMatch(/\n\s*at /);
  expect(raw).not.toMatch(/\bat [^"]*\(?[^"]*:\d+:\d+\)?/);
  expect(raw).not.toMatch(/\/(work|home|usr|app|src|node_modules)\//);
  expect(raw).not.toMatch(/\.(ts|js|mjs|cjs):\d+/);
  expect(raw).not.toMatch(/"stack"/);
  expect(raw).not.toMatch(/\b(select|insert|update|delete)\b[^"]*\b(from|into|set|where)\b/i);
  expect(raw).not.toMatch(/pglite|drizzle|node-postgres|\bpool\b|SQLSTATE/i);
}

describe('contract: unknown routes', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('an unknown path is 404 NOT_FOUND in the envelope, with or without a token', async () => {
    for (const client of [new Client(t.app), ann]) {
      for (const url of ['/nope', '/api/v1/nope', '/api/v2/tasks', '/api/v1/tasks/a/b/c']) {
        const err = expectEnvelope(await client.get(url), 404, 'NOT_FOUND');
        expect(err.details).toBeUndefined();
        expect(err.message).toContain(url);
      }
    }
  });

  it('a known path with the wrong method is 404 NOT_FOUND', async () => {
    for (const [method, url] of [
      ['PUT', '/api/v1/projects'],
      ['DELETE', '/api/v1/tasks'],
      ['POST', '/api/v1/users/me'],
      ['PUT', `/api/v1/tasks/${MISSING_ID}`],
      ['DELETE', '/health/live'],
      ['GET', '/api/v1/auth/login'],
    ] as const) {
      expectEnvelope(await ann.request(method, url), 404, 'NOT_FOUND');
    }
  });

  it('the message never echoes the query string', async () => {
    const err = expectEnvelope(await ann.get('/api/v1/nope?token=secret-value'), 404, 'NOT_FOUND');
    expect(err.message).not.toContain('secret-value');
  });
});

describe('contract: request bodies', () => {
  let t: TestApp;
  let ann: Client;
  const taskCount = async () => (await ann.get('/api/v1/tasks')).body.meta.total as number;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('malformed JSON is 400 VALIDATION_ERROR on field body, and creates nothing', async () => {
    for (const payload of ['{"title":', '{title: "x"}', "{'title': 'x'}", '[', 'nul']) {
      const err = expectEnvelope(
        await ann.post('/api/v1/tasks', payload, JSON_TYPE),
        400,
        'VALIDATION_ERROR',
      );
      expect(err.details).toEqual([{ field: 'body', message: expect.any(String) }]);
    }
    const reg = await new Client(t.app).post('/api/v1/auth/register', '{"email":', JSON_TYPE);
    expectEnvelope(reg, 400, 'VALIDATION_ERROR');
    expect(await taskCount()).toBe(0);
  });

  it('an empty body declared as JSON is 400 VALIDATION_ERROR', async () => {
    const err = expectEnvelope(await ann.post('/api/v1/tasks', '', JSON_TYPE), 400, 'VALIDATION_ERROR');
    expect(err.details?.map((d) => d.field)).toEqual(['body']);
  });

  it('a JSON body that is not an object is 400 VALIDATION_ERROR', async () => {
    for (const payload of ['[]', '"title"', '42', 'null']) {
      expectEnvelope(await ann.post('/api/v1/tasks', payload, JSON_TYPE), 400, 'VALIDATION_ERROR');
    }
    expect(await taskCount()).toBe(0);
  });

  it('a non-JSON body is 415 UNSUPPORTED_MEDIA_TYPE, and creates nothing', async () => {
    for (const [type, payload] of [
      ['text/plain', 'title=hello'],
      ['text/plain; charset=utf-8', '{"title":"hello"}'],
      ['application/x-www-form-urlencoded', 'title=hello'],
      [
        'multipart/form-data; boundary=xyz',
        '--xyz\r\nContent-Disposition: form-data; name="title"\r\n\r\nhi\r\n--xyz--',
      ],
      ['application/xml', '<task><title>hello</title></task>'],
    ] as const) {
      const res = await ann.post('/api/v1/tasks', payload, { 'content-type': type });
      const err = expectEnvelope(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(err.details).toBeUndefined();
      const project = await ann.post('/api/v1/projects', payload, { 'content-type': type });
      expectEnvelope(project, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    const reg = await new Client(t.app).post('/api/v1/auth/register', 'email=a', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expectEnvelope(reg, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await taskCount()).toBe(0);
    expect((await ann.get('/api/v1/projects')).body.meta.total).toBe(0);
  });

  it('JSON with a charset parameter is accepted', async () => {
    const res = await ann.post('/api/v1/tasks', JSON.stringify({ title: 'charset' }), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(res.status).toBe(201);
    await ann.delete(`/api/v1/tasks/${res.body.data.id}`);
  });

  it('a body over 1 MiB is 413 PAYLOAD_TOO_LARGE, and creates nothing', async () => {
    const big = JSON.stringify({ title: 'big', description: 'x'.repeat(1_048_576) });
    expect(Buffer.byteLength(big)).toBeGreaterThan(1_048_576);
    const err = expectEnvelope(await ann.post('/api/v1/tasks', big, JSON_TYPE), 413, 'PAYLOAD_TOO_LARGE');
    expect(err.details).toBeUndefined();
    const project = JSON.stringify({ name: 'big', description: 'x'.repeat(1_100_000) });
    expectEnvelope(await ann.post('/api/v1/projects', project, JSON_TYPE), 413, 'PAYLOAD_TOO_LARGE');
    expect(await taskCount()).toBe(0);
    expect((await ann.get('/api/v1/projects')).body.meta.total).toBe(0);
  });

  it('a body just under 1 MiB reaches validation (400 on the field, not 413)', async () => {
    const body = JSON.stringify({ title: 'near', description: 'x'.repeat(1_000_000) });
    expect(Buffer.byteLength(body)).toBeLessThan(1_048_576);
    const err = expectEnvelope(await ann.post('/api/v1/tasks', body, JSON_TYPE), 400, 'VALIDATION_ERROR');
    expect(err.details?.map((d) => d.field)).toEqual(['description']);
  });
});

describe('contract: X-Request-Id', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('is on every response: 2xx, 204, 400, 401, 404, 413, 415', async () => {
    const created = await ann.post('/api/v1/projects', { name: 'Id' });
    const responses: [Res, number][] = [
      [await ann.get('/health/live'), 200],
      [await ann.get('/health/ready'), 200],
      [await ann.get('/api/v1/projects'), 200],
      [created, 201],
      [await ann.delete(`/api/v1/projects/${created.body.data.id}`), 204],
      [await ann.post('/api/v1/projects', { name: '' }), 400],
      [await new Client(t.app).get('/api/v1/projects'), 401],
      [await ann.get('/api/v1/nothing-here'), 404],
      [await ann.get(`/api/v1/projects/${MISSING_ID}`), 404],
      [await ann.post('/api/v1/projects', JSON.stringify({ name: 'x'.repeat(1_100_000) }), JSON_TYPE), 413],
      [await ann.post('/api/v1/projects', 'name=x', { 'content-type': 'text/plain' }), 415],
      [await ann.get('/openapi.json'), 200],
    ];
    const ids = new Set<string>();
    for (const [res, status] of responses) {
      expect(res.status).toBe(status);
      const id = res.headers['x-request-id'];
      expect(typeof id).toBe('string');
      expect(id).toMatch(UUID);
      ids.add(id as string);
      if (status >= 400) expect(res.body.request_id).toBe(id);
    }
    // One id per request.
    expect(ids.size).toBe(responses.length);
  });

  it('echoes a safe incoming id, in the header and as request_id of an error', async () => {
    for (const incoming of ['client-req-42', 'a.b:c_d-E', 'x'.repeat(128), MISSING_ID]) {
      const ok = await ann.get('/api/v1/projects', { 'x-request-id': incoming });
      expect(ok.status).toBe(200);
      expect(ok.headers['x-request-id']).toBe(incoming);

      const notFound = await ann.get('/api/v1/nope', { 'x-request-id': incoming });
      expectEnvelope(notFound, 404, 'NOT_FOUND');
      expect(notFound.body.request_id).toBe(incoming);

      const unauth = await new Client(t.app).get('/api/v1/projects', { 'x-request-id': incoming });
      expectEnvelope(unauth, 401, 'UNAUTHORIZED');
      expect(unauth.body.request_id).toBe(incoming);

      const invalid = await ann.post('/api/v1/projects', { nope: 1 }, { 'x-request-id': incoming });
      expectEnvelope(invalid, 400, 'VALIDATION_ERROR');
      expect(invalid.body.request_id).toBe(incoming);
    }
  });

  it('replaces an unsafe incoming id with its own', async () => {
    for (const incoming of [
      'has spaces in it',
      'x'.repeat(300),
      'x'.repeat(129),
      'semi;colon',
      '<script>alert(1)</script>',
      'quote"inside',
      'slash/path',
    ]) {
      const res = await ann.get('/api/v1/nope', { 'x-request-id': incoming });
      expectEnvelope(res, 404, 'NOT_FOUND');
      expect(res.headers['x-request-id']).not.toBe(incoming);
      expect(res.headers['x-request-id']).toMatch(UUID);
      expect(res.body.request_id).toBe(res.headers['x-request-id']);
      expect(res.raw).not.toContain(incoming);
    }
  });
});

describe('contract: error envelope and authentication', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('every protected route answers 401 UNAUTHORIZED with WWW-Authenticate when the token is missing', async () => {
    const anonymous = new Client(t.app);
    for (const [method, url] of PROTECTED) {
      const res = await anonymous.request(method as 'GET', url);
      const err = expectEnvelope(res, 401, 'UNAUTHORIZED');
      expect(err.details).toBeUndefined();
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('a malformed Authorization header is 401 with error="invalid_request"', async () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'token abc', 'Bearer <script>']) {
      const res = await new Client(t.app).get('/api/v1/projects', { authorization: header });
      expectEnvelope(res, 401, 'UNAUTHORIZED');
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_request"');
    }
  });

  it('an invalid, forged or revoked token is 401 with error="invalid_token" on every protected route', async () => {
    const [h, p] = ann.token!.split('.');
    const forged = `${h}.${p}.${'A'.repeat(43)}`;
    for (const token of ['abc.def.ghi', 'not-a-jwt', forged]) {
      for (const [method, url] of PROTECTED) {
        const res = await new Client(t.app, token).request(method as 'GET', url);
        expectEnvelope(res, 401, 'UNAUTHORIZED');
        expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      }
    }
    const bob = await signUp(t.app);
    const revokedToken = bob.token!;
    expect((await bob.post('/api/v1/auth/logout')).status).toBe(204);
    const res = await new Client(t.app, revokedToken).get('/api/v1/users/me');
    expectEnvelope(res, 401, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('a failed login is 401 UNAUTHORIZED in the envelope', async () => {
    const res = await new Client(t.app).post('/api/v1/auth/login', {
      email: uniqueEmail(),
      password: 'wrong password',
    });
    expectEnvelope(res, 401, 'UNAUTHORIZED');
  });

  it('schema errors, business errors, 404s, 403s and 409s all use the envelope', async () => {
    // 400 from the schema, with details naming the field.
    const schema = expectEnvelope(
      await ann.post('/api/v1/tasks', { title: { text: 'x' }, bogus: true }),
      400,
      'VALIDATION_ERROR',
    );
    expect(schema.details?.map((d) => d.field).sort()).toEqual(['bogus', 'title']);
    // 400 from the service.
    const business = expectEnvelope(
      await ann.post('/api/v1/tasks', { title: 'x', project_id: MISSING_ID }),
      400,
      'VALIDATION_ERROR',
    );
    expect(business.details).toEqual([{ field: 'project_id', message: expect.any(String) }]);
    // 400 on a path parameter.
    const param = expectEnvelope(await ann.get('/api/v1/tasks/not-a-uuid'), 400, 'VALIDATION_ERROR');
    expect(param.details?.map((d) => d.field)).toEqual(['id']);
    // 400 on a query parameter.
    const query = expectEnvelope(await ann.get('/api/v1/tasks?limit=1000'), 400, 'VALIDATION_ERROR');
    expect(query.details?.map((d) => d.field)).toEqual(['limit']);
    // 404 for a resource.
    expectEnvelope(await ann.get(`/api/v1/tasks/${MISSING_ID}`), 404, 'NOT_FOUND');
    // 409 for a taken email.
    const email = uniqueEmail();
    await signUp(t.app, { email });
    const conflict = await new Client(t.app).post('/api/v1/auth/register', {
      email: email.toUpperCase(),
      password: 'correct horse battery',
      name: 'Again',
    });
    expectEnvelope(conflict, 409, 'CONFLICT');
    // 403 for a non-admin on an admin route (the first account of a database is an admin).
    const plain = await signUp(t.app);
    expect(plain.user.role).toBe('user');
    expectEnvelope(await plain.get('/api/v1/users'), 403, 'FORBIDDEN');
  });
});

describe('contract: internal errors and a database that is down', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
    expect((await ann.get('/health/ready')).status).toBe(200);
    await t.core.database.close();
  });
  afterAll(async () => {
    // The database is already closed: closing the core again would fail, so close the rest only.
    await t.app.close();
    await t.db.drop();
  });

  it('an authenticated route answers 503 UNAVAILABLE with Retry-After and nothing internal in the body', async () => {
    for (const [method, url, body] of [
      ['GET', '/api/v1/users/me', undefined],
      ['GET', '/api/v1/tasks', undefined],
      ['POST', '/api/v1/projects', { name: 'down' }],
    ] as const) {
      const res = await ann.request(method, url, body);
      const err = expectEnvelope(res, 503, 'UNAVAILABLE');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(err.details).toBeUndefined();
      expect(res.raw).not.toMatch(/PGlite|pool|select|insert|\.ts:\d+/i);
    }
  });

  it('a public route that needs the database fails the same way', async () => {
    const res = await new Client(t.app).post('/api/v1/auth/login', {
      email: 'someone@example.com',
      password: 'correct horse battery',
    });
    expectEnvelope(res, 503, 'UNAVAILABLE');
  });

  it('readiness is 503 with Retry-After; liveness stays 200', async () => {
    const ready = await ann.get('/health/ready');
    expect(ready.status).toBe(503);
    const down = { status: 'down', latency_ms: expect.any(Number) };
    // The job queue lives in the database here: it is down with it.
    expect(ready.body).toEqual({ status: 'unavailable', checks: { database: down, queue: down } });
    expect(Number(ready.headers['retry-after'])).toBeGreaterThan(0);
    expectNoLeak(ready.raw);
    const live = await ann.get('/health/live');
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok' });
  });

  it('requests that never reach the database still answer normally', async () => {
    expectEnvelope(await ann.get('/api/v1/nope'), 404, 'NOT_FOUND');
    expectEnvelope(await new Client(t.app).get('/api/v1/tasks'), 401, 'UNAUTHORIZED');
  });
});

describe('contract: health', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('GET /health/live is 200 {status: ok}', async () => {
    const res = await new Client(t.app).get('/health/live');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /health/ready is 200 with the database and queue checks ok, each with its latency', async () => {
    const res = await new Client(t.app).get('/health/ready');
    expect(res.status).toBe(200);
    const ok = { status: 'ok', latency_ms: expect.any(Number) };
    expect(res.body).toEqual({ status: 'ok', checks: { database: ok, queue: ok } });
    expect(res.headers['retry-after']).toBeUndefined();
  });
});

describe('contract: rate limiting', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_MAX: '3' } });
  });
  afterAll(() => t.close());

  it('the 4th API request in the window is 429 RATE_LIMITED with Retry-After; health is never limited', async () => {
    // Registration is counted for the IP; a signed-in user's requests for the user.
    const ann = await signUp(t.app);
    const first = await ann.get('/api/v1/projects');
    expect(first.status).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('3');
    expect(first.headers['x-ratelimit-remaining']).toBe('2');
    expect((await ann.get('/api/v1/tasks')).status).toBe(200);
    expect((await ann.get('/api/v1/tasks')).status).toBe(200);

    const limited = await ann.get('/api/v1/projects');
    const err = expectEnvelope(limited, 429, 'RATE_LIMITED');
    expect(err.details).toBeUndefined();
    expect(err.message).toContain('per 60 s');
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.headers['x-request-id']).toMatch(UUID);

    // Every route is limited, writes included; nothing is written.
    expectEnvelope(await ann.post('/api/v1/projects', { name: 'over' }), 429, 'RATE_LIMITED');
    // Token-less requests from the same IP have their own budget (1 used by the registration).
    const anonymous = new Client(t.app);
    await anonymous.post('/api/v1/auth/login', { email: 'a@example.com', password: 'whatever1' });
    await anonymous.post('/api/v1/auth/login', { email: 'a@example.com', password: 'whatever1' });
    expectEnvelope(
      await anonymous.post('/api/v1/auth/login', { email: 'a@example.com', password: 'whatever1' }),
      429,
      'RATE_LIMITED',
    );

    for (let i = 0; i < 6; i++) {
      const live = await ann.get('/health/live');
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ status: 'ok' });
      expect((await ann.get('/health/ready')).status).toBe(200);
    }
  });
});

describe('contract: rate limiting of requests without a valid token', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_MAX: '3' } });
  });
  afterAll(() => t.close());

  it('failed logins count: the 4th is 429, and then token-less and bad-token requests are refused too', async () => {
    const anonymous = new Client(t.app);
    for (let i = 0; i < 3; i++) {
      const res = await anonymous.post('/api/v1/auth/login', {
        email: 'x@example.com',
        password: `guess-${i}`,
      });
      expectEnvelope(res, 401, 'UNAUTHORIZED');
    }
    const res = await anonymous.post('/api/v1/auth/login', { email: 'x@example.com', password: 'guess-4' });
    expectEnvelope(res, 429, 'RATE_LIMITED');
    expect(res.headers['retry-after']).toMatch(/^\d+$/);

    // The budget of this address is spent: the gateway must refuse before checking tokens.
    for (const client of [new Client(t.app), new Client(t.app, 'abc.def.ghi')]) {
      const limited = await client.get('/api/v1/projects');
      expectEnvelope(limited, 429, 'RATE_LIMITED');
      expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    }
  });
});

describe('contract: requests without a token count toward the rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_MAX: '3' } });
  });
  afterAll(() => t.close());

  it('the 4th token-less request to a protected route is 429, not 401', async () => {
    // Otherwise token guessing and unauthenticated floods are never limited.
    const anonymous = new Client(t.app, 'abc.def.ghi');
    for (let i = 0; i < 3; i++) expectEnvelope(await anonymous.get('/api/v1/tasks'), 401, 'UNAUTHORIZED');
    expectEnvelope(await anonymous.get('/api/v1/tasks'), 429, 'RATE_LIMITED');
  });
});

describe('contract: security headers', () => {
  let t: TestApp;
  let ann: Client;
  beforeAll(async () => {
    t = await createTestApp();
    ann = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('helmet headers are on successes and errors alike', async () => {
    for (const res of [
      await ann.get('/api/v1/projects'),
      await ann.get('/api/v1/nope'),
      await new Client(t.app).get('/api/v1/tasks'),
      await ann.get('/health/live'),
    ]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });
});

describe('contract: CORS with CORS_ORIGINS set', () => {
  let t: TestApp;
  const allowed = 'https://app.example.com';
  beforeAll(async () => {
    t = await createTestApp({ env: { CORS_ORIGINS: allowed } });
  });
  afterAll(() => t.close());

  const preflight = (origin: string) =>
    new Client(t.app).request('OPTIONS', '/api/v1/tasks', undefined, {
      origin,
      'access-control-request-method': 'PATCH',
      'access-control-request-headers': 'authorization,content-type',
    });

  it('a preflight from the configured origin is allowed', async () => {
    const res = await preflight(allowed);
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(allowed);
    expect(String(res.headers['access-control-allow-methods'])).toContain('PATCH');
    expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('a preflight from another origin gets no Access-Control-Allow-Origin', async () => {
    for (const origin of [
      'https://evil.example.com',
      'http://app.example.com',
      'https://app.example.com.evil.io',
    ]) {
      const res = await preflight(origin);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('actual responses carry ACAO for the configured origin only, and expose X-Request-Id', async () => {
    const ok = await new Client(t.app).get('/health/live', { origin: allowed });
    expect(ok.headers['access-control-allow-origin']).toBe(allowed);
    expect(String(ok.headers['access-control-expose-headers'])).toContain('X-Request-Id');
    const err = await new Client(t.app).get('/api/v1/tasks', { origin: allowed });
    expect(err.status).toBe(401);
    expect(err.headers['access-control-allow-origin']).toBe(allowed);
    const other = await new Client(t.app).get('/health/live', { origin: 'https://evil.example.com' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('contract: CORS without CORS_ORIGINS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('no response carries Access-Control-Allow-Origin', async () => {
    const origin = 'https://app.example.com';
    const pre = await new Client(t.app).request('OPTIONS', '/api/v1/tasks', undefined, {
      origin,
      'access-control-request-method': 'POST',
    });
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.headers['access-control-allow-methods']).toBeUndefined();
    const get = await new Client(t.app).get('/health/live', { origin });
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });
});
