import { createHash } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { type Core, DomainError, type Principal, UnauthorizedError } from '@taskman/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from './auth';
import { sendError } from './errors';

export const QUEUE_BOARD_PATH = '/admin/queues';
const REALM = 'Basic realm="Taskman admin", charset="UTF-8"';
// A browser sends the same Basic credentials with every request of the board (it polls every few
// seconds): a check is remembered for a minute, so bcrypt runs once a minute, not on every poll.
const REMEMBER_MS = 60_000;

/**
 * Bull Board at /admin/queues (cluster mode, BullMQ): waiting, delayed, failed jobs with their
 * errors, and retry. Admins sign in with their email and password (HTTP Basic, so a browser
 * simply asks) or send their bearer token; ADMIN_IP_ALLOWLIST applies as to every admin route.
 */
export async function registerQueueBoard(app: FastifyInstance, core: Core): Promise<void> {
  const queues = core.queue.bullQueues?.();
  if (!queues) return;

  const remembered = new Map<string, { principal: Principal; until: number }>();
  const basicPrincipal = async (request: FastifyRequest, reply: FastifyReply, header: string) => {
    const key = createHash('sha256').update(header).digest('base64url');
    const hit = remembered.get(key);
    if (hit && hit.until > Date.now()) return hit.principal;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new UnauthorizedError('Send your admin email and password');
    // Guessing passwords here is limited like /auth/login: per address and per account.
    await app.authRateLimit.perIp.call(app, request, reply);
    await app.authRateLimit.perEmail.call(app, request, reply);
    const session = await core.services.auth.login(decoded.slice(0, colon), decoded.slice(colon + 1));
    const principal = await core.services.auth.authenticate(session.token);
    if (remembered.size > 100) remembered.clear();
    remembered.set(key, { principal, until: Date.now() + REMEMBER_MS });
    return principal;
  };

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Taskman jobs' } },
  });

  await app.register(async (board) => {
    board.addHook('onRequest', async (request, reply) => {
      // The board's scripts, styles and icons are the public Bull Board bundle: no data in them.
      if (request.url.startsWith(`${QUEUE_BOARD_PATH}/static/`)) return;
      const header = request.headers.authorization ?? '';
      try {
        await app.requireAdminAddress(request, reply);
        if (/^Basic /i.test(header)) request.principal = await basicPrincipal(request, reply, header);
        else if (bearerToken(header)) await app.authenticate(request, reply);
        else throw new UnauthorizedError('Sign in with your admin email and password');
        await app.requireAdmin(request, reply);
      } catch (err) {
        // Answered here: errors inside the board's scope would reach Bull Board's own handler (500).
        if (err instanceof UnauthorizedError) reply.header('www-authenticate', REALM);
        if (err instanceof DomainError) return sendError(request, reply, err.code, err.message);
        if ((err as { statusCode?: number }).statusCode === 429)
          return sendError(request, reply, 'RATE_LIMITED', (err as Error).message);
        throw err;
      }
    });
    await board.register(serverAdapter.registerPlugin() as never, { prefix: QUEUE_BOARD_PATH });
  });
}
