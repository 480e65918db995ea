// The task list and search queries use their indexes (issue #13): the SQL the repository sends, as
// the application runs it (the app role under row-level security, in the user's row scope), on a
// table where one account has many tasks among many accounts'. A sequential scan of `tasks`, or a
// sort of a whole account's rows for one page, would make a list grow with the table or the
// account; npm run bench measures the same lists at 1,000,000 tasks. (Which index, and whether it
// walks one in order or sorts the account's matching rows, is the planner's choice by cost.)
import { randomUUID } from 'node:crypto';
import { requestContext } from '@taskman/core';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../../packages/core/src/db/schema';
import { type TaskFilter, TaskRepository } from '../../../packages/core/src/repositories/task.repository';
import { createTestApp, type TestApp, testDb } from './helpers/app';
import { signUp } from './helpers/client';

// As in npm run bench's data set: a heavy account is a small share of a large table.
const HEAVY_TASKS = 5_000;
const OTHER_USERS = 150;
const OTHER_TASKS = 600;

/** The statements a repository call sends, captured instead of run (the plans are PostgreSQL's). */
function captured(): { repo: TaskRepository; statements: { text: string; values: unknown[] }[] } {
  const statements: { text: string; values: unknown[] }[] = [];
  const client = {
    query: async (query: string | { text: string }, values: unknown[] = []) => {
      statements.push({ text: typeof query === 'string' ? query : query.text, values });
      return { rows: [], fields: [], rowCount: 0, command: 'SELECT' };
    },
  };
  const db = drizzle({ client: client as unknown as pg.Pool, schema });
  return { repo: new TaskRepository(db as never), statements };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Sort Key'?: string[];
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

describe.skipIf(testDb !== 'postgres')('query plans of the task list and search (PostgreSQL)', () => {
  let t: TestApp;
  let heavy: string;

  /** The plan of each statement `call` sends, run as a request of the heavy user runs it. */
  async function plans(call: (repo: TaskRepository) => Promise<unknown>): Promise<PlanNode[][]> {
    const { repo, statements } = captured();
    await call(repo);
    expect(statements.length).toBeGreaterThan(0);
    const client = (t.core.database.db as unknown as { $client: pg.Pool }).$client;
    return requestContext.run({ requestId: `plans-${randomUUID()}`, rowScope: heavy }, async () => {
      const out: PlanNode[][] = [];
      for (const s of statements) {
        const res = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
          `explain (format json) ${s.text}`,
          s.values,
        );
        out.push(nodes(res.rows[0]!['QUERY PLAN'][0]!.Plan));
      }
      return out;
    });
  }

  const onTasks = (plan: PlanNode[]) => plan.filter((n) => n['Relation Name'] === 'tasks');
  const list = (filter: TaskFilter, sort: 'created_at' | 'due_date' | 'priority', page = 1) =>
    plans((repo) => repo.list(heavy, filter, { page, limit: 20 }, sort as never, 'desc', new Date()));

  beforeAll(async () => {
    t = await createTestApp();
    heavy = (await signUp(t.app, { name: 'Heavy' })).user.id;
    // As the owner (the test database's login role), outside row-level security: the data set.
    const admin = new pg.Client({ connectionString: t.db.url });
    await admin.connect();
    try {
      const users = [heavy];
      for (let i = 0; i < OTHER_USERS; i++) {
        const id = randomUUID();
        users.push(id);
        await admin.query(
          `insert into users (id, email, name, password_hash) values ($1, $2, 'Other', 'x')`,
          [id, `plans-${i}-${id}@example.com`],
        );
      }
      const words = ['review', 'deploy', 'invoice', 'budget', 'release', 'security', 'contract', 'report'];
      for (const [i, id] of users.entries()) {
        await admin.query(
          `insert into tasks (id, user_id, title, description, priority, status, tags, due_date, created_at, updated_at, completed_at, archived_at)
           select gen_random_uuid(), $1,
             ($3::text[])[1 + n % 8] || ' task ' || n, 'notes ' || ($3::text[])[1 + (n / 8) % 8],
             (array['low','medium','high','urgent']::task_priority[])[1 + n % 4],
             (array['todo','in_progress','done']::task_status[])[1 + n % 3],
             case when n % 5 = 0 then array['work'] when n % 5 = 1 then array['home','errand'] else '{}'::text[] end,
             case when n % 3 = 0 then null else now() + (n % 60) * interval '1 day' end,
             now() - (n * 7919 % 525600) * interval '1 minute', now() - (n * 7919 % 525600) * interval '1 minute',
             case when n % 3 = 2 then now() - n * interval '30 seconds' end,
             case when n % 3 = 2 and n % 2 = 0 then now() end
           from generate_series(1, $2::int) as n`,
          [id, i === 0 ? HEAVY_TASKS : OTHER_TASKS, words],
        );
      }
      await admin.query('analyze tasks');
      await admin.query('analyze users');
    } finally {
      await admin.end();
    }
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it('a filtered list (status, priority, a tag, by due date) reads the account through an index', async () => {
    const [page, count] = await list(
      { status: ['todo', 'in_progress'], priority: ['high', 'urgent'], tags: ['work'] },
      'due_date',
    );
    for (const plan of [page!, count!]) {
      const scans = onTasks(plan);
      expect(scans.length).toBeGreaterThan(0);
      for (const s of scans) expect(s['Node Type'], JSON.stringify(s)).not.toBe('Seq Scan');
      // An index scan names its index itself; a bitmap heap scan's index is in its Bitmap Index Scan.
      expect(
        plan.some((n) => n['Index Name']?.startsWith('tasks_user_')),
        JSON.stringify(plan.map((n) => [n['Node Type'], n['Index Name']])),
      ).toBe(true);
    }
  });

  it('the default list, page 1 and a deep page, reads the account through an index', async () => {
    for (const pageNo of [1, 200]) {
      const [page, count] = await list({}, 'created_at', pageNo);
      for (const plan of [page!, count!]) {
        for (const s of onTasks(plan)) expect(s['Node Type'], JSON.stringify(s)).not.toBe('Seq Scan');
        expect(
          plan.some((n) => n['Index Name']?.startsWith('tasks_user_')),
          JSON.stringify(plan.map((n) => [n['Node Type'], n['Index Name']])),
        ).toBe(true);
      }
    }
  });

  it('a search reads the account through an index, never the whole table', async () => {
    const [page, count] = await list({ q: 'invoice' }, 'created_at');
    for (const plan of [page!, count!]) {
      const scans = onTasks(plan);
      expect(scans.length).toBeGreaterThan(0);
      for (const s of scans) expect(s['Node Type'], JSON.stringify(s)).not.toBe('Seq Scan');
    }
  });

  it('a task by id is a primary-key lookup', async () => {
    const [plan] = await plans((repo) => repo.findById(heavy, randomUUID()));
    expect(onTasks(plan!).map((s) => s['Index Name'])).toEqual(['tasks_pkey']);
  });

  it('the plans are those of the app role under row-level security (not the owner’s)', async () => {
    const client = (t.core.database.db as unknown as { $client: pg.Pool }).$client;
    const who = await requestContext.run({ requestId: 'plans-who', rowScope: heavy }, () =>
      client.query<{ role: string; scope: string }>(
        `select current_user as role, current_setting('taskman.row_scope') as scope`,
      ),
    );
    expect(who.rows[0]).toEqual({ role: 'taskman_app', scope: heavy });
  });
});
