import {
  DomainError,
  describeError,
  type ErrorCode,
  type FieldIssue,
  isDatabaseUnavailable,
  PreconditionFailedError,
  TooManyRequestsError,
} from '@taskman/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { etagOf } from './conditional';

type ApiErrorCode = ErrorCode | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE' | 'INTERNAL';

const STATUS: Record<ApiErrorCode, number> = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  GONE: 410,
  PRECONDITION_FAILED: 412,
  IDEMPOTENCY_KEY_REUSED: 422,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

/** Sends the error envelope of DESIGN.md §4. */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  code: ApiErrorCode,
  message: string,
  details?: FieldIssue[],
  extra?: Record<string, unknown>,
) {
  const error = { code, message, ...(details?.length ? { details } : {}), ...extra };
  // Set here too: an error thrown before the request-log hook ran must still carry the id.
  reply.header('x-request-id', request.id);
  request.errorCode = code;
  return reply.status(STATUS[code]).send({ success: false, error, request_id: request.id });
}

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

const FORMATS: Record<string, string> = {
  'date-time': 'must be an ISO 8601 date-time with a time zone, e.g. 2030-01-15T17:00:00+01:00',
  uuid: 'must be a UUID',
  email: 'must be an email address',
};

/** Ajv's message, in the words of the API's other errors. */
function messageOf(i: AjvIssue, field: string): string {
  const p = i.params;
  switch (i.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not a known field';
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${p.limit} characters`;
    case 'maxLength':
      return `must be at most ${p.limit} characters`;
    case 'maxItems':
      return `must have at most ${p.limit} items`;
    case 'minItems':
      return p.limit === 1 ? 'must not be empty' : `must have at least ${p.limit} items`;
    case 'minimum':
      return `must be at least ${p.limit}`;
    case 'maximum':
      return `must be at most ${p.limit}`;
    case 'format':
      return FORMATS[String(p.format)] ?? `must be a valid ${p.format}`;
    case 'type':
      if (field === 'body') return 'must be a JSON object';
      return `must be ${p.type === 'array' ? 'an array' : p.type === 'integer' ? 'a whole number' : `a ${p.type}`}`;
    default:
      return i.message ?? 'is invalid';
  }
}

/** Turns Ajv's issues into `{field, message}` pairs named as the client sent them, one per field. */
/** At most this many field details in one error: a body of 20,000 unknown fields gets 50, quickly. */
const MAX_DETAILS = 50;

function fieldIssues(issues: AjvIssue[], context: string | undefined): FieldIssue[] {
  const out: FieldIssue[] = [];
  const seen = new Set<string>();
  // An enum's "one of …" says more than its "must be string": report it first.
  const ordered = [...issues].sort((a, b) => Number(b.keyword === 'enum') - Number(a.keyword === 'enum'));
  for (const i of ordered) {
    // For "X or null" unions, the null branch and the union itself only repeat the real problem.
    if (i.keyword === 'anyOf' || (i.keyword === 'type' && i.params.type === 'null')) continue;
    // tags/3 → tags: clients map errors to form fields, not to array items.
    const path = i.instancePath
      .replace(/^\//, '')
      .replace(/\/\d+(?=\/|$)/g, '')
      .replace(/\//g, '.');
    let field = path;
    if (i.keyword === 'required') field = [path, String(i.params.missingProperty)].filter(Boolean).join('.');
    if (i.keyword === 'additionalProperties')
      field = [path, String(i.params.additionalProperty)].filter(Boolean).join('.');
    field ||= context ?? 'body';
    if (seen.has(field)) continue;
    seen.add(field);
    out.push({ field, message: messageOf(i, field) });
    if (out.length === MAX_DETAILS) break;
  }
  return out.length ? out : [{ field: context ?? 'body', message: 'is invalid' }];
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Sends the web app's index.html (compressed, with its ETag: 304 when unchanged), when the API
     * serves the web app (see plugins/web-app.ts).
     */
    sendWebAppIndex: ((request: FastifyRequest, reply: FastifyReply) => FastifyReply) | null;
  }
}

// /admin itself is the web app's Operations page; what is under /admin/ (Bull Board) is not.
const NOT_WEB_APP = /^\/(api|health|docs|openapi\.json)(\/|$|\?)|^\/admin\//;

/** A browser asking for a page (not an API path, not a file): the web app's client-side routes. */
function isWebAppNavigation(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (NOT_WEB_APP.test(request.url)) return false;
  const path = request.url.split('?')[0] ?? '';
  if (/\.[a-z0-9]+$/i.test(path)) return false;
  return (request.headers.accept ?? '').includes('text/html');
}

/** The error handler and 404 handler: every failure leaves in the envelope, never with a stack trace. */
export default fp(async function errors(app: FastifyInstance) {
  app.decorate('sendWebAppIndex', null);
  app.setNotFoundHandler((request, reply) => {
    // A path of the web app (a client-side route such as /today) gets the app, when it is served here.
    if (app.sendWebAppIndex && isWebAppNavigation(request)) return app.sendWebAppIndex(request, reply);
    return sendError(
      request,
      reply,
      'NOT_FOUND',
      `Route ${request.method} ${request.url.split('?')[0]} not found`,
    );
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof DomainError) {
      // A 412 says which version is current, in the body and as the ETag a retry can send.
      if (err instanceof PreconditionFailedError) reply.header('etag', etagOf(err.currentVersion));
      if (err instanceof TooManyRequestsError) reply.header('retry-after', String(err.retryAfterSeconds));
      return sendError(request, reply, err.code, err.message, err.details, err.extra);
    }
    if (err.validation) {
      const details = fieldIssues(err.validation as AjvIssue[], err.validationContext);
      const message = details.map((d) => `${d.field}: ${d.message}`).join('; ');
      return sendError(request, reply, 'VALIDATION_ERROR', message, details);
    }
    switch (err.code) {
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(
          request,
          reply,
          'UNSUPPORTED_MEDIA_TYPE',
          'Request body must be JSON (Content-Type: application/json)',
        );
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(request, reply, 'PAYLOAD_TOO_LARGE', 'Request body is too large');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(
          request,
          reply,
          'VALIDATION_ERROR',
          'Request body is empty but Content-Type is application/json',
          [{ field: 'body', message: 'must not be empty' }],
        );
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return sendError(request, reply, 'VALIDATION_ERROR', 'Request body is not valid JSON', [
          { field: 'body', message: 'is not valid JSON' },
        ]);
    }
    const status = err.statusCode ?? 500;
    if (status === 429) {
      return sendError(request, reply, 'RATE_LIMITED', err.message || 'Too many requests, retry later');
    }
    // Text PostgreSQL cannot store (NUL, bad encoding) that slipped past the schemas is bad input.
    if (['22021', '22P05'].includes(describeError(err).code ?? '')) {
      return sendError(request, reply, 'VALIDATION_ERROR', 'Text must not contain NUL characters');
    }
    if (status === 400 && err instanceof SyntaxError) {
      return sendError(request, reply, 'VALIDATION_ERROR', 'Request body is not valid JSON', [
        { field: 'body', message: 'is not valid JSON' },
      ]);
    }
    if (status >= 400 && status < 500) {
      const code: ApiErrorCode =
        status === 401
          ? 'UNAUTHORIZED'
          : status === 403
            ? 'FORBIDDEN'
            : status === 404
              ? 'NOT_FOUND'
              : status === 413
                ? 'PAYLOAD_TOO_LARGE'
                : status === 415
                  ? 'UNSUPPORTED_MEDIA_TYPE'
                  : 'VALIDATION_ERROR';
      return sendError(request, reply, code, err.message);
    }
    if (status === 503 || isDatabaseUnavailable(err)) {
      request.log.warn({ err }, 'a dependency is unavailable');
      reply.header('retry-after', '5');
      return sendError(
        request,
        reply,
        'UNAVAILABLE',
        'A service Taskman depends on is unavailable, retry later',
      );
    }
    request.log.error({ err }, 'request failed');
    return sendError(request, reply, 'INTERNAL', 'Internal server error');
  });
});
