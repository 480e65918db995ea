import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { reminderDeliveries } from '../db/schema';

export type ReminderClaim = { state: 'claimed'; token: Date } | { state: 'sent' } | { state: 'busy' };

/**
 * Who sends a reminder, and whether it went: a worker claims (task, time) for a lease before it
 * sends, and marks it sent after. A second worker finds it claimed or sent and does not send; a
 * worker that died mid-send leaves a lease that runs out, and the retry sends it.
 */
export class ReminderRepository {
  constructor(private readonly db: Executor) {}

  async claim(taskId: string, remindAt: Date, now: Date, leaseUntil: Date): Promise<ReminderClaim> {
    const [row] = await this.db
      .insert(reminderDeliveries)
      .values({ taskId, remindAt, claimedUntil: leaseUntil })
      .onConflictDoUpdate({
        target: [reminderDeliveries.taskId, reminderDeliveries.remindAt],
        set: { claimedUntil: leaseUntil, attempts: sql`${reminderDeliveries.attempts} + 1` },
        setWhere: sql`${reminderDeliveries.sentAt} is null and ${reminderDeliveries.claimedUntil} < ${now}`,
      })
      .returning({ claimedUntil: reminderDeliveries.claimedUntil });
    if (row) return { state: 'claimed', token: row.claimedUntil };
    const [existing] = await this.db
      .select({ sentAt: reminderDeliveries.sentAt })
      .from(reminderDeliveries)
      .where(and(eq(reminderDeliveries.taskId, taskId), eq(reminderDeliveries.remindAt, remindAt)));
    return existing?.sentAt ? { state: 'sent' } : { state: 'busy' };
  }

  private mine(taskId: string, remindAt: Date, token: Date) {
    return and(
      eq(reminderDeliveries.taskId, taskId),
      eq(reminderDeliveries.remindAt, remindAt),
      eq(reminderDeliveries.claimedUntil, token),
      isNull(reminderDeliveries.sentAt),
    );
  }

  /** Records the send; false if the claim was no longer this worker's (its lease ran out mid-send). */
  async markSent(taskId: string, remindAt: Date, token: Date, now: Date): Promise<boolean> {
    const rows = await this.db
      .update(reminderDeliveries)
      .set({ sentAt: now })
      .where(this.mine(taskId, remindAt, token))
      .returning({ taskId: reminderDeliveries.taskId });
    return rows.length > 0;
  }

  /** Gives up a claim after a failed send, so the retry need not wait for the lease. */
  async release(taskId: string, remindAt: Date, token: Date): Promise<void> {
    await this.db
      .update(reminderDeliveries)
      .set({ claimedUntil: new Date(0) })
      .where(this.mine(taskId, remindAt, token));
  }

  /** Forgets deliveries of reminders older than `before` (their jobs are long gone); returns how many. */
  async purgeBefore(before: Date): Promise<number> {
    const rows = await this.db
      .delete(reminderDeliveries)
      .where(lt(reminderDeliveries.remindAt, before))
      .returning({ taskId: reminderDeliveries.taskId });
    return rows.length;
  }
}
