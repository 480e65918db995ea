import { type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
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
   * the summary, priorities and projects in one pass over the period's rows (GROUPING SETS), what
   * is overdue (a partial index), the tags, and the days (one pass over each of the two index ranges). JIT is off: these queries are
   * short, and PostgreSQL's row estimates for the day series would otherwise compile them.
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

      // Tasks created or completed in the period: the rows every breakdown counts. Grouping set
      // 0 is the whole period, 1 a priority, 2 a project.
      const groups = await rows<Record<string, unknown>>(sql`
        select grouping(t.priority, t.project_id) as g, t.priority::text as priority, t.project_id,
          min(pr.name) as project_name, ${counts},
          count(*) filter (where ${created} and t.completed_at is not null)::int as created_and_done,
          avg(extract(epoch from t.completed_at - t.created_at)) filter (where ${completed}) as avg_s,
          percentile_cont(0.5) within group (order by extract(epoch from t.completed_at - t.created_at))
            filter (where ${completed}) as median_s
        from tasks t left join projects pr on pr.id = t.project_id
        where ${mine} and (${created} or ${completed})
        group by grouping sets ((), (t.priority), (t.project_id))`);
      const [overdue] = await rows<{ n: number }>(sql`
        select count(*)::int as n from tasks t
        where ${mine} and t.due_date < ${q.now.toISOString()}::timestamptz
          and t.status <> 'done' and t.archived_at is null`);
      const byTag = await rows<Record<string, unknown>>(sql`
        select tag, ${counts}
        from tasks t cross join lateral unnest(t.tags) as tag
        where ${mine} and (${created} or ${completed})
        group by tag order by created desc, completed desc, tag limit 100`);
      const days = await rows<Record<string, unknown>>(sql`
        select to_char(day, 'YYYY-MM-DD') as date, sum(c)::int as created, sum(k)::int as completed
        from (
          select (t.created_at at time zone ${q.timezone})::date as day, 1 as c, 0 as k
          from tasks t where ${mine} and ${created}
          union all
          select (t.completed_at at time zone ${q.timezone})::date, 0, 1
          from tasks t where ${mine} and ${completed}
        ) x group by day`);

      const summary = groups.find((r) => num(r.g) === 3);
      const perPriority = new Map(groups.filter((r) => num(r.g) === 1).map((r) => [String(r.priority), r]));
      const perDay = new Map(days.map((r) => [String(r.date), r]));
      return {
        created: num(summary?.created),
        completed: num(summary?.completed),
        createdAndDone: num(summary?.created_and_done),
        overdue: num(overdue?.n),
        averageSecondsToComplete: numOrNull(summary?.avg_s),
        medianSecondsToComplete: numOrNull(summary?.median_s),
        // Every priority, urgent first, also those with nothing.
        byPriority: [...PRIORITIES].reverse().map((priority) => ({
          priority,
          created: num(perPriority.get(priority)?.created),
          completed: num(perPriority.get(priority)?.completed),
        })),
        byProject: groups
          .filter((r) => num(r.g) === 2)
          .map((r) => ({
            projectId: (r.project_id as string | null) ?? null,
            projectName: (r.project_name as string | null) ?? null,
            created: num(r.created),
            completed: num(r.completed),
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
          created: num(perDay.get(date)?.created),
          completed: num(perDay.get(date)?.completed),
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
