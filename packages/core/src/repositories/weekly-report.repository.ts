import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { weeklyReports } from '../db/schema';

export type WeeklyReportClaim = { state: 'claimed'; token: Date } | { state: 'sent' } | { state: 'busy' };

export interface DueReport {
  userId: string;
  /** The Monday of the user's current week (YYYY-MM-DD, their zone). */
  weekStart: string;
}

/** Weekly report emails: who is due, and once-per-week claims (as reminders do it). */
export class WeeklyReportRepository {
  constructor(private readonly db: Executor) {}

  /**
   * Users whose report time this week (their weekday and hour, in their zone) has come within the
   * last day and whose report for the week has not been sent: a dispatcher that was down for a
   * while still sends, a day late at most.
   */
  async due(now: Date): Promise<DueReport[]> {
    const res = (await this.db.execute(sql`
      select id as "userId", to_char(week_start, 'YYYY-MM-DD') as "weekStart" from (
        select u.id, date_trunc('week', l.t)::date as week_start,
          l.t - (date_trunc('week', l.t) + (u.weekly_report_day - 1) * interval '1 day'
            + u.weekly_report_hour * interval '1 hour') as since
        from users u cross join lateral (select ${now.toISOString()}::timestamptz at time zone u.timezone as t) l
        where u.weekly_report_day is not null
      ) x
      where since >= interval '0' and since < interval '1 day'
        and not exists (
          select 1 from weekly_reports w
          where w.user_id = x.id and w.week_start = x.week_start and w.sent_at is not null
        )`)) as unknown as { rows: DueReport[] };
    return res.rows;
  }

  async claim(userId: string, weekStart: string, now: Date, leaseUntil: Date): Promise<WeeklyReportClaim> {
    const [row] = await this.db
      .insert(weeklyReports)
      .values({ userId, weekStart, claimedUntil: leaseUntil })
      .onConflictDoUpdate({
        target: [weeklyReports.userId, weeklyReports.weekStart],
        set: { claimedUntil: leaseUntil, attempts: sql`${weeklyReports.attempts} + 1` },
        setWhere: sql`${weeklyReports.sentAt} is null and ${weeklyReports.claimedUntil} < ${now}`,
      })
      .returning({ claimedUntil: weeklyReports.claimedUntil });
    if (row) return { state: 'claimed', token: row.claimedUntil };
    const [existing] = await this.db
      .select({ sentAt: weeklyReports.sentAt })
      .from(weeklyReports)
      .where(and(eq(weeklyReports.userId, userId), eq(weeklyReports.weekStart, weekStart)));
    return existing?.sentAt ? { state: 'sent' } : { state: 'busy' };
  }

  private mine(userId: string, weekStart: string, token: Date) {
    return and(
      eq(weeklyReports.userId, userId),
      eq(weeklyReports.weekStart, weekStart),
      eq(weeklyReports.claimedUntil, token),
      isNull(weeklyReports.sentAt),
    );
  }

  async markSent(userId: string, weekStart: string, token: Date, now: Date): Promise<boolean> {
    const rows = await this.db
      .update(weeklyReports)
      .set({ sentAt: now })
      .where(this.mine(userId, weekStart, token))
      .returning({ userId: weeklyReports.userId });
    return rows.length > 0;
  }

  async release(userId: string, weekStart: string, token: Date): Promise<void> {
    await this.db
      .update(weeklyReports)
      .set({ claimedUntil: new Date(0) })
      .where(this.mine(userId, weekStart, token));
  }
}
