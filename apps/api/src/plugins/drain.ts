import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** True once the process has been told to stop and is handing its connections over. */
    draining: boolean;
  }
}

/**
 * Draining before a stop (SIGTERM with SHUTDOWN_DRAIN_MS, see main.ts): the process keeps serving,
 * but every answer says "Connection: close", so a load balancer's kept-alive connections end one by
 * one after a complete exchange, and /health/ready answers 503 so orchestrators stop sending new
 * ones. When the listener finally closes, no connection is left idle for a request to race into.
 */
export default fp(async function drain(app: FastifyInstance) {
  app.decorate('draining', false);
  app.addHook('onSend', async (_request, reply) => {
    if (app.draining) reply.header('connection', 'close');
  });
});
