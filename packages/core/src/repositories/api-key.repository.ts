import { and, count, desc, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type ApiKeyRow, apiKeys, type Role, users } from '../db/schema';
import { offsetOf, type Page, type PageRequest } from './pagination';

/** What the auth checker needs to know about a key (cached by its hash). */
export interface ApiKeyState {
  id: string;
  userId: string;
  role: Role;
  scopes: string[];
  expiresAt: number | null;
  revoked: boolean;
  /** The owner's account is disabled. */
  disabled?: boolean;
}

/** API keys; every query that serves a user filters on the owner's id. */
export class ApiKeyRepository {
  constructor(private readonly db: Executor) {}

  withTx(tx: Executor): ApiKeyRepository {
    return new ApiKeyRepository(tx);
  }

  async insert(row: Omit<ApiKeyRow, 'lastUsedAt' | 'revokedAt' | 'createdAt'>): Promise<ApiKeyRow> {
    const [created] = await this.db.insert(apiKeys).values(row).returning();
    return created!;
  }

  /** The user's keys that are not revoked, newest first (expired ones included: the list says so). */
  async list(userId: string, page: PageRequest): Promise<Page<ApiKeyRow>> {
    const where = and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt));
    const [items, [total]] = await Promise.all([
      this.db
        .select()
        .from(apiKeys)
        .where(where)
        .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
        .limit(page.limit)
        .offset(offsetOf(page)),
      this.db.select({ n: count() }).from(apiKeys).where(where),
    ]);
    return { items, total: total?.n ?? 0 };
  }

  /** Keys that still work: not revoked, not expired. */
  async countActive(userId: string): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(apiKeys)
      .where(
        and(
          eq(apiKeys.userId, userId),
          isNull(apiKeys.revokedAt),
          or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)),
        ),
      );
    return row?.n ?? 0;
  }

  /** Revokes the user's key; returns its hash (to drop it from the cache), or undefined if not theirs. */
  async revoke(userId: string, id: string): Promise<string | undefined> {
    const [row] = await this.db
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
      .returning({ keyHash: apiKeys.keyHash });
    return row?.keyHash;
  }

  async hashesOf(userId: string): Promise<string[]> {
    const rows = await this.db
      .select({ keyHash: apiKeys.keyHash })
      .from(apiKeys)
      .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)));
    return rows.map((r) => r.keyHash);
  }

  async findState(keyHash: string): Promise<ApiKeyState | undefined> {
    const [row] = await this.db
      .select({
        id: apiKeys.id,
        userId: apiKeys.userId,
        role: users.role,
        scopes: apiKeys.scopes,
        expiresAt: apiKeys.expiresAt,
        revokedAt: apiKeys.revokedAt,
        disabledAt: users.disabledAt,
      })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .where(eq(apiKeys.keyHash, keyHash));
    if (!row) return undefined;
    return {
      id: row.id,
      userId: row.userId,
      role: row.role,
      scopes: row.scopes,
      expiresAt: row.expiresAt ? row.expiresAt.getTime() : null,
      revoked: row.revokedAt !== null,
      disabled: row.disabledAt !== null,
    };
  }

  /** Records a use, at most once a minute per key (a write per request would be a hot row). */
  async touch(id: string): Promise<void> {
    await this.db
      .update(apiKeys)
      .set({ lastUsedAt: sql`now()` })
      .where(
        and(
          eq(apiKeys.id, id),
          or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`)),
        ),
      );
  }
}
