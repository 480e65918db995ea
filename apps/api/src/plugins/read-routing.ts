import type { Core } from '@taskman/core';
import { currentRequest } from '@taskman/core';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Records a write by `userId` for read-your-writes where no session made it: sign-up creates
     * the account that the new token's first requests read. (Requests of a signed-in caller other
     * than GET and HEAD are recorded by themselves.)
     */
    recordWrite(userId: string): Promise<void>;
  }
  interface FastifyContextConfig {
    /** Every read of this route on the primary, also with a replica (cursors made of snapshots). */
    readsFromPrimary?: boolean;
  }
}

const READS = new Set(['GET', 'HEAD']);

/**
 * With a read replica (DATABASE_REPLICA_URL): a GET or HEAD may read from the replica unless its
 * caller wrote within READ_YOUR_WRITES_MS; any other request counts as a write, recorded for its
 * caller before the answer leaves, so the caller's next read — on whichever process — sees it.
 * Decided after authentication (the routes' onRequest hooks, whose own reads — the session, the
 * API key — are on the primary), before the handler's first query. Live streams, delta sync and
 * the calendar feed read from the primary.
 */
export default fp(async function readRouting(app: FastifyInstance, { core }: { core: Core }) {
  const writers = core.recentWriters;
  app.decorate('recordWrite', async (userId: string) => {
    await writers?.wrote(userId);
  });
  if (!writers) return;
  app.addHook('preHandler', async (request) => {
    const route = request.routeOptions.config;
    if (!READS.has(request.method) || route.readsFromPrimary || route.stream) return;
    const context = currentRequest();
    if (!context) return;
    const userId = request.principal?.userId;
    if (userId !== undefined && (await writers.wroteRecently(userId))) return;
    context.reads = 'replica';
  });
  app.addHook('onSend', async (request) => {
    if (READS.has(request.method)) return;
    const userId = request.principal?.userId;
    if (userId !== undefined) await writers.wrote(userId);
  });
});
