import { eq, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { loginThrottle } from '../db/schema';

/** Failed sign-in counts per (hashed) email address. */
export class LoginThrottleRepository {
  constructor(private readonly db: Executor) {}

  async lockedUntil(emailHash: string): Promise<Date | null> {
    const [row] = await this.db
      .select({ lockedUntil: loginThrottle.lockedUntil })
      .from(loginThrottle)
      .where(eq(loginThrottle.emailHash, emailHash));
    return row?.lockedUntil ?? null;
  }

  /**
   * Counts a failure at `now` (starting again from one when the last failure is older than
   * `forgetBefore`) and returns the count; `lockFor` then says how long to refuse attempts.
   */
  async fail(
    emailHash: string,
    now: Date,
    forgetBefore: Date,
    lockFor: (failures: number) => number,
  ): Promise<number> {
    const [row] = await this.db
      .insert(loginThrottle)
      .values({ emailHash, failures: 1, lastFailureAt: now })
      .onConflictDoUpdate({
        target: loginThrottle.emailHash,
        set: {
          failures: sql`case when ${loginThrottle.lastFailureAt} < ${forgetBefore} then 1 else ${loginThrottle.failures} + 1 end`,
          lastFailureAt: now,
        },
      })
      .returning({ failures: loginThrottle.failures });
    const failures = row?.failures ?? 1;
    const seconds = lockFor(failures);
    if (seconds > 0) {
      await this.db
        .update(loginThrottle)
        .set({ lockedUntil: new Date(now.getTime() + seconds * 1000) })
        .where(eq(loginThrottle.emailHash, emailHash));
    }
    return failures;
  }

  async clear(emailHash: string): Promise<void> {
    await this.db.delete(loginThrottle).where(eq(loginThrottle.emailHash, emailHash));
  }

  /** Forgets rows whose last failure is older than `before`; returns how many. */
  async purge(before: Date): Promise<number> {
    const rows = await this.db
      .delete(loginThrottle)
      .where(sql`${loginThrottle.lastFailureAt} < ${before}`)
      .returning({ h: loginThrottle.emailHash });
    return rows.length;
  }
}
