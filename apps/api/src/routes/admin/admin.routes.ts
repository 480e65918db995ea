import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Core, NotFoundError } from '@taskman/core';
import { bearer, Envelope, errors, ref } from '../../schemas/common';
import { JobsOverview, JobsQuery, presentOverview, RetryBody } from './admin.schema';
import { DashboardSchema, presentDashboard } from './dashboard.schema';

/** Operations for admins: the dashboard, the job queues (counts, failed jobs, retry). */
const adminRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('onRequest', app.requireAdminAddress);
  app.addHook('onRequest', app.authenticate);
  app.addHook('onRequest', app.requireAdmin);
  const common = { tags: ['admin'], security: bearer };

  app.get(
    '/admin/jobs',
    {
      schema: {
        ...common,
        summary: 'Job queues: counts per state, backlog of the outbox, recent failures',
        querystring: JobsQuery,
        response: { 200: Envelope(ref(JobsOverview)), 400: errors[400], 401: errors[401], 403: errors[403] },
      },
    },
    async (request) => {
      const limit = request.query.failed_limit ?? 20;
      const pending = await core.relay.pending();
      try {
        const [queues, failed] = await Promise.all([
          core.queue.counts(),
          limit > 0 ? core.queue.failed(limit) : Promise.resolve([]),
        ]);
        return { success: true as const, data: presentOverview(core.queue.backend, queues, pending, failed) };
      } catch (err) {
        // The queue (Redis) is down: the outbox backlog is what an operator most needs to see now.
        request.log.warn({ err }, 'job queue unreachable');
        return { success: true as const, data: presentOverview(core.queue.backend, null, pending, []) };
      }
    },
  );

  app.get(
    '/admin/dashboard',
    {
      schema: {
        ...common,
        summary: 'The operations dashboard: health, traffic, database, cache, business figures, alerts',
        description:
          'Figures for the whole fleet: every API and worker process records what it did every METRICS_SAMPLE_MS (10 s), and this adds up the last 5 minutes of all of them (this process first records its latest). Business figures come from the database; "today" is the UTC day.',
        response: { 200: Envelope(ref(DashboardSchema)), 401: errors[401], 403: errors[403] },
      },
    },
    async () => ({
      success: true as const,
      data: presentDashboard(await core.services.dashboard.overview()),
    }),
  );

  app.post(
    '/admin/jobs/retry',
    {
      schema: {
        ...common,
        summary: 'Run a failed job again, with fresh attempts',
        body: RetryBody,
        response: {
          204: { type: 'null' },
          400: errors[400],
          401: errors[401],
          403: errors[403],
          404: errors[404],
        },
      },
    },
    async (request, reply) => {
      if (!(await core.queue.retry(request.body.id))) throw new NotFoundError('Failed job');
      return reply.status(204).send(null);
    },
  );
};

export default adminRoutes;
