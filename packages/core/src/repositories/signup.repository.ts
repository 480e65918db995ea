import { and, eq, gt, lt, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type SignupRequestRow, signupRequests } from '../db/schema';

/** Sign-ups waiting for their email address to be confirmed. */
export class SignupRepository {
  constructor(private readonly db: Executor) {}

  async insert(row: Omit<SignupRequestRow, 'createdAt'>): Promise<void> {
    await this.db.insert(signupRequests).values(row);
  }

  /** Takes (deletes and returns) the unexpired request with this token hash: a link works once. */
  async take(tokenHash: string, now: Date): Promise<SignupRequestRow | undefined> {
    const [row] = await this.db
      .delete(signupRequests)
      .where(and(eq(signupRequests.tokenHash, tokenHash), gt(signupRequests.expiresAt, now)))
      .returning();
    return row;
  }

  /** Drops expired requests; returns how many. */
  async purge(now: Date): Promise<number> {
    const rows = await this.db
      .delete(signupRequests)
      .where(lt(signupRequests.expiresAt, now))
      .returning({ h: signupRequests.tokenHash });
    return rows.length;
  }

  /** Pending requests for an address (tests, and a limit on how many one address may have). */
  async countFor(email: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(signupRequests)
      .where(eq(signupRequests.email, email));
    return row?.n ?? 0;
  }
}
