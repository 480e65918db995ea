import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

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
    },
  });
  app.get('/', { schema: { hide: true }, config: { rateLimit: false } }, (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(app.webAppIndex),
  );
  return true;
}
