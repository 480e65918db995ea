import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Database } from '@taskman/core';
import { Type } from 'typebox';

const Health = Type.Object({
  status: Type.Enum(['ok', 'unavailable']),
  checks: Type.Optional(Type.Record(Type.String(), Type.Enum(['ok', 'down']))),
});

/** Liveness (the process answers) and readiness (its dependencies answer), outside /api/v1 and rate limits. */
const healthRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (app, { database }) => {
  const common = { tags: ['health'], response: { 200: Health, 503: Health } };
  app.get(
    '/health/live',
    { schema: { ...common, summary: 'The process is up' }, config: { rateLimit: false } },
    async () => ({
      status: 'ok' as const,
    }),
  );

  app.get(
    '/health/ready',
    { schema: { ...common, summary: 'The database answers' }, config: { rateLimit: false } },
    async (request, reply) => {
      const db = await database.ping().then(
        () => 'ok' as const,
        (err: Error) => {
          request.log.warn({ err: { message: err.message } }, 'readiness: database is down');
          return 'down' as const;
        },
      );
      if (db !== 'ok') {
        reply.header('retry-after', '5');
        return reply.status(503).send({ status: 'unavailable', checks: { database: db } });
      }
      return { status: 'ok' as const, checks: { database: db } };
    },
  );
};

export default healthRoutes;
