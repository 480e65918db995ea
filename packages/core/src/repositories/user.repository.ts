import { asc, eq, ilike, or, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type Role, revokedTokens, type UserRow, users } from '../db/schema';
import { offsetOf, type Page, type PageRequest } from './pagination';

export type NewUser = Pick<UserRow, 'id' | 'email' | 'name' | 'passwordHash' | 'role' | 'timezone'>;
export type UserPatch = Partial<
  Pick<UserRow, 'name' | 'timezone' | 'reminderLeadMinutes' | 'weeklyReportDay' | 'weeklyReportHour'>
>;

/** What the auth checker needs to accept a token, read in one round trip. */
export interface AuthState {
  id: string;
  role: Role;
  sessionEpoch: number;
  revoked: boolean;
  /** The account is disabled (absent in entries cached before this field existed). */
  disabled?: boolean;
}

/** What an admin may change of another account. */
export interface AdminUserPatch {
  disabled?: boolean | undefined;
  role?: Role | undefined;
}

export class UserRepository {
  constructor(private readonly db: Executor) {}

  withTx(tx: Executor): UserRepository {
    return new UserRepository(tx);
  }

  /** Sets last_seen_at to now unless it is already within `withinSeconds` of now. */
  async markSeen(id: string, withinSeconds: number): Promise<void> {
    await this.db
      .update(users)
      .set({ lastSeenAt: sql`now()` })
      .where(
        sql`${users.id} = ${id} and (${users.lastSeenAt} is null or ${users.lastSeenAt} < now() - make_interval(secs => ${withinSeconds}))`,
      );
  }

  async findById(id: string): Promise<UserRow | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.id, id));
    return row;
  }

  async findByEmail(email: string): Promise<UserRow | undefined> {
    // Emails are stored lower-case (a check constraint): a plain equality on the column can use its
    // index under row-level security, where lower(email) could not (lower() is not leakproof).
    const [row] = await this.db.select().from(users).where(eq(users.email, email.toLowerCase()));
    return row;
  }

  /** Read on every request whose session is not cached: built once per repository. */
  private authState?: { execute(params: { id: string; jti: string }): Promise<AuthState[]> };

  async findAuthState(id: string, jti: string): Promise<AuthState | undefined> {
    this.authState ??= this.db
      .select({
        id: users.id,
        role: users.role,
        sessionEpoch: users.sessionEpoch,
        disabled: sql<boolean>`${users.disabledAt} is not null`,
        revoked: sql<boolean>`exists (select 1 from ${revokedTokens} where ${revokedTokens.jti} = ${sql.placeholder('jti')} and ${revokedTokens.userId} = ${sql.placeholder('id')})`,
      })
      .from(users)
      .where(eq(users.id, sql.placeholder('id')))
      .prepare('tm_auth_state');
    const [row] = await this.authState.execute({ id, jti });
    return row;
  }

  /** All users, oldest first (admin list); `search` matches a part of the email or the name. */
  async list(page: PageRequest, search?: string): Promise<Page<UserRow>> {
    const pattern = search ? `%${search.replace(/[\\%_]/g, '\\$&')}%` : undefined;
    const where = pattern ? or(ilike(users.email, pattern), ilike(users.name, pattern)) : undefined;
    const [items, [total]] = await Promise.all([
      this.db
        .select()
        .from(users)
        .where(where)
        .orderBy(asc(users.createdAt), asc(users.id))
        .limit(page.limit)
        .offset(offsetOf(page)),
      this.db.select({ n: sql<number>`count(*)::int` }).from(users).where(where),
    ]);
    return { items, total: total?.n ?? 0 };
  }

  /**
   * An admin's change to an account: disabling also bumps the session epoch, so every token of the
   * account stops working at once; undefined if there is no such user.
   */
  async adminUpdate(id: string, patch: AdminUserPatch): Promise<UserRow | undefined> {
    const set: Record<string, unknown> = { updatedAt: sql`now()` };
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.disabled === true) {
      set.disabledAt = sql`coalesce(${users.disabledAt}, now())`;
      set.sessionEpoch = sql`${users.sessionEpoch} + 1`;
    }
    if (patch.disabled === false) set.disabledAt = null;
    const [row] = await this.db.update(users).set(set).where(eq(users.id, id)).returning();
    return row;
  }

  async count(): Promise<number> {
    const [row] = await this.db.select({ n: sql<number>`count(*)::int` }).from(users);
    return row?.n ?? 0;
  }

  /** Serialises concurrent registrations for the rest of the transaction (first-user-is-admin rule). */
  /**
   * Locks the user's row until the transaction ends: per-user limits (API keys, webhooks) are
   * counted and written under it, so concurrent requests cannot both pass the count.
   */
  async lockUser(id: string): Promise<void> {
    await this.db.execute(sql`select 1 from users where id = ${id} for update`);
  }

  async lockRegistrations(): Promise<void> {
    await this.db.execute(sql`select pg_advisory_xact_lock(727274002)`);
  }

  async insert(user: NewUser): Promise<UserRow> {
    const [row] = await this.db.insert(users).values(user).returning();
    return row!;
  }

  /** Sets a new password hash and bumps the session epoch, signing out every existing token. */
  async setPassword(id: string, passwordHash: string): Promise<UserRow | undefined> {
    const [row] = await this.db
      .update(users)
      .set({ passwordHash, sessionEpoch: sql`${users.sessionEpoch} + 1`, updatedAt: sql`now()` })
      .where(eq(users.id, id))
      .returning();
    return row;
  }

  async update(id: string, patch: UserPatch): Promise<UserRow | undefined> {
    const [row] = await this.db
      .update(users)
      .set({ ...patch, updatedAt: sql`now()` })
      .where(eq(users.id, id))
      .returning();
    return row;
  }

  /** Deletes the user; projects, tasks and revoked tokens go with it (ON DELETE CASCADE). */
  async delete(id: string): Promise<boolean> {
    const rows = await this.db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
    return rows.length > 0;
  }

  async revokeToken(jti: string, userId: string, expiresAt: Date): Promise<void> {
    await this.db.insert(revokedTokens).values({ jti, userId, expiresAt }).onConflictDoNothing();
  }

  /** Drops revocations of tokens that have expired anyway; returns how many. */
  async purgeExpiredRevocations(now: Date): Promise<number> {
    const rows = await this.db
      .delete(revokedTokens)
      .where(sql`${revokedTokens.expiresAt} < ${now}`)
      .returning({ jti: revokedTokens.jti });
    return rows.length;
  }
}
