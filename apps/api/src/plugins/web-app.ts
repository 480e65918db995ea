import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import negotiate from '@fastify/accept-negotiator';
import fastifyStatic from '@fastify/static';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WEB_APP_CSP } from './security';

/** Where `npm run build:web` puts the web app. */
export const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/** Files named by their content hash (apps/web/vite.config.ts): a CDN or browser may keep them a year. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else (index.html, sw.js, the manifest, the icons): cached, but revalidated before each use. */
export const REVALIDATE = 'no-cache';

type Encoding = 'br' | 'gzip';
const ENCODINGS: Encoding[] = ['br', 'gzip'];

/**
 * The content-coding to answer with, from `Accept-Encoding`: the negotiator @fastify/static uses
 * for the files, so the page and the files choose alike (brotli first on a tie).
 */
export function preferredEncoding(header: string | string[] | undefined): Encoding | undefined {
  if (header === undefined) return undefined;
  return negotiate(Array.isArray(header) ? header.join(',') : header, ENCODINGS) ?? undefined;
}

/** Adds a field to `Vary`, keeping what is there (CORS's `Origin`). */
function vary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  const fields = (Array.isArray(current) ? current.join(',') : String(current ?? ''))
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  if (fields.some((f) => f === '*' || f.toLowerCase() === field)) return;
  reply.header('vary', [...fields, field].join(', '));
}

/** Whether `If-None-Match` names this tag (weak comparison, RFC 9110 §13.1.2), or is `*`. */
function noneMatch(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const tags = (Array.isArray(header) ? header.join(',') : header).split(',');
  return tags.some((t) => t.trim() === '*' || opaque(t) === opaque(etag));
}

/**
 * The web app's page, for `/` and for every client-side route (the 404 handler, errors.ts):
 * compressed once here, at start, rather than on every request; revalidated by its ETag.
 */
function indexPage(html: Buffer): (request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  const bodies: Record<Encoding | 'identity', Buffer> = {
    identity: html,
    br: brotliCompressSync(html, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      },
    }),
    gzip: gzipSync(html, { level: 9 }),
  };
  // Weak: the tag names the page, whichever coding carries it (as nginx does when it compresses).
  const etag = `W/"${createHash('sha256').update(html).digest('base64url').slice(0, 27)}"`;
  return (request, reply) => {
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', REVALIDATE)
      .header('etag', etag)
      // The app's own policy, instead of the API's.
      .header('content-security-policy', WEB_APP_CSP);
    vary(reply, 'accept-encoding');
    if (noneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send();
    const encoding = preferredEncoding(request.headers['accept-encoding']);
    if (encoding) reply.header('content-encoding', encoding);
    return reply.send(bodies[encoding ?? 'identity']);
  };
}

/**
 * Serves the web app (apps/web, built) at /: its files, and its index.html for client-side routes
 * (the 404 handler sends it for page navigations; see errors.ts). Without a build, `/` keeps
 * leading to the API reference.
 *
 * Ready for a CDN: files under /assets/ are named by their hash and cached for a year (immutable);
 * everything else is `no-cache` with an ETag and Last-Modified, so a cache revalidates it (304).
 * The build writes .br and .gz copies of the text files (apps/web/precompress.ts): they are sent
 * as they are, by `Accept-Encoding`, with `Vary: Accept-Encoding`; without a copy, the file itself.
 */
export async function registerWebApp(app: FastifyInstance, dir = WEB_DIST): Promise<boolean> {
  const root = path.resolve(dir);
  const index = path.join(root, 'index.html');
  if (!existsSync(index)) return false;
  app.sendWebAppIndex = indexPage(readFileSync(index));
  const assets = path.join(root, 'assets') + path.sep;
  await app.register(async (files) => {
    // A path out of the directory (/assets/../../package.json, encoded or not) is refused by
    // @fastify/static with 403; answer 404, as for any other file that is not there.
    files.setErrorHandler((err: FastifyError, _request, reply) => {
      if (err.code === 'FST_STATIC_FORBIDDEN_PATH') return reply.callNotFound();
      throw err;
    });
    await files.register(fastifyStatic, {
      root,
      wildcard: true,
      index: false,
      preCompressed: true,
      // `file` is the file sent: x.js.br for x.js in brotli.
      setHeaders(reply, file) {
        reply.header('cache-control', file.startsWith(assets) ? IMMUTABLE : REVALIDATE);
        // A service worker runs under the policy of its script (sw.js fetches the API and the files).
        reply.header('content-security-policy', WEB_APP_CSP);
      },
    });
  });
  app.get('/', { schema: { hide: true }, config: { rateLimit: false } }, (request, reply) =>
    app.sendWebAppIndex!(request, reply),
  );
  return true;
}
