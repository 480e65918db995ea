import { API_KEY_SCOPES, type ApiKeyRow, type ApiKeyScope } from '@taskman/core';
import { type Static, Type } from 'typebox';
import { DateTime, iso, isoOrNull, literals, Nullable, PageQuery, Uuid } from '../../schemas/common';

const Scope = literals(API_KEY_SCOPES, {
  description:
    'tasks:read, tasks:write, projects:read, projects:write, webhooks:manage, reports:read (a :write scope includes the :read of its resource)',
});

export const ApiKey = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    prefix: Type.String({
      description: 'The start of the key, to tell keys apart (the key itself is never shown again)',
    }),
    scopes: Type.Array(Scope),
    created_at: DateTime,
    last_used_at: Nullable(DateTime),
    expires_at: Nullable(DateTime),
    expired: Type.Boolean(),
  },
  { $id: 'ApiKey', title: 'ApiKey' },
);
export type ApiKeyJson = Static<typeof ApiKey>;

export const CreatedApiKey = Type.Object(
  {
    ...ApiKey.properties,
    key: Type.String({ description: 'The key: shown once, here. Send it as Authorization: Bearer <key>.' }),
  },
  { $id: 'CreatedApiKey', title: 'CreatedApiKey' },
);

export function presentApiKey(k: ApiKeyRow, now: Date): ApiKeyJson {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes as ApiKeyScope[],
    created_at: iso(k.createdAt),
    last_used_at: isoOrNull(k.lastUsedAt),
    expires_at: isoOrNull(k.expiresAt),
    expired: k.expiresAt !== null && k.expiresAt <= now,
  };
}

export const ApiKeyCreateBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'What the key is for; 1 to 100 characters',
    }),
    scopes: Type.Array(Scope, { minItems: 1, maxItems: API_KEY_SCOPES.length * 2 }),
    expires_at: Type.Optional(Nullable(DateTime)),
  },
  { additionalProperties: false },
);

export const ApiKeyListQuery = Type.Object(
  { page: PageQuery.page, limit: PageQuery.limit },
  { additionalProperties: false },
);
