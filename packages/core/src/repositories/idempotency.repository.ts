import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type IdempotencyKeyRow, idempotencyKeys } from '../db/schema';

/** The rows behind Idempotency-Key; see IdempotencyService for the rules. */
export class IdempotencyRepository {
  constructor(private readonly db: Executor) {}

  /**
   * Takes the key for a request: inserts it, or takes over a row that expired (older than
   * `staleBefore`) or whose runner died (`locked_until` passed without a response). Returns the
   * row when taken, undefined when someone else holds it or has answered it.
   */
  async claim(
    userId: string,
    key: string,
    requestHash: string,
    now: Date,
    lockedUntil: Date,
    staleBefore: Date,
  ): Promise<IdempotencyKeyRow | undefined> {
    const [row] = await this.db
      .insert(idempotencyKeys)
      .values({ userId, key, requestHash, lockedUntil, createdAt: now })
      .onConflictDoUpdate({
        target: [idempotencyKeys.userId, idempotencyKeys.key],
        set: { requestHash, lockedUntil, createdAt: now, status: null, headers: null, body: null },
        setWhere: or(
          lt(idempotencyKeys.createdAt, staleBefore),
          and(sql`${idempotencyKeys.status} is null`, lt(idempotencyKeys.lockedUntil, now)),
        ),
      })
      .returning();
    return row;
  }

  async find(userId: string, key: string): Promise<IdempotencyKeyRow | undefined> {
    const [row] = await this.db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)));
    return row;
  }

  /** Records the response of the request that holds the key (matched by its claim time). */
  async complete(
    userId: string,
    key: string,
    claimedAt: Date,
    response: { status: number; headers: Record<string, string>; body: string },
  ): Promise<void> {
    await this.db
      .update(idempotencyKeys)
      .set(response)
      .where(
        and(
          eq(idempotencyKeys.userId, userId),
          eq(idempotencyKeys.key, key),
          eq(idempotencyKeys.createdAt, claimedAt),
        ),
      );
  }

  /** Frees the key (the request failed in a way a retry may fix). */
  async release(userId: string, key: string, claimedAt: Date): Promise<void> {
    await this.db
      .delete(idempotencyKeys)
      .where(
        and(
          eq(idempotencyKeys.userId, userId),
          eq(idempotencyKeys.key, key),
          eq(idempotencyKeys.createdAt, claimedAt),
          sql`${idempotencyKeys.status} is null`,
        ),
      );
  }

  async purgeBefore(before: Date): Promise<number> {
    const rows = await this.db
      .delete(idempotencyKeys)
      .where(lt(idempotencyKeys.createdAt, before))
      .returning({ key: idempotencyKeys.key });
    return rows.length;
  }
}
