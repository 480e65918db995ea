import { createHash } from 'node:crypto';

// Every cache key Taskman writes is built here, and nowhere else (DESIGN.md §6).

/** A task as its owner sees it (TTL 300 s). */
export const taskKey = (taskId: string, userId: string) => `task:${taskId}:${userId}`;

/** One page of a user's task list; `hash` covers the filters, sort, order and limit. */
export const taskListPageKey = (userId: string, page: number, hash: string) =>
  `user:${userId}:tasks:page:${page}:${hash}`;

/** A Redis hash holding a project's task-list pages, one field per page and query hash. */
export const projectTasksKey = (projectId: string) => `project:${projectId}:tasks`;
export const projectTasksField = (page: number, hash: string) => `page:${page}:${hash}`;

/** Bumped on every write to a user's tasks: cached task entries of an older generation are stale. */
export const userTasksGenerationKey = (userId: string) => `user:${userId}:tasks:gen`;

/** What the auth checker knows about a token (its user's role and session epoch). */
export const sessionKey = (tokenId: string) => `session:${tokenId}`;

/** Bumped on logout, password change and account deletion: cached sessions of an older generation are stale. */
export const userSessionGenerationKey = (userId: string) => `user:${userId}:sessions:gen`;

/** A revoked token, kept for its remaining lifetime. */
export const revokedTokenKey = (tokenId: string) => `revoked:${tokenId}`;

/** Bumped when a process could not invalidate during an outage: everything cached before is stale. */
export const cacheEpochKey = () => 'cache:epoch';

/** Namespace of the rate limiter's counters. */
export const RATE_LIMIT_NAMESPACE = 'ratelimit:';

/** A short, stable hash of a query's parameters (key order does not matter). */
export function queryHash(query: Record<string, unknown>): string {
  const canonical = JSON.stringify(query, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
  return createHash('sha1').update(canonical).digest('hex').slice(0, 16);
}

/** What the auth checker knows about an API key, by the key's SHA-256. */
export const apiKeyKey = (keyHash: string) => `apikey:${keyHash}`;

/** Bumped when the key is revoked: its cached state is stale. */
export const apiKeyGenerationKey = (keyHash: string) => `apikey:${keyHash}:gen`;
