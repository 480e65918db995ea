import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, DomainError } from '../errors';
import type { Clock } from '../lib/clock';
import type { IdempotencyRepository } from '../repositories/idempotency.repository';

export const IDEMPOTENCY = {
  /** A key answers repeats this long. */
  ttlMs: 24 * 3_600_000,
  /** A request holding a key that has not answered after this long is taken to have died. */
  leaseMs: 60_000,
  /** How long a repeat waits for the first request to finish before a 409. */
  waitMs: 15_000,
  pollMs: 50,
} as const;

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type IdempotencyOutcome = { kind: 'proceed'; claimedAt: Date } | ({ kind: 'replay' } & StoredResponse);

export class IdempotencyKeyReusedError extends DomainError {
  constructor() {
    super(
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was used for a different request (another method, path or body): use a new key for a new request',
    );
  }
}

/**
 * Safe retries (`Idempotency-Key`): the first request with a key does the work and its response
 * is kept; a repeat from the same user with the same request within 24 hours gets that response
 * without the work being done again, also while the first is still running on another process
 * (the repeat waits for it). A key is claimed in the database, so every API process sees it.
 */
export class IdempotencyService {
  constructor(
    private readonly repo: IdempotencyRepository,
    private readonly clock: Clock,
    private readonly timing: { waitMs: number; pollMs: number } = IDEMPOTENCY,
  ) {}

  async begin(userId: string, key: string, requestHash: string): Promise<IdempotencyOutcome> {
    const deadline = Date.now() + this.timing.waitMs;
    for (;;) {
      const now = this.clock.now();
      const claimed = await this.repo.claim(
        userId,
        key,
        requestHash,
        now,
        new Date(now.getTime() + IDEMPOTENCY.leaseMs),
        new Date(now.getTime() - IDEMPOTENCY.ttlMs),
      );
      if (claimed) return { kind: 'proceed', claimedAt: claimed.createdAt };
      const row = await this.repo.find(userId, key);
      // Released between the two statements: claim again.
      if (!row) continue;
      if (row.requestHash !== requestHash) throw new IdempotencyKeyReusedError();
      if (row.status !== null)
        return { kind: 'replay', status: row.status, headers: row.headers ?? {}, body: row.body ?? '' };
      if (Date.now() >= deadline)
        throw new ConflictError(
          'A request with this Idempotency-Key is still being processed: retry in a moment',
        );
      await sleep(this.timing.pollMs);
    }
  }

  /** Keeps the response of the request that claimed the key. */
  finish(userId: string, key: string, claimedAt: Date, response: StoredResponse): Promise<void> {
    return this.repo.complete(userId, key, claimedAt, response);
  }

  /** Frees the key after a failure a retry may not repeat (a 5xx, a refused request): nothing is kept. */
  abandon(userId: string, key: string, claimedAt: Date): Promise<void> {
    return this.repo.release(userId, key, claimedAt);
  }

  /** Forgets keys older than their lifetime (the cleanup job). */
  purge(): Promise<number> {
    return this.repo.purgeBefore(new Date(this.clock.now().getTime() - IDEMPOTENCY.ttlMs));
  }
}
