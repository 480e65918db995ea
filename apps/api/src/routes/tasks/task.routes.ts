import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { quickAddInput, type Services, type TaskInput, ValidationError } from '@taskman/core';
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
  isoOrNull,
  ListEnvelope,
  pageMeta,
  ref,
} from '../../schemas/common';
import {
  presentQuickAdd,
  QUICK_ADD_GRAMMAR,
  QuickAddBody,
  QuickAddParse,
  TaskCompletion,
} from './quick-add.schema';
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
        description:
          'Send title (and the other fields), or text for quick add: "Pay rent tomorrow 9am !high #home +Finance every month" (the grammar is under POST /tasks/parse).',
        security: bearer,
        body: TaskCreateBody,
        response: { 201: Envelope(ref(Task)), 400: errors[400], 401: errors[401] },
      },
    },
    async (request, reply) => {
      const { userId } = principalOf(request);
      const { text, ...fields } = request.body;
      const given = toTaskInput(fields);
      if (text !== undefined && fields.title !== undefined)
        throw ValidationError.field('text', 'send either title or text, not both');
      if (text === undefined && fields.title === undefined)
        throw ValidationError.field('title', 'is required (or send text for quick add)');
      // Quick add: what the text says, then the fields sent with it on top.
      const input =
        text === undefined
          ? given
          : { ...quickAddInput(await services.tasks.parseText(userId, text)), ...given };
      const task = await services.tasks.create(userId, input as TaskInput);
      reply.header('location', `${API_PREFIX}/tasks/${task.id}`).status(201);
      withEtag(request, reply, task.version);
      return { success: true as const, data: presentTask(task) };
    },
  );

  app.post(
    '/tasks/parse',
    {
      config: { scope: 'tasks:read' },
      schema: {
        tags,
        summary: 'Quick add: what a line of text would create (nothing is created)',
        description: QUICK_ADD_GRAMMAR,
        security: bearer,
        body: QuickAddBody,
        response: { 200: Envelope(ref(QuickAddParse)), ...errorsFor(400, 401) },
      },
    },
    async (request) => ({
      success: true as const,
      data: presentQuickAdd(await services.tasks.parseText(principalOf(request).userId, request.body.text)),
    }),
  );

  app.get(
    '/tasks/:id/completions',
    {
      config: { scope: 'tasks:read' },
      schema: {
        tags,
        summary: 'The completed occurrences of a recurring task, newest first',
        security: bearer,
        params: IdParams,
        response: { 200: Envelope(Type.Array(TaskCompletion)), ...errorsFor(400, 401, 404) },
      },
    },
    async (request) => {
      const rows = await services.tasks.completions(principalOf(request).userId, request.params.id);
      return {
        success: true as const,
        data: rows.map((r) => ({
          id: r.id,
          due_date: isoOrNull(r.dueDate),
          completed_at: r.completedAt.toISOString(),
        })),
      };
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
