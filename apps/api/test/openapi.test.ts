import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, signUp } from './helpers/client';

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'options', 'head'] as const;
/** Public, or authenticated by a secret in the URL (the calendar feed). */
const PUBLIC_API = new Set([
  'post /api/v1/auth/register',
  'post /api/v1/auth/login',
  'post /api/v1/auth/verify-email',
  'get /api/v1/calendar/feed/{file}',
]);
/** POST routes that take no body by design. */
const NO_BODY = new Set([
  'post /api/v1/auth/logout',
  'post /api/v1/calendar/feed',
  'post /api/v1/calendar/connections/{id}/sync',
  'post /api/v1/tasks/{id}/archive',
  'post /api/v1/tasks/{id}/unarchive',
  'post /api/v1/webhooks/{id}/ping',
  'post /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver',
]);
/** POST routes whose body is optional (the defaults apply without one). */
const OPTIONAL_BODY = new Set(['post /api/v1/webhooks/{id}/rotate-secret']);
const ERROR_REF = '#/components/schemas/Error';

const TASK_FIELDS = [
  'id',
  'title',
  'description',
  'due_date',
  'priority',
  'status',
  'tags',
  'project_id',
  'created_at',
  'updated_at',
  'completed_at',
  'archived_at',
  'remind_at',
  'reminder_mode',
  'recurrence',
  'version',
];

/** The operations the API serves today; the document must describe at least these. */
const EXPECTED_OPERATIONS = [
  'post /api/v1/auth/register',
  'post /api/v1/auth/login',
  'post /api/v1/auth/logout',
  'get /api/v1/users/me',
  'patch /api/v1/users/me',
  'delete /api/v1/users/me',
  'put /api/v1/users/me/password',
  'get /api/v1/users',
  'post /api/v1/projects',
  'get /api/v1/projects',
  'get /api/v1/projects/{id}',
  'patch /api/v1/projects/{id}',
  'delete /api/v1/projects/{id}',
  'get /api/v1/projects/{id}/tasks',
  'post /api/v1/tasks',
  'get /api/v1/tasks',
  'get /api/v1/tasks/{id}',
  'patch /api/v1/tasks/{id}',
  'delete /api/v1/tasks/{id}',
  'post /api/v1/api-keys',
  'get /api/v1/api-keys',
  'delete /api/v1/api-keys/{id}',
  'post /api/v1/webhooks',
  'get /api/v1/webhooks',
  'get /api/v1/webhooks/{id}',
  'patch /api/v1/webhooks/{id}',
  'delete /api/v1/webhooks/{id}',
  'post /api/v1/webhooks/{id}/rotate-secret',
  'post /api/v1/webhooks/{id}/ping',
  'get /api/v1/webhooks/{id}/deliveries',
  'get /api/v1/webhooks/{id}/deliveries/{delivery_id}',
  'post /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver',
  'get /health/live',
  'get /health/ready',
];

interface Operation {
  key: string;
  method: string;
  path: string;
  op: any;
}

function operationsOf(doc: any): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const method of METHODS) {
      if (item[method]) out.push({ key: `${method} ${path}`, method, path, op: item[method] });
    }
  }
  return out;
}

/** Follows a local `$ref` (`#/components/...`) to the schema it names. */
function deref(doc: any, schema: any): any {
  if (!schema?.$ref) return schema;
  expect(schema.$ref).toMatch(/^#\//);
  return (schema.$ref as string)
    .slice(2)
    .split('/')
    .reduce((node: any, part: string) => node?.[part], doc);
}

/** Every `$ref` anywhere in a JSON value. */
function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

/** Every property name anywhere in the document's schemas. */
function propertyNames(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) propertyNames(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'properties' && v && typeof v === 'object') for (const name of Object.keys(v)) out.add(name);
      propertyNames(v, out);
    }
  }
  return out;
}

describe('openapi document', () => {
  let t: TestApp;
  let doc: any;
  let ops: Operation[];
  let apiOps: Operation[];
  beforeAll(async () => {
    t = await createTestApp();
    const res = await new Client(t.app).get('/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
    ops = operationsOf(doc);
    apiOps = ops.filter((o) => o.path.startsWith('/api/v1/'));
  });
  afterAll(() => t.close());

  it('is served as JSON, is OpenAPI 3.1.0 and declares the bearer scheme', async () => {
    const res = await new Client(t.app).get('/openapi.json');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTypeOf('string');
    expect(doc.info.version).toBeTypeOf('string');
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('describes every operation the API serves, and nothing of its own plumbing', () => {
    const keys = ops.map((o) => o.key);
    for (const expected of EXPECTED_OPERATIONS) expect(keys).toContain(expected);
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of keys) {
      expect(k).not.toMatch(/openapi\.json|\/docs/);
    }
  });

  it('every /api/v1 operation has a 2xx response with a JSON schema, or a 204 without content', () => {
    expect(apiOps.length).toBeGreaterThanOrEqual(19);
    for (const { key, op } of apiOps) {
      const success = Object.keys(op.responses ?? {}).filter((s) => /^2\d\d$/.test(s));
      expect(success, key).not.toHaveLength(0);
      for (const status of success) {
        const response = op.responses[status];
        if (status === '204') {
          expect(response.content, key).toBeUndefined();
          continue;
        }
        // The calendar feed is iCalendar, the live events a stream: not JSON.
        const other = response.content?.['text/calendar'] ?? response.content?.['text/event-stream'];
        if (other && !response.content['application/json']) continue;
        const schema = deref(doc, response.content?.['application/json']?.schema);
        expect(schema, `${key} ${status}`).toBeTypeOf('object');
        expect(schema.properties?.success, `${key} ${status}`).toEqual({ type: 'boolean', enum: [true] });
        expect(schema.properties?.data, `${key} ${status}`).toBeTypeOf('object');
        expect(schema.required, `${key} ${status}`).toEqual(expect.arrayContaining(['success', 'data']));
      }
    }
  });

  it('list operations declare meta with page, limit, total and total_pages', () => {
    for (const key of [
      'get /api/v1/projects',
      'get /api/v1/tasks',
      'get /api/v1/projects/{id}/tasks',
      'get /api/v1/users',
    ]) {
      const op = ops.find((o) => o.key === key)!;
      const schema = deref(doc, op.op.responses['200'].content['application/json'].schema);
      expect(schema.properties.data.type, key).toBe('array');
      expect(Object.keys(schema.properties.meta.properties).sort(), key).toEqual([
        'limit',
        'page',
        'total',
        'total_pages',
      ]);
      expect(schema.required, key).toEqual(expect.arrayContaining(['success', 'data', 'meta']));
    }
  });

  it('creates answer 201 and deletes answer 204', () => {
    for (const { key, method, op } of apiOps) {
      if (method === 'delete') {
        expect(Object.keys(op.responses), key).toContain('204');
        expect(op.responses['200'], key).toBeUndefined();
      }
    }
    for (const key of ['post /api/v1/projects', 'post /api/v1/tasks', 'post /api/v1/auth/register']) {
      expect(Object.keys(ops.find((o) => o.key === key)!.op.responses), key).toContain('201');
    }
  });

  it('protected operations require bearerAuth; register, verify-email and login do not', () => {
    for (const { key, op } of apiOps) {
      if (PUBLIC_API.has(key)) {
        expect(op.security ?? [], key).toEqual([]);
      } else {
        // A session's token always; an API key where the route names the scopes it needs.
        expect(op.security[0], key).toEqual({ bearerAuth: [] });
        if (op.security.length > 1) {
          expect(op.security, key).toHaveLength(2);
          expect(Object.keys(op.security[1]), key).toEqual(['apiKeyAuth']);
          expect(op.description, key).toMatch(/API keys? (need|may)/);
        } else expect(op.description ?? '', key).toMatch(/Signed-in sessions only/);
        expect(Object.keys(op.responses), key).toContain('401');
      }
    }
    // No global requirement that would make register and login look protected.
    expect(doc.security ?? []).toEqual([]);
  });

  it('POST, PATCH and PUT operations declare a required JSON request body', () => {
    for (const { key, method, op } of apiOps) {
      if (!['post', 'patch', 'put'].includes(method) || NO_BODY.has(key)) continue;
      expect(op.requestBody, key).toBeDefined();
      expect(op.requestBody.required, key).toBe(!OPTIONAL_BODY.has(key));
      const schema = deref(doc, op.requestBody.content?.['application/json']?.schema);
      expect(schema?.type, key).toBe('object');
      expect(schema.additionalProperties, key).toBe(false);
    }
    const logout = ops.find((o) => o.key === 'post /api/v1/auth/logout')!;
    expect(logout.op.requestBody).toBeUndefined();
  });

  it('the Task schema lists every field of a task, all required', () => {
    for (const key of ['get /api/v1/tasks/{id}', 'post /api/v1/tasks', 'patch /api/v1/tasks/{id}']) {
      const op = ops.find((o) => o.key === key)!;
      const status = key.startsWith('post') ? '201' : '200';
      const envelope = deref(doc, op.op.responses[status].content['application/json'].schema);
      const task = deref(doc, envelope.properties.data);
      expect(Object.keys(task.properties).sort(), key).toEqual([...TASK_FIELDS].sort());
      expect([...task.required].sort(), key).toEqual([...TASK_FIELDS].sort());
    }
    for (const key of ['get /api/v1/tasks', 'get /api/v1/projects/{id}/tasks']) {
      const op = ops.find((o) => o.key === key)!;
      const envelope = deref(doc, op.op.responses['200'].content['application/json'].schema);
      const task = deref(doc, envelope.properties.data.items);
      expect(Object.keys(task.properties).sort(), key).toEqual([...TASK_FIELDS].sort());
    }
  });

  it('the Project schema lists its fields', () => {
    const op = ops.find((o) => o.key === 'get /api/v1/projects/{id}')!;
    const envelope = deref(doc, op.op.responses['200'].content['application/json'].schema);
    const project = deref(doc, envelope.properties.data);
    expect(Object.keys(project.properties).sort()).toEqual([
      'created_at',
      'description',
      'id',
      'name',
      'updated_at',
      'version',
    ]);
  });

  it('never mentions password hashes or owner ids', () => {
    const text = JSON.stringify(doc);
    for (const secret of [
      'password_hash',
      'passwordHash',
      'user_id',
      'userId',
      'session_epoch',
      'sessionEpoch',
    ]) {
      expect(text).not.toContain(secret);
    }
    const names = propertyNames(doc);
    expect(names.has('password_hash')).toBe(false);
    expect(names.has('user_id')).toBe(false);
  });

  it('declares the Error schema with the envelope of DESIGN §4', () => {
    const error = doc.components.schemas.Error;
    expect(error).toBeDefined();
    expect(error.type).toBe('object');
    expect([...error.required].sort()).toEqual(['error', 'request_id', 'success']);
    expect(error.properties.success).toEqual({ type: 'boolean', enum: [false] });
    expect(error.properties.request_id.type).toBe('string');
    const inner = error.properties.error;
    expect(inner.type).toBe('object');
    expect([...inner.required].sort()).toEqual(['code', 'message']);
    expect(Object.keys(inner.properties).sort()).toEqual(['code', 'current_version', 'details', 'message']);
    expect(inner.properties.details.type).toBe('array');
    expect(Object.keys(inner.properties.details.items.properties).sort()).toEqual(['field', 'message']);
    expect(inner.properties.current_version.type).toBe('integer');
  });

  it('every error response of an /api/v1 operation references the Error schema', () => {
    let count = 0;
    for (const { key, op } of apiOps) {
      for (const [status, response] of Object.entries<any>(op.responses)) {
        if (!/^[45]\d\d$/.test(status)) continue;
        count++;
        expect(response.content?.['application/json']?.schema, `${key} ${status}`).toEqual({
          $ref: ERROR_REF,
        });
        expect(response.description, `${key} ${status}`).toBeTypeOf('string');
      }
    }
    expect(count).toBeGreaterThan(apiOps.length);
  });

  it('operations that take input declare 400, and operations on one resource declare 404', async () => {
    const missing400: string[] = [];
    const missing404: string[] = [];
    for (const { key, op, path } of apiOps) {
      const hasInput = op.requestBody || (op.parameters ?? []).length > 0;
      if (hasInput && !op.responses['400']) missing400.push(key);
      if (path.includes('{id}') && !op.responses['404']) missing404.push(key);
    }
    expect(missing404).toEqual([]);
    expect(missing400).toEqual([]);
  });

  it('GET /api/v1/users does answer 400 to a bad query (so the document must declare it)', async () => {
    const admin = await signUp(t.app);
    expect(admin.user.role).toBe('admin');
    const res = await admin.get('/api/v1/users?limit=1000');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('every $ref resolves to a component of the document', () => {
    const refs = refsIn(doc.paths);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(ref, ref).toMatch(/^#\/components\/schemas\//);
      expect(deref(doc, { $ref: ref }), ref).toBeDefined();
    }
  });

  it('path parameters are declared, required and typed as uuids', () => {
    for (const { key, path, op } of apiOps) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const name of names) {
        const param = (op.parameters ?? []).find((p: any) => p.in === 'path' && p.name === name);
        expect(param, `${key} ${name}`).toBeDefined();
        expect(param.required, `${key} ${name}`).toBe(true);
        // Ids are uuids; the calendar feed's path carries its secret token instead.
        if (key === 'get /api/v1/calendar/feed/{file}')
          expect(param.schema, key).toMatchObject({
            type: 'string',
            pattern: expect.stringContaining('tmcal_'),
          });
        else expect(param.schema, `${key} ${name}`).toMatchObject({ type: 'string', format: 'uuid' });
      }
    }
  });

  it('query parameters that have a default are not marked required', async () => {
    // page, limit and sort may be left out (the API fills in their defaults), so a client
    // generated from the document must not be forced to send them.
    const wronglyRequired: string[] = [];
    let checked = 0;
    for (const { key, op } of apiOps) {
      for (const param of op.parameters ?? []) {
        if (param.in !== 'query' || param.schema?.default === undefined) continue;
        checked++;
        if (param.required === true) wronglyRequired.push(`${key} ?${param.name}`);
      }
    }
    expect(checked).toBeGreaterThan(0);
    // The API indeed answers without them.
    const ann = await signUp(t.app);
    const res = await ann.get('/api/v1/tasks');
    expect(res.status).toBe(200);
    expect(res.body.meta).toMatchObject({ page: 1, limit: 20 });
    expect(wronglyRequired).toEqual([]);
  });
});

describe('interactive docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('GET /docs serves the HTML reference (following a redirect if any)', async () => {
    const client = new Client(t.app);
    let url = '/docs';
    let res = await client.get(url);
    for (let hops = 0; hops < 3 && res.status >= 300 && res.status < 400; hops++) {
      const location = String(res.headers.location);
      url = new URL(location, `http://localhost${url}`).pathname;
      res = await client.get(url);
    }
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.raw).toMatch(/<html/i);
    expect(res.raw).toContain('swagger-ui');
  });

  it('the docs page loads its document from the app', async () => {
    const client = new Client(t.app);
    const init = await client.get('/docs/static/swagger-initializer.js');
    expect(init.status).toBe(200);
    const json = await client.get('/docs/json');
    expect(json.status).toBe(200);
    expect(json.body.openapi).toBe('3.1.0');
  });
});

describe('openapi named schemas', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('names Task, Project, User and Session as components, and the routes reference them', async () => {
    const doc = JSON.parse((await t.app.inject({ url: '/openapi.json' })).body);
    for (const name of ['Task', 'Project', 'User', 'Session', 'Error']) {
      expect(doc.components.schemas[name], name).toBeDefined();
    }
    const data =
      doc.paths['/api/v1/tasks/{id}'].get.responses['200'].content['application/json'].schema.properties.data;
    expect(data.$ref).toBe('#/components/schemas/Task');
    expect(doc.components.schemas.Session.properties.user.$ref).toBe('#/components/schemas/User');
    expect(JSON.stringify(doc.components.schemas.User)).not.toMatch(/password|session_epoch/);
  });
});
