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
  pageOf,
  ref,
} from '../../schemas/common';
import { presentTask, splitListParams, Task, TaskListQuery, toTaskListQuery } from '../tasks/task.schema';
import {
  Project,
  ProjectCreateBody,
  ProjectListQuery,
  ProjectPatchBody,
  presentProject,
} from './project.schema';

const projectRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.addHook('onRequest', app.authenticate);
  const tags = ['projects'];

  app.post(
    '/projects',
    {
      config: { scope: 'projects:write' },
      schema: {
        tags,
        summary: 'Create a project',
        security: bearer,
        body: ProjectCreateBody,
        response: { 201: Envelope(ref(Project)), 400: errors[400], 401: errors[401] },
      },
    },
    async (request, reply) => {
      const project = await services.projects.create(principalOf(request).userId, request.body);
      reply.header('location', `${API_PREFIX}/projects/${project.id}`).status(201);
      withEtag(request, reply, project.version);
      return { success: true as const, data: presentProject(project) };
    },
  );

  app.get(
    '/projects',
    {
      config: { scope: 'projects:read' },
      schema: {
        tags,
        summary: 'Your projects',
        security: bearer,
        querystring: ProjectListQuery,
        response: { 200: ListEnvelope(ref(Project)), 400: errors[400], 401: errors[401] },
      },
    },
    async (request) => {
      const { page, limit } = pageOf(request.query);
      const { sort = 'created_at', order } = request.query;
      const result = await services.projects.list(principalOf(request).userId, {
        page,
        limit,
        sort,
        order: order ?? (sort === 'name' ? 'asc' : 'desc'),
      });
      return {
        success: true as const,
        data: result.items.map(presentProject),
        meta: pageMeta(page, limit, result.total),
      };
    },
  );

  app.get(
    '/projects/:id',
    {
      config: { scope: 'projects:read' },
      schema: {
        tags,
        summary: 'One project',
        description: 'The ETag is the version: with If-None-Match naming it, 304 and no body.',
        security: bearer,
        params: IdParams,
        headers: Type.Object(ifNoneMatchHeader),
        response: {
          200: Envelope(ref(Project)),
          304: Type.Null({
            description: 'Not modified: the project still has the version If-None-Match names',
          }),
          ...errorsFor(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const project = await services.projects.get(principalOf(request).userId, request.params.id);
      if (withEtag(request, reply, project.version)) return reply;
      return { success: true as const, data: presentProject(project) };
    },
  );

  app.patch(
    '/projects/:id',
    {
      config: { scope: 'projects:write' },
      schema: {
        tags,
        summary: 'Change a project',
        description: 'With If-Match, applies only to that version (else 412 and current_version).',
        security: bearer,
        params: IdParams,
        headers: Type.Object(ifMatchHeader),
        body: ProjectPatchBody,
        response: { 200: Envelope(ref(Project)), ...errorsFor(400, 401, 404, 412) },
      },
    },
    async (request, reply) => {
      const project = await services.projects.update(
        principalOf(request).userId,
        request.params.id,
        request.body,
        ifMatch(request),
      );
      withEtag(request, reply, project.version);
      return { success: true as const, data: presentProject(project) };
    },
  );

  app.delete(
    '/projects/:id',
    {
      config: { scope: 'projects:write' },
      schema: {
        tags,
        summary: 'Delete a project',
        description:
          'Its tasks are kept and move to no project (project_id becomes null). With If-Match, only if the project still has that version (else 412 and current_version).',
        security: bearer,
        params: IdParams,
        headers: Type.Object(ifMatchHeader),
        response: { 204: Type.Null(), ...errorsFor(400, 401, 404, 412) },
      },
    },
    async (request, reply) => {
      await services.projects.delete(principalOf(request).userId, request.params.id, ifMatch(request));
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/projects/:id/tasks',
    {
      config: { scope: ['projects:read', 'tasks:read'] },
      preValidation: splitListParams,
      schema: {
        tags,
        summary: "A project's tasks",
        description: 'Takes the filters of GET /tasks, except project_id.',
        security: bearer,
        params: IdParams,
        querystring: Type.Omit(TaskListQuery, ['project_id'], { additionalProperties: false }),
        response: { 200: ListEnvelope(ref(Task)), 400: errors[400], 401: errors[401], 404: errors[404] },
      },
    },
    async (request) => {
      const query = toTaskListQuery(request.query);
      const result = await services.tasks.listByProject(
        principalOf(request).userId,
        request.params.id,
        query,
      );
      return {
        success: true as const,
        data: result.items.map(presentTask),
        meta: pageMeta(query.page, query.limit, result.total),
      };
    },
  );
};

export default projectRoutes;
