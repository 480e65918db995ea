import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Core } from '@taskman/core';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { v7 } from 'uuid';
import authPlugin from './plugins/auth';
import errorsPlugin from './plugins/errors';
import openapiPlugin from './plugins/openapi';
import requestLog, { requestIdFrom } from './plugins/request-log';
import securityPlugin from './plugins/security';
import authRoutes from './routes/auth/auth.routes';
import healthRoutes from './routes/health/health.routes';
import projectRoutes from './routes/projects/project.routes';
import taskRoutes from './routes/tasks/task.routes';
import userRoutes from './routes/users/user.routes';
import { API_PREFIX } from './schemas/common';

export interface BuildAppOptions {
  core: Core;
  /** Pino options or a ready logger; tests pass false. */
  logger?: FastifyServerOptions['logger'];
  https?: { key: Buffer; cert: Buffer } | null;
}

/** Log redaction: credentials never reach a log line, whatever a plugin decides to log. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.token',
  '*.password_hash',
  '*.passwordHash',
];

/** Builds the Fastify app around an opened core; `main.ts` listens, tests inject. */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { core } = opts;
  const { config, services } = core;
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' } },
    // request-log.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => requestIdFrom(req.headers['x-request-id'], v7),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ajv: {
      // Unknown fields are an error, not silently dropped; query strings are coerced to the schema's types.
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true },
    },
    ...(opts.https ? { https: opts.https } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: anything else is 415 rather than parsed as text. An empty JSON body is no body, as
  // many clients send Content-Type: application/json on every request (e.g. POST /auth/logout).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else parseJson(request, body as string, done);
  });

  await app.register(errorsPlugin);
  await app.register(requestLog);
  await app.register(securityPlugin, { config });
  await app.register(authPlugin, { services });
  await app.register(openapiPlugin, { appUrl: config.appUrl });

  await app.register(healthRoutes, { database: core.database });
  await app.register(
    async (api) => {
      await api.register(authRoutes, { services });
      await api.register(userRoutes, { services });
      await api.register(projectRoutes, { services });
      await api.register(taskRoutes, { services });
    },
    { prefix: API_PREFIX },
  );
  return app;
}
