import { DomainError, type ErrorCode, type FieldIssue, isDatabaseUnavailable } from '@taskman/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

type ApiErrorCode = ErrorCode | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE' | 'RATE_LIMITED' | 'INTERNAL';

const STATUS: Record<ApiErrorCode, number> = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
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
) {
  const error = details?.length ? { code, message, details } : { code, message };
  return reply.status(STATUS[code]).send({ success: false, error, request_id: request.id });
}

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns Ajv's issues into `{field, message}` pairs named as the client sent them, one per field. */
function fieldIssues(issues: AjvIssue[], context: string | undefined): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const i of issues) {
    // For "X or null" unions, the null branch and the union itself only repeat the real problem.
    if (i.keyword === 'anyOf' || (i.keyword === 'type' && i.params.type === 'null')) continue;
    // tags/3 → tags: clients map errors to form fields, not to array items.
    const path = i.instancePath
      .replace(/^\//, '')
      .replace(/\/\d+(?=\/|$)/g, '')
      .replace(/\//g, '.');
    let field = path;
    let message = i.message ?? 'is invalid';
    if (i.keyword === 'required') {
      field = [path, String(i.params.missingProperty)].filter(Boolean).join('.');
      message = 'is required';
    } else if (i.keyword === 'additionalProperties') {
      field = [path, String(i.params.additionalProperty)].filter(Boolean).join('.');
      message = 'is not a known field';
    } else if (i.keyword === 'enum') {
      message = `must be one of ${(i.params.allowedValues as unknown[]).join(', ')}`;
    }
    field ||= context ?? 'body';
    if (!out.some((o) => o.field === field)) out.push({ field, message });
  }
  return out.length ? out : [{ field: context ?? 'body', message: 'is invalid' }];
}

/** The error handler and 404 handler: every failure leaves in the envelope, never with a stack trace. */
export default fp(async function errors(app: FastifyInstance) {
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, 'NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`),
  );

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof DomainError) {
      return sendError(request, reply, err.code, err.message, err.details);
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
      request.log.warn({ err: { type: err.name, message: err.message } }, 'a dependency is unavailable');
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
