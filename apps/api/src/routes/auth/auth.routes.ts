import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services, Session as SessionModel } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import { API_PREFIX, bearer, Envelope, errors, iso, ref } from '../../schemas/common';
import { presentUser } from '../users/user.schema';
import { LoginBody, RegisterBody, Session, SignupPending, VerifyEmailBody } from './auth.schema';

export function presentSession(s: SessionModel) {
  return {
    token: s.token,
    token_type: 'Bearer' as const,
    expires_at: iso(s.expiresAt),
    user: presentUser(s.user),
  };
}

const authRoutes: FastifyPluginAsyncTypebox<{ services: Services; signupVerifyEmail: boolean }> = async (
  app,
  { services, signupVerifyEmail },
) => {
  app.post(
    '/auth/register',
    {
      onRequest: app.authRateLimit.perIp,
      preHandler: app.authRateLimit.perEmail,
      schema: {
        tags: ['auth'],
        summary: 'Create an account and sign in (or, with SIGNUP_VERIFY_EMAIL, mail a confirmation link)',
        description:
          'The first account, and the emails in ADMIN_EMAILS, are admins. Without email confirmation: 201 with a session, 409 if the email has an account. With SIGNUP_VERIFY_EMAIL (the default when SMTP_URL is set): always 202, whether or not the address has an account (the form tells nobody who is registered); a new address gets a link to POST /auth/verify-email, a registered one a mail saying so.',
        body: RegisterBody,
        response: {
          201: Envelope(ref(Session)),
          202: Envelope(SignupPending),
          400: errors[400],
          409: errors[409],
          429: errors[429],
        },
      },
    },
    async (request, reply) => {
      if (signupVerifyEmail) {
        await services.signups.request(request.body);
        reply.status(202);
        return {
          success: true as const,
          data: {
            status: 'confirmation_sent' as const,
            email: request.body.email.trim().toLowerCase(),
            message: 'Check your inbox: we sent a link to finish creating your account.',
          },
        };
      }
      const session = await services.auth.register(request.body);
      await app.recordWrite(session.user.id);
      reply.header('location', `${API_PREFIX}/users/me`).status(201);
      return { success: true as const, data: presentSession(session) };
    },
  );

  app.post(
    '/auth/verify-email',
    {
      onRequest: app.authRateLimit.perIp,
      schema: {
        tags: ['auth'],
        summary: 'Confirm an email address: creates the account of a pending sign-up and signs it in',
        description: 'The link of the confirmation mail works once, for 24 hours.',
        body: VerifyEmailBody,
        response: { 201: Envelope(ref(Session)), 400: errors[400], 409: errors[409], 429: errors[429] },
      },
    },
    async (request, reply) => {
      const session = await services.signups.confirm(request.body.token);
      await app.recordWrite(session.user.id);
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
        description:
          'An unknown email and a wrong password get the same 401. After 5 failed sign-ins for one email address (registered or not), attempts for it are refused with 429 and Retry-After, before the password is checked, for 15 s, then twice as long after each further failure (up to 15 min); a success resets the count. A disabled account gets 403 (only with the right password).',
        body: LoginBody,
        response: {
          200: Envelope(ref(Session)),
          400: errors[400],
          401: errors[401],
          403: errors[403],
          429: errors[429],
        },
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
