import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { Config } from '@taskman/core';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Security headers, CORS for the configured origins only, and the gateway's rate limiter. */
export default fp(async function security(app: FastifyInstance, opts: { config: Config }) {
  const { config } = opts;
  await app.register(helmet, {
    // The API serves JSON; the interactive docs set their own policy (see openapi.ts).
    contentSecurityPolicy: false,
    hsts: config.tlsCertFile ? { maxAge: 31_536_000 } : false,
  });
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? true : config.corsOrigins,
      methods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
      allowedHeaders: [
        'Authorization',
        'Content-Type',
        'Idempotency-Key',
        'If-Match',
        'If-None-Match',
        'X-Request-Id',
      ],
      exposedHeaders: [
        'X-Request-Id',
        'Location',
        'ETag',
        'Retry-After',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
      ],
      maxAge: 600,
    });
  }
  await app.register(rateLimit, {
    // Not per route: a root onRequest hook, so the limit is counted before authentication and
    // requests with a missing or wrong token are limited too (brief §3: rate limit, then token).
    global: false,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowSeconds * 1000,
    // Routes with `config: { rateLimit: false }` (health checks) are never limited.
    allowList: (request) => request.routeOptions.config?.rateLimit === false,
    // Same envelope as every other error; the plugin sets Retry-After and X-RateLimit-* itself.
    errorResponseBuilder: (_request, context) => {
      const err = new Error(
        `Too many requests: the limit is ${context.max} per ${context.after}; retry in ${Math.ceil(context.ttl / 1000)} s`,
      ) as Error & { statusCode: number };
      err.statusCode = context.statusCode;
      return err;
    },
  });
  app.addHook('onRequest', app.rateLimit());
});
