// A fresh database and Redis namespace for a benchmark, and a realistic tasks table in it.
import { Redis } from 'ioredis';
import pg from 'pg';
import { v7 } from 'uuid';

const IDENT = /^[a-z_][a-z0-9_]*$/;

/** Drops and re-creates `name` on the server of `adminUrl` (a URL of another database there). */
export async function resetDatabase(adminUrl: string, name: string): Promise<void> {
  if (!IDENT.test(name)) throw new Error(`not a plain database name: ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  if (!IDENT.test(name)) throw new Error(`not a plain database name: ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}

/** Deletes every key under `prefix` (and nothing else). */
export async function clearRedisPrefix(url: string, prefix: string): Promise<number> {
  if (prefix.length < 3) throw new Error('refusing to clear a short Redis prefix');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    const stream = redis.scanStream({ match: `${prefix}*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length) deleted += await redis.unlink(...keys);
    }
  } finally {
    await redis.quit();
  }
  return deleted;
}

// A small deterministic generator, so every run seeds the same shape of data.
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const WORDS = (
  'review update deploy draft fix write call plan test migrate invoice report design refactor ' +
  'meeting budget release customer onboarding backlog sprint roadmap audit security docs api ' +
  'database cache dashboard metrics email follow-up quarterly weekly contract hiring laptop'
).split(' ');
const TAGS = ['work', 'home', 'urgent', 'q3', 'backend', 'frontend', 'ops', 'finance', 'errand', 'idea'];
const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
const STATUSES = ['todo', 'in_progress', 'done'] as const;

export interface FakeTask {
  title: string;
  description: string | null;
  dueDate: Date | null;
  priority: (typeof PRIORITIES)[number];
  status: (typeof STATUSES)[number];
  tags: string[];
  projectIndex: number | null;
}

/** A task as people write them: a few words, often a paragraph, some tags, some due dates. */
export function fakeTask(random: () => number, now: number, projects: number, futureOnly = false): FakeTask {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const words = (n: number) => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const title = words(2 + Math.floor(random() * 6));
  const description =
    random() < 0.3 ? null : `${words(8 + Math.floor(random() * 40))}.`.replace(/^./, (c) => c.toUpperCase());
  const day = 86_400_000;
  const dueDate =
    random() < 0.4
      ? null
      : new Date(now + (futureOnly ? 1 + random() * 60 : -30 + random() * 90) * day + 3_600_000);
  const tags = [...new Set(Array.from({ length: Math.floor(random() * 4) }, () => pick(TAGS)))];
  return {
    title: title.charAt(0).toUpperCase() + title.slice(1),
    description,
    dueDate,
    priority: pick(PRIORITIES),
    status: pick(STATUSES),
    tags,
    projectIndex: random() < 0.7 ? Math.floor(random() * projects) : null,
  };
}

async function api<T>(url: string, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { data?: T };
  if (!res.ok || !json.data) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

/**
 * The benchmark's user, made through Taskman's API: registered, with `projects` projects and
 * `tasks` tasks created by POST /api/v1/tasks. Returns the token and the task ids.
 */
export async function seedBenchUser(
  url: string,
  opts: { tasks: number; projects: number },
): Promise<{ token: string; userId: string; taskIds: string[] }> {
  const session = await api<{ token: string; user: { id: string } }>(url, '/api/v1/auth/register', {
    email: 'bench-user@bench.example',
    password: 'bench-password-123456',
    name: 'Bench User',
  });
  const projectIds: string[] = [];
  for (let i = 0; i < opts.projects; i++) {
    const p = await api<{ id: string }>(url, '/api/v1/projects', { name: `Project ${i + 1}` }, session.token);
    projectIds.push(p.id);
  }
  const random = rng(1);
  const now = Date.now();
  const bodies = Array.from({ length: opts.tasks }, () => {
    const t = fakeTask(random, now, opts.projects, true);
    return {
      title: t.title,
      description: t.description,
      due_date: t.dueDate?.toISOString() ?? null,
      priority: t.priority,
      status: t.status,
      tags: t.tags,
      project_id: t.projectIndex === null ? null : projectIds[t.projectIndex],
    };
  });
  const taskIds: string[] = new Array(bodies.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < bodies.length) {
        const i = next++;
        taskIds[i] = (await api<{ id: string }>(url, '/api/v1/tasks', bodies[i], session.token)).id;
      }
    }),
  );
  return { token: session.token, userId: session.user.id, taskIds };
}

/**
 * The other users, straight into the tables (the same columns the API fills): `users` users with
 * `projects` projects and `tasks` tasks each. The ids are UUIDv7, as Taskman makes them.
 */
export async function seedOtherUsers(
  databaseUrl: string,
  opts: { users: number; tasks: number; projects: number },
): Promise<void> {
  const random = rng(2);
  const now = Date.now();
  const u = { id: [] as string[], email: [] as string[], name: [] as string[] };
  const p = { id: [] as string[], user: [] as string[], name: [] as string[] };
  const t = emptyTasks();
  for (let i = 0; i < opts.users; i++) {
    const userId = v7();
    u.id.push(userId);
    u.email.push(`user${i + 1}@bench.example`);
    u.name.push(`User ${i + 1}`);
    const projectIds = Array.from({ length: opts.projects }, (_, j) => {
      const id = v7();
      p.id.push(id);
      p.user.push(userId);
      p.name.push(`Project ${j + 1}`);
      return id;
    });
    for (let j = 0; j < opts.tasks; j++) {
      const f = fakeTask(random, now, opts.projects);
      const created = new Date(now - random() * 180 * 86_400_000);
      t.id.push(v7());
      t.user.push(userId);
      t.project.push(f.projectIndex === null ? null : projectIds[f.projectIndex]!);
      t.title.push(f.title);
      t.description.push(f.description);
      t.due.push(f.dueDate?.toISOString() ?? null);
      t.priority.push(f.priority);
      t.status.push(f.status);
      t.tags.push(f.tags.join(','));
      t.created.push(created.toISOString());
      t.completed.push(f.status === 'done' ? new Date(created.getTime() + 86_400_000).toISOString() : null);
      t.archived.push(random() < 0.05 ? new Date(now - 86_400_000).toISOString() : null);
    }
  }
  // Not a real password hash: these users never sign in.
  const hash = '$2b$12$benchbenchbenchbenchbeOu7mV1m0s5aJx0e3dYwJbJbWb7YJH5m';
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(
      `insert into users (id, email, name, password_hash)
       select id, email, name, $4 from unnest($1::uuid[], $2::text[], $3::text[]) as x(id, email, name)`,
      [u.id, u.email, u.name, hash],
    );
    await client.query(
      `insert into projects (id, user_id, name)
       select * from unnest($1::uuid[], $2::uuid[], $3::text[])`,
      [p.id, p.user, p.name],
    );
    await insertTasks(client, t);
    await client.query('commit');
    await client.query('analyze users, projects, tasks');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}

/** Columns of tasks to insert, one array per column (the same index is the same task). */
export function emptyTasks() {
  return {
    id: [] as string[],
    user: [] as string[],
    project: [] as (string | null)[],
    title: [] as string[],
    description: [] as (string | null)[],
    due: [] as (string | null)[],
    priority: [] as string[],
    status: [] as string[],
    tags: [] as string[],
    created: [] as string[],
    completed: [] as (string | null)[],
    archived: [] as (string | null)[],
  };
}

/** One multi-row INSERT of the tasks in `t` (unnest of its arrays), in the columns the API fills. */
export async function insertTasks(client: pg.Client, t: ReturnType<typeof emptyTasks>): Promise<void> {
  await client.query(
    `insert into tasks (id, user_id, project_id, title, description, due_date, priority, status, tags,
                        created_at, updated_at, completed_at, archived_at)
     select id, user_id, project_id, title, description, due, priority, status,
            coalesce(string_to_array(nullif(tags, ''), ','), '{}'), created, created, completed, archived
     from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[],
                 $7::task_priority[], $8::task_status[], $9::text[], $10::timestamptz[],
                 $11::timestamptz[], $12::timestamptz[])
       as x(id, user_id, project_id, title, description, due, priority, status, tags, created, completed, archived)`,
    [
      t.id,
      t.user,
      t.project,
      t.title,
      t.description,
      t.due,
      t.priority,
      t.status,
      t.tags,
      t.created,
      t.completed,
      t.archived,
    ],
  );
}
