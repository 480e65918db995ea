import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Check, Services } from '@taskman/core';
import { Type } from 'typebox';

const CheckSchema = Type.Object({
  status: Type.Enum(['ok', 'down'], { type: 'string' }),
  latency_ms: Type.Number({ description: 'How long the check took (2 s without an answer is down)' }),
});
const Health = Type.Object({
  status: Type.Enum(['ok', 'degraded', 'unavailable'], {
    type: 'string',
    description: 'degraded: the database answers but Redis or the job queue does not (the API still serves)',
  }),
  checks: Type.Optional(
    Type.Object({
      database: CheckSchema,
      redis: Type.Optional(CheckSchema),
      queue: Type.Optional(CheckSchema),
    }),
  ),
});

const present = (c: Check) => ({ status: c.status, latency_ms: c.latencyMs });

/** Liveness (the process answers) and readiness (its dependencies), outside /api/v1 and rate limits. */
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
        summary: 'The database, Redis and the job queue: state and latency of each',
        description:
          'Ready (200) while the database answers; 503 when it does not, and while the process is stopping (draining its connections after SIGTERM). Redis and the job queue (cluster mode) are reported too: without them the API serves from the database and the outbox keeps jobs until they are back, so their being down makes the status "degraded", still 200.',
      },
      config: { rateLimit: false },
    },
    async (_request, reply) => {
      // Stopping (SIGTERM): not ready for new work, whatever the dependencies say.
      if (app.draining) {
        reply.header('retry-after', '5');
        return reply.status(503).send({ status: 'unavailable' as const });
      }
      const { ready, status, checks } = await services.health.readiness();
      const body = {
        status,
        checks: {
          database: present(checks.database),
          ...(checks.redis ? { redis: present(checks.redis) } : {}),
          ...(checks.queue ? { queue: present(checks.queue) } : {}),
        },
      };
      if (!ready) {
        reply.header('retry-after', '5');
        return reply.status(503).send(body);
      }
      return body;
    },
  );
};

export default healthRoutes;
