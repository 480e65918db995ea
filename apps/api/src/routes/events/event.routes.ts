import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Core, DomainError, RESYNC } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import { bearer, errorsFor } from '../../schemas/common';

const LastEventId = Type.String({
  pattern: '^[0-9]{1,15}$',
  description: 'The id: of the last event you got',
});

/** At most this many open streams per user and process (tabs, devices): a newer one closes the oldest. */
const MAX_STREAMS_PER_USER = 20;

/**
 * GET /events: the user's changes as Server-Sent Events, from any API process (Redis pub/sub in
 * cluster mode). The reply is hijacked (Fastify's reply ends with the handler; a stream does not),
 * so the headers its hooks set (CORS, security, the request id) are copied onto it here.
 */
const eventRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  const open = new Set<() => void>();
  const byUser = new Map<string, (() => void)[]>();
  // Streams never end by themselves: a graceful stop ends them (clients reconnect elsewhere).
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });
  app.addHook('onRequest', app.authenticate);

  app.get(
    '/events',
    {
      config: { scope: ['tasks:read', 'projects:read'], stream: true },
      schema: {
        tags: ['events'],
        summary: 'Your changes as they happen (Server-Sent Events)',
        description: `text/event-stream of the events webhooks carry (task.created, task.updated, task.completed, task.deleted, project.created, project.updated, project.deleted), each with an id: and the same JSON body as a webhook delivery. Reconnect with Last-Event-ID (header, or last_event_id in the query) to get what you missed first; an "event: resync" says some of it is no longer kept (7 days): run GET /sync. A comment line every ${core.config.eventsHeartbeatMs / 1000} s keeps proxies from closing the connection.`,
        security: bearer,
        headers: Type.Object({ 'last-event-id': Type.Optional(LastEventId) }),
        querystring: Type.Object(
          { last_event_id: Type.Optional(LastEventId) },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'The stream',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          ...errorsFor(400, 401, 403, 503),
        },
      },
    },
    async (request, reply) => {
      // A stopping process takes no new stream (it would be cut at once): the client's reconnect,
      // after Retry-After, reaches another process.
      if (app.draining) {
        reply.header('retry-after', '1');
        throw new DomainError('UNAVAILABLE', 'This server is restarting: reconnect');
      }
      const { userId } = principalOf(request);
      const raw = request.headers['last-event-id'] ?? request.query.last_event_id;
      const lastId = raw === undefined ? undefined : Number(raw);
      const res = reply.raw;
      let ended = false;
      const write = (chunk: string) => {
        if (!ended && !res.writableEnded) res.write(chunk);
      };
      let close = () => {};
      let heartbeat: NodeJS.Timeout | undefined;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        close();
        open.delete(end);
        byUser.set(
          userId,
          (byUser.get(userId) ?? []).filter((e) => e !== end),
        );
        res.end();
      };
      // Subscribed (and the missed events read) before the headers go: a failure is still a 5xx.
      const pending: string[] = [];
      let started = false;
      close = await core.services.live.open(userId, lastId, (e) => {
        const chunk =
          e === RESYNC ? 'event: resync\ndata: {}\n\n' : `id: ${e.id}\nevent: ${e.type}\ndata: ${e.body}\n\n`;
        if (started) write(chunk);
        else pending.push(chunk);
      });
      reply.hijack();
      const headers: Record<string, string | number | string[]> = {};
      for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v as string;
      res.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // nginx: pass each event through at once instead of buffering the response.
        'x-accel-buffering': 'no',
        // When the stream ends, so does its connection (it is never reused for another request).
        connection: 'close',
        'x-request-id': request.id,
      });
      started = true;
      write('retry: 3000\n\n');
      for (const chunk of pending) write(chunk);
      heartbeat = setInterval(() => write(': heartbeat\n\n'), core.config.eventsHeartbeatMs);
      open.add(end);
      const mine = [...(byUser.get(userId) ?? []), end];
      byUser.set(userId, mine);
      if (mine.length > MAX_STREAMS_PER_USER) mine[0]!();
      // The client went away (or the connection broke).
      res.on('close', end);
      res.on('error', end);
    },
  );
};

export default eventRoutes;
