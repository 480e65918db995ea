import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's X-Request-Id when it is safe to log, else makes one. */
export function requestIdFrom(header: string | string[] | undefined, make: () => string): string {
  return typeof header === 'string' && INCOMING_ID.test(header) ? header : make();
}

/** Echoes X-Request-Id on every response and logs one JSON line per request (no headers, no bodies). */
export default fp(async function requestLog(app: FastifyInstance) {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const line = {
      method: request.method,
      // Route templates, never raw ids; an unmatched request has no template, so its path is logged.
      route: request.routeOptions.url ?? `unmatched ${request.url.split('?')[0]!.slice(0, 200)}`,
      status,
      duration_ms: Math.round(reply.elapsedTime * 10) / 10,
      user_id: request.principal?.userId,
      ip: request.ip,
    };
    const msg = `${line.method} ${line.route} ${status} ${line.duration_ms} ms`;
    if (status >= 500) request.log.error(line, msg);
    else request.log.info(line, msg);
  });
});
