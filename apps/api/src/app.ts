import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Config, type Core, loggerOptions, ValidationError } from '@taskman/core';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import authPlugin from './plugins/auth';
import drainPlugin from './plugins/drain';
import errorsPlugin, { sendError } from './plugins/errors';
import idempotencyPlugin from './plugins/idempotency';
import metricsPlugin from './plugins/metrics';
import openapiPlugin from './plugins/openapi';
import { registerQueueBoard } from './plugins/queue-board';
import readRoutingPlugin from './plugins/read-routing';
import requestLog, { requestIdFrom } from './plugins/request-log';
import securityPlugin from './plugins/security';
import { registerWebApp } from './plugins/web-app';
import adminRoutes from './routes/admin/admin.routes';
import apiKeyRoutes from './routes/api-keys/api-key.routes';
import authRoutes from './routes/auth/auth.routes';
import calendarRoutes from './routes/calendar/calendar.routes';
import eventRoutes from './routes/events/event.routes';
import healthRoutes from './routes/health/health.routes';
import projectRoutes from './routes/projects/project.routes';
import reportRoutes from './routes/reports/report.routes';
import syncRoutes from './routes/sync/sync.routes';
import taskRoutes from './routes/tasks/task.routes';
import userRoutes from './routes/users/user.routes';
import webhookRoutes from './routes/webhooks/webhook.routes';
import { API_PREFIX } from './schemas/common';

export interface RouteEntry {
  method: string;
  url: string;
  /** Left out of the OpenAPI document on purpose (the document itself, /docs, Bull Board, the web app). */
  hidden: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: readonly RouteEntry[];
  }
}

export interface BuildAppOptions {
  core: Core;
  /** Pino options, or false (tests); default: from the configuration. */
  logger?: FastifyServerOptions['logger'];
  /** A ready pino logger, shared with the core (main.ts). */
  loggerInstance?: FastifyServerOptions['loggerInstance'];
  https?: { key: Buffer; cert: Buffer } | null;
  /** Where JSON log lines go instead of stdout (tests read them back). */
  logStream?: { write(line: string): void };
  /** The built web app to serve at / (default: apps/web/dist when it exists); false: none. */
  webAppDir?: string | false;
}

// An escaped NUL (\u0000) that is not itself an escaped backslash followed by "u0000".
const NUL_IN_JSON = /(?:^|[^\\])(?:\\\\)*\\u0000/;
const nulError = (field: string) => ValidationError.field(field, 'must not contain NUL characters (\\u0000)');

/**
 * Two Ajv instances: query strings, params and headers are text, so they are coerced to the
 * schema's types ("5" → 5, one value → an array); JSON bodies are not ({"password": 12345678}
 * is an error, not a string). Unknown fields are an error, never silently dropped.
 */
function validatorCompiler() {
  const base = { removeAdditional: false, useDefaults: true, allErrors: true, strict: false } as const;
  const bodyAjv = addFormats(new Ajv({ ...base, coerceTypes: false }));
  const textAjv = addFormats(new Ajv({ ...base, coerceTypes: 'array' }));
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema);
}

/** The certificate and key of TLS_CERT_FILE and TLS_KEY_FILE, or null: plain HTTP. */
export function readTlsFiles(config: Config): { key: Buffer; cert: Buffer } | null {
  if (!config.tlsCertFile || !config.tlsKeyFile) return null;
  return { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) };
}

/**
 * The listening socket's limits: the request line and headers must fit in MAX_HEADER_BYTES (else
 * 431), and the whole request must arrive within REQUEST_TIMEOUT_MS (else 408 and the connection
 * is closed: a client trickling headers or a body byte by byte cannot hold it open). Node checks
 * the deadlines every `connectionsCheckingInterval`, so it is kept well under the timeout.
 */
function serverLimits(config: Config): ServerOptions {
  return {
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout: config.requestTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(5000, Math.max(100, Math.floor(config.requestTimeoutMs / 4))),
  };
}

/** Builds the Fastify app around an opened core; `main.ts` listens, tests inject. */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { core } = opts;
  const { config, services } = core;
  const app = Fastify({
    ...(opts.loggerInstance
      ? { loggerInstance: opts.loggerInstance }
      : {
          logger:
            opts.logger ??
            (opts.logStream
              ? { ...loggerOptions(config), transport: undefined, stream: opts.logStream }
              : loggerOptions(config)),
        }),
    // request-log.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Request ids need to be unique, not time-ordered: randomUUID is the cheapest.
    genReqId: (req) => requestIdFrom(req.headers['x-request-id'], randomUUID),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Errors raised before routing (a malformed URL) get the envelope too.
    frameworkErrors: (err, request, reply) => {
      sendError(
        request,
        reply,
        'VALIDATION_ERROR',
        err.code === 'FST_ERR_BAD_URL' ? 'The URL is malformed' : err.message,
      );
    },
    // Timeouts and size limits of the socket (see serverLimits); TLS 1.3 only when serving HTTPS.
    requestTimeout: config.requestTimeoutMs,
    // An idle socket (no byte either way: a client that stopped reading) is closed after this; live
    // event streams send a heartbeat more often. Idle keep-alive connections close sooner.
    connectionTimeout: Math.max(120_000, 2 * config.eventsHeartbeatMs, 2 * config.requestTimeoutMs),
    keepAliveTimeout: 72_000,
    // A request that reaches a stopping process (on a connection opened just before the listener
    // closed) is served, not refused with 503: the database is open until the last one is done.
    return503OnClosing: false,
    ...(opts.https
      ? { https: { ...opts.https, ...serverLimits(config), minVersion: 'TLSv1.3' as const } }
      : { http: serverLimits(config) }),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler());

  // Every route the app serves, as registered (tests check each one is in the OpenAPI document).
  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      routeTable.push({
        method,
        url: route.url,
        hidden: Boolean((route.schema as { hide?: boolean })?.hide),
      });
  });

  // JSON only: anything else is 415 rather than parsed as text. An empty JSON body is no body, as
  // many clients send Content-Type: application/json on every request (e.g. POST /auth/logout).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else if (NUL_IN_JSON.test(body as string)) done(nulError('body'), undefined);
    else parseJson(request, body as string, done);
  });
  // PostgreSQL text cannot hold NUL: refuse it at the door rather than fail in the database.
  app.addHook('onRequest', async (request) => {
    if (/%00/i.test(request.url)) throw nulError('query');
  });

  await app.register(errorsPlugin);
  await app.register(drainPlugin);
  await app.register(metricsPlugin, { core });
  await app.register(requestLog);
  await app.register(securityPlugin, { core });
  await app.register(authPlugin, { services, adminIpAllowlist: config.adminIpAllowlist });
  await app.register(idempotencyPlugin, { services });
  await app.register(readRoutingPlugin, { core });
  await app.register(openapiPlugin, { appUrl: config.appUrl });

  await app.register(healthRoutes, { services });
  await registerQueueBoard(app, core);
  // The web app at / when it is built (npm run build:web); else the root leads to the API reference.
  if (!(opts.webAppDir !== false && (await registerWebApp(app, opts.webAppDir)))) {
    app.get('/', { schema: { hide: true }, config: { rateLimit: false } }, (_request, reply) =>
      reply.redirect('/docs'),
    );
  }
  await app.register(
    async (api) => {
      await api.register(authRoutes, { services, signupVerifyEmail: config.signupVerifyEmail });
      await api.register(userRoutes, { services });
      await api.register(projectRoutes, { services });
      await api.register(taskRoutes, { services });
      await api.register(apiKeyRoutes, { core });
      await api.register(webhookRoutes, { core });
      await api.register(reportRoutes, { services });
      await api.register(calendarRoutes, { services });
      await api.register(syncRoutes, { services });
      await api.register(eventRoutes, { core });
      await api.register(adminRoutes, { core });
    },
    { prefix: API_PREFIX },
  );
  return app;
}
