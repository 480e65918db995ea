import { ForbiddenError, ipAllowlist, type Principal, type Services, UnauthorizedError } from '@taskman/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `app.authenticate` on routes that require a signed-in caller. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** onRequest hook: accepts `Authorization: Bearer <token>` or answers 401. */
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** onRequest hook, after authenticate: answers 403 unless the caller is an admin (from an allowed address). */
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** onRequest hook, before authenticate: answers 403 outside ADMIN_IP_ALLOWLIST. */
    requireAdminAddress(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
}

// The scheme name is case-insensitive (RFC 9110 §11.1).
const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i;

/** The token of an `Authorization: Bearer <token>` header, or undefined if there is none or it is malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/** The principal of an authenticated route; throws if the route forgot its auth hook. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthorizedError();
  return request.principal;
}

/** The auth checker of the brief's gateway: verifies the token and that it is still valid. */
export default fp(async function auth(
  app: FastifyInstance,
  opts: { services: Services; adminIpAllowlist: string[] },
) {
  app.decorateRequest('principal', null);
  const adminIpAllowed = ipAllowlist(opts.adminIpAllowlist);

  app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    if (!header) {
      reply.header('www-authenticate', 'Bearer');
      throw new UnauthorizedError('Authentication required: send Authorization: Bearer <token>');
    }
    const token = bearerToken(header);
    if (!token) {
      reply.header('www-authenticate', 'Bearer error="invalid_request"');
      throw new UnauthorizedError('Malformed Authorization header: expected Bearer <token>');
    }
    try {
      request.principal = await opts.services.auth.authenticate(token);
    } catch (err) {
      if (err instanceof UnauthorizedError) reply.header('www-authenticate', 'Bearer error="invalid_token"');
      throw err;
    }
  });

  const checkAddress = (request: FastifyRequest) => {
    if (adminIpAllowed && !adminIpAllowed(request.ip))
      throw new ForbiddenError('Admin operations are not allowed from this address');
  };
  // First on admin routes, before any credential is looked at: from elsewhere, a right and a wrong
  // password get the same answer.
  app.decorate('requireAdminAddress', async (request: FastifyRequest) => checkAddress(request));
  app.decorate('requireAdmin', async (request: FastifyRequest) => {
    if (principalOf(request).role !== 'admin') throw new ForbiddenError('This needs an admin account');
    checkAddress(request);
  });
});
