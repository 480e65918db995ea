// Prometheus metrics: every answered request counted and timed by method, route template and
// status (never a raw path: an unmatched request is "unmatched"), requests in flight, error
// answers by code; and GET /metrics, the core's registry in the text format, behind METRICS_TOKEN
// when it is set.
import { bearerMatches, type Core, requestContext } from '@taskman/core';
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

export default fp(async function metricsPlugin(app: FastifyInstance, opts: { core: Core }) {
  const { metrics, config } = opts.core;
  app.decorateRequest('errorCode', undefined);

  // Per request this is on the hot path (a cached GET takes ~150 µs of CPU): the labelled children
  // of the counter and the histogram are looked up once per method, route and status, not hashed
  // from a labels object every time.
  type Series = { count: { inc(): void }; time: { observe(v: number): void } };
  const series = new Map<string, Series>();
  const seriesOf = (method: string, route: string, status: string): Series => {
    const key = `${method} ${status} ${route}`;
    let s = series.get(key);
    if (!s) {
      s = {
        count: metrics.httpRequests.labels(method, route, status),
        time: metrics.httpDuration.labels(method, route, status),
      };
      series.set(key, s);
    }
    return s;
  };

  // In flight from onRequest until the response is sent, or the client goes away, whichever is first.
  const counted = new WeakSet<FastifyRequest>();
  const finished = (request: FastifyRequest) => {
    if (counted.delete(request)) metrics.httpInFlight.dec();
  };
  app.addHook('onRequestAbort', async (request) => finished(request));

  app.addHook('onRequest', (request, reply, done) => {
    metrics.httpInFlight.inc();
    counted.add(request);
    // A stream (GET /events) is answered outside Fastify's lifecycle: its end is the socket's.
    if (request.routeOptions.config.stream) reply.raw.once('close', () => finished(request));
    // The request travels with what it leads to: the jobs it enqueues log its id, the audit log
    // records its address, and the database shows it only its caller's rows (row-level security).
    const userAgent = request.headers['user-agent'];
    requestContext.run({ requestId: request.id, ip: request.ip, userAgent: userAgent?.slice(0, 512) }, done);
  });

  app.addHook('onResponse', async (request, reply) => {
    const stream = request.routeOptions.config.stream;
    finished(request);
    const route = routeLabel(request);
    const s = seriesOf(request.method, route, String(reply.statusCode));
    s.count.inc();
    if (!stream) s.time.observe(reply.elapsedTime / 1000);
    if (request.errorCode) metrics.httpErrors.inc({ method: request.method, route, code: request.errorCode });
  });

  app.get('/metrics', { schema: { hide: true }, config: { rateLimit: false } }, async (request, reply) => {
    if (config.metricsToken && !bearerMatches(request.headers.authorization, config.metricsToken)) {
      reply.header('www-authenticate', 'Bearer realm="metrics"');
      return reply.status(401).type('text/plain').send('metrics need the METRICS_TOKEN as a bearer token\n');
    }
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).header('cache-control', 'no-store').send(text);
  });
});
