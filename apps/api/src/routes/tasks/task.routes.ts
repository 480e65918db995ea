import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import { ifMatch, ifMatchHeader, ifNoneMatchHeader, withEtag } from '../../plugins/conditional';
import {
  API_PREFIX,
  bearer,
  Envelope,
  errors,
  errorsFor,
  IdParams,
  ListEnvelope,
  pageMeta,
  ref,
} from '../../schemas/common';
import {
  presentTask,
  splitListParams,
  Task,
  TaskCreateBody,
  TaskListQuery,
  TaskPatchBody,
  toTaskInput,
  toTaskListQuery,
} from './task.schema';

const taskRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.addHook('onRequest', app.authenticate);
  const tags = ['tasks'];

  app.post(
    '/tasks',
    {
      config: { scope: 'tasks:write' },
      schema: {
        tags,
        summary: 'Create a task',
        security: bearer,
        body: TaskCreateBody,
        response: { 201: Envelope(ref(Task)), 400: errors[400], 401: errors[401] },
      },
    },
    async (request, reply) => {
      const task = await services.tasks.create(principalOf(request).userId, toTaskInput(request.body));
      reply.header('location', `${API_PREFIX}/tasks/${task.id}`).status(201);
      withEtag(request, reply, task.version);
      return { success: true as const, data: presentTask(task) };
    },
  );

  app.get(
    '/tasks',
    {
      config: { scope: 'tasks:read' },
      preValidation: splitListParams,
      schema: {
        tags,
        summary: 'Your tasks, filtered, sorted and paged',
        security: bearer,
        querystring: TaskListQuery,
        response: { 200: ListEnvelope(ref(Task)), 400: errors[400], 401: errors[401] },
      },
    },
    async (request) => {
      const query = toTaskListQuery(request.query);
      const result = await services.tasks.list(principalOf(request).userId, query);
      return {
        success: true as const,
        data: result.items.map(presentTask),
        meta: pageMeta(query.page, query.limit, result.total),
      };
    },
  );

  app.get(
    '/tasks/:id',
    {
      config: { scope: 'tasks:read' },
      schema: {
        tags,
        summary: 'One task',
        description: 'The ETag is the version: with If-None-Match naming it, 304 and no body.',
        security: bearer,
        params: IdParams,
        headers: Type.Object(ifNoneMatchHeader),
        response: {
          200: Envelope(ref(Task)),
          304: Type.Null({ description: 'Not modified: the task still has the version If-None-Match names' }),
          ...errorsFor(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const task = await services.tasks.get(principalOf(request).userId, request.params.id);
      if (withEtag(request, reply, task.version)) return reply;
      return { success: true as const, data: presentTask(task) };
    },
  );

  app.patch(
    '/tasks/:id',
    {
      config: { scope: 'tasks:write' },
      schema: {
        tags,
        summary: 'Change some fields of a task',
        description:
          'Setting status to done sets completed_at; reopening clears it. Every change increments version. With If-Match, applies only to that version (else 412 and current_version).',
        security: bearer,
        params: IdParams,
        headers: Type.Object(ifMatchHeader),
        body: TaskPatchBody,
        response: { 200: Envelope(ref(Task)), ...errorsFor(400, 401, 404, 412) },
      },
    },
    async (request, reply) => {
      const { userId } = principalOf(request);
      const task = await services.tasks.update(userId, request.params.id, toTaskInput(request.body), {
        ifVersion: ifMatch(request),
      });
      withEtag(request, reply, task.version);
      return { success: true as const, data: presentTask(task) };
    },
  );

  for (const [action, archived] of [
    ['archive', true],
    ['unarchive', false],
  ] as const) {
    app.post(
      `/tasks/:id/${action}`,
      {
        config: { scope: 'tasks:write' },
        schema: {
          tags,
          summary: archived
            ? 'Archive a task: hidden from lists unless asked for'
            : 'Restore an archived task',
          security: bearer,
          params: IdParams,
          headers: Type.Object(ifMatchHeader),
          response: { 200: Envelope(ref(Task)), ...errorsFor(400, 401, 404, 412) },
        },
      },
      async (request, reply) => {
        const task = await services.tasks.setArchived(
          principalOf(request).userId,
          request.params.id,
          archived,
          ifMatch(request),
        );
        withEtag(request, reply, task.version);
        return { success: true as const, data: presentTask(task) };
      },
    );
  }

  app.delete(
    '/tasks/:id',
    {
      config: { scope: 'tasks:write' },
      schema: {
        tags,
        summary: 'Delete a task',
        description: 'With If-Match, only if the task still has that version (else 412 and current_version).',
        security: bearer,
        params: IdParams,
        headers: Type.Object(ifMatchHeader),
        response: { 204: Type.Null(), ...errorsFor(400, 401, 404, 412) },
      },
    },
    async (request, reply) => {
      await services.tasks.delete(principalOf(request).userId, request.params.id, ifMatch(request));
      return reply.status(204).send(null);
    },
  );
};

export default taskRoutes;
