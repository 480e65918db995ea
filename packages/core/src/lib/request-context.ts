import { AsyncLocalStorage } from 'node:async_hooks';

/** The signed-in caller of a request, once authenticated. */
export interface RequestActor {
  userId: string;
  /** The API key the caller used, or null for a session. */
  apiKeyId: string | null;
}

/**
 * What the current request is, wherever its work goes (services, repositories, the queue): the API
 * runs each request inside it. A job enqueued on its behalf carries its id into the job's logs, the
 * audit log records its address and actor, and the database shows it only its actor's rows.
 */
export interface RequestContext {
  requestId: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
  /** Set by authentication. */
  actor?: RequestActor | undefined;
  /**
   * Whose rows the database lets this request see (row-level security): the actor's user id once
   * authenticated, or 'system' — every row — for anonymous requests (sign-in looks up any account)
   * and admin routes. Work outside any request (jobs, the CLI) is 'system' too.
   */
  rowScope?: string | undefined;
  /**
   * Where this request's reads may go (DATABASE_REPLICA_URL): 'replica' for a GET whose caller
   * has not written within READ_YOUR_WRITES_MS; otherwise (unset) the primary. Transactions and
   * writes always go to the primary.
   */
  reads?: 'replica' | undefined;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The id of the request being served, if any. */
export const currentRequestId = (): string | undefined => requestContext.getStore()?.requestId;

/** The current request, if any (its fields may be filled in as it goes: actor after authentication). */
export const currentRequest = (): RequestContext | undefined => requestContext.getStore();

/** The row scope of the work in progress: a user id, or 'system' (every row). */
export const currentRowScope = (): string => requestContext.getStore()?.rowScope ?? 'system';

/** Runs `fn` seeing every row (an admin operation, a job started from a request). */
export function withSystemScope<T>(fn: () => T): T {
  const store = requestContext.getStore();
  return store ? requestContext.run({ ...store, rowScope: 'system' }, fn) : fn();
}

/**
 * Runs `fn` seeing one user's rows: checking a session token before the request has its scope
 * (the token's user is known once its signature is verified), so that the check and the request's
 * own queries share a scope and a connection changes it once, not twice, per request.
 */
export function withRowScope<T>(userId: string, fn: () => T): T {
  const store = requestContext.getStore();
  return store ? requestContext.run({ ...store, rowScope: userId }, fn) : fn();
}

/** True when the work in progress may read from the replica (a read-only request, no recent write). */
export const mayReadFromReplica = (): boolean => requestContext.getStore()?.reads === 'replica';

/**
 * Runs `fn` with its reads on the primary: for what outlives the request, such as a value about to
 * be cached for CACHE_TTL (a replica's older copy would be served from the cache long after the
 * replica itself has caught up).
 */
export function withPrimaryReads<T>(fn: () => T): T {
  const store = requestContext.getStore();
  return store?.reads ? requestContext.run({ ...store, reads: undefined }, fn) : fn();
}
