/** A field-level validation problem, reported to clients as `details: [{field, message}]`. */
export interface FieldIssue {
  field: string;
  message: string;
}

export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'GONE'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'PRECONDITION_FAILED'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE';

/** Base of every error the domain raises on purpose; the API maps `code` to an HTTP status. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldIssue[],
    /** More members of the error object, e.g. `current_version` of a 412. */
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  constructor(details: FieldIssue[], message = details[0]?.message ?? 'Invalid input') {
    super('VALIDATION_ERROR', message, details);
  }
  static field(field: string, message: string): ValidationError {
    return new ValidationError([{ field, message }], `${field}: ${message}`);
  }
}

export class UnauthorizedError extends DomainError {
  constructor(message = 'Authentication required') {
    super('UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'You are not allowed to do this') {
    super('FORBIDDEN', message);
  }
}

/** Also used for resources that exist but belong to someone else, so existence is never revealed. */
export class NotFoundError extends DomainError {
  constructor(resource: string) {
    super('NOT_FOUND', `${resource} not found`);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** Too many attempts (e.g. failed sign-ins for one account): the API answers 429 with Retry-After. */
export class TooManyRequestsError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('RATE_LIMITED', message);
  }
}

/** The `If-Match` of a request did not name the resource's current version. */
export class PreconditionFailedError extends DomainError {
  constructor(readonly currentVersion: number) {
    super(
      'PRECONDITION_FAILED',
      `It was changed meanwhile: the current version is ${currentVersion}, which If-Match does not name`,
      undefined,
      { current_version: currentVersion },
    );
  }
}

/** The versions a write may apply to (from `If-Match`); undefined: any. */
export type IfVersion = readonly number[] | undefined;

/** Throws 412 unless `current` is one of the versions the write was made against. */
export function assertVersion(ifVersion: IfVersion, current: number): void {
  if (ifVersion && !ifVersion.includes(current)) throw new PreconditionFailedError(current);
}
