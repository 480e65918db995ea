import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { apiKeyGenerationKey, apiKeyKey } from '../cache/cache.keys';
import type { CacheAside, Codec } from '../cache/cache-aside';
import { API_KEY_SCOPES, type ApiKeyRow, type ApiKeyScope } from '../db/schema';
import type { TransactionRunner } from '../db/transaction';
import { ConflictError, NotFoundError, UnauthorizedError, ValidationError } from '../errors';
import type { Clock } from '../lib/clock';
import { newId } from '../lib/ids';
import { charLength } from '../lib/text';
import type { ApiKeyRepository, ApiKeyState } from '../repositories/api-key.repository';
import type { Page, PageRequest } from '../repositories/pagination';
import type { UserRepository } from '../repositories/user.repository';
import type { AuditService } from './audit.service';
import type { Principal } from './auth.service';

/** Every key starts with this, so that secret scanners and people recognise one. */
export const API_KEY_PREFIX = 'tm_';
/** "tm_", 32 characters of randomness (24 bytes) and an 8-character checksum. */
const KEY_SHAPE = /^tm_([A-Za-z0-9_-]{32})([A-Za-z0-9_-]{8})$/;
export const MAX_API_KEYS = 50;

export interface NewApiKey {
  name: string;
  scopes: readonly string[];
  expiresAt?: Date | null | undefined;
}

/** True if the caller's scopes allow `needed`; a `:write` scope includes the `:read` of its resource. */
export function hasScope(scopes: readonly string[], needed: ApiKeyScope): boolean {
  return (
    scopes.includes(needed) ||
    (needed.endsWith(':read') && scopes.includes(needed.replace(/:read$/, ':write')))
  );
}

export function isApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

const hashOf = (key: string) => createHash('sha256').update(key).digest('hex');
const codec: Codec<ApiKeyState> = { encode: (s) => s, decode: (d) => d as ApiKeyState };
const TOUCH_EVERY_MS = 60_000;

/**
 * Personal access tokens: created (and shown) once, stored as a hash, limited to scopes, revocable.
 * The checksum (an HMAC under the server's secret) lets the rate limiter tell a real key from a
 * made-up one without the database; authentication itself only trusts the database.
 */
export class ApiKeyService {
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly cache: CacheAside,
    private readonly ttlSeconds: number,
    private readonly clock: Clock,
    private readonly checksumSecret: string,
    private readonly transaction: TransactionRunner,
    private readonly users: UserRepository,
    private readonly audit: AuditService,
  ) {}

  async create(userId: string, input: NewApiKey): Promise<{ apiKey: ApiKeyRow; key: string }> {
    const name = input.name.trim();
    if (name.length === 0 || charLength(name) > 100)
      throw ValidationError.field('name', 'must be 1 to 100 characters');
    const scopes = [...new Set(input.scopes)];
    if (scopes.length === 0) throw ValidationError.field('scopes', 'must name at least one scope');
    const unknown = scopes.filter((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
    if (unknown.length)
      throw ValidationError.field(
        'scopes',
        `unknown scope ${unknown[0]}; one of ${API_KEY_SCOPES.join(', ')}`,
      );
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt && expiresAt.getTime() <= this.clock.now().getTime())
      throw ValidationError.field('expires_at', 'must be in the future');
    const body = randomBytes(24).toString('base64url');
    const key = `${API_KEY_PREFIX}${body}${this.checksum(body)}`;
    const apiKey = await this.transaction(async (tx) => {
      const keys = this.keys.withTx(tx);
      // Counted and written under the user's row lock: concurrent creations cannot pass the limit.
      await this.users.withTx(tx).lockUser(userId);
      if ((await keys.countActive(userId)) >= MAX_API_KEYS)
        throw new ConflictError(`You have ${MAX_API_KEYS} API keys already: revoke one first`);
      const row = await keys.insert({
        id: newId(),
        userId,
        name,
        prefix: key.slice(0, API_KEY_PREFIX.length + 6),
        keyHash: hashOf(key),
        scopes: API_KEY_SCOPES.filter((s) => scopes.includes(s)),
        expiresAt,
      });
      await this.audit.record(
        {
          action: 'api_key.created',
          targetType: 'api_key',
          targetId: row.id,
          details: { scopes: row.scopes },
        },
        tx,
      );
      return row;
    });
    return { apiKey, key };
  }

  list(userId: string, page: PageRequest): Promise<Page<ApiKeyRow>> {
    return this.keys.list(userId, page);
  }

  /** Revokes at once, on every API process (the cached state is dropped). */
  async revoke(userId: string, id: string): Promise<void> {
    const keyHash = await this.keys.revoke(userId, id);
    if (!keyHash) throw new NotFoundError('API key');
    await this.forgetCached([keyHash]);
    await this.audit.record({ action: 'api_key.revoked', targetType: 'api_key', targetId: id });
  }

  /** The hashes of the user's keys (before deleting the account, to drop them from the cache after). */
  keyHashesOf(userId: string): Promise<string[]> {
    return this.keys.hashesOf(userId);
  }

  async forgetCached(keyHashes: string[]): Promise<void> {
    if (keyHashes.length === 0) return;
    await this.cache.invalidate('api_key', keyHashes.map(apiKeyGenerationKey), keyHashes.map(apiKeyKey));
  }

  /** A stable rate-limit subject for a well-formed key (checksum verified), else undefined. */
  rateLimitSubject(key: string): string | undefined {
    const match = KEY_SHAPE.exec(key);
    if (!match) return undefined;
    const expected = Buffer.from(this.checksum(match[1]!));
    const given = Buffer.from(match[2]!);
    return timingSafeEqual(expected, given) ? `key:${hashOf(key).slice(0, 24)}` : undefined;
  }

  async authenticate(key: string): Promise<Principal> {
    if (!KEY_SHAPE.test(key)) throw new UnauthorizedError('Invalid API key');
    const keyHash = hashOf(key);
    const state = await this.cache.get(
      'api_key',
      { key: apiKeyKey(keyHash) },
      [apiKeyGenerationKey(keyHash)],
      this.ttlSeconds,
      codec,
      () => this.keys.findState(keyHash),
    );
    if (!state) throw new UnauthorizedError('Invalid API key');
    if (state.revoked) throw new UnauthorizedError('This API key has been revoked');
    if (state.disabled) throw new UnauthorizedError('This account is disabled');
    const now = this.clock.now().getTime();
    if (state.expiresAt !== null && state.expiresAt <= now)
      throw new UnauthorizedError('This API key has expired');
    this.touch(state.id, now);
    return {
      userId: state.userId,
      role: state.role,
      tokenId: state.id,
      tokenExpiresAt: new Date(state.expiresAt ?? 8.64e15),
      scopes: state.scopes,
      apiKeyId: state.id,
    };
  }

  private touch(id: string, now: number): void {
    if ((this.touched.get(id) ?? 0) > now - TOUCH_EVERY_MS) return;
    if (this.touched.size > 10_000) this.touched.clear();
    this.touched.set(id, now);
    // Best effort: a lost "last used" never fails a request.
    this.keys.touch(id).catch(() => this.touched.delete(id));
  }

  private checksum(body: string): string {
    return createHmac('sha256', this.checksumSecret).update(body).digest('base64url').slice(0, 8);
  }
}
