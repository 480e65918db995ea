import { type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';

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
  constructor(private readonly db: Executor) {}

  async productivity(q: ReportQuery): Promise<ProductivityFigures> {
    const lo = sql`((${q.from}::date)::timestamp at time zone ${q.timezone})`;
    const hi = sql`((${q.to}::date + 1)::timestamp at time zone ${q.timezone})`;
    const project = q.projectId ? sql` and t.project_id = ${q.projectId}` : sql``;
    const created = sql`(t.created_at >= ${lo} and t.created_at < ${hi})`;
    const completed = sql`(t.completed_at >= ${lo} and t.completed_at < ${hi})`;
    // Tasks created or completed in the period: the rows every breakdown counts.
    const inPeriod = sql`from tasks t where t.user_id = ${q.userId}${project} and (${created} or ${completed})`;
    const counts = sql`count(*) filter (where ${created})::int as created, count(*) filter (where ${completed})::int as completed`;

    const rows = async <T>(query: SQL) => ((await this.db.execute(query)) as unknown as { rows: T[] }).rows;

    const [summary] = await rows<Record<string, unknown>>(sql`
      select ${counts},
        count(*) filter (where ${created} and t.completed_at is not null)::int as created_and_done,
        avg(extract(epoch from t.completed_at - t.created_at)) filter (where ${completed}) as avg_s,
        percentile_cont(0.5) within group (order by extract(epoch from t.completed_at - t.created_at))
          filter (where ${completed}) as median_s
      ${inPeriod}`);
    const [overdue] = await rows<{ n: number }>(sql`
      select count(*)::int as n from tasks t
      where t.user_id = ${q.userId}${project} and t.due_date < ${q.now.toISOString()}::timestamptz
        and t.status <> 'done' and t.archived_at is null`);
    const byPriority = await rows<Record<string, unknown>>(sql`
      select p.priority::text as priority,
        count(t.id) filter (where ${created})::int as created,
        count(t.id) filter (where ${completed})::int as completed
      from unnest(enum_range(null::task_priority)) as p(priority)
      left join tasks t on t.priority = p.priority and t.user_id = ${q.userId}${project} and (${created} or ${completed})
      group by p.priority order by p.priority desc`);
    const byProject = await rows<Record<string, unknown>>(sql`
      select t.project_id, pr.name as project_name, ${counts}
      from tasks t left join projects pr on pr.id = t.project_id
      where t.user_id = ${q.userId}${project} and (${created} or ${completed})
      group by t.project_id, pr.name order by created desc, completed desc, pr.name nulls last`);
    const byTag = await rows<Record<string, unknown>>(sql`
      select tag, ${counts}
      from tasks t cross join lateral unnest(t.tags) as tag
      where t.user_id = ${q.userId}${project} and (${created} or ${completed})
      group by tag order by created desc, completed desc, tag limit 100`);
    const days = await rows<Record<string, unknown>>(sql`
      with d as (
        select generate_series(${q.from}::date, ${q.to}::date, interval '1 day')::date as day
      ), c as (
        select (t.created_at at time zone ${q.timezone})::date as day, count(*)::int as n
        from tasks t where t.user_id = ${q.userId}${project} and ${created} group by 1
      ), k as (
        select (t.completed_at at time zone ${q.timezone})::date as day, count(*)::int as n
        from tasks t where t.user_id = ${q.userId}${project} and ${completed} group by 1
      )
      select to_char(d.day, 'YYYY-MM-DD') as date, coalesce(c.n, 0) as created, coalesce(k.n, 0) as completed
      from d left join c on c.day = d.day left join k on k.day = d.day order by d.day`);

    return {
      created: num(summary?.created),
      completed: num(summary?.completed),
      createdAndDone: num(summary?.created_and_done),
      overdue: num(overdue?.n),
      averageSecondsToComplete: numOrNull(summary?.avg_s),
      medianSecondsToComplete: numOrNull(summary?.median_s),
      byPriority: byPriority.map((r) => ({
        priority: String(r.priority),
        created: num(r.created),
        completed: num(r.completed),
      })),
      byProject: byProject.map((r) => ({
        projectId: (r.project_id as string | null) ?? null,
        projectName: (r.project_name as string | null) ?? null,
        created: num(r.created),
        completed: num(r.completed),
      })),
      byTag: byTag.map((r) => ({ tag: String(r.tag), created: num(r.created), completed: num(r.completed) })),
      days: days.map((r) => ({ date: String(r.date), created: num(r.created), completed: num(r.completed) })),
    };
  }
}
