import { AUDIT_ACTIONS, type AuditLogRow } from '@taskman/core';
import { type Static, Type } from 'typebox';
import { DateTime, iso, Nullable, PageQuery, Uuid } from '../../schemas/common';

export const AuditEntry = Type.Object(
  {
    id: Uuid,
    at: DateTime,
    actor_id: Nullable(
      Type.String({
        format: 'uuid',
        description: 'The signed-in user who acted; null: anonymous or the system',
      }),
    ),
    api_key_id: Nullable(Type.String({ format: 'uuid', description: 'The API key the actor used, if any' })),
    action: Type.String({ description: `One of: ${AUDIT_ACTIONS.join(', ')}` }),
    target_type: Nullable(Type.String({ description: 'user, task, project, api_key, webhook, …' })),
    target_id: Nullable(Type.String()),
    ip: Nullable(Type.String()),
    user_agent: Nullable(Type.String()),
    request_id: Nullable(
      Type.String({ description: 'Matches the X-Request-Id of the response and the logs' }),
    ),
    details: Nullable(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'e.g. the names of the fields that changed, or why a sign-in failed; never secrets',
      }),
    ),
  },
  { $id: 'AuditEntry', title: 'AuditEntry' },
);
export type AuditEntryJson = Static<typeof AuditEntry>;

export function presentAuditEntry(row: AuditLogRow): AuditEntryJson {
  return {
    id: row.id,
    at: iso(row.at),
    actor_id: row.actorId,
    api_key_id: row.apiKeyId,
    action: row.action,
    target_type: row.targetType,
    target_id: row.targetId,
    ip: row.ip,
    user_agent: row.userAgent,
    request_id: row.requestId,
    details: (row.details as Record<string, unknown> | null) ?? null,
  };
}

const actionFilter = Type.Optional(
  Type.String({
    pattern: '^[a-z_]+\\.([a-z_]+)?$',
    maxLength: 64,
    description: 'An action (`task.updated`), or a family ending in a dot (`task.`, `auth.`)',
  }),
);
const range = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'At or after this instant' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Before this instant' })),
};

/** GET /users/me/activity */
export const ActivityQuery = Type.Object(
  { action: actionFilter, ...range, page: PageQuery.page, limit: PageQuery.limit },
  { additionalProperties: false },
);

/** GET /admin/audit */
export const AuditQuery = Type.Object(
  {
    actor_id: Type.Optional(Uuid),
    action: actionFilter,
    target_type: Type.Optional(Type.String({ pattern: '^[a-z_]+$', maxLength: 32 })),
    target_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    ...range,
    page: PageQuery.page,
    limit: PageQuery.limit,
  },
  { additionalProperties: false },
);

/** Dates of a query, checked in order. */
export function rangeOf(q: { from?: string | undefined; to?: string | undefined }) {
  return { from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined };
}
