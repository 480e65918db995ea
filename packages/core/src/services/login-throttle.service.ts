import { createHmac } from 'node:crypto';
import { TooManyRequestsError } from '../errors';
import type { Clock } from '../lib/clock';
import type { LoginThrottleRepository } from '../repositories/login-throttle.repository';

/** Failed sign-ins allowed for one email address before attempts are delayed. */
export const LOGIN_FREE_FAILURES = 5;
/** The first delay; each further failure doubles it, up to LOGIN_MAX_DELAY_SECONDS. */
export const LOGIN_FIRST_DELAY_SECONDS = 15;
export const LOGIN_MAX_DELAY_SECONDS = 15 * 60;
/** A failure older than this no longer counts. */
const FORGET_AFTER_MS = 60 * 60_000;

/** How long attempts are refused after the n-th consecutive failure. */
export function loginDelaySeconds(failures: number): number {
  if (failures < LOGIN_FREE_FAILURES) return 0;
  return Math.min(LOGIN_MAX_DELAY_SECONDS, LOGIN_FIRST_DELAY_SECONDS * 2 ** (failures - LOGIN_FREE_FAILURES));
}

/**
 * Per-account sign-in throttling, on top of the per-IP limit: after LOGIN_FREE_FAILURES failures
 * for one email address, attempts for it are refused (429, before the password is checked) for a
 * delay that doubles with each further failure. Keyed by a keyed hash of the address, so unknown
 * addresses are throttled exactly like registered ones and the table names nobody.
 */
export class LoginThrottle {
  constructor(
    private readonly repo: LoginThrottleRepository,
    private readonly secret: string,
    private readonly clock: Clock,
  ) {}

  private keyOf(email: string): string {
    return createHmac('sha256', this.secret).update(`login:${email}`).digest('base64url');
  }

  /** Throws RATE_LIMITED while the address is locked. */
  async check(email: string): Promise<void> {
    const until = await this.repo.lockedUntil(this.keyOf(email));
    const wait = until ? Math.ceil((until.getTime() - this.clock.now().getTime()) / 1000) : 0;
    if (wait > 0) {
      throw new TooManyRequestsError(
        `Too many failed sign-ins for this account: try again in ${wait} s`,
        wait,
      );
    }
  }

  /** Counts a failure; returns the consecutive count and the delay it now imposes. */
  async failed(email: string): Promise<{ failures: number; delaySeconds: number }> {
    const now = this.clock.now();
    const failures = await this.repo.fail(
      this.keyOf(email),
      now,
      new Date(now.getTime() - FORGET_AFTER_MS),
      loginDelaySeconds,
    );
    return { failures, delaySeconds: loginDelaySeconds(failures) };
  }

  async succeeded(email: string): Promise<void> {
    await this.repo.clear(this.keyOf(email));
  }

  /** Drops counts nobody has added to for an hour (the cleanup job). */
  purge(): Promise<number> {
    return this.repo.purge(new Date(this.clock.now().getTime() - FORGET_AFTER_MS));
  }
}
