import { and, asc, eq, gt, isNotNull, isNull, ne, or, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type CalendarFeedRow, calendarFeeds, type TaskRow, tasks, users } from '../db/schema';
import { taskColumns } from './task.repository';

/** The most tasks a feed lists (the soonest due first). */
export const FEED_MAX_TASKS = 5000;

export class CalendarRepository {
  constructor(private readonly db: Executor) {}

  /** Sets the user's feed token (replacing any previous one). */
  async upsertFeed(userId: string, tokenHash: string): Promise<CalendarFeedRow> {
    const [row] = await this.db
      .insert(calendarFeeds)
      .values({ userId, tokenHash })
      .onConflictDoUpdate({ target: calendarFeeds.userId, set: { tokenHash, createdAt: sql`now()` } })
      .returning();
    return row!;
  }

  async findFeed(userId: string): Promise<CalendarFeedRow | undefined> {
    const [row] = await this.db.select().from(calendarFeeds).where(eq(calendarFeeds.userId, userId));
    return row;
  }

  async deleteFeed(userId: string): Promise<boolean> {
    const rows = await this.db
      .delete(calendarFeeds)
      .where(eq(calendarFeeds.userId, userId))
      .returning({ userId: calendarFeeds.userId });
    return rows.length > 0;
  }

  /** The owner of a feed token (by its hash), with what the feed needs to know about them. */
  async ownerOf(tokenHash: string): Promise<{ userId: string; name: string; timezone: string } | undefined> {
    const [row] = await this.db
      .select({ userId: users.id, name: users.name, timezone: users.timezone })
      .from(calendarFeeds)
      .innerJoin(users, eq(users.id, calendarFeeds.userId))
      .where(eq(calendarFeeds.tokenHash, tokenHash));
    return row;
  }

  /**
   * The tasks of a feed: not archived, with a due date; done ones only if completed after
   * `doneSince` (a calendar shows what was recently ticked off, not years of history).
   */
  feedTasks(userId: string, doneSince: Date, projectId?: string): Promise<TaskRow[]> {
    return this.db
      .select(taskColumns)
      .from(tasks)
      .where(
        and(
          eq(tasks.userId, userId),
          isNotNull(tasks.dueDate),
          isNull(tasks.archivedAt),
          or(ne(tasks.status, 'done'), gt(tasks.completedAt, doneSince)),
          projectId ? eq(tasks.projectId, projectId) : undefined,
        ),
      )
      .orderBy(asc(tasks.dueDate), asc(tasks.id))
      .limit(FEED_MAX_TASKS);
  }
}
