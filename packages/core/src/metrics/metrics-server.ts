// The worker's /metrics (and /health/live): a bare HTTP server on METRICS_PORT, as Prometheus
// expects of a process with no HTTP API of its own.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Core } from '../core';
import type { Log } from '../lib/log';

/** Whether an Authorization header carries this bearer token (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function serveMetrics(core: Core, port: number, log: Log): Promise<Server> {
  const { metrics, config } = core;
  const authorized = (header: string | undefined) =>
    !config.metricsToken || bearerMatches(header, config.metricsToken);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/health/live') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    } else if (!authorized(req.headers.authorization)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain' });
      res.end('metrics need the METRICS_TOKEN as a bearer token\n');
    } else {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, config.host, () => resolve());
  });
  log.info({ port }, `metrics at http://${config.host}:${port}/metrics`);
  return server;
}
