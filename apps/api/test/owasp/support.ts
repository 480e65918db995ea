// Shared by the OWASP API Security Top 10 (2023) tests: the OpenAPI document as a list of
// operations (the attack surface is derived from it, so a new route is attacked or named), a
// victim with one object of every kind, and a fingerprint of every table (to prove a refused
// request changed nothing).
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import type { TestApp } from '../helpers/app';
import { Client, expectError, type Res, signUp } from '../helpers/client';
import { query } from '../helpers/wait';
import { type CalDavServer, startCalDav } from './caldav-server';

export const API = '/api/v1';
export type SignedUp = Awaited<ReturnType<typeof signUp>>;
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export interface Operation {
  method: Method;
  /** As in the document: /api/v1/tasks/{id}. */
  path: string;
  /** "PATCH /api/v1/tasks/{id}". */
  key: string;
  pathParams: string[];
  queryParams: { name: string; schema: any }[];
  body: any | undefined;
  /** undefined: no authentication; [] sessions only; else the API key scopes it takes ([] inside: any key). */
  apiKeyScopes: string[] | undefined | null;
  authenticated: boolean;
  op: any;
}

/** The OpenAPI document the app serves (the same as /openapi.json). */
export async function loadSpec(app: FastifyInstance): Promise<any> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  return res.json();
}

function resolve(doc: any, schema: any): any {
  if (schema?.$ref) return doc.components.schemas[String(schema.$ref).split('/').pop()!];
  return schema;
}

/** Every operation of the document. */
export function operations(doc: any): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])];
      const security: any[] | undefined = op.security;
      const apiKey = security?.find((s) => 'apiKeyAuth' in s);
      out.push({
        method: m.toUpperCase() as Method,
        path,
        key: `${m.toUpperCase()} ${path}`,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        body: resolve(doc, op.requestBody?.content?.['application/json']?.schema),
        apiKeyScopes: security === undefined ? undefined : apiKey ? apiKey.apiKeyAuth : null,
        authenticated: security !== undefined && security.length > 0,
        op,
      });
    }
  }
  return out;
}

/** Replaces {name} in a path. */
export function fill(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for {${name}} in ${path}`);
    return encodeURIComponent(v);
  });
}

// ---------------------------------------------------------------------------------------------
// The database, fingerprinted

/** The application's tables (public schema), without the migration bookkeeping. */
const tablesOf = new WeakMap<TestApp, string[]>();
export async function tableNames(t: TestApp): Promise<string[]> {
  const known = tablesOf.get(t);
  if (known) return known;
  const rows = await query<{ name: string }>(
    t,
    sql`select table_name as name from information_schema.tables
        where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`,
  );
  const names = rows.map((r) => r.name).filter((n) => !n.startsWith('__drizzle'));
  tablesOf.set(t, names);
  return names;
}

export interface SnapshotOptions {
  /** Tables left out entirely, each with the reason. */
  skipTables?: Record<string, string>;
  /** Columns left out of a table's rows (e.g. users.last_seen_at), each with the reason. */
  skipColumns?: Record<string, Record<string, string>>;
}

/**
 * One md5 per table over every row (as JSON, minus the skipped columns), e.g.
 * `select md5(string_agg(r, '' order by r)) from (select (to_jsonb(t) - 'last_seen_at')::text r from users t)`.
 * Identical fingerprints: not one row was added, removed or changed.
 */
export async function snapshot(t: TestApp, opts: SnapshotOptions = {}): Promise<Record<string, string>> {
  const parts = (await tableNames(t))
    .filter((table) => !opts.skipTables?.[table])
    .map((table) => {
      const minus = Object.keys(opts.skipColumns?.[table] ?? {})
        .map((c) => ` - '${c}'`)
        .join('');
      return `select '${table}' as t, count(*)::int as n, md5(coalesce(string_agg(r, '|' order by r), '')) as h
              from (select (to_jsonb(x)${minus})::text as r from "${table}" x) y`;
    });
  // One round trip for every table.
  const rows = await query<{ t: string; n: number; h: string }>(t, sql.raw(parts.join('\nunion all\n')));
  return Object.fromEntries(rows.map((r) => [r.t, `${r.n}:${r.h}`]));
}

/**
 * What a refused request may still write: the caller's own last-seen time (users.last_seen_at, a
 * dashboard figure kept to the nearest few minutes), the last use of Bob's key
 * (api_keys.last_used_at), the audit log (it records attempts, refused ones included: that is its job), the
 * per-process samples the metrics sampler writes on its own timer, and failed sign-in counters.
 */
export const REFUSED_MAY_TOUCH: SnapshotOptions = {
  skipTables: {
    audit_log: 'records attempts, refused ones included',
    process_samples: 'written by the metrics sampler on a timer',
    login_throttle: 'failed sign-in counters',
  },
  skipColumns: {
    users: { last_seen_at: 'the caller’s last request' },
    api_keys: { last_used_at: 'the caller’s key was used' },
  },
};

/** The tables whose fingerprints differ. */
export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k]);
}

// ---------------------------------------------------------------------------------------------
// A victim with one object of every kind

export interface Owned {
  user: SignedUp;
  project: string;
  projectName: string;
  /** A repeating task completed once (so it has a completion), in the project. */
  task: string;
  /** A second task, archived. */
  archivedTask: string;
  webhook: string;
  /** A ping delivery of the webhook (pending: no worker runs in these tests, nothing is sent). */
  delivery: string;
  apiKey: string;
  /** The key itself (tm_…), all scopes. */
  apiKeySecret: string;
  calendarConnection: string;
  /** The secret of the calendar feed URL (…/calendar/feed/<file>). */
  feedFile: string;
}

export const ALL_SCOPES = [
  'tasks:read',
  'tasks:write',
  'projects:read',
  'projects:write',
  'webhooks:manage',
  'reports:read',
];

/** A public address (documentation: example.com's) nothing is ever sent to in these tests. */
export const PUBLIC_HOOK_URL = 'https://93.184.216.34/taskman-hook';

async function ok(res: Promise<Res>, status: number, what: string): Promise<any> {
  const r = await res;
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.raw}`);
  return r.body?.data;
}

/**
 * How each kind of object is made, through the API as its owner would. The calendar connection
 * needs a CalDAV server to sign in to: a minimal one on loopback, which is why the app must have
 * CALDAV_ALLOW_PRIVATE (the SSRF guard itself is attacked in API7 with it off).
 */
export async function populate(
  app: FastifyInstance,
  opts: { name?: string; caldav?: CalDavServer } = {},
): Promise<Owned> {
  const name = opts.name ?? 'Victim';
  const user = await signUp(app, { name });
  const projectName = `Secret plans of ${name} ${Math.random().toString(36).slice(2, 8)}`;
  const project = await ok(user.post(`${API}/projects`, { name: projectName }), 201, 'project');
  const task = await ok(
    user.post(`${API}/tasks`, {
      title: `Water the plants of ${name}`,
      project_id: project.id,
      due_date: new Date(Date.now() + 86_400_000).toISOString(),
      recurrence: { rule: 'FREQ=DAILY' },
      tags: ['private'],
    }),
    201,
    'task',
  );
  await ok(user.patch(`${API}/tasks/${task.id}`, { status: 'done' }), 200, 'complete task');
  const archived = await ok(user.post(`${API}/tasks`, { title: `Old secret of ${name}` }), 201, 'task 2');
  await ok(user.post(`${API}/tasks/${archived.id}/archive`), 200, 'archive');
  const webhook = await ok(
    user.post(`${API}/webhooks`, { url: PUBLIC_HOOK_URL, events: ['task.created'] }),
    201,
    'webhook',
  );
  const delivery = await ok(user.post(`${API}/webhooks/${webhook.id}/ping`), 202, 'ping');
  const key = await ok(user.post(`${API}/api-keys`, { name: 'all', scopes: ALL_SCOPES }), 201, 'api key');
  const feed = await ok(user.post(`${API}/calendar/feed`), 201, 'calendar feed');
  const caldav = opts.caldav ?? (await startCalDav());
  const connection = await ok(
    user.post(`${API}/calendar/connections`, {
      server_url: caldav.url,
      username: 'victim',
      password: 'caldav-password-of-the-victim',
    }),
    201,
    'calendar connection',
  );
  if (!opts.caldav) await caldav.close();
  return {
    user,
    project: project.id,
    projectName,
    task: task.id,
    archivedTask: archived.id,
    webhook: webhook.id,
    delivery: delivery.id,
    apiKey: key.id,
    apiKeySecret: key.key,
    calendarConnection: connection.id,
    feedFile: String(feed.url).split('/').pop()!,
  };
}

/** A client that sends an API key. */
export const withKey = (app: FastifyInstance, key: string) => new Client(app, key);

/** The error envelope, without the request id (which differs on every request). */
export function errorShape(res: Res) {
  return { status: res.status, body: { ...res.body, request_id: undefined } };
}

/** 404 NOT_FOUND in the envelope, with nothing else. */
export function expectNotFound(res: Res, what: string) {
  if (res.status !== 404) throw new Error(`${what}: expected 404, got ${res.status} ${res.raw}`);
  expectError(res, 404, 'NOT_FOUND');
  expect(res.body.data, what).toBeUndefined();
}

/** Every string in a JSON value (keys included). */
export function* strings(value: unknown): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const v of value) yield* strings(v);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      yield k;
      yield* strings(v);
    }
}

/** Every key anywhere in a JSON value. */
export function* keysOf(value: unknown): Generator<string> {
  if (Array.isArray(value)) for (const v of value) yield* keysOf(v);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      yield k;
      yield* keysOf(v);
    }
}

// ---------------------------------------------------------------------------------------------
// A valid request for every write of the document

export interface WriteRequest {
  params?: Record<string, string>;
  body?: unknown;
}

/**
 * A request each write route accepts, given the caller's objects: the base the attacks change one
 * thing of (BOPLA adds a field, the property test replaces the body). A write route of the
 * document missing here fails the tests that use it.
 */
export const VALID_WRITES: Record<string, (o: Owned) => WriteRequest> = {
  'POST /api/v1/auth/register': () => ({
    body: {
      email: `new.${Math.random().toString(36).slice(2)}@example.com`,
      password: 'x9-long-pass',
      name: 'N',
    },
  }),
  'POST /api/v1/auth/login': (o) => ({ body: { email: o.user.user.email, password: o.user.password } }),
  'POST /api/v1/auth/verify-email': () => ({ body: { token: 'A'.repeat(43) } }),
  'POST /api/v1/auth/logout': () => ({}),
  'PATCH /api/v1/users/me': () => ({ body: { name: 'Renamed' } }),
  'DELETE /api/v1/users/me': (o) => ({ body: { password: o.user.password } }),
  'PUT /api/v1/users/me/password': (o) => ({
    body: { current_password: o.user.password, new_password: o.user.password },
  }),
  'POST /api/v1/projects': () => ({ body: { name: 'P' } }),
  'PATCH /api/v1/projects/{id}': (o) => ({ params: { id: o.project }, body: { name: 'P2' } }),
  'DELETE /api/v1/projects/{id}': (o) => ({ params: { id: o.project } }),
  'POST /api/v1/tasks': () => ({ body: { title: 'T' } }),
  'POST /api/v1/tasks/parse': () => ({ body: { text: 'Pay rent tomorrow !high' } }),
  'PATCH /api/v1/tasks/{id}': (o) => ({ params: { id: o.task }, body: { title: 'T2' } }),
  'DELETE /api/v1/tasks/{id}': (o) => ({ params: { id: o.task } }),
  'POST /api/v1/tasks/{id}/archive': (o) => ({ params: { id: o.task } }),
  'POST /api/v1/tasks/{id}/unarchive': (o) => ({ params: { id: o.archivedTask } }),
  'POST /api/v1/api-keys': () => ({ body: { name: 'K', scopes: ['tasks:read'] } }),
  'DELETE /api/v1/api-keys/{id}': (o) => ({ params: { id: o.apiKey } }),
  'POST /api/v1/webhooks': () => ({ body: { url: PUBLIC_HOOK_URL, events: ['task.created'] } }),
  'PATCH /api/v1/webhooks/{id}': (o) => ({ params: { id: o.webhook }, body: { description: 'D' } }),
  'DELETE /api/v1/webhooks/{id}': (o) => ({ params: { id: o.webhook } }),
  'POST /api/v1/webhooks/{id}/rotate-secret': (o) => ({
    params: { id: o.webhook },
    body: { previous_secret_hours: 1 },
  }),
  'POST /api/v1/webhooks/{id}/ping': (o) => ({ params: { id: o.webhook } }),
  'POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver': (o) => ({
    params: { id: o.webhook, delivery_id: o.delivery },
  }),
  'POST /api/v1/calendar/feed': () => ({}),
  'DELETE /api/v1/calendar/feed': () => ({}),
  'POST /api/v1/calendar/connections': () => ({
    body: { server_url: 'https://93.184.216.34/dav/', username: 'u', password: 'p' },
  }),
  'POST /api/v1/calendar/connections/{id}/sync': (o) => ({ params: { id: o.calendarConnection } }),
  'DELETE /api/v1/calendar/connections/{id}': (o) => ({ params: { id: o.calendarConnection } }),
  'POST /api/v1/admin/jobs/retry': () => ({ body: { id: 'no-such-job' } }),
  // The admin account switch (CONTRACT of API5).
  'PATCH /api/v1/admin/users/{id}': (o) => ({ params: { id: o.user.user.id }, body: { role: 'user' } }),
};
