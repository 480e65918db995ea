import type { AuthState } from '../repositories/user.repository';
import { revokedTokenKey, sessionKey, userSessionGenerationKey } from './cache.keys';
import type { CacheAside, Codec } from './cache-aside';

const codec: Codec<AuthState> = { encode: (s) => s, decode: (d) => d as AuthState };

/**
 * The auth checker's cache: what a token's user is allowed (role, session epoch), and revoked
 * tokens, shared by every API process so a logout is refused everywhere at once.
 */
export class SessionCache {
  constructor(
    private readonly cache: CacheAside,
    private readonly ttlSeconds: number,
  ) {}

  state(
    userId: string,
    tokenId: string,
    load: () => Promise<AuthState | undefined>,
  ): Promise<AuthState | undefined> {
    return this.cache.get(
      'session',
      { key: sessionKey(tokenId) },
      [userSessionGenerationKey(userId)],
      this.ttlSeconds,
      codec,
      load,
      // A revocation marker answers at once, without the database.
      {
        key: revokedTokenKey(tokenId),
        value: () => ({ id: userId, role: 'user', sessionEpoch: -1, revoked: true }),
      },
    );
  }

  /** Marks the token revoked for its remaining lifetime, and drops every cached session of the user. */
  async revoke(userId: string, tokenId: string, remainingSeconds: number): Promise<void> {
    await this.cache.put('session', revokedTokenKey(tokenId), '1', Math.max(1, remainingSeconds));
    await this.cache.invalidate('session', [userSessionGenerationKey(userId)], [sessionKey(tokenId)]);
  }

  /** After a password change, a role change or an account deletion. */
  invalidateUser(userId: string): Promise<void> {
    return this.cache.invalidate('session', [userSessionGenerationKey(userId)]);
  }
}
