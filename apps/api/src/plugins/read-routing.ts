import type { Core } from '@taskman/core';
import { currentRequest } from '@taskman/core';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Every read of this route on the primary, also with a replica (cursors made of snapshots). */
    readsFromPrimary?: boolean;
  }
}

const READS = new Set(['GET', 'HEAD']);

/**
 * With a read replica (DATABASE_REPLICA_URL): a GET or HEAD may read from the replica unless its
 * caller wrote within READ_YOUR_WRITES_MS; any other request counts as a write, recorded for its
 * caller before the answer leaves, so the caller's next read — on whichever process — sees it. A
 * session issued within the window counts as a write too: sign-up creates the account the new
 * token's first requests read. Decided after authentication (the routes' onRequest hooks), before
 * the handler's first query. Live streams and delta sync read from the primary.
 */
export default fp(async function readRouting(app: FastifyInstance, { core }: { core: Core }) {
  const writers = core.recentWriters;
  if (!writers) return;
  const windowMs = core.config.readYourWritesMs;
  app.addHook('preHandler', async (request) => {
    const route = request.routeOptions.config;
    if (!READS.has(request.method) || route.readsFromPrimary || route.stream) return;
    const context = currentRequest();
    if (!context) return;
    const principal = request.principal;
    if (principal) {
      const issuedAt = principal.issuedAt?.getTime();
      if (issuedAt !== undefined && Date.now() - issuedAt < windowMs) return;
      if (await writers.wroteRecently(principal.userId)) return;
    }
    context.reads = 'replica';
  });
  app.addHook('onSend', async (request) => {
    if (READS.has(request.method)) return;
    const userId = request.principal?.userId;
    if (userId !== undefined) await writers.wrote(userId);
  });
});
