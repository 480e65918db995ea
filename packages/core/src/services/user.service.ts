import type { SessionCache } from '../cache/session.cache';
import type { TaskCache } from '../cache/task.cache';
import type { UserRow } from '../db/schema';
import { NotFoundError } from '../errors';
import type { Page, PageRequest } from '../repositories/pagination';
import type { UserPatch, UserRepository } from '../repositories/user.repository';
import type { ApiKeyService } from './api-key.service';
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
    return user;
  }

  /** Every account, for admins; the route checks the role. */
  list(page: PageRequest): Promise<Page<UserRow>> {
    return this.users.list(page);
  }

  /** Deletes the account and all its data, after checking the password. */
  async deleteAccount(userId: string, password: string): Promise<void> {
    await this.auth.confirmPassword(userId, password);
    const keyHashes = await this.apiKeys.keyHashesOf(userId);
    if (!(await this.users.delete(userId))) throw new NotFoundError('User');
    await Promise.all([
      this.sessions.invalidateUser(userId),
      this.taskCache.invalidateTasks(userId),
      this.apiKeys.forgetCached(keyHashes),
    ]);
  }
}
