import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import { bearer, DateTime, Envelope, errors, Nullable, Uuid } from '../../schemas/common';

const FeedUrl = Type.Object(
  {
    url: Type.String({ format: 'uri', description: 'Subscribe to it in a calendar app; keep it secret' }),
    created_at: DateTime,
  },
  { additionalProperties: false },
);
const FeedStatus = Type.Object(
  { active: Type.Boolean(), created_at: Nullable(DateTime) },
  { additionalProperties: false },
);

/** The secret iCalendar feed: managed by a signed-in user, read by calendar apps with the token. */
const calendarRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { calendar } = services;
  const tags = ['calendar'];

  await app.register(async (signedIn) => {
    signedIn.addHook('onRequest', app.authenticate);

    signedIn.post(
      '/calendar/feed',
      {
        schema: {
          tags,
          summary: 'Create (or replace) your calendar feed URL',
          description: 'The URL is shown once; a previous one stops working.',
          security: bearer,
          response: { 201: Envelope(FeedUrl), 401: errors[401], 403: errors[403] },
        },
      },
      async (request, reply) => {
        const feed = await calendar.createFeed(principalOf(request).userId);
        reply.status(201).header('cache-control', 'no-store');
        return { success: true as const, data: { url: feed.url, created_at: feed.createdAt.toISOString() } };
      },
    );

    signedIn.get(
      '/calendar/feed',
      {
        schema: {
          tags,
          summary: 'Whether you have a calendar feed',
          security: bearer,
          response: { 200: Envelope(FeedStatus), 401: errors[401], 403: errors[403] },
        },
      },
      async (request) => {
        const status = await calendar.feedStatus(principalOf(request).userId);
        return {
          success: true as const,
          data: { active: status.active, created_at: status.createdAt?.toISOString() ?? null },
        };
      },
    );

    signedIn.delete(
      '/calendar/feed',
      {
        schema: {
          tags,
          summary: 'Revoke your calendar feed URL',
          security: bearer,
          response: { 204: Type.Null(), 401: errors[401], 403: errors[403], 404: errors[404] },
        },
      },
      async (request, reply) => {
        await calendar.revokeFeed(principalOf(request).userId);
        return reply.status(204).send(null);
      },
    );
  });

  app.get(
    '/calendar/feed/:file',
    {
      schema: {
        tags,
        summary: 'The calendar feed (iCalendar, VTODO per task with a due date)',
        description:
          'No Authorization header: the secret token in the URL is the credential. `project_id` limits it to one project. Answers 304 to a matching If-None-Match.',
        params: Type.Object(
          { file: Type.String({ pattern: '^tmcal_[A-Za-z0-9_-]{32}\\.ics$', description: '<token>.ics' }) },
          { additionalProperties: false },
        ),
        querystring: Type.Object({ project_id: Type.Optional(Uuid) }, { additionalProperties: false }),
        response: {
          200: { description: 'RFC 5545 iCalendar', content: { 'text/calendar': { schema: Type.String() } } },
          304: { description: 'Not modified', type: 'null' },
          400: errors[400],
          404: errors[404],
        },
      },
    },
    async (request, reply) => {
      const token = request.params.file.replace(/\.ics$/, '');
      const feed = await calendar.render(token, request.query.project_id);
      reply
        .header('etag', feed.etag)
        // Private: the URL is a secret; calendar apps poll, a few minutes of staleness is fine.
        .header('cache-control', 'private, max-age=300')
        .header('referrer-policy', 'no-referrer');
      if (request.headers['if-none-match'] === feed.etag) return reply.status(304).send(null);
      return reply
        .type('text/calendar; charset=utf-8')
        .header('content-disposition', 'inline; filename="taskman.ics"')
        .send(feed.ics);
    },
  );
};

export default calendarRoutes;
