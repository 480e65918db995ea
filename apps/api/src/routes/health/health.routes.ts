import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '@taskman/core';
import { Type } from 'typebox';

const State = Type.Enum(['ok', 'down'], { type: 'string' });
const Health = Type.Object({
  status: Type.Enum(['ok', 'unavailable'], { type: 'string' }),
  checks: Type.Optional(Type.Object({ database: State, redis: Type.Optional(State) })),
});

/** Liveness (the process answers) and readiness (its database answers), outside /api/v1 and rate limits. */
const healthRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const common = { tags: ['health'], response: { 200: Health, 503: Health } };
  app.get(
    '/health/live',
    { schema: { ...common, summary: 'The process is up' }, config: { rateLimit: false } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        ...common,
        summary: 'The database answers',
        description:
          'Also reports Redis in cluster mode; Redis down does not make the API unready (it serves from the database).',
      },
      config: { rateLimit: false },
    },
    async (_request, reply) => {
      const { ready, checks } = await services.health.readiness();
      if (!ready) {
        reply.header('retry-after', '5');
        return reply.status(503).send({ status: 'unavailable' as const, checks });
      }
      return { status: 'ok' as const, checks };
    },
  );
};

export default healthRoutes;
