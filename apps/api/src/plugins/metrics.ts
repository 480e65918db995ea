// Prometheus metrics: every answered request counted and timed by method, route template and
// status (never a raw path: an unmatched request is "unmatched"), requests in flight, error
// answers by code; and GET /metrics, the core's registry in the text format, behind METRICS_TOKEN
// when it is set.
import { timingSafeEqual } from 'node:crypto';
import { type Core, requestContext } from '@taskman/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A long-lived stream (GET /events): counted, but its minutes are not a response time. */
    stream?: boolean;
  }
  interface FastifyRequest {
    /** The error code of the envelope sent, if any (plugins/errors.ts sets it). */
    errorCode?: string;
  }
}

/** The label of a request's route: its template, or "unmatched" (404s must not mint new series). */
export const routeLabel = (request: FastifyRequest) => request.routeOptions.url ?? 'unmatched';

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export default fp(async function metricsPlugin(app: FastifyInstance, opts: { core: Core }) {
  const { metrics, config } = opts.core;
  app.decorateRequest('errorCode', undefined);

  app.addHook('onRequest', (request, reply, done) => {
    metrics.httpInFlight.inc();
    // 'close' comes for every response, streams (GET /events, hijacked) included.
    reply.raw.once('close', () => metrics.httpInFlight.dec());
    // The request id travels with everything the request does (the jobs it enqueues log it).
    requestContext.run({ requestId: request.id }, done);
  });

  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: routeLabel(request), status: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    if (!request.routeOptions.config.stream) metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    if (request.errorCode)
      metrics.httpErrors.inc({ method: labels.method, route: labels.route, code: request.errorCode });
  });

  app.get('/metrics', { schema: { hide: true }, config: { rateLimit: false } }, async (request, reply) => {
    if (config.metricsToken && !tokenMatches(request.headers.authorization, config.metricsToken)) {
      reply.header('www-authenticate', 'Bearer realm="metrics"');
      return reply.status(401).type('text/plain').send('metrics need the METRICS_TOKEN as a bearer token\n');
    }
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).header('cache-control', 'no-store').send(text);
  });
});
