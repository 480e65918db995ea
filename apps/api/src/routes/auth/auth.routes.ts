import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services, Session as SessionModel } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import { API_PREFIX, bearer, Envelope, errors, iso, ref } from '../../schemas/common';
import { presentUser } from '../users/user.schema';
import { LoginBody, RegisterBody, Session } from './auth.schema';

export function presentSession(s: SessionModel) {
  return {
    token: s.token,
    token_type: 'Bearer' as const,
    expires_at: iso(s.expiresAt),
    user: presentUser(s.user),
  };
}

const authRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/auth/register',
    {
      onRequest: app.authRateLimit.perIp,
      preHandler: app.authRateLimit.perEmail,
      schema: {
        tags: ['auth'],
        summary: 'Create an account and sign in',
        description: 'The first account, and the emails in ADMIN_EMAILS, are admins.',
        body: RegisterBody,
        response: { 201: Envelope(ref(Session)), 400: errors[400], 409: errors[409], 429: errors[429] },
      },
    },
    async (request, reply) => {
      const session = await services.auth.register(request.body);
      reply.header('location', `${API_PREFIX}/users/me`).status(201);
      return { success: true as const, data: presentSession(session) };
    },
  );

  app.post(
    '/auth/login',
    {
      onRequest: app.authRateLimit.perIp,
      preHandler: app.authRateLimit.perEmail,
      schema: {
        tags: ['auth'],
        summary: 'Exchange email and password for a token (valid 24 h)',
        body: LoginBody,
        response: { 200: Envelope(ref(Session)), 400: errors[400], 401: errors[401], 429: errors[429] },
      },
    },
    async (request) => {
      const session = await services.auth.login(request.body.email, request.body.password);
      return { success: true as const, data: presentSession(session) };
    },
  );

  app.post(
    '/auth/logout',
    {
      onRequest: app.authenticate,
      // Any API key may revoke itself (the command-line client's logout does).
      config: { scope: 'any' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke the token used for this request, for good',
        description:
          'A session token is revoked on every API process at once; an API key used here is revoked (as DELETE /api-keys/{id} would).',
        security: bearer,
        response: { 204: Type.Null(), 401: errors[401] },
      },
    },
    async (request, reply) => {
      await services.auth.logout(principalOf(request));
      return reply.status(204).send(null);
    },
  );
};

export default authRoutes;
