import {
  type ApiKeyScope,
  currentRequest,
  ForbiddenError,
  hasScope,
  ipAllowlist,
  type Principal,
  type Services,
  UnauthorizedError,
} from '@taskman/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/**
 * What an API key needs to call a route: a scope (or several, all needed), or 'any' (any valid
 * key). A route without one is for signed-in sessions only (keys get 403): managing keys, the
 * password, the account, admin operations.
 */
export type RouteScope = ApiKeyScope | ApiKeyScope[] | 'any';

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope;
  }
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

/** Refuses an API key that lacks what the route needs (a session may do anything its user may). */
export function checkScope(principal: Principal, needed: RouteScope | undefined): void {
  if (!principal.scopes) return;
  if (needed === undefined) throw new ForbiddenError('API keys cannot be used here: sign in to do this');
  if (needed === 'any') return;
  const missing = (Array.isArray(needed) ? needed : [needed]).filter((s) => !hasScope(principal.scopes!, s));
  if (missing.length) throw new ForbiddenError(`This API key lacks the scope ${missing.join(' and ')}`);
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
    checkScope(request.principal, request.routeOptions.config.scope);
    const context = currentRequest();
    if (context) {
      context.actor = { userId: request.principal.userId, apiKeyId: request.principal.apiKeyId };
      // From here on the database shows this request its caller's rows only (row-level security).
      context.rowScope = request.principal.userId;
    }
  });

  // The document says which scope a key needs on each route, and that the other routes take none.
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { security?: unknown; description?: string } | undefined;
    if (!schema?.security) return;
    const scope = route.config?.scope;
    const scopes = scope === undefined ? undefined : scope === 'any' ? [] : [scope].flat();
    schema.security = scopes ? [{ bearerAuth: [] }, { apiKeyAuth: scopes }] : [{ bearerAuth: [] }];
    const note =
      scopes === undefined
        ? 'Signed-in sessions only: API keys get 403.'
        : scopes.length
          ? `API keys need the scope ${scopes.map((s) => `\`${s}\``).join(' and ')}.`
          : 'Any API key may call this.';
    // GET and its HEAD share one schema object: add the note once.
    if (schema.description?.includes(note)) return;
    schema.description = schema.description ? `${schema.description}\n\n${note}` : note;
  });

  const checkAddress = (request: FastifyRequest) => {
    if (adminIpAllowed && !adminIpAllowed(request.ip))
      throw new ForbiddenError('Admin operations are not allowed from this address');
  };
  // First on admin routes, before any credential is looked at: from elsewhere, a right and a wrong
  // password get the same answer.
  app.decorate('requireAdminAddress', async (request: FastifyRequest) => checkAddress(request));
  app.decorate('requireAdmin', async (request: FastifyRequest) => {
    const principal = principalOf(request);
    if (principal.scopes) throw new ForbiddenError('API keys cannot be used for admin operations');
    if (principal.role !== 'admin') throw new ForbiddenError('This needs an admin account');
    checkAddress(request);
    // Admin operations read every account's rows (the user list, the dashboard, the audit log).
    const context = currentRequest();
    if (context) context.rowScope = 'system';
  });
});
