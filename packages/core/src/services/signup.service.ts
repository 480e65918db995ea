import { createHash, randomBytes } from 'node:crypto';
import { ValidationError } from '../errors';
import type { Clock } from '../lib/clock';
import type { Log } from '../lib/log';
import type { PasswordHasher } from '../lib/password';
import type { Mailer } from '../mail/mailer';
import { signupEmail } from '../mail/signup.email';
import type { SignupRepository } from '../repositories/signup.repository';
import type { UserRepository } from '../repositories/user.repository';
import type { AuthService, RegisterInput, Session } from './auth.service';

/** How long a confirmation link works. */
export const SIGNUP_LINK_HOURS = 24;
/** Pending sign-ups one address may have at once (each sends a mail). */
const MAX_PENDING_PER_EMAIL = 5;

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * Sign-up with a confirmed email address (SIGNUP_VERIFY_EMAIL). The API answers every sign-up the
 * same way, 202, with the same work (a bcrypt hash, a mail in the background), whether or not the
 * address has an account: the form cannot be used to find out who is registered. A new address
 * gets a one-time link that creates the account; a registered one gets a note saying so.
 */
export class SignupService {
  constructor(
    private readonly auth: AuthService,
    private readonly users: UserRepository,
    private readonly signups: SignupRepository,
    private readonly hasher: PasswordHasher,
    private readonly mailer: Mailer,
    private readonly clock: Clock,
    private readonly appUrl: string,
    private readonly log: Log,
  ) {}

  async request(input: RegisterInput): Promise<void> {
    const { email, name, timezone } = this.auth.checkSignup(input);
    const passwordHash = await this.hasher.hash(input.password);
    const existing = await this.users.findByEmail(email);
    let token: string | undefined;
    if (!existing && (await this.signups.countFor(email)) < MAX_PENDING_PER_EMAIL) {
      token = randomBytes(32).toString('base64url');
      const expiresAt = new Date(this.clock.now().getTime() + SIGNUP_LINK_HOURS * 3_600_000);
      await this.signups.insert({ tokenHash: hashOf(token), email, name, passwordHash, timezone, expiresAt });
    } else if (!existing) {
      return; // Enough links are on their way to this address already.
    }
    // Not awaited: the answer must take the same time whichever mail is sent.
    const mail = signupEmail({ to: email, name, appUrl: this.appUrl, token, hours: SIGNUP_LINK_HOURS });
    this.mailer.send(mail).catch((err) => this.log.error({ err }, 'sign-up mail could not be sent'));
  }

  /** Follows a confirmation link: creates the account and signs it in. */
  async confirm(token: string): Promise<Session> {
    const request = await this.signups.take(hashOf(token), this.clock.now());
    if (!request)
      throw ValidationError.field('token', 'this link is invalid, used or expired: sign up again');
    return this.auth.createAccount(request);
  }

  purge(): Promise<number> {
    return this.signups.purge(this.clock.now());
  }
}
