import type { Redis } from 'ioredis';

const key = (userId: string) => `rw:${userId}`;

/**
 * Who wrote lately, so that their reads go to the primary (read-your-writes with a replica).
 * Shared through Redis, because the load balancer sends a user's next request to any API process;
 * each process also remembers the writes it served itself. When Redis cannot answer a read's
 * question, the read goes to the primary: a wrong "no" could show a user data older than their own
 * change, a wrong "yes" only costs the primary one read. A write recorded while Redis is away is
 * known to its own process only: another process may then serve that user's next read from the
 * replica, at most DATABASE_REPLICA_MAX_LAG_MS behind (Redis being away is rare and brief, and
 * waiting for it would fail the write that already succeeded).
 */
export class RecentWriters {
  private readonly local = new Map<string, number>();

  constructor(
    private readonly redis: Redis | undefined,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a write by `userId`; awaited before the response leaves. */
  async wrote(userId: string): Promise<void> {
    if (this.windowMs === 0) return;
    const until = this.now() + this.windowMs;
    this.local.set(userId, until);
    if (this.local.size > 10_000) this.forgetExpired();
    if (this.redis) await this.redis.set(key(userId), '1', 'PX', this.windowMs).catch(() => {});
  }

  /** Whether `userId` wrote within the window (or it cannot be told). */
  async wroteRecently(userId: string): Promise<boolean> {
    if (this.windowMs === 0) return false;
    const until = this.local.get(userId);
    if (until !== undefined && until > this.now()) return true;
    if (!this.redis) return false;
    try {
      return (await this.redis.exists(key(userId))) === 1;
    } catch {
      return true;
    }
  }

  private forgetExpired(): void {
    const now = this.now();
    for (const [user, until] of this.local) if (until <= now) this.local.delete(user);
  }
}
