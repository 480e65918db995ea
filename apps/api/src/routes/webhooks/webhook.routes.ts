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
import {
  DeliveryListQuery,
  DeliveryParams,
  presentDelivery,
  presentDeliveryDetail,
  presentWebhook,
  RotateSecretBody,
  Webhook,
  WebhookCreateBody,
  WebhookDelivery,
  WebhookDeliveryDetail,
  WebhookListQuery,
  WebhookPatchBody,
  WebhookWithSecret,
} from './webhook.schema';

/** Webhooks: CRUD, secret rotation, ping, the delivery log and redelivery. */
const webhookRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  const { webhooks } = core.services;
  const now = () => core.clock.now();
  app.addHook('onRequest', app.authenticate);
  const tags = ['webhooks'];
  const config = { scope: 'webhooks:manage' as const };
  const owner = (request: Parameters<typeof principalOf>[0]) => principalOf(request).userId;

  app.post(
    '/webhooks',
    {
      config,
      schema: {
        tags,
        summary: 'Register a webhook',
        description:
          'The answer holds the signing secret, once (rotate it to get a new one). URLs that reach this host or a private network are refused.',
        security: bearer,
        body: WebhookCreateBody,
        response: {
          201: Envelope(ref(WebhookWithSecret)),
          ...errorsFor(400, 401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      const webhook = await webhooks.create(owner(request), request.body);
      reply
        .header('location', `${API_PREFIX}/webhooks/${webhook.id}`)
        .header('cache-control', 'no-store')
        .status(201);
      return { success: true as const, data: { ...presentWebhook(webhook, now()), secret: webhook.secret } };
    },
  );

  app.get(
    '/webhooks',
    {
      config,
      schema: {
        tags,
        summary: 'Your webhooks',
        security: bearer,
        querystring: WebhookListQuery,
        response: { 200: ListEnvelope(ref(Webhook)), ...errorsFor(400, 401, 403) },
      },
    },
    async (request) => {
      const { page, limit } = pageOf(request.query);
      const result = await webhooks.list(owner(request), { page, limit });
      return {
        success: true as const,
        data: result.items.map((w) => presentWebhook(w, now())),
        meta: pageMeta(page, limit, result.total),
      };
    },
  );

  app.get(
    '/webhooks/:id',
    {
      config,
      schema: {
        tags,
        summary: 'One webhook',
        security: bearer,
        params: IdParams,
        response: {
          200: Envelope(ref(Webhook)),
          ...errorsFor(400, 401, 403, 404),
        },
      },
    },
    async (request) => ({
      success: true as const,
      data: presentWebhook(await webhooks.get(owner(request), request.params.id), now()),
    }),
  );

  app.patch(
    '/webhooks/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Change a webhook',
        description: '`active: true` turns a webhook that Taskman disabled back on.',
        security: bearer,
        params: IdParams,
        body: WebhookPatchBody,
        response: {
          200: Envelope(ref(Webhook)),
          ...errorsFor(400, 401, 403, 404),
        },
      },
    },
    async (request) => ({
      success: true as const,
      data: presentWebhook(await webhooks.update(owner(request), request.params.id, request.body), now()),
    }),
  );

  app.delete(
    '/webhooks/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Delete a webhook',
        description: 'With its delivery log; retries in flight are dropped.',
        security: bearer,
        params: IdParams,
        response: {
          204: Type.Null(),
          ...errorsFor(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      await webhooks.delete(owner(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/webhooks/:id/rotate-secret',
    {
      config,
      // The body is optional: no body means the defaults.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        summary: 'Rotate the signing secret',
        description:
          'Returns the new secret. Deliveries carry a signature with each secret (space-separated) until `previous_secret_hours` (default 24) have passed.',
        security: bearer,
        params: IdParams,
        body: RotateSecretBody,
        response: {
          200: Envelope(ref(WebhookWithSecret)),
          ...errorsFor(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const webhook = await webhooks.rotateSecret(
        owner(request),
        request.params.id,
        request.body.previous_secret_hours,
      );
      reply.header('cache-control', 'no-store');
      return { success: true as const, data: { ...presentWebhook(webhook, now()), secret: webhook.secret } };
    },
  );

  app.post(
    '/webhooks/:id/ping',
    {
      config,
      schema: {
        tags,
        summary: 'Send a ping event',
        description: 'Sent once, now, even to a disabled webhook: watch its delivery for the result.',
        security: bearer,
        params: IdParams,
        response: {
          202: Envelope(ref(WebhookDelivery)),
          ...errorsFor(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const delivery = await webhooks.ping(owner(request), request.params.id);
      reply.status(202);
      return { success: true as const, data: presentDelivery(delivery) };
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      config,
      schema: {
        tags,
        summary: "A webhook's delivery log",
        description: 'Newest first; kept 30 days.',
        security: bearer,
        params: IdParams,
        querystring: DeliveryListQuery,
        response: {
          200: ListEnvelope(ref(WebhookDelivery)),
          ...errorsFor(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const { page, limit } = pageOf(request.query);
      const { state, event_type } = request.query;
      const result = await webhooks.deliveries(
        owner(request),
        request.params.id,
        { state, eventType: event_type },
        { page, limit },
      );
      return {
        success: true as const,
        data: result.items.map(presentDelivery),
        meta: pageMeta(page, limit, result.total),
      };
    },
  );

  app.get(
    '/webhooks/:id/deliveries/:delivery_id',
    {
      config,
      schema: {
        tags,
        summary: 'One delivery, with the body sent and the response',
        security: bearer,
        params: DeliveryParams,
        response: {
          200: Envelope(ref(WebhookDeliveryDetail)),
          ...errorsFor(400, 401, 403, 404),
        },
      },
    },
    async (request) => ({
      success: true as const,
      data: presentDeliveryDetail(
        await webhooks.delivery(owner(request), request.params.id, request.params.delivery_id),
      ),
    }),
  );

  app.post(
    '/webhooks/:id/deliveries/:delivery_id/redeliver',
    {
      config,
      schema: {
        tags,
        summary: 'Send a delivery again',
        description:
          'Once, now, with the same body and webhook-id (receivers that drop repeats will drop it), even to a disabled webhook.',
        security: bearer,
        params: DeliveryParams,
        response: {
          202: Envelope(ref(WebhookDelivery)),
          ...errorsFor(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const delivery = await webhooks.redeliver(
        owner(request),
        request.params.id,
        request.params.delivery_id,
      );
      reply.status(202);
      return { success: true as const, data: presentDelivery(delivery) };
    },
  );
};

export default webhookRoutes;
