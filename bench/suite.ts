// `npm run bench`: Taskman in cluster mode (local PostgreSQL and Redis) on a realistic data set,
// every main request path, and in the same run the baselines each is compared with (bench/README.md).
//
//   npm run bench                  10,000 users, 1,000,000 tasks (seeded once, reused), 10 s per scenario
//   npm run bench -- --quick       the same data, 3 s per scenario
//   npm run bench -- --tiny        40 users, 4,000 tasks, 1 s per scenario (what `npm test` runs)
// Options: --users=N --tasks=N --seconds=S --warmup=S --connections=N --out=FILE --reseed
//          --only=get_task_uncached,mixed,…  (those scenarios and the baselines they are compared with)
//          --cpu-prof  (Taskman under `node --cpu-prof`: where its CPU went during each scenario)
// Writes bench/results/latest.json (an array of {scenario, rps, p50_ms, p95_ms, p99_ms, errors,
// baseline, ratio}); --tiny writes nothing unless --out is given.
// Needs PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres: any database
// of the server; the data set lives in a database of its own, taskman_bench_<users>_<tasks>) and
// Redis (REDIS_URL, default redis://127.0.0.1:6379; keys under bench:suite:, deleted at the end).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import pg from 'pg';
import { v7 } from 'uuid';
import { openDatabase } from '../packages/core/src/db/client';
import { summarise } from './lib/cpuprofile';
import { type LoadResult, load, type RequestSpec } from './lib/load';
import { coresBusy, cpuSnapshot } from './lib/proc';
import { fmt, fmtInt, markdownTable } from './lib/report';
import { clearRedisPrefix, emptyTasks, fakeTask, insertTasks, rng } from './lib/seed';
import { freePort, killAllOnExit, ROOT, type Server, startServer } from './lib/servers';

// ---- options ---------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
function num(name: string, def: number): number {
  const raw = value(name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}
const tiny = flag('tiny');
const quick = flag('quick');
const opts = {
  users: num('users', tiny ? 40 : 10_000),
  tasks: num('tasks', tiny ? 4_000 : 1_000_000),
  seconds: num('seconds', tiny ? 1 : quick ? 3 : 10),
  warmup: num('warmup', tiny ? 0.5 : quick ? 1 : 3),
  connections: num('connections', 50),
  /** Users the load signs in as (the heaviest first). */
  tokens: tiny ? 4 : 40,
  // A partial run (--only) or a tiny one writes only where --out says.
  out:
    value('out') ?? (tiny || value('only') ? undefined : path.join(ROOT, 'bench', 'results', 'latest.json')),
  reseed: flag('reseed'),
  only: value('only')?.split(',').filter(Boolean),
  cpuProf: flag('cpu-prof'),
};
/** Whether --only (if given) asks for this scenario. */
const wanted = (scenario: string) => !opts.only || opts.only.includes(scenario);
const ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIS_PREFIX = 'bench:suite:';
const PASSWORD = 'bench-password-123456';
const SEED_VERSION = 1;
/** The heaviest users: a tenth of all tasks between them (deep pages need many tasks per user). */
const POWER_USERS = Math.min(20, opts.users);

const databaseUrl = (name: string) => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
};

// ---- the data set ----------------------------------------------------------------------------

interface Dataset {
  url: string;
  users: number;
  tasks: number;
}

/** How many tasks user i has: the power users share a tenth of them, the rest the others. */
function tasksOf(i: number, users: number, tasks: number): number {
  const power = Math.min(POWER_USERS, users);
  const powerEach = Math.floor((tasks * 0.1) / power);
  if (i < power) return powerEach;
  const others = users - power;
  const rest = tasks - powerEach * power;
  return Math.floor(rest / others) + (i - power < rest % others ? 1 : 0);
}

const email = (i: number) => `bench${i}@bench.example`;

/** The data set's database, migrated and seeded, or reused when an earlier run made it. */
async function ensureDataset(users: number, tasks: number): Promise<Dataset> {
  const name = `taskman_bench_${users}_${tasks}`;
  const url = databaseUrl(name);
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (rows.length && opts.reseed) await admin.query(`drop database ${name} with (force)`);
    if (!rows.length || opts.reseed) await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const seeded = await client.query<{ version: number }>('select version from bench_seed').then(
      (r) => r.rows[0]?.version,
      () => undefined,
    );
    if (seeded === SEED_VERSION) {
      console.error(`data set ${name}: reused`);
      return { url, users, tasks };
    }
    const database = await openDatabase({ databaseUrl: url, dataDir: 'memory://' });
    await database.migrate();
    await database.close();
    await client.query('truncate users cascade');
    const started = Date.now();
    await seed(client, users, tasks);
    await client.query(
      'create table if not exists bench_seed (version int not null, seeded_at timestamptz not null)',
    );
    await client.query('delete from bench_seed');
    await client.query('insert into bench_seed values ($1, now())', [SEED_VERSION]);
    await client.query('vacuum analyze');
    console.error(`data set ${name}: seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { url, users, tasks };
  } finally {
    await client.end();
  }
}

/** Users, 5 projects each and their tasks, in batches of multi-row inserts (unnest of arrays). */
async function seed(client: pg.Client, users: number, tasks: number): Promise<void> {
  const hash = await bcrypt.hash(PASSWORD, 12);
  const random = rng(7);
  const now = Date.now();
  const BATCH = 20_000;
  let t = emptyTasks();
  const flush = async () => {
    if (!t.id.length) return;
    await insertTasks(client, t);
    t = emptyTasks();
  };
  for (let first = 0; first < users; first += 1_000) {
    const u = { id: [] as string[], email: [] as string[], name: [] as string[] };
    const p = { id: [] as string[], user: [] as string[], name: [] as string[] };
    const projectsOf: string[][] = [];
    for (let i = first; i < Math.min(users, first + 1_000); i++) {
      const id = v7();
      u.id.push(id);
      u.email.push(email(i));
      u.name.push(`Bench user ${i}`);
      projectsOf.push(
        Array.from({ length: 5 }, (_, j) => {
          const pid = v7();
          p.id.push(pid);
          p.user.push(id);
          p.name.push(`Project ${j + 1}`);
          return pid;
        }),
      );
    }
    await client.query(
      `insert into users (id, email, name, password_hash)
       select id, email, name, $4 from unnest($1::uuid[], $2::text[], $3::text[]) as x(id, email, name)`,
      [u.id, u.email, u.name, hash],
    );
    await client.query(
      'insert into projects (id, user_id, name) select * from unnest($1::uuid[], $2::uuid[], $3::text[])',
      [p.id, p.user, p.name],
    );
    for (let k = 0; k < u.id.length; k++) {
      const n = tasksOf(first + k, users, tasks);
      for (let j = 0; j < n; j++) {
        const f = fakeTask(random, now, 5);
        const created = new Date(now - random() * 365 * 86_400_000);
        t.id.push(v7());
        t.user.push(u.id[k]!);
        t.project.push(f.projectIndex === null ? null : projectsOf[k]![f.projectIndex]!);
        t.title.push(f.title);
        t.description.push(f.description);
        t.due.push(f.dueDate?.toISOString() ?? null);
        t.priority.push(f.priority);
        t.status.push(f.status);
        t.tags.push(f.tags.join(','));
        t.created.push(created.toISOString());
        t.completed.push(f.status === 'done' ? new Date(created.getTime() + 86_400_000).toISOString() : null);
        t.archived.push(
          f.status === 'done' && random() < 0.3 ? new Date(now - 86_400_000).toISOString() : null,
        );
        if (t.id.length >= BATCH) await flush();
      }
    }
  }
  await flush();
}

// ---- who the load signs in as ----------------------------------------------------------------

interface LoadUser {
  email: string;
  token: string;
  /** Live tasks (not archived), and those still to do (for complete_task). */
  taskIds: string[];
  todoIds: string[];
}

async function signIn(url: string, dataset: Dataset): Promise<LoadUser[]> {
  const client = new pg.Client({ connectionString: dataset.url });
  await client.connect();
  try {
    const users: LoadUser[] = [];
    for (let i = 0; i < Math.min(opts.tokens, dataset.users); i++) {
      const res = await fetch(`${url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: email(i), password: PASSWORD }),
      });
      const body = (await res.json()) as { data?: { token: string; user: { id: string } } };
      if (!res.ok || !body.data)
        throw new Error(`sign-in of ${email(i)}: ${res.status} ${JSON.stringify(body)}`);
      const { rows } = await client.query<{ id: string; status: string }>(
        'select id, status from tasks where user_id = $1 and archived_at is null order by id limit 2000',
        [body.data.user.id],
      );
      users.push({
        email: email(i),
        token: body.data.token,
        taskIds: rows.map((r) => r.id),
        todoIds: rows.filter((r) => r.status === 'todo').map((r) => r.id),
      });
    }
    return users;
  } finally {
    await client.end();
  }
}

// ---- servers ---------------------------------------------------------------------------------

const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';

/** With --cpu-prof: each Taskman server's profile directory, and the scenarios' windows in it. */
const profiles = new Map<
  Server,
  { dir: string; windows: { scenario: string; fromUs: number; toUs: number }[] }
>();

async function taskman(name: string, dataset: Dataset, env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const dir = opts.cpuProf ? mkdtempSync(path.join(os.tmpdir(), `taskman-bench-${name}-`)) : undefined;
  const server = await startServer({
    name,
    script: 'apps/api/src/main.ts',
    port,
    readyPath: '/health/ready',
    nodeArgs: dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [],
    env: {
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: dataset.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: REDIS_PREFIX,
      JWT_SECRET,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '1000000',
      AUTH_RATE_LIMIT_MAX: '1000000',
      METRICS_SAMPLE_MS: '60000',
      BENCH_PG_PORT: new URL(ADMIN_URL).port || '5432',
      BENCH_REDIS_PORT: new URL(REDIS_URL).port || '6379',
      ...env,
    },
  });
  if (dir) profiles.set(server, { dir, windows: [] });
  serverDatabases.set(server, new URL(dataset.url).pathname.slice(1));
  return server;
}

/** Stops a Taskman server; with --cpu-prof, prints where its CPU went in each scenario. */
async function stopTaskman(server: Server): Promise<void> {
  await server.stop();
  const profile = profiles.get(server);
  if (!profile) return;
  const file = readdirSync(profile.dir).find((f) => f.endsWith('.cpuprofile'));
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)} %`;
  for (const w of file ? profile.windows : []) {
    const p = summarise(path.join(profile.dir, file!), ROOT, w, 30);
    console.error(
      `\nCPU profile of ${server.name} during ${w.scenario} (${fmtInt(p.totalMs)} ms, self time):`,
    );
    for (const b of p.byBucket.slice(0, 12)) console.error(`    ${pct(b.share)}  ${b.name}`);
    console.error('  by function:');
    for (const f of p.byFunction) console.error(`    ${pct(f.share)}  ${f.name}`);
  }
  rmSync(profile.dir, { recursive: true, force: true });
}

async function baseline(mode: string, dataset: Dataset, userId: string): Promise<Server> {
  const port = await freePort();
  const server = await startServer({
    name: mode,
    script: 'bench/baselines.ts',
    port,
    readyPath: '/health',
    env: { BASELINE: mode, PORT: String(port), DATABASE_URL: dataset.url, BASELINE_USER_ID: userId },
  });
  serverDatabases.set(server, new URL(dataset.url).pathname.slice(1));
  return server;
}

/** The largest resident set of a process while `during` runs (MB, from /proc). */
async function peakRss<T>(pid: number, during: () => Promise<T>): Promise<{ result: T; rssMb: number }> {
  let peak = 0;
  const sample = () => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      if (kb > peak) peak = kb;
    } catch {
      // gone or not Linux
    }
  };
  const timer = setInterval(sample, 100);
  try {
    const result = await during();
    sample();
    return { result, rssMb: peak / 1024 };
  } finally {
    clearInterval(timer);
  }
}

// ---- scenarios -------------------------------------------------------------------------------

interface Row {
  scenario: string;
  rps: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  errors: number;
  baseline: string | null;
  ratio: number | null;
  rss_mb?: number;
  /** Per request, from bench/instrument.ts: messages to PostgreSQL and Redis, server CPU (µs). */
  pg_per_req?: number;
  redis_per_req?: number;
  cpu_us_per_req?: number;
  /** Cores busy during the measurement: the server, PostgreSQL, and everything (load generator too). */
  cores?: { server: number; postgres: number; redis: number; machine: number };
}

const rows: Row[] = [];

async function measure(
  scenario: string,
  server: Server,
  request: (n: number) => RequestSpec,
  baselineName: string | null,
  connections = opts.connections,
  minSeconds = 0,
  always = false,
): Promise<LoadResult | undefined> {
  if (!always && !wanted(scenario)) return undefined;
  const run = (seconds: number) => load({ url: server.url, paths: [], request, connections, seconds });
  await run(opts.warmup);
  const before = await server.counts();
  const cpu0 = cpuSnapshot();
  const r = await run(Math.max(opts.seconds, minSeconds));
  const cpu1 = cpuSnapshot();
  const after = await server.counts();
  profiles.get(server)?.windows.push({ scenario, fromUs: before.nowUs, toUs: after.nowUs });
  const served = Math.max(1, after.http - before.http);
  const cores = coresBusy(cpu0, cpu1, server.child.pid!, os.availableParallelism(), dbName(server));
  const row: Row = {
    scenario,
    rps: r.rps,
    p50_ms: r.p50,
    p95_ms: r.p95,
    p99_ms: r.p99,
    errors: r.non2xx + r.errors + r.timeouts,
    baseline: baselineName,
    ratio: null,
    pg_per_req: (after.pg - before.pg) / served,
    redis_per_req: (after.redis - before.redis) / served,
    cpu_us_per_req: (after.cpuMicros - before.cpuMicros) / served,
    ...(cores
      ? {
          cores: {
            server: cores.server,
            postgres: cores.postgres,
            redis: cores.redis,
            machine: cores.machine,
          },
        }
      : {}),
  };
  rows.push(row);
  console.error(
    `  ${scenario}: ${fmtInt(r.rps)} req/s, p95 ${fmt(r.p95)} ms, errors ${row.errors}; per request ${fmt(row.pg_per_req!)} PG, ${fmt(row.redis_per_req!)} Redis, ${fmtInt(row.cpu_us_per_req!)} µs CPU; cores: server ${fmt(cores?.server ?? 0)}, PostgreSQL ${fmt(cores?.postgres ?? 0)}, machine ${fmt(cores?.machine ?? 0)}`,
  );
  return r;
}

/** The database a server uses (for the PostgreSQL backends' CPU). */
const serverDatabases = new Map<Server, string>();
const dbName = (server: Server) => serverDatabases.get(server) ?? '';

const auth = (u: LoadUser) => ({ authorization: `Bearer ${u.token}` });
const json = { 'content-type': 'application/json' };
const SEARCH_WORDS = [
  'review',
  'deploy',
  'invoice',
  'budget',
  'release',
  'security',
  'dashboard',
  'contract',
];

async function main(): Promise<void> {
  killAllOnExit();
  const started = Date.now();
  const dataset = await ensureDataset(opts.users, opts.tasks);
  // The same list at a hundredth of the size: its p95 is what the big one is held to.
  const small = opts.tasks >= 100_000 ? await ensureDataset(100, 10_000) : undefined;
  await clearRedisPrefix(REDIS_URL, REDIS_PREFIX);
  const completed: string[] = [];

  // Taskman with its cache: cached reads, writes, sign-in, the mixed workload.
  console.error('taskman, cache on');
  let server = await taskman('taskman', dataset);
  const users = await signIn(server.url, dataset);
  const power = users.slice(0, Math.min(POWER_USERS, users.length));
  const byN = (n: number, from = users) => from[n % from.length]!;
  const taskOf = (n: number, from = users) => {
    const u = byN(n, from);
    return { u, id: u.taskIds[Math.floor(n / from.length) % u.taskIds.length]! };
  };
  const get = (n: number): RequestSpec => {
    const { u, id } = taskOf(n);
    return { method: 'GET', path: `/api/v1/tasks/${id}`, headers: auth(u) };
  };
  const create = (n: number): RequestSpec => {
    const u = byN(n);
    return {
      method: 'POST',
      path: '/api/v1/tasks',
      headers: { ...auth(u), ...json },
      body: JSON.stringify({ title: `Bench create ${n}`, priority: 'high', tags: ['bench'] }),
    };
  };
  const update = (n: number): RequestSpec => {
    const { u, id } = taskOf(n);
    return {
      method: 'PATCH',
      path: `/api/v1/tasks/${id}`,
      headers: { ...auth(u), ...json },
      body: JSON.stringify({ priority: ['low', 'medium', 'high', 'urgent'][n % 4] }),
    };
  };
  const complete = (n: number): RequestSpec => {
    const u = byN(n);
    const id = u.todoIds[Math.floor(n / users.length) % u.todoIds.length]!;
    completed.push(id);
    return {
      method: 'PATCH',
      path: `/api/v1/tasks/${id}`,
      headers: { ...auth(u), ...json },
      body: JSON.stringify({ status: 'done' }),
    };
  };
  const list = (n: number): RequestSpec => ({
    method: 'GET',
    path: '/api/v1/tasks?status=todo,in_progress&priority=high,urgent&tag=work&sort=due_date&limit=20',
    headers: auth(byN(n)),
  });
  // Warm the cache: every task the load reads, once.
  const warm =
    wanted('get_task_cached') || wanted('mixed') ? users.reduce((s, u) => s + u.taskIds.length, 0) : 0;
  for (let n = 0; n < warm; n += 200)
    await Promise.all(
      Array.from({ length: Math.min(200, warm - n) }, (_, k) => {
        const spec = get(n + k);
        return fetch(server.url + spec.path, { headers: spec.headers }).then((r) => r.arrayBuffer());
      }),
    );
  await measure('get_task_cached', server, get, 'fastify_pg_select');
  await measure('create_task', server, create, 'fastify_pg_insert');
  await measure('update_task', server, update, 'fastify_pg_insert');
  await measure('complete_task', server, complete, 'fastify_pg_insert');
  await measure(
    'login',
    server,
    (n) => ({
      method: 'POST',
      path: '/api/v1/auth/login',
      headers: json,
      body: JSON.stringify({ email: byN(n).email, password: PASSWORD }),
    }),
    null,
    // bcrypt (cost 12) runs on libuv's 4 threads: more connections only queue. A sign-in takes
    // a good part of a second here: measured for 3 s at least, so even --tiny sees some finish.
    8,
    3,
  );
  // 80 % reads (60 % a task, 20 % a filtered list), 20 % writes, over every signed-in user.
  const mixed = (n: number): RequestSpec => {
    const k = n % 20;
    if (k < 12) return get(n);
    if (k < 16) return list(n);
    if (k < 18) return create(n);
    if (k < 19) return update(n);
    return complete(n);
  };
  const { result: mixedRun, rssMb } = await peakRss(server.child.pid!, () =>
    measure('mixed', server, mixed, 'fastify_pg_select'),
  );
  if (mixedRun) rows.at(-1)!.rss_mb = rssMb;
  await stopTaskman(server);

  // The writes above left dead rows: vacuum them now, so that autovacuum does not start on the
  // million-row table in the middle of a read measurement (it takes a core for seconds).
  const vacuum = new pg.Client({ connectionString: dataset.url });
  await vacuum.connect();
  await vacuum.query('vacuum (analyze) tasks, outbox_events, audit_log');
  await vacuum.end();

  // Taskman without its cache: every read from PostgreSQL (uncached GET, lists, search).
  console.error('taskman, cache off');
  server = await taskman('taskman-nocache', dataset, { CACHE_ENABLED: 'false' });
  // (With --only, a phase none of whose scenarios is asked for still starts and stops: seconds.)
  await measure('get_task_uncached', server, get, 'fastify_pg_select');
  await measure('list_filtered', server, (n) => list(n % power.length), 'fastify_pg_select');
  const deepest = Math.max(1, Math.floor((tasksOf(0, opts.users, opts.tasks) * 0.8) / 20));
  await measure(
    'list_deep_page',
    server,
    (n) => ({
      method: 'GET',
      path: `/api/v1/tasks?sort=created_at&limit=20&page=${deepest}`,
      headers: auth(byN(n, power)),
    }),
    'fastify_pg_select',
  );
  await measure(
    'search',
    server,
    (n) => ({
      method: 'GET',
      path: `/api/v1/tasks?q=${SEARCH_WORDS[n % SEARCH_WORDS.length]}&limit=20`,
      headers: auth(byN(n, power)),
    }),
    'fastify_pg_select',
  );
  await stopTaskman(server);

  if (small && wanted('list_filtered_10k')) {
    console.error('taskman, cache off, 10,000 tasks');
    server = await taskman('taskman-small', small, { CACHE_ENABLED: 'false' });
    const smallUsers = await signIn(server.url, small);
    const smallPower = smallUsers.slice(0, Math.min(POWER_USERS, smallUsers.length));
    await measure(
      'list_filtered_10k',
      server,
      (n) => ({ ...list(0), headers: auth(byN(n, smallPower)) }),
      'fastify_pg_select',
    );
    await stopTaskman(server);
  }

  // The baselines, one process each, alone.
  const client = new pg.Client({ connectionString: dataset.url });
  await client.connect();
  const ownerId = (await client.query<{ id: string }>('select id from users where email = $1', [email(0)]))
    .rows[0]!.id;
  const sampleIds = (
    await client.query<{ id: string }>('select id from tasks where user_id = $1 limit 2000', [ownerId])
  ).rows.map((r) => r.id);
  const hello = (_n: number): RequestSpec => ({ method: 'GET', path: '/hello' });
  for (const [mode, request] of [
    ['node_http', hello],
    ['fastify_bare', hello],
    [
      'fastify_pg_select',
      (n: number) => ({ method: 'GET', path: `/tasks/${sampleIds[n % sampleIds.length]}` }),
    ],
    [
      'fastify_pg_insert',
      (n: number) => ({
        method: 'POST',
        path: '/tasks',
        headers: json,
        body: JSON.stringify({ title: `Bench create ${n}`, priority: 'high' }),
      }),
    ],
  ] as const) {
    // A baseline runs when asked for, or when a scenario measured is compared with it.
    if (!wanted(mode) && !rows.some((r) => r.baseline === mode)) continue;
    console.error(mode);
    const b = await baseline(mode, dataset, ownerId);
    await measure(mode, b, request as (n: number) => RequestSpec, null, opts.connections, 0, true);
    await b.stop();
  }

  // Leave the data set as it was: what the run created goes, what it completed is to do again.
  await client.query(`delete from tasks where title like 'Bench create %'`);
  if (completed.length)
    await client.query(`update tasks set status = 'todo', completed_at = null where id = any($1::uuid[])`, [
      [...new Set(completed)],
    ]);
  await client
    .query(`delete from task_completions where task_id = any($1::uuid[])`, [[...new Set(completed)]])
    .catch(() => undefined);
  await client.end();
  await clearRedisPrefix(REDIS_URL, REDIS_PREFIX);

  const rpsOf = (name: string) => rows.find((r) => r.scenario === name)?.rps;
  for (const r of rows) {
    const b = r.baseline ? rpsOf(r.baseline) : undefined;
    r.ratio = b ? r.rps / b : null;
  }
  const table = markdownTable(
    ['scenario', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'baseline', 'ratio'],
    rows.map((r) => [
      r.scenario,
      fmtInt(r.rps),
      fmt(r.p50_ms),
      fmt(r.p95_ms),
      fmt(r.p99_ms),
      String(r.errors),
      r.baseline ?? '–',
      r.ratio === null ? '–' : fmt(r.ratio),
    ]),
  );
  console.log(
    `\n${opts.users.toLocaleString('en-US')} users, ${opts.tasks.toLocaleString('en-US')} tasks, ${opts.seconds} s per scenario, ${opts.connections} connections (${((Date.now() - started) / 1000).toFixed(0)} s in all)\n`,
  );
  console.log(table);
  const mixedRow = rows.find((r) => r.scenario === 'mixed');
  if (mixedRow?.rss_mb !== undefined)
    console.log(`\nAPI process peak RSS under the mixed load: ${fmt(mixedRow.rss_mb, 0)} MB`);
  if (opts.out) {
    mkdirSync(path.dirname(opts.out), { recursive: true });
    writeFileSync(opts.out, `${JSON.stringify(rows, null, 2)}\n`);
    console.log(`\nwritten to ${path.relative(process.cwd(), opts.out)}`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
