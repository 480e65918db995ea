// OWASP API9:2023 Improper Inventory Management. The OpenAPI document is the inventory: every
// route the app serves is in it (or in the short list below, with why), every route in it is
// served, /docs serves the same document, what it says needs no authentication is exactly the
// known public list (a new public route fails here), and everything else refuses an anonymous
// caller. No other version or spelling of the API answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, redisEnv, type TestApp } from '../helpers/app';
import { Client, expectError, signUp } from '../helpers/client';
import { API, fill, loadSpec, type Operation, operations, type SignedUp } from './support';

/** Served but not in the document, on purpose. */
const UNDOCUMENTED: Record<string, string> = {
  '/docs': 'the API reference (Swagger UI)',
  '/openapi.json': 'the document itself',
  '/admin/queues': 'Bull Board, a web UI for admins (401/403: API5)',
  '/metrics': 'Prometheus text for operators (METRICS_TOKEN: API8)',
  '/': 'a redirect to /docs, or the web app',
};

/** The operations anyone may call without a credential, and why. */
const PUBLIC: Record<string, string> = {
  'GET /health/live': 'liveness probe',
  'GET /health/ready': 'readiness probe',
  'POST /api/v1/auth/register': 'creating an account',
  'POST /api/v1/auth/login': 'signing in',
  'POST /api/v1/auth/verify-email': 'the token of the confirmation mail is the credential',
  'GET /api/v1/calendar/feed/{file}': 'the secret in the URL is the credential (API6)',
};

const toOpenApi = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('API9:2023 Improper Inventory Management', () => {
  let t: TestApp;
  let doc: any;
  let ops: Operation[];
  let ann: SignedUp;

  beforeAll(async () => {
    // With Redis: Bull Board is mounted, so every route there can be is served.
    t = await createTestApp({ env: redisEnv() });
    await signUp(t.app, { name: 'Admin' });
    ann = await signUp(t.app, { name: 'Ann' });
    doc = await loadSpec(t.app);
    ops = operations(doc);
  });
  afterAll(() => t?.close());

  it('documents every route the app serves, except the few listed with a reason', () => {
    const documented = new Set(ops.map((o) => o.key));
    const served = t.app.routeTable;
    const gets = new Set(served.filter((r) => r.method === 'GET').map((r) => r.url));
    const unlisted = served
      .filter((r) => !(r.method === 'HEAD' && gets.has(r.url)))
      .filter(
        (r) =>
          !Object.keys(UNDOCUMENTED).some((p) => r.url === p || (p !== '/' && r.url.startsWith(`${p}/`))),
      )
      .filter((r) => !documented.has(`${r.method} ${toOpenApi(r.url)}`))
      .map((r) => `${r.method} ${r.url}`);
    expect(unlisted, 'served, but neither documented nor listed as undocumented on purpose').toEqual([]);
    const servedKeys = new Set(served.map((r) => `${r.method} ${toOpenApi(r.url)}`));
    expect(
      ops.map((o) => o.key).filter((k) => !servedKeys.has(k)),
      'documented, not served',
    ).toEqual([]);
  });

  it('serves the same document at /docs/json and /openapi.json, describing this API only', async () => {
    const docs = await new Client(t.app).get('/docs/json');
    expect(docs.status).toBe(200);
    expect(docs.body).toEqual(doc);
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info?.version).toBeTruthy();
    expect(Object.keys(doc.paths).every((p) => p.startsWith(`${API}/`) || p.startsWith('/health/'))).toBe(
      true,
    );
    expect(Object.keys(doc.paths).some((p) => /\/v[02-9]\//.test(p))).toBe(false);
  });

  it('says exactly which operations need no credential', () => {
    const open = ops.filter((o) => !o.authenticated).map((o) => o.key);
    expect(open.sort()).toEqual(Object.keys(PUBLIC).sort());
  });

  it('refuses an anonymous caller on every operation the document says needs a credential', async () => {
    const anon = new Client(t.app);
    let n = 0;
    for (const op of ops.filter((o) => o.authenticated)) {
      const url = fill(op.path, {
        id: '00000000-0000-7000-8000-000000000000',
        delivery_id: '00000000-0000-7000-8000-000000000000',
      });
      const res = await anon.request(op.method, url, op.body ? {} : undefined);
      if (res.status !== 401)
        throw new Error(`${op.key}: anonymous got ${res.status} ${res.raw.slice(0, 200)}`);
      expectError(res, 401, 'UNAUTHORIZED');
      n++;
    }
    expect(n).toBeGreaterThan(40);
  });

  it('answers no other version or spelling of the API', async () => {
    for (const prefix of [
      '/api/v0',
      '/api/v2',
      '/api/v1.1',
      '/api/v1.0',
      '/api/V1',
      '/api',
      '/v1',
      '/api/latest',
      '/api/beta',
      '/api/internal',
      '/api/private',
      '/api/v1/v1',
      '/api/v1/internal',
      '/api/v1/admin/v0',
      '/rest/v1',
      '/graphql',
    ]) {
      for (const path of ['/tasks', '/users', '/users/me', '/auth/login', '']) {
        const res = await ann.get(`${prefix}${path}`);
        expect(res.status, `${prefix}${path} → ${res.status}`).toBe(404);
        expectError(res, 404, 'NOT_FOUND');
      }
    }
    // The real one, for contrast.
    expect((await ann.get(`${API}/tasks`)).status).toBe(200);
  });
});
