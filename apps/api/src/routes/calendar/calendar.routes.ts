import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { CalendarConnectionRow, Services } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import {
  bearer,
  DateTime,
  Envelope,
  errorsFor,
  IdParams,
  iso,
  isoOrNull,
  Nullable,
  ref,
  Uuid,
} from '../../schemas/common';

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

export const CalendarConnection = Type.Object(
  {
    id: Uuid,
    server_url: Type.String(),
    calendar_url: Type.String({ description: 'The calendar collection the tasks are synced with' }),
    display_name: Nullable(Type.String()),
    username: Type.String(),
    last_sync_at: Nullable(DateTime),
    last_success_at: Nullable(DateTime),
    last_error: Nullable(Type.String({ description: "The last sync's error; null after a success" })),
    failures: Type.Integer({ minimum: 0, description: 'Failed syncs in a row' }),
    next_sync_at: DateTime,
    created_at: DateTime,
  },
  { $id: 'CalendarConnection', title: 'CalendarConnection' },
);

const presentConnection = (c: CalendarConnectionRow) => ({
  id: c.id,
  server_url: c.serverUrl,
  calendar_url: c.calendarUrl,
  display_name: c.displayName,
  username: c.username,
  last_sync_at: isoOrNull(c.lastSyncAt),
  last_success_at: isoOrNull(c.lastSuccessAt),
  last_error: c.lastError,
  failures: c.failures,
  next_sync_at: iso(c.nextSyncAt),
  created_at: iso(c.createdAt),
});

const ConnectBody = Type.Object(
  {
    server_url: Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'The CalDAV server, e.g. https://dav.example.com/',
    }),
    username: Type.String({ minLength: 1, maxLength: 200 }),
    password: Type.String({
      minLength: 1,
      maxLength: 1000,
      description: 'Stored encrypted (ENCRYPTION_KEY)',
    }),
    calendar_url: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2000,
        description: 'Which calendar; default: the first that holds tasks',
      }),
    ),
  },
  { additionalProperties: false },
);

/** The secret iCalendar feed: managed by a signed-in user, read by calendar apps with the token. */
const calendarRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { calendar } = services;
  const tags = ['calendar'];

  await app.register(async (plugin) => {
    const signedIn = plugin.withTypeProvider<TypeBoxTypeProvider>();
    signedIn.addHook('onRequest', app.authenticate);

    signedIn.post(
      '/calendar/feed',
      {
        schema: {
          tags,
          summary: 'Create (or replace) your calendar feed URL',
          description: 'The URL is shown once; a previous one stops working.',
          security: bearer,
          response: { 201: Envelope(FeedUrl), ...errorsFor(401, 403) },
        },
      },
      async (request, reply) => {
        const feed = await calendar.createFeed(principalOf(request).userId);
        await services.audit.record({ action: 'calendar.feed_created', targetType: 'calendar_feed' });
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
          response: { 200: Envelope(FeedStatus), ...errorsFor(401, 403) },
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

    signedIn.post(
      '/calendar/connections',
      {
        schema: {
          tags,
          summary: 'Connect a CalDAV calendar (two-way task sync)',
          description:
            'Signs in to the server, finds the calendar, stores the password encrypted and starts a first sync. Task changes are pushed within seconds; changes made in the calendar app are pulled every 5 minutes.',
          security: bearer,
          body: ConnectBody,
          response: {
            201: Envelope(ref(CalendarConnection)),
            // 503: no ENCRYPTION_KEY to seal the password with.
            ...errorsFor(400, 401, 403, 409, 503),
          },
        },
      },
      async (request, reply) => {
        const { server_url, username, password, calendar_url } = request.body;
        const connection = await services.calendarConnections.connect(principalOf(request).userId, {
          serverUrl: server_url,
          username,
          password,
          calendarUrl: calendar_url,
        });
        await services.audit.record({
          action: 'calendar.connection_created',
          targetType: 'calendar_connection',
          targetId: connection.id,
          details: { host: new URL(connection.serverUrl).host },
        });
        reply.status(201);
        return { success: true as const, data: presentConnection(connection) };
      },
    );

    signedIn.get(
      '/calendar/connections',
      {
        schema: {
          tags,
          summary: 'Your connected calendars, with how their sync goes',
          security: bearer,
          response: {
            200: Envelope(Type.Array(ref(CalendarConnection))),
            ...errorsFor(401, 403),
          },
        },
      },
      async (request) => ({
        success: true as const,
        data: (await services.calendarConnections.list(principalOf(request).userId)).map(presentConnection),
      }),
    );

    signedIn.post(
      '/calendar/connections/:id/sync',
      {
        schema: {
          tags,
          summary: 'Sync a connected calendar now',
          description: 'In the background: watch the connection for the outcome.',
          security: bearer,
          params: IdParams,
          response: {
            202: Envelope(ref(CalendarConnection)),
            ...errorsFor(400, 401, 403, 404),
          },
        },
      },
      async (request, reply) => {
        const connection = await services.calendarConnections.requestSync(
          principalOf(request).userId,
          request.params.id,
        );
        reply.status(202);
        return { success: true as const, data: presentConnection(connection) };
      },
    );

    signedIn.delete(
      '/calendar/connections/:id',
      {
        schema: {
          tags,
          summary: 'Disconnect a calendar',
          description: 'Stops syncing; what is in the calendar stays there.',
          security: bearer,
          params: IdParams,
          response: {
            204: Type.Null(),
            ...errorsFor(400, 401, 403, 404),
          },
        },
      },
      async (request, reply) => {
        await services.calendarConnections.disconnect(principalOf(request).userId, request.params.id);
        await services.audit.record({
          action: 'calendar.connection_deleted',
          targetType: 'calendar_connection',
          targetId: request.params.id,
        });
        return reply.status(204).send(null);
      },
    );

    signedIn.delete(
      '/calendar/feed',
      {
        schema: {
          tags,
          summary: 'Revoke your calendar feed URL',
          security: bearer,
          response: { 204: Type.Null(), ...errorsFor(401, 403, 404) },
        },
      },
      async (request, reply) => {
        await calendar.revokeFeed(principalOf(request).userId);
        await services.audit.record({ action: 'calendar.feed_revoked', targetType: 'calendar_feed' });
        return reply.status(204).send(null);
      },
    );
  });

  app.get(
    '/calendar/feed/:file',
    {
      // The token in the URL is the credential: a revoked one must stop working at once.
      config: { readsFromPrimary: true },
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
          ...errorsFor(400, 404),
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
