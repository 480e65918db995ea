import { createSigner, createVerifier } from 'fast-jwt';
import { UnauthorizedError } from '../errors';
import { newId } from '../lib/ids';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who issues Taskman's access tokens, and for whom: both are required in every token and checked. */
export const TOKEN_ISSUER = 'taskman';
export const TOKEN_AUDIENCE = 'taskman-api';

/** The claims Taskman puts in an access token. */
export interface TokenClaims {
  iss: string;
  aud: string;
  sub: string;
  jti: string;
  /** The user's session epoch when the token was issued. */
  sep: number;
  iat: number;
  exp: number;
}

/** Signs and verifies HS256 access tokens; every other algorithm, `none` included, is refused. */
export class TokenService {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verifier: (token: string) => TokenClaims;

  constructor(
    secret: string,
    readonly expiresInSeconds: number,
  ) {
    this.sign = createSigner({
      key: secret,
      algorithm: 'HS256',
      expiresIn: expiresInSeconds * 1000,
      iss: TOKEN_ISSUER,
      aud: TOKEN_AUDIENCE,
    });
    this.verifier = createVerifier({
      key: secret,
      // Verified tokens are remembered (until they expire): the rate limiter and the auth check both verify.
      cache: 10_000,
      // An allowlist of one: `none`, RS256 (a public key passed off as an HMAC secret), HS512… are refused.
      algorithms: ['HS256'],
      allowedIss: TOKEN_ISSUER,
      allowedAud: TOKEN_AUDIENCE,
      requiredClaims: ['iss', 'aud', 'sub', 'jti', 'exp', 'iat', 'sep'],
    });
  }

  /** A new token for the user, with a unique id (jti) so it can be revoked on its own. */
  issue(userId: string, sessionEpoch: number): { token: string; claims: TokenClaims } {
    const token = this.sign({ sub: userId, jti: newId(), sep: sessionEpoch });
    return { token, claims: this.verify(token) };
  }

  verify(token: string): TokenClaims {
    try {
      const claims = this.verifier(token);
      if (!UUID.test(String(claims.sub)) || !UUID.test(String(claims.jti)) || !Number.isInteger(claims.sep)) {
        throw new Error('bad claims');
      }
      return claims;
    } catch (err) {
      const expired = (err as { code?: string }).code === 'FAST_JWT_EXPIRED';
      throw new UnauthorizedError(expired ? 'Token has expired' : 'Invalid token');
    }
  }
}
