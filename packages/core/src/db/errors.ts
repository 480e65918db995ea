// Drizzle wraps driver errors (pg and PGlite alike) in DrizzleQueryError; the SQLSTATE is on the cause.
export function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** Constraint name of a unique, foreign-key or check violation, when there is one. */
export function violatedConstraint(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const c = (e as { constraint?: unknown }).constraint;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

export const isUniqueViolation = (err: unknown): boolean => sqlState(err) === '23505';
export const isForeignKeyViolation = (err: unknown): boolean => sqlState(err) === '23503';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end|PGlite is closed|the database system is (starting up|shutting down)/i;

/** True when the database could not be reached (network, shutdown, closed pool): a 503, not a bug. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === 'string' &&
      (NETWORK_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code))
    ) {
      return true;
    }
    if (e instanceof Error && UNAVAILABLE_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/**
 * What may be logged of an error: type, message and code. A failed query's own message carries
 * its SQL and every parameter (emails, password hashes): only the driver's cause is described.
 */
export function describeError(err: unknown): { type: string; message: string; code?: string } {
  let e = err as Error & { code?: unknown; params?: unknown; cause?: unknown };
  if (Array.isArray(e?.params) && e.cause instanceof Error) e = e.cause as typeof e;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return { type: e?.name ?? 'Error', message: String(e?.message ?? err), ...(code ? { code } : {}) };
}
