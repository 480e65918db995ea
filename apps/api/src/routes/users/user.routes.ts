import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import { bearer, Envelope, errors, ListEnvelope, pageMeta, pageOf, ref } from '../../schemas/common';
import { ActivityQuery, AuditEntry, presentAuditEntry, rangeOf } from '../admin/audit.schema';
import { presentSession } from '../auth/auth.routes';
import { Session } from '../auth/auth.schema';
import {
  DeleteAccountBody,
  PasswordChangeBody,
  ProfilePatchBody,
  presentUser,
  User,
  UserListQuery,
  weekdayNumber,
} from './user.schema';

const userRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.addHook('onRequest', app.authenticate);

  app.get(
    '/users/me',
    {
      config: { scope: 'any' },
      schema: {
        tags: ['users'],
        summary: 'Your profile',
        security: bearer,
        response: { 200: Envelope(ref(User)), 401: errors[401] },
      },
    },
    async (request) => ({
      success: true as const,
      data: presentUser(await services.users.getProfile(principalOf(request).userId)),
    }),
  );

  app.patch(
    '/users/me',
    {
      schema: {
        tags: ['users'],
        summary: 'Change your name, time zone, reminder lead time or weekly report',
        security: bearer,
        body: ProfilePatchBody,
        response: { 200: Envelope(ref(User)), 400: errors[400], 401: errors[401] },
      },
    },
    async (request) => ({
      success: true as const,
      data: presentUser(
        await services.users.updateProfile(principalOf(request).userId, {
          name: request.body.name,
          timezone: request.body.timezone,
          reminderLeadMinutes: request.body.reminder_lead_minutes,
          weeklyReportDay:
            request.body.weekly_report_day === undefined
              ? undefined
              : weekdayNumber(request.body.weekly_report_day),
          weeklyReportHour: request.body.weekly_report_hour,
        }),
      ),
    }),
  );

  app.put(
    '/users/me/password',
    {
      schema: {
        tags: ['users'],
        summary: 'Change your password',
        description:
          'Needs the current password. Signs out every session, including this one, and returns a new token.',
        security: bearer,
        body: PasswordChangeBody,
        response: { 200: Envelope(ref(Session)), 400: errors[400], 401: errors[401] },
      },
    },
    async (request) => {
      const { current_password, new_password } = request.body;
      const session = await services.auth.changePassword(
        principalOf(request).userId,
        current_password,
        new_password,
      );
      return { success: true as const, data: presentSession(session) };
    },
  );

  app.delete(
    '/users/me',
    {
      schema: {
        tags: ['users'],
        summary: 'Delete your account and all its data',
        description: 'Needs your current password. Projects and tasks are deleted with the account.',
        security: bearer,
        body: DeleteAccountBody,
        response: { 204: Type.Null(), 400: errors[400], 401: errors[401] },
      },
    },
    async (request, reply) => {
      await services.users.deleteAccount(principalOf(request).userId, request.body.password);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/users/me/activity',
    {
      schema: {
        tags: ['users'],
        summary: 'Your account activity: sign-ins (and failed ones), changes, admin actions on your account',
        description:
          'From the audit log, newest first: what you did (with the address and browser it came from) and what was done to your account, e.g. failed sign-ins with your email or an admin disabling it.',
        security: bearer,
        querystring: ActivityQuery,
        response: {
          200: ListEnvelope(ref(AuditEntry)),
          400: errors[400],
          401: errors[401],
          403: errors[403],
        },
      },
    },
    async (request) => {
      const { page, limit } = pageOf(request.query);
      const result = await services.audit.activityOf(
        principalOf(request).userId,
        { action: request.query.action, ...rangeOf(request.query) },
        { page, limit },
      );
      return {
        success: true as const,
        data: result.items.map(presentAuditEntry),
        meta: pageMeta(page, limit, result.total),
      };
    },
  );

  app.get(
    '/users',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['users'],
        summary: 'All users, or those matching a search (admins only)',
        security: bearer,
        querystring: UserListQuery,
        response: { 200: ListEnvelope(ref(User)), 400: errors[400], 401: errors[401], 403: errors[403] },
      },
    },
    async (request) => {
      const { page, limit } = pageOf(request.query);
      const result = await services.users.list({ page, limit }, request.query.q?.trim() || undefined);
      return {
        success: true as const,
        data: result.items.map(presentUser),
        meta: pageMeta(page, limit, result.total),
      };
    },
  );
};

export default userRoutes;
