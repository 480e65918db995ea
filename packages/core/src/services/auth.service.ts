import type { SessionCache } from '../cache/session.cache';
import { isUniqueViolation } from '../db/errors';
import type { Role, UserRow } from '../db/schema';
import type { TransactionRunner } from '../db/transaction';
import { ConflictError, ForbiddenError, UnauthorizedError, ValidationError } from '../errors';
import { newId } from '../lib/ids';
import type { PasswordHasher } from '../lib/password';
import { withRowScope } from '../lib/request-context';
import { charLength } from '../lib/text';
import { canonicalTimeZone, isValidTimeZone } from '../lib/timezone';
import type { UserRepository } from '../repositories/user.repository';
import { type ApiKeyService, isApiKey } from './api-key.service';
import type { AuditService } from './audit.service';
import type { LoginThrottle } from './login-throttle.service';
import type { TokenClaims, TokenService } from './token.service';

export interface RegisterInput {
  email: string;
  password: string;
  name: string;
  timezone?: string | undefined;
}

export interface Session {
  token: string;
  expiresAt: Date;
  user: UserRow;
}

/** Who is calling: what the auth checker attaches to a request. */
export interface Principal {
  userId: string;
  role: Role;
  /** The JWT's id, or the API key's id. */
  tokenId: string;
  tokenExpiresAt: Date;
  /** An API key's scopes; null for a signed-in session, which may do everything its user may. */
  scopes: readonly string[] | null;
  /** The API key used, if the caller used one. */
  apiKeyId: string | null;
}

const INVALID_CREDENTIALS = 'Invalid email or password';
/** users.last_seen_at is kept to within this much. */
const SEEN_EVERY_MS = 5 * 60_000;

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function normaliseName(name: string, field = 'name'): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || charLength(trimmed) > 100)
    throw ValidationError.field(field, 'must be 1 to 100 characters');
  return trimmed;
}

export function assertTimeZone(tz: string): string {
  if (!isValidTimeZone(tz))
    throw ValidationError.field('timezone', 'must be an IANA time zone such as Europe/Paris');
  return canonicalTimeZone(tz);
}

/** Registration, login, logout, password change and the per-request token check (brief §5). */
export class AuthService {
  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly transaction: TransactionRunner,
    private readonly sessions: SessionCache,
    private readonly adminEmails: readonly string[],
    private readonly apiKeys: ApiKeyService,
    private readonly audit: AuditService,
    private readonly throttle: LoginThrottle,
  ) {}

  /** Creates an account and signs it in. The first account, and ADMIN_EMAILS, become admins. */
  async register(input: RegisterInput): Promise<Session> {
    const checked = this.checkSignup(input);
    return this.createAccount({ ...checked, passwordHash: await this.hasher.hash(input.password) });
  }

  /** The normalised fields of a sign-up, or a VALIDATION_ERROR (the password rules included). */
  checkSignup(input: RegisterInput): { email: string; name: string; timezone: string } {
    const email = normaliseEmail(input.email);
    const name = normaliseName(input.name);
    const timezone = assertTimeZone(input.timezone ?? 'UTC');
    this.hasher.assertAcceptable(input.password, 'password', email);
    return { email, name, timezone };
  }

  /** Creates the account (409 if the email has one) and signs it in. */
  async createAccount(fields: {
    email: string;
    name: string;
    timezone: string;
    passwordHash: string;
  }): Promise<Session> {
    const { email, name, timezone, passwordHash } = fields;
    try {
      const user = await this.transaction(async (tx) => {
        const users = this.users.withTx(tx);
        await users.lockRegistrations();
        if (await users.findByEmail(email))
          throw new ConflictError('An account with this email already exists');
        const first = (await users.count()) === 0;
        const role: Role = first || this.adminEmails.includes(email) ? 'admin' : 'user';
        const user = await users.insert({ id: newId(), email, name, passwordHash, role, timezone });
        await this.audit.record(
          { action: 'auth.register', actorId: user.id, targetType: 'user', targetId: user.id },
          tx,
        );
        return user;
      });
      return this.sessionFor(user);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('An account with this email already exists');
      throw err;
    }
  }

  /**
   * Same error, the same work and about the same time for an unknown email and a wrong password;
   * after repeated failures for one address, attempts wait (LoginThrottle) whether it exists or not.
   */
  async login(email: string, password: string): Promise<Session> {
    const address = normaliseEmail(email);
    await this.throttle.check(address);
    const user = await this.users.findByEmail(address);
    const ok = await this.hasher.verify(password, user?.passwordHash);
    const target = { targetType: 'user', targetId: user?.id };
    if (!ok || !user) {
      const { failures, delaySeconds } = await this.throttle.failed(address);
      const details = { email: address.slice(0, 254), failures };
      await this.audit.record([
        { action: 'auth.login_failed', actorId: null, ...target, details },
        ...(delaySeconds > 0
          ? [
              {
                action: 'auth.login_throttled' as const,
                actorId: null,
                ...target,
                details: { ...details, delay_seconds: delaySeconds },
              },
            ]
          : []),
      ]);
      throw new UnauthorizedError(INVALID_CREDENTIALS);
    }
    if (user.disabledAt) {
      await this.audit.record({
        action: 'auth.login_failed',
        actorId: null,
        ...target,
        details: { email: address, reason: 'disabled' },
      });
      throw new ForbiddenError('This account is disabled: ask an administrator');
    }
    await this.throttle.succeeded(address);
    await this.audit.record({ action: 'auth.login', actorId: user.id, ...target });
    return this.sessionFor(user);
  }

  /** Revokes this token for good: the revocation is stored in the database and outlives restarts. */
  /** Revokes the credential of the request: a session's token, or the API key itself. */
  async logout(principal: Principal): Promise<void> {
    await this.audit.record({ action: 'auth.logout', targetType: 'user', targetId: principal.userId });
    if (principal.apiKeyId) return this.apiKeys.revoke(principal.userId, principal.apiKeyId);
    await this.users.revokeToken(principal.tokenId, principal.userId, principal.tokenExpiresAt);
    const remaining = Math.ceil((principal.tokenExpiresAt.getTime() - Date.now()) / 1000);
    await this.sessions.revoke(principal.userId, principal.tokenId, remaining);
  }

  /** Forgets revocations of tokens that have expired anyway; returns how many. */
  purgeExpiredRevocations(now = new Date()): Promise<number> {
    return this.users.purgeExpiredRevocations(now);
  }

  /** Forgets failed sign-in counts that have not grown for an hour. */
  purgeLoginThrottles(): Promise<number> {
    return this.throttle.purge();
  }

  /**
   * Who a bearer token speaks for, without the database (the rate limiter's key): `user:<id>` for a
   * correctly signed, unexpired token, `key:<hash>` for a well-formed API key, else undefined.
   */
  tokenSubject(token: string): string | undefined {
    if (isApiKey(token)) return this.apiKeys.rateLimitSubject(token);
    try {
      return `user:${this.tokens.verify(token).sub}`;
    } catch {
      return undefined;
    }
  }

  /** Verifies a bearer token (a session's JWT or an API key) and that it is still valid. */
  async authenticate(token: string): Promise<Principal> {
    const principal = await this.verify(token);
    this.markSeen(principal.userId);
    return principal;
  }

  private readonly lastSeen = new Map<string, number>();

  /**
   * Records that the user made a request (the dashboard's active users): at most once per
   * SEEN_EVERY_MS per user and process, in the background; the answer never waits for it.
   */
  private markSeen(userId: string, now = Date.now()): void {
    const last = this.lastSeen.get(userId);
    if (last !== undefined && now - last < SEEN_EVERY_MS) return;
    if (this.lastSeen.size >= 10_000) this.lastSeen.clear();
    this.lastSeen.set(userId, now);
    withRowScope(userId, () => this.users.markSeen(userId, SEEN_EVERY_MS / 1000)).catch(() =>
      this.lastSeen.delete(userId),
    );
  }

  private async verify(token: string): Promise<Principal> {
    if (isApiKey(token)) return this.apiKeys.authenticate(token);
    const claims: TokenClaims = this.tokens.verify(token);
    // In the token's user's scope: the account and its revocations are that user's rows.
    const state = await this.sessions.state(claims.sub, claims.jti, () =>
      withRowScope(claims.sub, () => this.users.findAuthState(claims.sub, claims.jti)),
    );
    if (!state) throw new UnauthorizedError('Invalid token');
    if (state.revoked) throw new UnauthorizedError('Token has been revoked');
    if (state.disabled) throw new UnauthorizedError('This account is disabled');
    if (claims.sep !== state.sessionEpoch) throw new UnauthorizedError('Token has been revoked');
    return {
      userId: state.id,
      role: state.role,
      tokenId: claims.jti,
      tokenExpiresAt: new Date(claims.exp * 1000),
      scopes: null,
      apiKeyId: null,
    };
  }

  /** Checks the current password, sets the new one, signs out every session and returns a new one. */
  async changePassword(userId: string, currentPassword: string, newPassword: string): Promise<Session> {
    const user = await this.users.findById(userId);
    if (!user) throw new UnauthorizedError('Invalid token');
    if (!(await this.hasher.verify(currentPassword, user.passwordHash))) {
      throw ValidationError.field('current_password', 'is not correct');
    }
    this.hasher.assertAcceptable(newPassword, 'new_password', user.email);
    const updated = await this.users.setPassword(userId, await this.hasher.hash(newPassword));
    if (!updated) throw new UnauthorizedError('Invalid token');
    await this.sessions.invalidateUser(userId);
    await this.audit.record({ action: 'user.password_changed', targetType: 'user', targetId: userId });
    return this.sessionFor(updated);
  }

  /** Checks a password for a sensitive action of a signed-in user (e.g. deleting the account). */
  async confirmPassword(userId: string, password: string, field = 'password'): Promise<void> {
    const user = await this.users.findById(userId);
    if (!(await this.hasher.verify(password, user?.passwordHash))) {
      throw ValidationError.field(field, 'is not correct');
    }
  }

  private sessionFor(user: UserRow): Session {
    const { token, claims } = this.tokens.issue(user.id, user.sessionEpoch);
    return { token, expiresAt: new Date(claims.exp * 1000), user };
  }
}
