import { readFileSync } from 'node:fs';
import bcrypt from 'bcrypt';
import { ValidationError } from '../errors';

let commonPasswords: Set<string> | undefined;

/** Whether the password is on the shipped list of the most common ones (whatever its case). */
export function isCommonPassword(password: string): boolean {
  commonPasswords ??= new Set(
    readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('# ')),
  );
  return commonPasswords.has(password.toLowerCase());
}

export const PASSWORD_MIN_BYTES = 8;
// bcrypt ignores everything after 72 bytes; refusing longer passwords avoids a false sense of strength.
export const PASSWORD_MAX_BYTES = 72;

/** Hashes and checks passwords with bcrypt in libuv's thread pool, off the event loop. */
export class PasswordHasher {
  private readonly dummyHash: string;

  constructor(private readonly cost: number) {
    // Checked against when the email is unknown, so both failures take the same time.
    this.dummyHash = bcrypt.hashSync('taskman-timing-equaliser', cost);
  }

  /**
   * Throws a VALIDATION_ERROR on `field` unless the password is 8 to 72 bytes of UTF-8, is not one
   * of the most common passwords, and is not the account's email address.
   */
  assertAcceptable(password: string, field = 'password', email?: string): void {
    const bytes = Buffer.byteLength(password, 'utf8');
    if (bytes < PASSWORD_MIN_BYTES) {
      throw ValidationError.field(field, `must be at least ${PASSWORD_MIN_BYTES} bytes`);
    }
    if (bytes > PASSWORD_MAX_BYTES) {
      throw ValidationError.field(field, `must be at most ${PASSWORD_MAX_BYTES} bytes`);
    }
    if (isCommonPassword(password)) {
      throw ValidationError.field(field, 'is one of the most common passwords: choose another');
    }
    if (email && password.trim().toLowerCase() === email.trim().toLowerCase()) {
      throw ValidationError.field(field, 'must not be your email address');
    }
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.cost);
  }

  /** Compares against the hash, or against a dummy hash when there is none, taking the same time. */
  async verify(password: string, hash: string | undefined): Promise<boolean> {
    // bcrypt would ignore bytes past 72: a longer password can never be the one that was set.
    const tooLong = Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES;
    const ok = await bcrypt.compare(password, tooLong || hash === undefined ? this.dummyHash : hash);
    return ok && !tooLong && hash !== undefined;
  }
}
