// Benchmark: what row-level security costs. The task list (GET /api/v1/tasks) and task creation
// (POST /api/v1/tasks) through the API on PostgreSQL, with RLS on (the default: every connection
// SET ROLE taskman_app, the policies of migration 0019 apply) and off (DATABASE_APP_ROLE='' on the
// same database: the connection stays the superuser that owns the tables, which bypasses RLS).
// Both set taskman.row_scope when a connection changes user: "many users" rotates over every
// user's token (the scope changes on almost every checkout), "one user" never changes it.
// Run: npm run bench:rls [-- --duration=10] [--warmup=3] [--connections=50] [--users=200]
//                            [--tasks=100] [--others=100] [--rounds=3] [--quiet-wait=30]
//                            [--no-readme] [--keep-db]
// Each row is measured once per round (off and on back to back) and keeps its median; before each
// measurement it waits for other processes to go quiet, and one they disturbed anyway (> 0.2
// cores) is measured again, up to 3 times, keeping the least disturbed.
// Needs PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres: a superuser,
// any database of the server; the benchmark creates taskman_bench_rls afresh and drops it) and Redis
// (REDIS_URL, default redis://127.0.0.1:6379; its keys start with bench:rls: and are deleted).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { v7 } from 'uuid';
import { type LoadResult, load, type RequestSpec } from './lib/load';
import { coresBusy, cpuSnapshot } from './lib/proc';
import { fmt, fmtInt, machine, markdownTable, writeSection } from './lib/report';
import { clearRedisPrefix, dropDatabase, fakeTask, resetDatabase, seedOtherUsers } from './lib/seed';
import { type Counts, freePort, killAllOnExit, ROOT, type Server, startServer } from './lib/servers';

// ---- options ---------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
function num(name: string, def: number): number {
  const raw = argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return n;
}
const opts = {
  duration: num('duration', 10),
  warmup: num('warmup', 3),
  connections: num('connections', 50),
  /** Users signed in and rotated over by the "many users" rows. */
  users: num('users', 200),
  /** Tasks of each of those users. */
  tasks: num('tasks', 100),
  /** Further users (200 tasks each) that only make the tables bigger. */
  others: num('others', 100),
  rounds: Math.max(1, num('rounds', 3)),
  /** Seconds to wait, before each measurement, for other processes to leave the CPU alone. */
  quietWait: num('quiet-wait', 30),
  poolMax: 10,
  writeReadme: !flag('no-readme'),
  keepDb: flag('keep-db'),
};
const ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'taskman_bench_rls';
const DATABASE_URL = (() => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${DB_NAME}`;
  return u.toString();
})();
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIS_PREFIX = 'bench:rls:';
const README = path.join(ROOT, 'bench', 'README.md');
const jwtSecret = randomBytes(48).toString('base64url');

const log = (msg: string) => process.stderr.write(`${msg}\n`);
const elapsed = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

const serverEnv = (port: number, rls: boolean, extra: Record<string, string> = {}) => ({
  NODE_ENV: 'production',
  DATABASE_URL,
  DATABASE_POOL_MAX: String(opts.poolMax),
  JWT_SECRET: jwtSecret,
  REDIS_URL,
  REDIS_KEY_PREFIX: REDIS_PREFIX,
  // Every request reaches PostgreSQL (a cached list would not).
  CACHE_ENABLED: 'false',
  PORT: String(port),
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  LOG_FORMAT: 'json',
  RATE_LIMIT_MAX: '1000000',
  AUTH_RATE_LIMIT_MAX: '1000000',
  ...(rls ? {} : { DATABASE_APP_ROLE: '' }),
  BENCH_PG_PORT: new URL(DATABASE_URL).port || '5432',
  BENCH_REDIS_PORT: new URL(REDIS_URL).port || '6379',
  ...extra,
});

// ---- seeding ---------------------------------------------------------------------------------
interface BenchUser {
  id: string;
  token: string;
}

/** Registers the users through the API (a throw-away server with test-strength bcrypt). */
async function registerUsers(n: number): Promise<BenchUser[]> {
  const port = await freePort();
  const seeder = await startServer({
    name: 'seed',
    script: 'apps/api/src/main.ts',
    port,
    env: serverEnv(port, true, { NODE_ENV: 'test', BCRYPT_COST: '4' }),
    readyPath: '/health/ready',
  });
  try {
    const users: BenchUser[] = new Array(n);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < n) {
          const i = next++;
          const res = await fetch(`${seeder.url}/api/v1/auth/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              email: `rls${i + 1}@bench.example`,
              password: 'bench-password-123456',
              name: `RLS user ${i + 1}`,
            }),
          });
          const json = (await res.json()) as { data?: { token: string; user: { id: string } } };
          if (res.status !== 201 || !json.data)
            throw new Error(`register: ${res.status} ${JSON.stringify(json)}`);
          users[i] = { id: json.data.user.id, token: json.data.token };
        }
      }),
    );
    return users;
  } finally {
    await seeder.stop();
  }
}

/** `perUser` tasks for each user, straight into the table (as the API would store them). */
async function insertTasks(users: BenchUser[], perUser: number): Promise<void> {
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const now = Date.now();
  const cols = {
    id: [] as string[],
    user: [] as string[],
    title: [] as string[],
    description: [] as (string | null)[],
    due: [] as (string | null)[],
    priority: [] as string[],
    status: [] as string[],
    created: [] as string[],
    completed: [] as (string | null)[],
  };
  for (const u of users) {
    for (let j = 0; j < perUser; j++) {
      const f = fakeTask(random, now, 1);
      const created = new Date(now - random() * 90 * 86_400_000);
      cols.id.push(v7());
      cols.user.push(u.id);
      cols.title.push(f.title);
      cols.description.push(f.description);
      cols.due.push(f.dueDate?.toISOString() ?? null);
      cols.priority.push(f.priority);
      cols.status.push(f.status);
      cols.created.push(created.toISOString());
      cols.completed.push(
        f.status === 'done' ? new Date(created.getTime() + 86_400_000).toISOString() : null,
      );
    }
  }
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(
      `insert into tasks (id, user_id, title, description, due_date, priority, status, created_at, updated_at, completed_at)
       select id, user_id, title, description, due, priority, status, created, created, completed
       from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::task_priority[],
                   $7::task_status[], $8::timestamptz[], $9::timestamptz[])
         as x(id, user_id, title, description, due, priority, status, created, completed)`,
      [
        cols.id,
        cols.user,
        cols.title,
        cols.description,
        cols.due,
        cols.priority,
        cols.status,
        cols.created,
        cols.completed,
      ],
    );
    await client.query('analyze');
  } finally {
    await client.end();
  }
}

// ---- the rows ----------------------------------------------------------------------------------
interface Scenario {
  key: string;
  label: string;
  request: (users: BenchUser[]) => (n: number) => RequestSpec;
}

const bearer = (u: BenchUser) => ({ authorization: `Bearer ${u.token}` });
const SCENARIOS: Scenario[] = [
  {
    key: 'list-many',
    label: 'GET /tasks?limit=20, many users',
    request: (users) => (n) => ({
      method: 'GET',
      path: '/api/v1/tasks?limit=20',
      headers: bearer(users[n % users.length]!),
    }),
  },
  {
    key: 'list-one',
    label: 'GET /tasks?limit=20, one user',
    request: (users) => () => ({ method: 'GET', path: '/api/v1/tasks?limit=20', headers: bearer(users[0]!) }),
  },
  {
    key: 'create-many',
    label: 'POST /tasks, many users',
    request: (users) => (n) => ({
      method: 'POST',
      path: '/api/v1/tasks',
      headers: { ...bearer(users[n % users.length]!), 'content-type': 'application/json' },
      body: JSON.stringify({ title: `Bench task ${n}`, priority: 'high', tags: ['bench'] }),
    }),
  },
];

interface Measurement extends LoadResult {
  perRequest: { pg: number; cpuMicros: number };
  /** Cores other processes (not this benchmark, its server, PostgreSQL or Redis) used meanwhile. */
  other: number;
  otherTop: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Other processes using more than this many cores disturb a measurement. */
const BUSY = 0.2;

/** Waits until the machine's other processes (PostgreSQL and Redis included) use < BUSY cores. */
async function waitForQuiet(): Promise<void> {
  const deadline = Date.now() + opts.quietWait * 1000;
  for (;;) {
    const a = cpuSnapshot();
    await sleep(1000);
    const c = coresBusy(a, cpuSnapshot(), -1, os.availableParallelism(), DB_NAME);
    const busy = c ? c.other + c.postgres + c.redis : 0;
    if (busy < BUSY) return;
    if (Date.now() > deadline) {
      log(`  other processes still use ${fmt(busy)} cores (${c!.otherTop}): measuring anyway`);
      return;
    }
  }
}

/** The least disturbed of up to 3 measurements (a second only if the first was disturbed). */
async function measureQuietly(s: Scenario, rls: boolean, users: BenchUser[]): Promise<Measurement> {
  let best: Measurement | undefined;
  for (let tries = 0; tries < 3 && (!best || best.other > BUSY); tries++) {
    if (best) log(`  disturbed by other processes (${fmt(best.other)} cores): measuring again`);
    await waitForQuiet();
    const m = await measure(s, rls, users);
    if (!best || m.other < best.other) best = m;
  }
  return best!;
}

async function measure(s: Scenario, rls: boolean, users: BenchUser[]): Promise<Measurement> {
  const port = await freePort();
  const server: Server = await startServer({
    name: `${s.key}-${rls ? 'rls' : 'norls'}`,
    script: 'apps/api/src/main.ts',
    port,
    env: serverEnv(port, rls),
    readyPath: '/health/ready',
  });
  try {
    // Every request of the rotation must succeed before anything is measured.
    const request = s.request(users);
    const probe = request(0);
    const res = await fetch(server.url + probe.path, {
      method: probe.method,
      headers: probe.headers,
      body: probe.body,
    });
    if (!res.ok) throw new Error(`${s.label}: ${res.status} ${await res.text()}`);
    await load({ url: server.url, paths: [], request, connections: opts.connections, seconds: opts.warmup });
    const before: Counts = await server.counts();
    const cpu0 = cpuSnapshot();
    const result = await load({
      url: server.url,
      paths: [],
      request,
      connections: opts.connections,
      seconds: opts.duration,
    });
    const cpu1 = cpuSnapshot();
    const after: Counts = await server.counts();
    const served = after.http - before.http;
    const cores = coresBusy(cpu0, cpu1, server.child.pid!, os.availableParallelism(), DB_NAME);
    return {
      ...result,
      other: cores?.other ?? 0,
      otherTop: cores?.otherTop ?? '',
      perRequest: {
        pg: (after.pg - before.pg) / served,
        cpuMicros: (after.cpuMicros - before.cpuMicros) / served,
      },
    };
  } finally {
    await server.stop();
  }
}

// ---- plans: does a query keep its index under the policies? ----------------------------------
interface Plan {
  label: string;
  owner: string;
  app: string;
}

/** The plan's scan nodes, e.g. "Index Scan using tasks_user_created_idx", and its execution time. */
function summarisePlan(json: unknown): string {
  const root = (json as { Plan: Record<string, unknown>; 'Execution Time': number }[])[0]!;
  const scans: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    const type = String(node['Node Type']);
    if (type.includes('Scan')) scans.push(node['Index Name'] ? `${type} using ${node['Index Name']}` : type);
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk(root.Plan);
  return `${[...new Set(scans)].join(', ')}; ${fmt(root['Execution Time'], 3)} ms`;
}

async function plans(user: BenchUser): Promise<Plan[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  const explain = async (q: string, values: unknown[]) =>
    summarisePlan((await client.query(`explain (analyze, format json) ${q}`, values)).rows[0]['QUERY PLAN']);
  const both = async (label: string, scope: string, q: string, values: unknown[]): Promise<Plan> => {
    await client.query('reset role');
    await client.query("select set_config('taskman.row_scope', $1, false)", [scope]);
    for (let i = 0; i < 3; i++) await explain(q, values); // warm the cache
    const owner = await explain(q, values);
    await client.query('set role taskman_app');
    for (let i = 0; i < 3; i++) await explain(q, values);
    const app = await explain(q, values);
    return { label, owner, app };
  };
  try {
    return [
      await both(
        "A user's task list (their scope): `where user_id = $1 and archived_at is null order by created_at desc limit 20`",
        user.id,
        'select * from tasks where user_id = $1 and archived_at is null order by created_at desc, id desc limit 20',
        [user.id],
      ),
      await both(
        "A user's tasks with a tag (their scope): `where user_id = $1 and tags && $2`",
        user.id,
        'select id from tasks where user_id = $1 and archived_at is null and tags && $2::text[] limit 20',
        [user.id, ['work']],
      ),
      await both(
        'Sign-in looks the account up by email (system scope): `where lower(email) = lower($1)`',
        'system',
        'select id from users where lower(email) = lower($1)',
        ['rls1@bench.example'],
      ),
    ];
  } finally {
    await client.end();
  }
}

// ---- main --------------------------------------------------------------------------------------
async function main(): Promise<void> {
  killAllOnExit();
  const t0 = Date.now();
  const box = machine();
  log(`machine: nproc ${box.nproc}, ${box.cpu}, ${box.memory}, node ${box.node}`);
  await resetDatabase(ADMIN_URL, DB_NAME);
  await clearRedisPrefix(REDIS_URL, REDIS_PREFIX);
  const users = await registerUsers(opts.users);
  await insertTasks(users, opts.tasks);
  if (opts.others > 0) await seedOtherUsers(DATABASE_URL, { users: opts.others, tasks: 200, projects: 5 });
  const tasksInTable = opts.users * opts.tasks + opts.others * 200;
  log(`seeded ${opts.users} signed-in users × ${opts.tasks} tasks + ${opts.others} × 200 (${elapsed(t0)})`);

  const results: { s: Scenario; rls: boolean; m: Measurement }[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    for (const s of SCENARIOS) {
      // Off then on, back to back: drift on a shared machine hits both alike.
      for (const rls of [false, true]) {
        const m = await measureQuietly(s, rls, users);
        log(
          `${s.label}, RLS ${rls ? 'on' : 'off'}: ${fmtInt(m.rps)} req/s, p50 ${fmt(m.p50)} ms, p95 ${fmt(m.p95)} ms, ` +
            `p99 ${fmt(m.p99)} ms, ${fmt(m.perRequest.pg)} PG round trips and ${fmtInt(m.perRequest.cpuMicros)} µs ` +
            `of server CPU per request, ${m.non2xx} non-2xx, ${m.errors + m.timeouts} errors; other processes ` +
            `${fmt(m.other)} cores${m.otherTop ? ` (${m.otherTop})` : ''} (${elapsed(t0)})`,
        );
        results.push({ s, rls, m });
      }
    }
  }
  const planRows = await plans(users[0]!);

  // With several rounds, each row keeps its median requests/s measurement.
  const pick = (s: Scenario, rls: boolean) => {
    const ms = results.filter((r) => r.s === s && r.rls === rls).map((r) => r.m);
    return ms.sort((a, b) => a.rps - b.rps)[Math.floor(ms.length / 2)]!;
  };
  const table = markdownTable(
    [
      'Row',
      'RLS',
      'Requests/s',
      'p50 (ms)',
      'p95 (ms)',
      'p99 (ms)',
      'on ÷ off (req/s)',
      'PG round trips / req',
      'Server CPU µs / req',
      'Non-2xx / errors',
      'Other processes (cores)',
    ],
    SCENARIOS.flatMap((s) => {
      const off = pick(s, false);
      return [false, true].map((rls) => {
        const m = pick(s, rls);
        return [
          s.label,
          rls ? 'on' : 'off',
          fmtInt(m.rps),
          fmt(m.p50),
          fmt(m.p95),
          fmt(m.p99),
          rls ? fmt(m.rps / off.rps) : '',
          fmt(m.perRequest.pg),
          fmtInt(m.perRequest.cpuMicros),
          `${m.non2xx} / ${m.errors + m.timeouts}`,
          fmt(m.other),
        ];
      });
    }),
  );
  const planTable = markdownTable(
    ['Query', 'As the superuser (RLS bypassed)', 'As taskman_app (policies applied)'],
    planRows.map((p) => [p.label, p.owner, p.app]),
  );
  const section = [
    `Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`nproc\` ${box.nproc} (${box.cpu}), ` +
      `${box.memory}, Node ${box.node}, PostgreSQL ${(await serverVersion()) ?? '?'}. ${opts.connections} connections, ` +
      `${opts.warmup} s warm-up then ${opts.duration} s measured per row${opts.rounds > 1 ? ` (median of ${opts.rounds} rounds)` : ''}; ` +
      `${opts.users} signed-in users (${fmtInt(tasksInTable)} tasks in the table); CACHE_ENABLED=false; pool of ` +
      `${opts.poolMax} connections.`,
    '',
    table,
    '',
    'Plans (`EXPLAIN ANALYZE`, warm) of a few queries as the owner and as the app role:',
    '',
    planTable,
  ].join('\n');
  process.stdout.write(`\n${section}\n`);
  if (opts.writeReadme) {
    writeSection(README, 'rls-results', section);
    log(`\nwritten to ${path.relative(process.cwd(), README)}`);
  }
  if (!opts.keepDb) await dropDatabase(ADMIN_URL, DB_NAME);
  await clearRedisPrefix(REDIS_URL, REDIS_PREFIX);
  log(`done in ${elapsed(t0)} (${os.availableParallelism()} cores)`);
}

async function serverVersion(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>("select current_setting('server_version') as v");
    return rows[0]?.v.split(' ')[0];
  } finally {
    await client.end();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
