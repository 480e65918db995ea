import { createHash } from 'node:crypto';
import type { Services } from '@taskman/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { errorRef, errors } from '../schemas/common';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when this request holds an Idempotency-Key: its response is kept for repeats. */
    idempotency?: { userId: string; key: string; claimedAt: Date };
  }
}

const HEADER = 'idempotency-key';
/** Visible ASCII, as keys are usually UUIDs or random strings. */
const KEY = /^[\x21-\x7e]{1,255}$/;
/** The response headers a replay repeats (with the status and body). */
const KEPT_HEADERS = ['content-type', 'location', 'etag'] as const;

const keyHeader = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[\\x21-\\x7e]+$',
    description:
      'Makes retries safe: a repeat with the same key and request within 24 h gets the first response (Idempotent-Replayed: true) instead of doing the work again; the same key with another request is 422',
  }),
);

const applies = (method: string | string[], security: unknown) =>
  Boolean(security) && [method].flat().some((m) => m === 'POST' || m === 'PATCH');

/** SHA-256 of what makes two requests the same one: method, path with query, body. */
function requestHash(request: FastifyRequest): string {
  return createHash('sha256')
    .update(
      `${request.method} ${request.url}\n${request.body === undefined ? '' : JSON.stringify(request.body)}`,
    )
    .digest('hex');
}

async function finish(services: Services, request: FastifyRequest, reply: FastifyReply, payload: unknown) {
  const held = request.idempotency;
  if (!held) return;
  request.idempotency = undefined;
  const status = reply.statusCode;
  // A server error, or a refusal that says nothing about the request itself, is not the answer
  // to keep: the key is freed so that a retry does the work.
  if (status >= 500 || status === 429 || typeof payload !== 'string') {
    await services.idempotency.abandon(held.userId, held.key, held.claimedAt);
    return;
  }
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = reply.getHeader(name);
    if (value !== undefined) headers[name] = String(value);
  }
  await services.idempotency.finish(held.userId, held.key, held.claimedAt, {
    status,
    headers,
    body: payload,
  });
}

/**
 * `Idempotency-Key` on every authenticated POST and PATCH (IdempotencyService has the rules): the
 * header is documented and validated on each such route, a repeat is answered before the handler
 * runs, and the first response is kept as it is sent.
 */
export default fp(
  async (app: FastifyInstance, opts: { services: Services }) => {
    const { services } = opts;

    app.addHook('onRoute', (route) => {
      const schema = route.schema as
        | {
            security?: unknown;
            headers?: { properties?: Record<string, unknown> };
            response?: Record<string, unknown>;
          }
        | undefined;
      if (!schema || !applies(route.method, schema.security)) return;
      if (schema.headers?.properties) schema.headers.properties[HEADER] = keyHeader;
      else schema.headers = Type.Object({ [HEADER]: keyHeader });
      schema.response = {
        ...schema.response,
        // A malformed key is a 400.
        400: schema.response?.[400] ?? errors[400],
        409:
          schema.response?.[409] ??
          errorRef('Conflict (CONFLICT), e.g. a request with this Idempotency-Key is still running'),
        422: errorRef('This Idempotency-Key was used for another request (IDEMPOTENCY_KEY_REUSED)'),
      };
    });

    app.addHook('preHandler', async (request, reply) => {
      const key = request.headers[HEADER];
      if (typeof key !== 'string' || !request.principal) return;
      if (!applies(request.method, request.routeOptions.schema?.security)) return;
      // The route schema validated it; this guards routes registered without one.
      if (!KEY.test(key)) return;
      const userId = request.principal.userId;
      const outcome = await services.idempotency.begin(userId, key, requestHash(request));
      if (outcome.kind === 'proceed') {
        request.idempotency = { userId, key, claimedAt: outcome.claimedAt };
        return;
      }
      for (const [name, value] of Object.entries(outcome.headers)) reply.header(name, value);
      reply.header('idempotent-replayed', 'true');
      // Sent as stored: the serializer must not run on it again.
      return reply
        .code(outcome.status)
        .serializer((p: unknown) => p as string)
        .send(outcome.body);
    });

    app.addHook('onSend', async (request, reply, payload) => {
      await finish(services, request, reply, payload);
      return payload;
    });

    // A request that never sends (the client went away mid-way) frees its key.
    app.addHook('onResponse', async (request) => {
      const held = request.idempotency;
      if (held) {
        request.idempotency = undefined;
        await services.idempotency.abandon(held.userId, held.key, held.claimedAt);
      }
    });
  },
  { name: 'idempotency' },
);
