import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Core, NotFoundError } from '@taskman/core';
import { principalOf } from '../../plugins/auth';
import {
  bearer,
  Envelope,
  errors,
  IdParams,
  ListEnvelope,
  pageMeta,
  pageOf,
  ref,
} from '../../schemas/common';
import { AdminUserPatchBody, presentUser, User } from '../users/user.schema';
import { JobsOverview, JobsQuery, presentOverview, RetryBody } from './admin.schema';
import { AuditEntry, AuditQuery, presentAuditEntry, rangeOf } from './audit.schema';
import { DashboardSchema, presentDashboard } from './dashboard.schema';

/** Operations for admins: the dashboard, the job queues, accounts, the audit log. */
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
      await core.services.audit.record({
        action: 'admin.job_retried',
        targetType: 'job',
        targetId: request.body.id,
      });
      return reply.status(204).send(null);
    },
  );

  app.patch(
    '/admin/users/:id',
    {
      schema: {
        ...common,
        summary: 'Disable or re-enable an account, or change its role',
        description:
          'Disabling takes effect at once on every API process: the account cannot sign in (403) and its tokens and API keys are refused (401). Admins cannot disable or demote themselves (409), so an admin always remains. Recorded in the audit log.',
        params: IdParams,
        body: AdminUserPatchBody,
        response: {
          200: Envelope(ref(User)),
          400: errors[400],
          401: errors[401],
          403: errors[403],
          404: errors[404],
          409: errors[409],
        },
      },
    },
    async (request) => {
      const user = await core.services.users.adminUpdate(
        principalOf(request).userId,
        request.params.id,
        request.body,
      );
      return { success: true as const, data: presentUser(user) };
    },
  );

  app.get(
    '/admin/audit',
    {
      schema: {
        ...common,
        summary: 'The audit log: who did what, when and from where',
        description:
          'Sign-ins (and failures), sign-outs, password changes, account deletions, API key and webhook changes, admin actions, and every create/update/delete of projects and tasks; newest first. The log is append-only: the database role of the application cannot change or delete it.',
        querystring: AuditQuery,
        response: {
          200: ListEnvelope(ref(AuditEntry)),
          400: errors[400],
          401: errors[401],
          403: errors[403],
        },
      },
    },
    async (request) => {
      const { page, limit } = pageOf(request.query);
      const q = request.query;
      const result = await core.services.audit.search(
        {
          actorId: q.actor_id,
          action: q.action,
          targetType: q.target_type,
          targetId: q.target_id,
          ...rangeOf(q),
        },
        { page, limit },
      );
      return {
        success: true as const,
        data: result.items.map(presentAuditEntry),
        meta: pageMeta(page, limit, result.total),
      };
    },
  );
};

export default adminRoutes;
