// Benchmark: GET /api/v1/reports/productivity for a user with 1,000,000 tasks, on PostgreSQL.
// Run: npx tsx bench/report.ts [--tasks=1000000] [--other-users=9] [--other-tasks=20000] [--runs=20]
//                              [--warmup=2] [--query-runs=5] [--explain-all] [--no-readme] [--keep-db]
//                              [--reuse-db]
// Seeds a database of its own (taskman_bench_report, created afresh and dropped at the end; kept
// with --keep-db, and used as it is with --reuse-db), then times the endpoint in process (Fastify's
// inject: authentication, validation, the service's queries and the JSON, no socket) for the default
// 7-day window, 30 days and 366 days; then the real ReportRepository alone, timing each of its SQL
// statements as it runs them (in its read-only transaction, with its settings), and shows
// EXPLAIN (ANALYZE, BUFFERS, SETTINGS) of the slowest statement of each window.
// Needs PostgreSQL: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres, any database
// of the server, used to create the benchmark's own). No Redis: the report is never cached.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Core, createCore, loadConfig } from '@taskman/core';
import { type SQL, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../apps/api/src/app';
import type { Db, Executor } from '../packages/core/src/db/client';
import { type TransactionRunner, transactionRunner } from '../packages/core/src/db/transaction';
import { type ReportQuery, ReportRepository } from '../packages/core/src/repositories/report.repository';
import { fmt, fmtInt, machine, markdownTable, writeSection } from './lib/report';
import { dropDatabase, resetDatabase } from './lib/seed';
import { ROOT } from './lib/servers';

// ---- options ---------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
function num(name: string, def: number): number {
  const raw = argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
  return n;
}
const opts = {
  tasks: num('tasks', 1_000_000),
  otherUsers: num('other-users', 9),
  otherTasks: num('other-tasks', 20_000),
  projects: 20,
  runs: Math.max(1, num('runs', 20)),
  warmup: num('warmup', 2),
  queryRuns: Math.max(1, num('query-runs', 5)),
  explainAll: flag('explain-all'),
  writeReadme: !flag('no-readme'),
  keepDb: flag('keep-db') || flag('reuse-db'),
  reuseDb: flag('reuse-db'),
};
const ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'taskman_bench_report';
const DATABASE_URL = (() => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${DB_NAME}`;
  return u.toString();
})();
const README = path.join(ROOT, 'bench', 'README.md');
const TIMEZONE = 'Europe/Paris';
const EMAIL = 'report-bench@bench.example';
const PASSWORD = 'bench-password-123456';
/** Above this p95, a window is called slow. */
const SLOW_MS = 500;
/**
 * The statements ReportRepository.productivity runs, recognised by their SQL (so that a change to
 * the repository fails here instead of timing the wrong thing): the summary, priorities and
 * projects and days in one GROUPING SETS pass over the created and completed index ranges; the
 * median time to complete; the overdue count; the tags.
 * `set …` statements (isolation level, `jit = off`) are run as they are but not timed alone.
 */
const STATEMENTS = [
  { name: 'groups', match: /grouping sets/i },
  { name: 'median', match: /percentile_cont/i },
  { name: 'overdue', match: /\bdue_date\s*</i },
  { name: 'by_tag', match: /unnest\(t\.tags\)/i },
] as const;
type Statement = (typeof STATEMENTS)[number]['name'];
const QUERIES: readonly Statement[] = STATEMENTS.map((s) => s.name);
const SETUP = /^\s*set\s/i;

const log = (msg: string) => process.stderr.write(`${msg}\n`);
const elapsed = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

// ---- seeding ---------------------------------------------------------------------------------
const TAGS = [
  'work',
  'home',
  'urgent',
  'q1',
  'q2',
  'q3',
  'q4',
  'backend',
  'frontend',
  'ops',
  'finance',
  'errand',
  'idea',
  'bug',
  'feature',
  'docs',
  'hiring',
  'sales',
  'support',
  'legal',
  'design',
  'research',
  'meeting',
  'email',
  'call',
  'review',
  'deploy',
  'infra',
  'security',
  'billing',
  'customer',
  'partner',
  'health',
  'family',
  'travel',
  'reading',
  'garden',
  'car',
  'taxes',
  'someday',
];

/**
 * `n` tasks for one user in one INSERT … SELECT FROM generate_series: created_at evenly over the
 * last two years (rows in creation order, as a live table grows); ~60 % done, completed 1 min to
 * ~5.6 days after creation (log-uniform, never after now); priorities low 25 %, medium 40 %, high
 * 25 %, urgent 10 %; 80 % in one of the user's projects; 0-3 distinct tags of 40; half with a due
 * date within 30 days of creation; done tasks archived 30 days after completion, as the
 * cleanup_tasks job does. Ids are UUIDv7-shaped (time first), as Taskman makes them.
 */
async function insertTasks(
  client: pg.Client,
  userId: string,
  projectIds: string[],
  n: number,
  salt: string,
): Promise<void> {
  await client.query(
    `insert into tasks (id, user_id, project_id, title, priority, status, tags, due_date,
                        created_at, updated_at, completed_at, archived_at)
     select (lpad(to_hex((extract(epoch from created) * 1000)::bigint), 12, '0') || '7' ||
             substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
            $1::uuid,
            case when r_project < 0.8
                 then ($2::uuid[])[1 + floor(r_project / 0.8 * cardinality($2::uuid[]))::int] end,
            'Task ' || g,
            (case when r_priority < 0.25 then 'low' when r_priority < 0.65 then 'medium'
                  when r_priority < 0.90 then 'high' else 'urgent' end)::task_priority,
            (case when completed is not null then 'done'
                  when r_done < 0.85 then 'todo' else 'in_progress' end)::task_status,
            (array[($3::text[])[1 + a], ($3::text[])[1 + (a + 1 + b) % 40], ($3::text[])[1 + (a + 21 + c) % 40]])
              [1:floor(r_tags * 4)::int],
            case when r_due < 0.5 then created + r_due * 2 * interval '30 days' end,
            created,
            coalesce(completed, created),
            completed,
            case when completed < now() - interval '30 days' then completed + interval '30 days' end
     from (select g,
                  now() - interval '730 days' * (1 - (g - 0.5) / $4::float8) as created,
                  random() as r_project, random() as r_priority, random() as r_done,
                  random() as r_duration, random() as r_tags, random() as r_due,
                  floor(random() * 40)::int as a, floor(random() * 19)::int as b,
                  floor(random() * 19)::int as c,
                  md5($5 || ':' || g) as h
           from generate_series(1, $4::int) as g) as x
     cross join lateral (
       select case when r_done < 0.6
                   then least(created + interval '1 minute' * exp(r_duration * 9), now()) end as completed
     ) as k`,
    [userId, projectIds, TAGS, n, salt],
  );
}

async function seed(app: FastifyInstance): Promise<{ token: string; userId: string; seconds: number }> {
  const t0 = performance.now();
  const reg = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { email: EMAIL, password: PASSWORD, name: 'Report Bench', timezone: TIMEZONE },
  });
  if (reg.statusCode !== 201) throw new Error(`register: ${reg.statusCode} ${reg.body}`);
  const { token, user } = reg.json().data as { token: string; user: { id: string } };
  const projectIds: string[] = [];
  for (let i = 0; i < opts.projects; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/projects',
      headers: { authorization: `Bearer ${token}` },
      payload: { name: `Project ${i + 1}` },
    });
    if (res.statusCode !== 201) throw new Error(`project: ${res.statusCode} ${res.body}`);
    projectIds.push(res.json().data.id);
  }
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    // The same data on every run.
    await client.query('select setseed(0.42)');
    log(`inserting ${fmtInt(opts.tasks)} tasks for the bench user …`);
    await insertTasks(client, user.id, projectIds, opts.tasks, 'bench');
    log(`  done in ${elapsed(t0)}; ${opts.otherUsers} other users × ${fmtInt(opts.otherTasks)} tasks …`);
    // Not a real password hash: these users never sign in.
    const hash = '$2b$12$benchbenchbenchbenchbeOu7mV1m0s5aJx0e3dYwJbJbWb7YJH5m';
    for (let u = 0; u < opts.otherUsers; u++) {
      const { rows } = await client.query<{ id: string }>(
        `insert into users (id, email, name, password_hash, timezone)
         values (gen_random_uuid(), $1, $2, $3, 'America/New_York') returning id`,
        [`other${u + 1}@bench.example`, `Other ${u + 1}`, hash],
      );
      const otherId = rows[0]!.id;
      const projects = await client.query<{ id: string }>(
        `insert into projects (id, user_id, name)
         select gen_random_uuid(), $1, 'Project ' || i from generate_series(1, 5) as i returning id`,
        [otherId],
      );
      await insertTasks(
        client,
        otherId,
        projects.rows.map((r) => r.id),
        opts.otherTasks,
        `other${u}`,
      );
    }
    log(`  done in ${elapsed(t0)}; VACUUM ANALYZE …`);
    // As autovacuum would leave a table of this age (and so that it does not start mid-run).
    await client.query('vacuum (analyze) users, projects, tasks');
  } finally {
    await client.end();
  }
  return { token, userId: user.id, seconds: (performance.now() - t0) / 1000 };
}

/** Signs in again on a database kept by an earlier run (--reuse-db). */
async function signIn(app: FastifyInstance): Promise<{ token: string; userId: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: EMAIL, password: PASSWORD },
  });
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`);
  const { token, user } = res.json().data as { token: string; user: { id: string } };
  return { token, userId: user.id };
}

// ---- measuring -------------------------------------------------------------------------------
/** Nearest-rank percentile of sorted values. */
const pct = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
const median = (xs: number[]) =>
  pct(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

const DAY_MS = 86_400_000;
const addDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const today = () =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: TIMEZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date());

/** What the benchmark reads of the report. */
interface ReportJson {
  from: string;
  to: string;
  created: number;
  completed: number;
  overdue: number;
}

interface Window {
  label: string;
  qs: string;
  from: string;
  to: string;
}

interface WindowResult {
  w: Window;
  ms: number[];
  created: number;
  completed: number;
  overdue: number;
  /** Median ms of ReportRepository.productivity alone (transaction, settings, statements, JS). */
  repository: number;
  /** Median ms of each statement (index = position in QUERIES), as the repository runs it. */
  perQuery: number[];
  slowest: Statement;
  plan: string[];
}

const dialect = new PgDialect();

/** Which of the report's statements `query` is ('setup' for a `set …`); throws on one not known. */
function classify(query: SQL): Statement | 'setup' {
  const text = dialect.sqlToQuery(query).sql;
  if (SETUP.test(text)) return 'setup';
  const found = STATEMENTS.filter((s) => s.match.test(text));
  if (found.length !== 1)
    throw new Error(
      `ReportRepository ran a statement this benchmark does not know (update STATEMENTS):\n${text}`,
    );
  return found[0]!.name;
}

/** Runs one statement of the report (`run` executes it on the repository's handle). */
type Hook = (query: SQL, kind: Statement | 'setup', run: (q: SQL) => Promise<unknown>) => Promise<unknown>;

/**
 * The real ReportRepository, on the real database and transaction runner, with every statement it
 * executes (in its transaction or not) going through `hook`.
 */
function instrumentedRepository(db: Db, hook: Hook): ReportRepository {
  const wrap = (target: Executor) =>
    ({ execute: (q: SQL) => hook(q, classify(q), (x) => target.execute(x)) }) as unknown as Executor;
  const runner = transactionRunner(db);
  const transaction: TransactionRunner = (fn) => runner((tx) => fn(wrap(tx)));
  return new ReportRepository(transaction);
}

async function measureWindow(app: FastifyInstance, core: Core, w: Window, token: string, userId: string) {
  const headers = { authorization: `Bearer ${token}` };
  const once = async () => {
    const t0 = performance.now();
    const res = await app.inject({ method: 'GET', url: `/api/v1/reports/productivity${w.qs}`, headers });
    const ms = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`${w.label}: ${res.statusCode} ${res.body}`);
    return { ms, data: res.json().data as ReportJson };
  };
  for (let i = 0; i < opts.warmup; i++) await once();
  const ms: number[] = [];
  let data: ReportJson | undefined;
  for (let i = 0; i < opts.runs; i++) {
    const r = await once();
    ms.push(r.ms);
    data = r.data;
  }
  if (!data) throw new Error('no run');
  if (data.from !== w.from || data.to !== w.to)
    throw new Error(`${w.label}: expected ${w.from}..${w.to}, got ${data.from}..${data.to}`);

  // The repository alone, as the endpoint calls it, each statement timed where it runs.
  const db = core.database.db;
  const q: ReportQuery = { userId, from: w.from, to: w.to, timezone: TIMEZONE, now: new Date() };
  const times = new Map<Statement, number[]>(QUERIES.map((name) => [name, []]));
  const totals: number[] = [];
  for (let r = 0; r < opts.queryRuns; r++) {
    const seen = new Set<Statement>();
    const repo = instrumentedRepository(db, async (query, kind, run) => {
      if (kind === 'setup') return run(query);
      if (seen.has(kind)) throw new Error(`${kind} ran twice in one report`);
      seen.add(kind);
      const t0 = performance.now();
      const result = await run(query);
      times.get(kind)!.push(performance.now() - t0);
      return result;
    });
    const t0 = performance.now();
    const figures = await repo.productivity(q);
    totals.push(performance.now() - t0);
    const missing = QUERIES.filter((name) => !seen.has(name));
    if (missing.length) throw new Error(`ReportRepository no longer runs: ${missing.join(', ')}`);
    if (figures.created !== data.created || figures.completed !== data.completed)
      throw new Error(`${w.label}: the repository alone disagrees with the endpoint`);
  }
  const perQuery = QUERIES.map((name) => median(times.get(name)!));
  const slowestIndex = perQuery.indexOf(Math.max(...perQuery));
  const targets = opts.explainAll ? [...QUERIES] : [QUERIES[slowestIndex]!];
  const plans = await explain(core, q, targets);
  if (opts.explainAll)
    for (const [name, plan] of plans) log(`\n---- ${w.label}: ${name} ----\n${plan.join('\n')}`);
  return {
    w,
    ms,
    created: data.created,
    completed: data.completed,
    overdue: data.overdue,
    repository: median(totals),
    perQuery,
    slowest: QUERIES[slowestIndex]!,
    plan: plans.get(QUERIES[slowestIndex]!)!,
  } satisfies WindowResult;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS, SETTINGS) of the report's statements named in `targets`, each in the
 * repository's own transaction after its `set …` statements; the other statements are not run.
 */
async function explain(core: Core, q: ReportQuery, targets: Statement[]): Promise<Map<Statement, string[]>> {
  const plans = new Map<Statement, string[]>();
  await instrumentedRepository(core.database.db, async (query, kind, run) => {
    if (kind === 'setup') return run(query);
    if (!targets.includes(kind)) return { rows: [] };
    const res = (await run(sql`explain (analyze, buffers, settings) ${query}`)) as {
      rows: { 'QUERY PLAN': string }[];
    };
    plans.set(
      kind,
      res.rows.map((r) => r['QUERY PLAN']),
    );
    return { rows: [] };
  }).productivity(q);
  return plans;
}

/**
 * The lines of a plan worth a glance: nodes with their timing, grouping and sort keys (a grouping
 * set that needs its own sort shows as a second Sort Key), sorts, spills, buffers, heap fetches,
 * settings, totals; not the long Filter and Index Cond lines.
 */
function planSummary(plan: string[]): string[] {
  const keep =
    /(->|^\s*[A-Z][A-Za-z ]+ {2}\(cost|Group Key|Hash Key|Sort Key|Sort Method|Disk:|Batches|Buffers:|Rows Removed|Heap Fetches|Planning:|Planning Time|Execution Time|JIT|Timing:|Functions:|Workers|Settings:)/;
  const lines = plan.filter((l) => keep.test(l));
  return lines.length > 40 ? [...lines.slice(0, 36), '  …', ...lines.slice(-4)] : lines;
}

async function serverInfo(): Promise<string> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string>>(
      `select current_setting('server_version') as v, current_setting('shared_buffers') as sb,
              current_setting('work_mem') as wm, current_setting('jit') as jit,
              current_setting('max_parallel_workers_per_gather') as par,
              pg_size_pretty(pg_total_relation_size('tasks')) as size,
              (select count(*) from tasks)::text as n`,
    );
    const r = rows[0]!;
    return (
      `PostgreSQL ${r.v!.split(' ')[0]} (shared_buffers ${r.sb}, work_mem ${r.wm}, jit ${r.jit}, ` +
      `${r.par} parallel workers per gather); tasks: ${fmtInt(Number(r.n))} rows, ${r.size} with indexes`
    );
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const box = machine();
  const load0 = os.loadavg()[0]!;
  log(`machine: nproc ${box.nproc}, ${box.cpu}, ${box.memory}, node ${box.node}`);
  if (!opts.reuseDb) await resetDatabase(ADMIN_URL, DB_NAME);
  const config = loadConfig({
    NODE_ENV: 'production',
    DATABASE_URL,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_MAX: '1000000',
    AUTH_RATE_LIMIT_MAX: '1000000',
  });
  // The app as main.ts builds it (migrated at start), minus the socket and the job workers.
  const core = await createCore(config);
  const app = await buildApp({ core, logger: false, webAppDir: false });
  await app.ready();
  try {
    const session = opts.reuseDb ? { ...(await signIn(app)), seconds: 0 } : await seed(app);
    if (!opts.reuseDb) log(`seeded in ${fmt(session.seconds, 1)} s`);
    const info = await serverInfo();
    log(info);

    const to = today();
    const windows: Window[] = [
      { label: 'default (7 days)', qs: '', from: addDays(to, -6), to },
      { label: '30 days', qs: `?from=${addDays(to, -29)}&to=${to}`, from: addDays(to, -29), to },
      { label: '366 days', qs: `?from=${addDays(to, -365)}&to=${to}`, from: addDays(to, -365), to },
    ];
    const results: (WindowResult & { load: number })[] = [];
    for (const w of windows) {
      const load = os.loadavg()[0]!;
      log(`${w.label}: ${opts.warmup} warm-up + ${opts.runs} timed requests (load ${fmt(load)}) …`);
      const r = await measureWindow(app, core, w, session.token, session.userId);
      const s = [...r.ms].sort((a, b) => a - b);
      log(
        `  p50 ${fmt(pct(s, 0.5))} ms, p95 ${fmt(pct(s, 0.95))} ms; repository alone ${fmt(r.repository)} ms; ` +
          `statements (median ms): ${QUERIES.map((name, i) => `${name} ${fmt(r.perQuery[i]!)}`).join(', ')}`,
      );
      results.push({ ...r, load });
    }

    const table = markdownTable(
      [
        'Window',
        'Period',
        'Created',
        'Completed',
        'p50 (ms)',
        'p95 (ms)',
        'max (ms)',
        'Load (1 min)',
        'repository (ms)',
        ...QUERIES.map((q) => `${q} (ms)`),
      ],
      results.map((r) => {
        const s = [...r.ms].sort((a, b) => a - b);
        return [
          r.w.label,
          `${r.w.from} … ${r.w.to}`,
          fmtInt(r.created),
          fmtInt(r.completed),
          fmt(pct(s, 0.5)),
          fmt(pct(s, 0.95)),
          fmt(s.at(-1)!),
          fmt(r.load),
          fmt(r.repository),
          ...r.perQuery.map((x) => fmt(x)),
        ];
      }),
    );
    const slow = results.filter(
      (r) =>
        pct(
          [...r.ms].sort((a, b) => a - b),
          0.95,
        ) > SLOW_MS,
    );
    const header =
      `Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: \`nproc\` ${box.nproc} (${box.cpu}), ` +
      `${box.memory}, Node ${box.node}, ${info}. One user (${TIMEZONE}) with ${fmtInt(opts.tasks)} tasks ` +
      `over two years, ${opts.otherUsers} others with ${fmtInt(opts.otherTasks)} each; overdue now: ` +
      `${fmtInt(results[0]!.overdue)}. ${opts.runs} timed requests per window (after ${opts.warmup} ` +
      `warm-up), in process (\`inject\`). "repository" is \`ReportRepository.productivity\` alone (its ` +
      `transaction, \`set\` statements, ${QUERIES.length} statements and the JS), and the statement ` +
      `columns each statement as it runs there (${QUERIES.join(', ')}), medians of ${opts.queryRuns}; ` +
      `"Load" is the 1-minute load average as the window started. Load average (1 min) ${fmt(load0)} at the start, ${fmt(os.loadavg()[0]!)} at the ` +
      `end, on ${box.nproc} cores: other processes share the machine, so these figures are upper bounds.`;
    const verdict = slow.length
      ? `**Slow (p95 > ${SLOW_MS} ms)**: ${slow.map((r) => `${r.w.label} (slowest statement: ${r.slowest})`).join(', ')}.`
      : `Every window's p95 is under ${SLOW_MS} ms.`;
    // The slowest statement of all, with its plan: where the next improvement has to come from.
    const worst = results.reduce((a, b) => (Math.max(...b.perQuery) > Math.max(...a.perQuery) ? b : a));
    const worstPlan = [
      `Slowest statement: **${worst.slowest}** at ${worst.w.label} ` +
        `(${fmt(Math.max(...worst.perQuery))} ms alone); \`EXPLAIN (ANALYZE, BUFFERS, SETTINGS)\`, in the ` +
        `repository's transaction, summarised:`,
      '',
      '```text',
      ...planSummary(worst.plan),
      '```',
    ];
    const section = [header, '', table, '', verdict, '', ...worstPlan].join('\n');
    console.log(`\n${section}\n`);
    for (const r of results) {
      console.log(
        `EXPLAIN (ANALYZE, BUFFERS, SETTINGS) of the slowest statement of "${r.w.label}": ${r.slowest}`,
      );
      console.log(planSummary(r.plan).join('\n'));
      console.log('');
    }
    if (opts.writeReadme) {
      writeSection(README, 'report-results', section);
      log(`results written to ${path.relative(process.cwd(), README)}`);
    }
  } finally {
    await app.close();
    await core.close();
    if (!opts.keepDb) await dropDatabase(ADMIN_URL, DB_NAME);
  }
  log(`done in ${elapsed(t0)}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
