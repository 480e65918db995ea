import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Services, SYNC_LIMITS, TOMBSTONE_DAYS } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import { bearer, Envelope, errorRef, errorsFor, ref, Uuid } from '../../schemas/common';
import { Project, presentProject } from '../projects/project.schema';
import { presentTask, Task } from '../tasks/task.schema';

const SyncQuery = Type.Object(
  {
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 16_384,
        description: 'The cursor of the previous answer; absent: a full sync',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: SYNC_LIMITS.max,
        default: SYNC_LIMITS.default,
        description: 'Changes per page (tasks, projects and deletions together)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const SyncPage = Type.Object(
  {
    projects: Type.Array(ref(Project), { description: 'Created or changed, in the order they changed' }),
    tasks: Type.Array(ref(Task), { description: 'Created or changed, in the order they changed' }),
    deleted: Type.Object({ projects: Type.Array(Uuid), tasks: Type.Array(Uuid) }),
    cursor: Type.String({ description: 'Send it with the next request' }),
    has_more: Type.Boolean({ description: 'True: ask again at once with the new cursor for the next page' }),
    full: Type.Boolean({
      description: 'True: this sync started without a cursor; replace what you have with what it brings',
    }),
  },
  { $id: 'SyncPage', title: 'SyncPage' },
);

const syncRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.addHook('onRequest', app.authenticate);

  app.get(
    '/sync',
    {
      // Cursors are database snapshots: always the primary's, never a replica's older one.
      config: { scope: ['tasks:read', 'projects:read'], readsFromPrimary: true },
      schema: {
        tags: ['sync'],
        summary: 'What changed since your last sync (delta sync for offline clients)',
        description: `Every task and project created or changed since the cursor, the ids of those deleted, and the next cursor. Without a cursor: everything (a full sync; no deletions). Paged: while has_more, ask again with the new cursor. A cursor is good for ${TOMBSTONE_DAYS} days (deletions are kept that long); an older one is 410 GONE: sync in full again. No change is ever skipped, also when transactions commit out of order; a change may occasionally come twice (apply by id: it is idempotent).`,
        security: bearer,
        querystring: SyncQuery,
        response: {
          200: Envelope(ref(SyncPage)),
          ...errorsFor(400, 401, 403),
          410: errorRef('The cursor is too old (GONE): start again without one'),
        },
      },
    },
    async (request) => {
      const { cursor, limit = SYNC_LIMITS.default } = request.query;
      const r = await services.sync.changes(principalOf(request).userId, cursor, limit);
      return {
        success: true as const,
        data: {
          projects: r.projects.map(presentProject),
          tasks: r.tasks.map(presentTask),
          deleted: r.deleted,
          cursor: r.cursor,
          has_more: r.hasMore,
          full: r.full,
        },
      };
    },
  );
};

export default syncRoutes;
