import { and, asc, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import {
  type CalendarConnectionRow,
  type CalendarItemRow,
  calendarConnections,
  calendarItems,
  type TaskRow,
  tasks,
} from '../db/schema';
import { taskColumns } from './task.repository';

/** The most tasks one calendar is kept in step with. */
export const SYNC_MAX_TASKS = 5000;

/** CalDAV connections and their item mappings; user-facing queries filter on the owner's id. */
export class CalendarConnectionRepository {
  constructor(private readonly db: Executor) {}

  withTx(tx: Executor): CalendarConnectionRepository {
    return new CalendarConnectionRepository(tx);
  }

  async insert(
    row: Omit<
      CalendarConnectionRow,
      'lastSyncAt' | 'lastSuccessAt' | 'lastError' | 'failures' | 'nextSyncAt' | 'createdAt' | 'updatedAt'
    >,
  ): Promise<CalendarConnectionRow> {
    const [created] = await this.db.insert(calendarConnections).values(row).returning();
    return created!;
  }

  list(userId: string): Promise<CalendarConnectionRow[]> {
    return this.db
      .select()
      .from(calendarConnections)
      .where(eq(calendarConnections.userId, userId))
      .orderBy(asc(calendarConnections.createdAt));
  }

  async find(userId: string, id: string): Promise<CalendarConnectionRow | undefined> {
    const [row] = await this.db
      .select()
      .from(calendarConnections)
      .where(and(eq(calendarConnections.id, id), eq(calendarConnections.userId, userId)));
    return row;
  }

  /** For the sync job (system use). */
  async findById(id: string): Promise<CalendarConnectionRow | undefined> {
    const [row] = await this.db.select().from(calendarConnections).where(eq(calendarConnections.id, id));
    return row;
  }

  async delete(userId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .delete(calendarConnections)
      .where(and(eq(calendarConnections.id, id), eq(calendarConnections.userId, userId)))
      .returning({ id: calendarConnections.id });
    return rows.length > 0;
  }

  /** The connections of these users (the relay: which changes to push). */
  forUsers(userIds: string[]): Promise<{ id: string; userId: string }[]> {
    if (userIds.length === 0) return Promise.resolve([]);
    return this.db
      .select({ id: calendarConnections.id, userId: calendarConnections.userId })
      .from(calendarConnections)
      .where(inArray(calendarConnections.userId, userIds));
  }

  /** Connections whose periodic sync is due (after failures, later and later). */
  due(now: Date): Promise<{ id: string }[]> {
    return this.db
      .select({ id: calendarConnections.id })
      .from(calendarConnections)
      .where(lte(calendarConnections.nextSyncAt, now));
  }

  async recordSuccess(id: string, now: Date, nextSyncAt: Date): Promise<void> {
    await this.db
      .update(calendarConnections)
      .set({ lastSyncAt: now, lastSuccessAt: now, lastError: null, failures: 0, nextSyncAt })
      .where(eq(calendarConnections.id, id));
  }

  /** Records a failed sync; returns how many failed in a row. */
  async recordFailure(
    id: string,
    now: Date,
    error: string,
    backoff: (failures: number) => number,
  ): Promise<number> {
    const [row] = await this.db
      .update(calendarConnections)
      .set({ lastSyncAt: now, lastError: error, failures: sql`${calendarConnections.failures} + 1` })
      .where(eq(calendarConnections.id, id))
      .returning({ failures: calendarConnections.failures });
    const failures = row?.failures ?? 1;
    await this.db
      .update(calendarConnections)
      .set({ nextSyncAt: new Date(now.getTime() + backoff(failures)) })
      .where(eq(calendarConnections.id, id));
    return failures;
  }

  items(connectionId: string): Promise<CalendarItemRow[]> {
    return this.db.select().from(calendarItems).where(eq(calendarItems.connectionId, connectionId));
  }

  async upsertItem(item: CalendarItemRow): Promise<void> {
    await this.db
      .insert(calendarItems)
      .values(item)
      .onConflictDoUpdate({
        target: [calendarItems.connectionId, calendarItems.taskId],
        set: { href: item.href, etag: item.etag, syncedVersion: item.syncedVersion },
      });
  }

  async deleteItem(connectionId: string, taskId: string): Promise<void> {
    await this.db
      .delete(calendarItems)
      .where(and(eq(calendarItems.connectionId, connectionId), eq(calendarItems.taskId, taskId)));
  }

  /** The user's tasks a calendar mirrors: every task not archived (at most SYNC_MAX_TASKS). */
  syncedTasks(userId: string): Promise<TaskRow[]> {
    return this.db
      .select(taskColumns)
      .from(tasks)
      .where(and(eq(tasks.userId, userId), isNull(tasks.archivedAt)))
      .orderBy(asc(tasks.createdAt))
      .limit(SYNC_MAX_TASKS);
  }
}
