import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { WEB_APP_CSP } from './security';

/** Where `npm run build:web` puts the web app. */
export const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/**
 * Serves the web app (apps/web, built) at /: its files, and its index.html for client-side routes
 * (the 404 handler sends it for page navigations; see errors.ts). Without a build, `/` keeps
 * leading to the API reference.
 */
export async function registerWebApp(app: FastifyInstance, dir = WEB_DIST): Promise<boolean> {
  const index = `${dir}index.html`;
  if (!existsSync(index)) return false;
  app.webAppIndex = readFileSync(index, 'utf8');
  // The app's Content-Security-Policy on its page, wherever it is sent (here at /, and by the 404
  // handler for client-side routes such as /today), instead of the API's.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (payload === app.webAppIndex) reply.header('content-security-policy', WEB_APP_CSP);
  });
  await app.register(fastifyStatic, {
    root: dir,
    wildcard: true,
    index: false,
    // Hashed file names never change: cache them for a year. The rest must be revalidated.
    setHeaders(res, path) {
      res.header(
        'cache-control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      // A service worker runs under the policy of its script (sw.js fetches the API and the files).
      res.header('content-security-policy', WEB_APP_CSP);
    },
  });
  app.get('/', { schema: { hide: true }, config: { rateLimit: false } }, (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(app.webAppIndex),
  );
  return true;
}
