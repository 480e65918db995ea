import { type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import type { ReplicaState } from '../db/replica';

/** One interval of one process, as the samplers write it and the dashboard reads it. */
export interface ProcessSample {
  processId: string;
  at: Date;
  kind: string;
  host: string;
  pid: number;
  startedAt: Date;
  data: SampleData;
}

/** Counts are for the interval (deltas); the state figures are as of its end. */
export interface SampleData {
  requests: number;
  /** 5xx answers. */
  errors: number;
  durationSeconds: number;
  /** Requests per latency bucket (LATENCY_BUCKETS, then +Inf), not cumulative. */
  buckets: number[];
  queries: number;
  querySeconds: number;
  cacheHits: number;
  cacheMisses: number;
  jobsCompleted: number;
  jobsFailed: number;
  rssBytes: number;
  heapUsedBytes: number;
  heapLimitBytes: number;
  cpuSeconds: number;
  eventLoopLagSeconds: number;
  inFlight: number;
  version: string;
}

export interface BusinessFigures {
  activeUsers24h: number;
  tasksCreatedToday: number;
  tasksCompletedToday: number;
  averageCompletionSeconds: number | null;
}

/** Fleet-wide figures for metrics and the operations dashboard (admins only; never per user). */
export class SystemRepository {
  constructor(
    private readonly db: Db,
    private readonly kind: 'pglite' | 'postgres',
    /** The read replica this process uses (DATABASE_REPLICA_URL), if any. */
    private readonly replica?: { state(): ReplicaState },
  ) {}

  private async rows<T>(query: SQL): Promise<T[]> {
    return ((await this.db.execute(query)) as unknown as { rows: T[] }).rows;
  }

  /** Today is the UTC day of `now`; the average covers tasks completed in the last 30 days. */
  async businessFigures(now: Date): Promise<BusinessFigures> {
    const [row] = await this.rows<{
      active: number;
      created: number;
      completed: number;
      avg_seconds: number | null;
    }>(sql`
      with today as (select date_trunc('day', ${now}::timestamptz at time zone 'UTC') at time zone 'UTC' as start)
      select
        (select count(*)::int from users where last_seen_at > ${now}::timestamptz - interval '24 hours') as active,
        (select count(*)::int from tasks, today where created_at >= today.start and created_at <= ${now}) as created,
        (select count(*)::int from tasks, today where completed_at >= today.start and completed_at <= ${now}) as completed,
        (select avg(extract(epoch from completed_at - created_at))::float8 from tasks
          where completed_at > ${now}::timestamptz - interval '30 days' and completed_at <= ${now}) as avg_seconds`);
    return {
      activeUsers24h: Number(row!.active),
      tasksCreatedToday: Number(row!.created),
      tasksCompletedToday: Number(row!.completed),
      averageCompletionSeconds: row!.avg_seconds === null ? null : Number(row!.avg_seconds),
    };
  }

  /** Tasks created per UTC day, the last `days` days up to today, every day present (zeros too). */
  async creationTrend(
    now: Date,
    days: number,
  ): Promise<{ date: string; created: number; completed: number }[]> {
    return (
      await this.rows<{ date: string; created: number; completed: number }>(sql`
      with bounds as (
        select (date_trunc('day', ${now}::timestamptz at time zone 'UTC') - make_interval(days => ${days - 1}))
                 at time zone 'UTC' as start),
      days as (
        select generate_series((select start from bounds) at time zone 'UTC',
                               ${now}::timestamptz at time zone 'UTC', interval '1 day')::date as day),
      created as (
        select (created_at at time zone 'UTC')::date as day, count(*)::int as n from tasks
        where created_at >= (select start from bounds) and created_at <= ${now} group by 1),
      completed as (
        select (completed_at at time zone 'UTC')::date as day, count(*)::int as n from tasks
        where completed_at >= (select start from bounds) and completed_at <= ${now} group by 1)
      select to_char(d.day, 'YYYY-MM-DD') as date, coalesce(c.n, 0) as created, coalesce(k.n, 0) as completed
      from days d left join created c using (day) left join completed k using (day)
      order by d.day`)
    ).map((r) => ({ date: r.date, created: Number(r.created), completed: Number(r.completed) }));
  }

  /** Connections to the server now and its limit (PGlite: one, embedded). */
  async connections(): Promise<{ used: number; max: number }> {
    if (this.kind === 'pglite') return { used: 1, max: 1 };
    // pg_stat_database, not pg_stat_activity: the app role (row-level security) may not see the
    // details of sessions logged in as another role, its own included (they are the login's).
    const [row] = await this.rows<{ used: number; max: number }>(sql`
      select (select coalesce(sum(numbackends), 0)::int from pg_stat_database) as used,
             current_setting('max_connections')::int as max`);
    return { used: Number(row!.used), max: Number(row!.max) };
  }

  /**
   * How far the read replica trails the primary (seconds), as this process measures it (db/replica.ts);
   * without DATABASE_REPLICA_URL, the furthest streaming replica in pg_stat_replication (which
   * shows rows only to a role with pg_read_all_stats). null without replicas (and on PGlite).
   */
  async replicaLagSeconds(): Promise<number | null> {
    if (this.replica) return this.replica.state().lagSeconds;
    if (this.kind === 'pglite') return null;
    const [row] = await this.rows<{ lag: number | null }>(sql`
      select max(extract(epoch from coalesce(replay_lag, write_lag, flush_lag)))::float8 as lag
      from pg_stat_replication`);
    return row?.lag === null || row?.lag === undefined ? null : Number(row.lag);
  }

  async databaseBytes(): Promise<number> {
    const [row] = await this.rows<{ bytes: string }>(
      sql`select pg_database_size(current_database())::text as bytes`,
    );
    return Number(row!.bytes);
  }

  async recordSample(s: ProcessSample, keepSince: Date): Promise<void> {
    await this.db.execute(sql`
      insert into process_samples (process_id, at, kind, host, pid, started_at, data)
      values (${s.processId}, ${s.at}, ${s.kind}, ${s.host}, ${s.pid}, ${s.startedAt}, ${JSON.stringify(s.data)}::jsonb)
      on conflict (process_id, at) do nothing`);
    await this.db.execute(sql`delete from process_samples where at < ${keepSince}`);
  }

  async samplesSince(since: Date): Promise<ProcessSample[]> {
    const rows = await this.rows<{
      process_id: string;
      at: string | Date;
      kind: string;
      host: string;
      pid: number;
      started_at: string | Date;
      data: SampleData | string;
    }>(sql`select * from process_samples where at > ${since} order by at`);
    return rows.map((r) => ({
      processId: r.process_id,
      at: new Date(r.at),
      kind: r.kind,
      host: r.host,
      pid: Number(r.pid),
      startedAt: new Date(r.started_at),
      data: typeof r.data === 'string' ? (JSON.parse(r.data) as SampleData) : r.data,
    }));
  }
}
