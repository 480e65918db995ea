import {
  DELIVERY_STATES,
  WEBHOOK_EVENT_TYPES,
  type WebhookDeliveryRow,
  type WebhookRow,
} from '@taskman/core';
import { type Static, Type } from 'typebox';
import { DateTime, iso, isoOrNull, literals, Nullable, PageQuery, Uuid } from '../../schemas/common';

const EventType = literals(WEBHOOK_EVENT_TYPES);

export const Webhook = Type.Object(
  {
    id: Uuid,
    url: Type.String({ format: 'uri' }),
    description: Nullable(Type.String()),
    events: Type.Array(EventType),
    active: Type.Boolean(),
    disabled_reason: Nullable(
      Type.String({
        description: 'Why Taskman switched it off (410 Gone, every retry failed); null when on',
      }),
    ),
    previous_secret_expires_at: Nullable(
      Type.String({
        format: 'date-time',
        description: 'After a rotation: until when the old secret also signs',
      }),
    ),
    created_at: DateTime,
    updated_at: DateTime,
  },
  { $id: 'Webhook', title: 'Webhook' },
);
export type WebhookJson = Static<typeof Webhook>;

export const WebhookWithSecret = Type.Object(
  {
    ...Webhook.properties,
    secret: Type.String({
      description:
        'The Standard Webhooks signing secret ("whsec_" + base64): shown on creation and rotation only',
    }),
  },
  { $id: 'WebhookWithSecret', title: 'WebhookWithSecret' },
);

export function presentWebhook(w: WebhookRow, now: Date): WebhookJson {
  return {
    id: w.id,
    url: w.url,
    description: w.description,
    events: w.events as WebhookJson['events'],
    active: w.active,
    disabled_reason: w.active ? null : w.disabledReason,
    previous_secret_expires_at:
      w.previousSecret && w.previousSecretExpiresAt && w.previousSecretExpiresAt > now
        ? iso(w.previousSecretExpiresAt)
        : null,
    created_at: iso(w.createdAt),
    updated_at: iso(w.updatedAt),
  };
}

export const WebhookDelivery = Type.Object(
  {
    id: Uuid,
    event_id: Uuid,
    event_type: Type.String(),
    state: literals(DELIVERY_STATES, {
      description: 'pending (being sent or waiting for a retry), succeeded, failed (gave up)',
    }),
    attempts: Type.Integer({ minimum: 0 }),
    response_status: Nullable(Type.Integer()),
    duration_ms: Nullable(Type.Integer()),
    error: Nullable(Type.String()),
    created_at: DateTime,
    last_attempt_at: Nullable(DateTime),
    next_attempt_at: Nullable(DateTime),
  },
  { $id: 'WebhookDelivery', title: 'WebhookDelivery' },
);
type DeliveryJson = Static<typeof WebhookDelivery>;

export const WebhookDeliveryDetail = Type.Object(
  {
    ...WebhookDelivery.properties,
    request_body: Type.String({ description: 'The exact JSON body sent (what the signature covers)' }),
    response_body: Nullable(
      Type.String({ description: 'The start of the last response body (up to 4 KiB)' }),
    ),
  },
  { $id: 'WebhookDeliveryDetail', title: 'WebhookDeliveryDetail' },
);

export function presentDelivery(d: WebhookDeliveryRow): DeliveryJson {
  return {
    id: d.id,
    event_id: d.eventId,
    event_type: d.eventType,
    state: d.state,
    attempts: d.attempts,
    response_status: d.responseStatus,
    duration_ms: d.durationMs,
    error: d.error,
    created_at: iso(d.createdAt),
    last_attempt_at: isoOrNull(d.lastAttemptAt),
    next_attempt_at: isoOrNull(d.nextAttemptAt),
  };
}

export const presentDeliveryDetail = (d: WebhookDeliveryRow) => ({
  ...presentDelivery(d),
  request_body: d.body,
  response_body: d.responseBody,
});

const Url = Type.String({
  minLength: 1,
  maxLength: 2000,
  description: 'http(s) URL that receives the events',
});
const Events = Type.Array(EventType, { minItems: 1, maxItems: 50 });
const Description = Nullable(Type.String({ maxLength: 400, description: 'A label; up to 200 characters' }));

export const WebhookCreateBody = Type.Object(
  {
    url: Url,
    events: Events,
    active: Type.Optional(Type.Boolean({ default: true })),
    description: Type.Optional(Description),
  },
  { additionalProperties: false },
);

export const WebhookPatchBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    active: Type.Optional(Type.Boolean({ description: 'true turns a disabled webhook back on' })),
    description: Type.Optional(Description),
  },
  { additionalProperties: false },
);

export const RotateSecretBody = Type.Object(
  {
    previous_secret_hours: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 168,
        default: 24,
        description: 'How long the old secret keeps signing alongside the new one (0: stop at once)',
      }),
    ),
  },
  { additionalProperties: false },
);

const Paging = { page: PageQuery.page, limit: PageQuery.limit };

export const WebhookListQuery = Type.Object(Paging, { additionalProperties: false });

export const DeliveryListQuery = Type.Object(
  {
    ...Paging,
    state: Type.Optional(literals(DELIVERY_STATES)),
    event_type: Type.Optional(Type.String({ maxLength: 50 })),
  },
  { additionalProperties: false },
);

export const DeliveryParams = Type.Object({ id: Uuid, delivery_id: Uuid }, { additionalProperties: false });
