import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { productivityCsv, type Services } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import { bearer, Envelope, errors, ref } from '../../schemas/common';
import { ProductivityReport, presentReport, ReportQuery } from './report.schema';

const reportRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.addHook('onRequest', app.authenticate);

  app.get(
    '/reports/productivity',
    {
      config: { scope: 'reports:read' },
      schema: {
        tags: ['reports'],
        summary: 'Your productivity report',
        description:
          'Created and completed tasks, completion rate, overdue tasks, time to complete, by priority, project, tag and day, in your time zone. `format=csv` answers the same as CSV (`section,key,metric,value`).',
        security: bearer,
        querystring: ReportQuery,
        response: {
          200: {
            description: 'The report',
            content: {
              'application/json': { schema: Envelope(ref(ProductivityReport)) },
              'text/csv': { schema: Type.String() },
            },
          },
          400: errors[400],
          401: errors[401],
          403: errors[403],
          404: errors[404],
        },
      },
    },
    async (request, reply) => {
      const { from, to, project_id, format } = request.query;
      const report = await services.reports.productivity(principalOf(request).userId, {
        from,
        to,
        projectId: project_id,
      });
      if (format === 'csv') {
        return reply
          .type('text/csv; charset=utf-8')
          .header(
            'content-disposition',
            `attachment; filename="taskman-productivity-${report.from}-${report.to}.csv"`,
          )
          .send(productivityCsv(report));
      }
      return reply.type('application/json').send({ success: true as const, data: presentReport(report) });
    },
  );
};

export default reportRoutes;
