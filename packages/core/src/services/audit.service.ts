import type { Executor } from '../db/client';
import type { AuditLogRow } from '../db/schema';
import { newId } from '../lib/ids';
import { currentRequest } from '../lib/request-context';
import type { AuditFilter, AuditRepository, NewAuditRow } from '../repositories/audit.repository';
import type { DomainEvent } from '../repositories/outbox.repository';
import type { Page, PageRequest } from '../repositories/pagination';

/** Every action the audit log records (a typed catalogue: filters and the docs list them). */
export const AUDIT_ACTIONS = [
  'auth.register',
  'auth.login',
  'auth.login_failed',
  'auth.login_throttled',
  'auth.logout',
  'user.updated',
  'user.password_changed',
  'user.deleted',
  'api_key.created',
  'api_key.revoked',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
  'calendar.feed_created',
  'calendar.feed_revoked',
  'calendar.connection_created',
  'calendar.connection_deleted',
  'admin.user_disabled',
  'admin.user_enabled',
  'admin.role_changed',
  'admin.job_retried',
  'project.created',
  'project.updated',
  'project.deleted',
  'task.created',
  'task.updated',
  'task.completed',
  'task.deleted',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One thing to record; who and from where come from the current request unless given. */
export interface AuditEntry {
  action: AuditAction;
  targetType?: string | undefined;
  targetId?: string | undefined;
  details?: Record<string, unknown> | undefined;
  /** The acting user when the request has none yet (a sign-in), or null for nobody. */
  actorId?: string | null | undefined;
}

// A UTF-16 half without its other half: JSON can carry it (as \ud800), PostgreSQL's jsonb cannot.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The details with every string made storable (lone surrogates replaced by U+FFFD). */
function storable(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(LONE_SURROGATE, '\uFFFD');
  if (Array.isArray(value)) return value.map(storable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)]));
  }
  return value;
}

/** An audit row for `entry`, filled in from the request being served. */
export function auditRow(entry: AuditEntry): NewAuditRow {
  const context = currentRequest();
  return {
    id: newId(),
    actorId: entry.actorId !== undefined ? entry.actorId : (context?.actor?.userId ?? null),
    apiKeyId: context?.actor?.apiKeyId ?? null,
    action: entry.action,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId ?? null,
    ip: context?.ip ?? null,
    userAgent: context?.userAgent ?? null,
    requestId: context?.requestId ?? null,
    details: entry.details ? (storable(entry.details) as Record<string, unknown>) : null,
  };
}

/**
 * The audit row of a task or project change, written with its outbox event in the same
 * transaction: the kind of object, its id, and which fields changed (never their content).
 */
export function auditRowOfEvent(event: DomainEvent): NewAuditRow {
  const [targetType] = event.type.split('.');
  const previous = event.payload.previous as Record<string, unknown> | undefined;
  return auditRow({
    action: event.type,
    targetType,
    targetId: event.aggregateId,
    details: previous ? { changed: Object.keys(previous) } : undefined,
  });
}

/** Records and reads the audit log. */
export class AuditService {
  constructor(private readonly repo: AuditRepository) {}

  /** Appends entries, in the caller's transaction when given one. */
  async record(entries: AuditEntry | AuditEntry[], tx?: Executor): Promise<void> {
    const rows = [entries].flat().map(auditRow);
    await (tx ? this.repo.withTx(tx) : this.repo).append(rows);
  }

  /** The whole log, for admins. */
  search(filter: AuditFilter, page: PageRequest): Promise<Page<AuditLogRow>> {
    return this.repo.list(filter, page);
  }

  /** What a user did, and what was done to their account (e.g. failed sign-ins, an admin's action). */
  activityOf(userId: string, filter: Omit<AuditFilter, 'involving' | 'actorId'>, page: PageRequest) {
    return this.repo.list({ ...filter, involving: userId }, page);
  }
}
