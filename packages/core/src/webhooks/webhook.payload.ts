import { createHmac, randomBytes } from 'node:crypto';
import { describeRecurrence, type RecurrenceBasis } from '../recurrence/recurrence';

/** A new signing secret: "whsec_" and 32 random bytes in base64, as Standard Webhooks defines it. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The Standard Webhooks signature of a message: `v1,` and the base64 HMAC-SHA256, keyed with the
 * secret's bytes, of "<id>.<timestamp>.<body>".
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A task's repeat as the API shows it: one `recurrence` object (or null) instead of two columns. */
function recurrenceOf(o: Record<string, unknown>): Record<string, unknown> {
  if (!('recurrenceRule' in o)) return o;
  const { recurrenceRule: rule, recurrenceBasis: basis, ...rest } = o;
  const r =
    typeof rule === 'string' && (basis === 'due' || basis === 'completion')
      ? { rule, basis: basis as RecurrenceBasis }
      : null;
  return { ...rest, recurrence: r && { ...r, description: describeRecurrence(r) } };
}

/** The event's data as the API shows it: snake_case keys, never the owner's id. */
function toWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(recurrenceOf(value as Record<string, unknown>))
        .filter(([k]) => k !== 'userId' && k !== 'searchVector')
        .map(([k, v]) => [snake(k), toWire(v)]),
    );
  }
  return value instanceof Date ? value.toISOString() : value;
}

/** The JSON body of a webhook delivery: {id, type, created_at, data}. */
export function webhookBody(event: {
  id: string;
  type: string;
  createdAt: Date | string;
  payload: unknown;
}): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    created_at: new Date(event.createdAt).toISOString(),
    data: toWire(event.payload),
  });
}
