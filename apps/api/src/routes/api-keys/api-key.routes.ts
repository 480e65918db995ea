import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '@taskman/core';
import { Type } from 'typebox';
import { principalOf } from '../../plugins/auth';
import {
  API_PREFIX,
  bearer,
  Envelope,
  errorsFor,
  IdParams,
  ListEnvelope,
  pageMeta,
  pageOf,
  ref,
} from '../../schemas/common';
import { ApiKey, ApiKeyCreateBody, ApiKeyListQuery, CreatedApiKey, presentApiKey } from './api-key.schema';

/** Personal access tokens. Signed-in sessions only: a key cannot make or list keys. */
const apiKeyRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  const { apiKeys } = core.services;
  app.addHook('onRequest', app.authenticate);
  const tags = ['api-keys'];

  app.post(
    '/api-keys',
    {
      schema: {
        tags,
        summary: 'Create an API key',
        description: 'The key is in the answer, once: only its hash is stored.',
        security: bearer,
        body: ApiKeyCreateBody,
        response: {
          201: Envelope(ref(CreatedApiKey)),
          ...errorsFor(400, 401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      const { name, scopes, expires_at } = request.body;
      const { apiKey, key } = await apiKeys.create(principalOf(request).userId, {
        name,
        scopes,
        expiresAt: expires_at ? new Date(expires_at) : null,
      });
      reply
        .header('location', `${API_PREFIX}/api-keys/${apiKey.id}`)
        .header('cache-control', 'no-store')
        .status(201);
      return { success: true as const, data: { ...presentApiKey(apiKey, core.clock.now()), key } };
    },
  );

  app.get(
    '/api-keys',
    {
      schema: {
        tags,
        summary: 'Your API keys',
        description: 'Newest first; revoked keys are gone, expired ones say so.',
        security: bearer,
        querystring: ApiKeyListQuery,
        response: { 200: ListEnvelope(ref(ApiKey)), ...errorsFor(400, 401, 403) },
      },
    },
    async (request) => {
      const { page, limit } = pageOf(request.query);
      const result = await apiKeys.list(principalOf(request).userId, { page, limit });
      const now = core.clock.now();
      return {
        success: true as const,
        data: result.items.map((k) => presentApiKey(k, now)),
        meta: pageMeta(page, limit, result.total),
      };
    },
  );

  app.delete(
    '/api-keys/:id',
    {
      schema: {
        tags,
        summary: 'Revoke an API key',
        description: 'Refused everywhere at once, from the next request.',
        security: bearer,
        params: IdParams,
        response: {
          204: Type.Null(),
          ...errorsFor(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      await apiKeys.revoke(principalOf(request).userId, request.params.id);
      return reply.status(204).send(null);
    },
  );
};

export default apiKeyRoutes;
