import { type SQL, sql } from 'drizzle-orm';
import { PRIORITIES } from '../db/schema';
import type { TransactionRunner } from '../db/transaction';

export interface ReportQuery {
  userId: string;
  /** First and last day of the period (YYYY-MM-DD), both included, in `timezone`. */
  from: string;
  to: string;
  timezone: string;
  projectId?: string | undefined;
  /** "Now", for what is overdue. */
  now: Date;
}

export interface Counts {
  created: number;
  completed: number;
}

export interface ProductivityFigures {
  created: number;
  completed: number;
  /** Of the tasks created in the period, how many are done now. */
  createdAndDone: number;
  overdue: number;
  averageSecondsToComplete: number | null;
  medianSecondsToComplete: number | null;
  byPriority: (Counts & { priority: string })[];
  byProject: (Counts & { projectId: string | null; projectName: string | null })[];
  byTag: (Counts & { tag: string })[];
  days: (Counts & { date: string })[];
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/**
 * The productivity report, computed by PostgreSQL: every figure is an aggregate over the user's
 * tasks in the period, found through the (user, created_at) and (user, completed_at) indexes;
 * days are cut at midnight in the user's time zone (so a DST day has 23 or 25 hours).
 */
export class ReportRepository {
  constructor(private readonly transaction: TransactionRunner) {}

  /**
   * Four statements in one read-only snapshot (so the sections agree under concurrent writes):
   * - `groups`: the summary, priorities, projects and days in one pass over two index-only ranges,
   *   the tasks created in the period (`tasks_user_created_idx`) and those completed in it
   *   (`tasks_user_completed_idx`), both covering the columns counted (migration 0010), with every
   *   breakdown a hashed grouping set (no sort);
   * - `median`: the median time to complete, alone (an ordered-set aggregate would turn the
   *   grouping above into sorts), over the completed range;
   * - `overdue` (a partial index) and `by_tag` (tags are not in the indexes: one pass over the rows).
   * JIT is off: these queries are short, and PostgreSQL's row estimates would otherwise compile them.
   */
  async productivity(q: ReportQuery): Promise<ProductivityFigures> {
    const lo = sql`((${q.from}::date)::timestamp at time zone ${q.timezone})`;
    const hi = sql`((${q.to}::date + 1)::timestamp at time zone ${q.timezone})`;
    const project = q.projectId ? sql` and t.project_id = ${q.projectId}` : sql``;
    const created = sql`(t.created_at >= ${lo} and t.created_at < ${hi})`;
    const completed = sql`(t.completed_at >= ${lo} and t.completed_at < ${hi})`;
    const mine = sql`t.user_id = ${q.userId}${project}`;
    const counts = sql`count(*) filter (where ${created})::int as created, count(*) filter (where ${completed})::int as completed`;

    return this.transaction(async (tx) => {
      const rows = async <T>(query: SQL) => ((await tx.execute(query)) as unknown as { rows: T[] }).rows;
      await tx.execute(sql`set transaction isolation level repeatable read, read only`);
      await tx.execute(sql`set local jit = off`);
      // The grouping below has at most a few hundred groups per side, but PostgreSQL cannot know
      // how many days a time zone makes of the range, guesses ~100,000, and with the default 4 MB
      // would sort the rows (3-4 s at a year of 800,000) instead of hashing them (~1 s).
      await tx.execute(sql`set local work_mem = '32MB'`);

      // One row per task created in the period (c = 1) and one per task completed in it (c = 0).
      // Grouping sets: 1 the whole period, 2 a priority, 3 a project, 4 a day; each per side.
      const groups = await rows<Record<string, unknown>>(sql`
        select g.*, pr.name as project_name from (
          select x.c, grouping(x.priority, x.project_id, x.day) as g, x.priority::text as priority,
            x.project_id, to_char(x.day, 'YYYY-MM-DD') as date, count(*)::int as n,
            count(*) filter (where x.done)::int as done, avg(x.seconds) as avg_s
          from (
            select 1 as c, t.priority, t.project_id, (t.created_at at time zone ${q.timezone})::date as day,
              t.completed_at is not null as done, null::float8 as seconds
            from tasks t where ${mine} and ${created}
            union all
            select 0, t.priority, t.project_id, (t.completed_at at time zone ${q.timezone})::date, true,
              extract(epoch from t.completed_at - t.created_at)::float8
            from tasks t where ${mine} and ${completed}
          ) x
          group by grouping sets ((x.c), (x.c, x.priority), (x.c, x.project_id), (x.c, x.day))
        ) g left join projects pr on pr.id = g.project_id`);
      const [median] = await rows<{ s: number | null }>(sql`
        select percentile_cont(0.5) within group (order by extract(epoch from t.completed_at - t.created_at)) as s
        from tasks t where ${mine} and ${completed}`);
      const [overdue] = await rows<{ n: number }>(sql`
        select count(*)::int as n from tasks t
        where ${mine} and t.due_date < ${q.now.toISOString()}::timestamptz
          and t.status <> 'done' and t.archived_at is null`);
      const byTag = await rows<Record<string, unknown>>(sql`
        select tag, ${counts}
        from tasks t cross join lateral unnest(t.tags) as tag
        where ${mine} and (${created} or ${completed})
        group by tag order by created desc, completed desc, tag limit 100`);

      // grouping() has a bit per column, set when the column is not in the set: 7 = the whole
      // period, 3 = by priority, 5 = by project, 6 = by day.
      const set = (g: number) => groups.filter((r) => num(r.g) === g);
      const side = (rs: Record<string, unknown>[], key: (r: Record<string, unknown>) => string) => {
        const out = new Map<string, { created: number; completed: number; row: Record<string, unknown> }>();
        for (const r of rs) {
          const k = key(r);
          const e = out.get(k) ?? { created: 0, completed: 0, row: r };
          if (num(r.c) === 1) e.created = num(r.n);
          else e.completed = num(r.n);
          out.set(k, e);
        }
        return out;
      };
      const whole = set(7);
      const createdSide = whole.find((r) => num(r.c) === 1);
      const completedSide = whole.find((r) => num(r.c) === 0);
      const perPriority = side(set(3), (r) => String(r.priority));
      const perProject = side(set(5), (r) => String(r.project_id));
      const perDay = side(set(6), (r) => String(r.date));
      return {
        created: num(createdSide?.n),
        completed: num(completedSide?.n),
        createdAndDone: num(createdSide?.done),
        overdue: num(overdue?.n),
        averageSecondsToComplete: numOrNull(completedSide?.avg_s),
        medianSecondsToComplete: numOrNull(median?.s),
        // Every priority, urgent first, also those with nothing.
        byPriority: [...PRIORITIES].reverse().map((priority) => ({
          priority,
          created: perPriority.get(priority)?.created ?? 0,
          completed: perPriority.get(priority)?.completed ?? 0,
        })),
        byProject: [...perProject.values()]
          .map(({ row, created, completed }) => ({
            projectId: (row.project_id as string | null) ?? null,
            projectName: (row.project_name as string | null) ?? null,
            created,
            completed,
          }))
          .sort(
            (a, b) =>
              b.created - a.created ||
              b.completed - a.completed ||
              // Named projects by name, "no project" last.
              (a.projectName === null ? 1 : 0) - (b.projectName === null ? 1 : 0) ||
              (a.projectName ?? '').localeCompare(b.projectName ?? ''),
          ),
        byTag: byTag.map((r) => ({
          tag: String(r.tag),
          created: num(r.created),
          completed: num(r.completed),
        })),
        // Every day of the period, also those with nothing.
        days: eachDay(q.from, q.to).map((date) => ({
          date,
          created: perDay.get(date)?.created ?? 0,
          completed: perDay.get(date)?.completed ?? 0,
        })),
      };
    });
  }
}

/** Every YYYY-MM-DD from `from` to `to`, both included. */
function eachDay(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}
