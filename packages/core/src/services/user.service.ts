import type { SessionCache } from '../cache/session.cache';
import type { TaskCache } from '../cache/task.cache';
import type { UserRow } from '../db/schema';
import type { TransactionRunner } from '../db/transaction';
import { ConflictError, NotFoundError } from '../errors';
import type { Page, PageRequest } from '../repositories/pagination';
import type { AdminUserPatch, UserPatch, UserRepository } from '../repositories/user.repository';
import type { ApiKeyService } from './api-key.service';
import type { AuditService } from './audit.service';
import { type AuthService, assertTimeZone, normaliseName } from './auth.service';

export interface ProfilePatch {
  name?: string | undefined;
  timezone?: string | undefined;
  /** Applies to reminders set from now on; tasks keep the reminders they have. */
  reminderLeadMinutes?: number | null | undefined;
  /** ISO weekday (1 Monday … 7 Sunday) of the weekly report email; null turns it off. */
  weeklyReportDay?: number | null | undefined;
  weeklyReportHour?: number | undefined;
}

/** The signed-in user's own account: profile and deletion. */
export class UserService {
  constructor(
    private readonly users: UserRepository,
    private readonly auth: AuthService,
    private readonly sessions: SessionCache,
    private readonly taskCache: TaskCache,
    private readonly apiKeys: ApiKeyService,
    private readonly audit: AuditService,
    private readonly transaction: TransactionRunner,
  ) {}

  async getProfile(userId: string): Promise<UserRow> {
    const user = await this.users.findById(userId);
    if (!user) throw new NotFoundError('User');
    return user;
  }

  async updateProfile(userId: string, patch: ProfilePatch): Promise<UserRow> {
    const changes: UserPatch = {};
    if (patch.name !== undefined) changes.name = normaliseName(patch.name);
    if (patch.timezone !== undefined) changes.timezone = assertTimeZone(patch.timezone);
    if (patch.reminderLeadMinutes !== undefined) changes.reminderLeadMinutes = patch.reminderLeadMinutes;
    if (patch.weeklyReportDay !== undefined) changes.weeklyReportDay = patch.weeklyReportDay;
    if (patch.weeklyReportHour !== undefined) changes.weeklyReportHour = patch.weeklyReportHour;
    if (Object.keys(changes).length === 0) return this.getProfile(userId);
    const user = await this.users.update(userId, changes);
    if (!user) throw new NotFoundError('User');
    await this.audit.record({
      action: 'user.updated',
      targetType: 'user',
      targetId: userId,
      details: { changed: Object.keys(changes) },
    });
    return user;
  }

  /** Every account, for admins; the route checks the role. `search`: part of an email or name. */
  list(page: PageRequest, search?: string): Promise<Page<UserRow>> {
    return this.users.list(page, search);
  }

  /**
   * An admin disables or re-enables an account, or changes its role. Disabling stops the account's
   * tokens and API keys at once. Admins cannot disable or demote themselves (there is always an
   * admin left who can undo a change).
   */
  async adminUpdate(adminId: string, userId: string, patch: AdminUserPatch): Promise<UserRow> {
    if (userId === adminId && (patch.disabled === true || patch.role === 'user')) {
      throw new ConflictError('You cannot disable your own account or take away your own admin role');
    }
    const before = await this.users.findById(userId);
    if (!before) throw new NotFoundError('User');
    const keyHashes = await this.apiKeys.keyHashesOf(userId);
    const user = await this.transaction(async (tx) => {
      const updated = await this.users.withTx(tx).adminUpdate(userId, patch);
      if (!updated) throw new NotFoundError('User');
      const target = { targetType: 'user', targetId: userId };
      const entries = [];
      if (patch.disabled === true && !before.disabledAt)
        entries.push({ action: 'admin.user_disabled' as const, ...target });
      if (patch.disabled === false && before.disabledAt)
        entries.push({ action: 'admin.user_enabled' as const, ...target });
      if (patch.role !== undefined && patch.role !== before.role) {
        entries.push({
          action: 'admin.role_changed' as const,
          ...target,
          details: { from: before.role, to: patch.role },
        });
      }
      await this.audit.record(entries, tx);
      return updated;
    });
    // Cached token and key states carry the role and the disabled flag: drop them everywhere.
    await Promise.all([this.sessions.invalidateUser(userId), this.apiKeys.forgetCached(keyHashes)]);
    return user;
  }

  /** Deletes the account and all its data, after checking the password. */
  async deleteAccount(userId: string, password: string): Promise<void> {
    await this.auth.confirmPassword(userId, password);
    const keyHashes = await this.apiKeys.keyHashesOf(userId);
    if (!(await this.users.delete(userId))) throw new NotFoundError('User');
    // The audit log has no foreign key: this record outlives the account.
    await this.audit.record({ action: 'user.deleted', targetType: 'user', targetId: userId });
    await Promise.all([
      this.sessions.invalidateUser(userId),
      this.taskCache.invalidateTasks(userId),
      this.apiKeys.forgetCached(keyHashes),
    ]);
  }
}
