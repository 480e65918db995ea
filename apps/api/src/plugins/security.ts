import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { type Core, cacheKeys } from '@taskman/core';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import { bearerToken } from './auth';
import { QUEUE_BOARD_PATH } from './queue-board';

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest + preHandler hooks for /auth/login and /auth/register: a stricter limit per IP and per email. */
    authRateLimit: { perIp: preHandlerAsyncHookHandler; perEmail: preHandlerAsyncHookHandler };
  }
}

/** The account a sign-in attempt is for: the body's email (/auth/login), or HTTP Basic's user (Bull Board). */
function attemptedEmail(request: FastifyRequest): string {
  const fromBody = (request.body as { email?: unknown } | undefined)?.email;
  if (fromBody !== undefined) return String(fromBody);
  const basic = /^Basic +(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (!basic) return '';
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  return decoded.slice(0, Math.max(0, decoded.indexOf(':')));
}

/**
 * The Content-Security-Policy of everything that is not a page: JSON, CSV, iCalendar, metrics. Nothing
 * may load from it, and nothing may frame it.
 */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * The web app's policy (its index.html for every client route, its files and its service worker,
 * see web-app.ts): its own scripts, styles, images, manifest and worker only; the API and the live
 * event stream on the same origin. No inline script (index.html has none: the build emits files,
 * and the service worker is registered from one). Inline style *attributes* in the markup are refused
 * too; React's `style={…}` is set through the CSSOM, which a policy does not restrict.
 */
export const WEB_APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Bull Board (/admin/queues, cluster mode) is a third-party page: its loading screen has inline
 * styles and it loads its fonts from Google Fonts. Its scripts are its own files.
 */
export const QUEUE_BOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
  "font-src 'self' https://fonts.gstatic.com",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** One year, subdomains included; sent on HTTPS responses only (a browser ignores it over HTTP). */
export const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * The headers helmet sets with these options, worked out once at start: they do not depend on the
 * request. (@fastify/helmet calls helmet(options) for every request, which builds its list of
 * middlewares again each time: a few per cent of the CPU of a small request.)
 */
export function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failed: unknown;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (err?: unknown) => {
    failed = err;
  });
  if (failed) throw failed;
  return headers;
}

/** Security headers, CORS for the configured origins only, and the gateway's rate limiter. */
export default fp(async function security(app: FastifyInstance, opts: { core: Core }) {
  const { config, services, metrics, redis } = opts.core;
  const headers = helmetHeaders({
    // Set below: the API's policy on every response, Bull Board's on its pages; the web app
    // (web-app.ts) and /docs (openapi.ts, Swagger UI's) replace it with their own.
    contentSecurityPolicy: false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    // Set below, by the request's protocol rather than by the configuration.
    strictTransportSecurity: false,
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(headers);
    // HTTPS here (TLS_CERT_FILE), or at a trusted proxy that says so (TRUST_PROXY, X-Forwarded-Proto).
    if (request.protocol === 'https') reply.header('strict-transport-security', HSTS);
    reply.header(
      'content-security-policy',
      request.url.startsWith(QUEUE_BOARD_PATH) ? QUEUE_BOARD_CSP : API_CSP,
    );
  });
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      // '*': any origin, literally (never with credentials: the API takes bearer tokens, not cookies).
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      credentials: false,
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
        'Idempotent-Replayed',
        'Retry-After',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
      ],
      maxAge: 600,
    });
  }

  const refuse =
    (scope: string) =>
    (_request: FastifyRequest, context: { max: number; ttl: number; statusCode: number }) => {
      metrics.rateLimited.inc({ scope });
      const err = new Error(
        `Too many requests: the limit is ${context.max} per ${config.rateLimitWindowSeconds} s; retry in ${Math.ceil(context.ttl / 1000)} s`,
      ) as Error & { statusCode: number };
      err.statusCode = context.statusCode;
      return err;
    };

  await app.register(rateLimit, {
    // Not per route: root hooks, so the limit is counted before authentication and requests with
    // a missing or wrong token are limited too (brief §3: rate limit, then token).
    global: false,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowSeconds * 1000,
    // Counted in Redis when there is one, so every API process shares one budget per client.
    ...(redis ? { redis, nameSpace: cacheKeys.RATE_LIMIT_NAMESPACE } : {}),
    // Redis down: let requests through rather than refuse everyone ("never wrong, only slower").
    skipOnError: true,
    // Routes with `config: { rateLimit: false }` (health checks) are never limited.
    allowList: (request) => request.routeOptions.config?.rateLimit === false,
    errorResponseBuilder: refuse('api'),
  });

  // A correctly signed token is counted per user (wherever they connect from); anything else per IP.
  app.addHook(
    'onRequest',
    app.rateLimit({
      keyGenerator: (request) => {
        const token = bearerToken(request.headers.authorization);
        const subject = token ? services.auth.tokenSubject(token) : undefined;
        return subject ?? `ip:${request.ip}`;
      },
    }),
  );

  // The stricter login/register limits are separate counters (createRateLimit: the request was
  // already counted once by the API limit above, which app.rateLimit() hooks would skip after).
  const authLimit = { max: config.authRateLimitMax, timeWindow: config.rateLimitWindowSeconds * 1000 };
  const authHook = (limiter: ReturnType<typeof app.createRateLimit>): preHandlerAsyncHookHandler =>
    async function authRateLimitHook(request, reply) {
      const limit = await limiter(request);
      if (limit.isAllowed) return;
      reply.header('x-ratelimit-limit', String(limit.max));
      reply.header('x-ratelimit-remaining', String(Math.max(0, limit.remaining)));
      reply.header('x-ratelimit-reset', String(limit.ttlInSeconds));
      if (limit.isExceeded) {
        reply.header('retry-after', String(limit.ttlInSeconds));
        throw refuse('auth')(request, { max: limit.max, ttl: limit.ttl, statusCode: 429 });
      }
    };
  app.decorate('authRateLimit', {
    perIp: authHook(app.createRateLimit({ ...authLimit, keyGenerator: (r) => `auth-ip:${r.ip}` })),
    // preHandler: the body is parsed by then. Guessing one account's password from many IPs is limited too.
    perEmail: authHook(
      app.createRateLimit({
        ...authLimit,
        keyGenerator: (r) => `auth-email:${attemptedEmail(r).trim().toLowerCase()}`,
      }),
    ),
  });
});
