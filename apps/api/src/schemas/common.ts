import { type Static, type TSchema, Type } from 'typebox';

/** Base path of every versioned API route. */
export const API_PREFIX = '/api/v1';

export const Uuid = Type.String({ format: 'uuid', description: 'A UUID (v7, time-ordered)' });
export const DateTime = Type.String({ format: 'date-time', description: 'ISO 8601 with offset' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

/**
 * A reference to a schema registered by name (app.addSchema): it becomes a named component of the
 * OpenAPI document (so generated clients get a Task type, not an anonymous object) while keeping
 * its TypeScript type for the handlers.
 */
export const ref = <T extends TSchema & { $id?: string }>(schema: T) =>
  Type.Unsafe<Static<T>>({ $ref: `${schema.$id}#` });

/** `{success: true, data}`: every successful response with a body. */
export const Envelope = <T extends TSchema>(data: T) =>
  Type.Object({ success: Type.Literal(true), data }, { additionalProperties: false });

export const PageMeta = Type.Object({
  page: Type.Integer({ minimum: 1 }),
  limit: Type.Integer({ minimum: 1 }),
  total: Type.Integer({ minimum: 0 }),
  total_pages: Type.Integer({ minimum: 0 }),
});

/** `{success: true, data: [...], meta: {page, limit, total, total_pages}}`. */
export const ListEnvelope = <T extends TSchema>(item: T) =>
  Type.Object(
    { success: Type.Literal(true), data: Type.Array(item), meta: PageMeta },
    { additionalProperties: false },
  );

export const ErrorBody = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Object({
      code: Type.String({ description: 'VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, …' }),
      message: Type.String(),
      details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
      current_version: Type.Optional(
        Type.Integer({ description: 'PRECONDITION_FAILED: the version the resource has now' }),
      ),
    }),
    request_id: Type.String(),
  },
  { $id: 'Error', title: 'Error' },
);

export const errorRef = (description: string) => Type.Unsafe({ $ref: 'Error#', description });

/** Error responses for the OpenAPI document, by status. */
export const errors = {
  400: errorRef('Invalid input (VALIDATION_ERROR)'),
  401: errorRef('Missing, invalid, expired or revoked token (UNAUTHORIZED)'),
  403: errorRef('Not allowed (FORBIDDEN)'),
  404: errorRef('Not found, or not yours (NOT_FOUND)'),
  409: errorRef('Conflict (CONFLICT)'),
  412: errorRef(
    'If-Match names another version (PRECONDITION_FAILED); error.current_version is the current one',
  ),
  429: errorRef('Too many requests (RATE_LIMITED)'),
  503: errorRef(
    'A dependency or a setting it needs is missing (UNAVAILABLE); Retry-After when it is temporary',
  ),
} as const;

/** The error responses of an operation, by status: `...errorsFor(400, 401, 404)`. */
export const errorsFor = <S extends keyof typeof errors>(...statuses: S[]) =>
  Object.fromEntries(statuses.map((s) => [s, errors[s]])) as Pick<typeof errors, S>;

// Optional in the document (the server fills the defaults), so generated clients need not send them.
export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  order: Type.Optional(Type.Enum(['asc', 'desc'], { type: 'string' })),
};

/** The page and limit of a list query, with the defaults of the API contract. */
export const pageOf = (q: { page?: number | undefined; limit?: number | undefined }) => ({
  page: q.page ?? 1,
  limit: q.limit ?? 20,
});

/** A string enum (`{"enum": [...]}`), so a bad value gets one clear "must be one of" error. */
export const literals = <const T extends string[]>(
  values: readonly [...T],
  options: Record<string, unknown> = {},
) => Type.Enum(values, { type: 'string', ...options });

/** The `meta` block of a list response. */
export function pageMeta(page: number, limit: number, total: number) {
  return { page, limit, total, total_pages: Math.ceil(total / limit) };
}

export const iso = (d: Date): string => d.toISOString();
export const isoOrNull = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** Security requirement for routes that take a bearer token. */
export const bearer = [{ bearerAuth: [] }];
