// API keys, webhooks, the calendar feed and CalDAV connections: their queries, the scopes and events they offer, and the wording of times.
import { useQuery } from '@tanstack/react-query';
import { expectOk, type Schemas, TaskmanError, unwrap, unwrapBody } from '@taskman/sdk';
import { api, fieldError, messageOf } from './api';

export type ApiKey = Schemas['ApiKey'];
export type Scope = ApiKey['scopes'][number];
export type Webhook = Schemas['Webhook'];
export type WebhookEvent = Webhook['events'][number];
export type Delivery = Schemas['WebhookDelivery'];
export type DeliveryDetail = Schemas['WebhookDeliveryDetail'];
export type DeliveryState = Delivery['state'];

export const SCOPES: { value: Scope; description: string }[] = [
  { value: 'tasks:read', description: 'Read tasks' },
  { value: 'tasks:write', description: 'Create, change and delete tasks (reading included)' },
  { value: 'projects:read', description: 'Read projects' },
  { value: 'projects:write', description: 'Create, change and delete projects (reading included)' },
  { value: 'webhooks:manage', description: 'Register webhooks and read their delivery logs' },
  { value: 'reports:read', description: 'Read reports' },
];

/**
 * The events a webhook can subscribe to. `ping` is left out: Send ping delivers one whatever the
 * webhook subscribes to, so a box for it would mean nothing (a webhook that has it keeps it).
 */
export const EVENTS: { value: WebhookEvent; description: string }[] = [
  { value: 'task.created', description: 'A task is added' },
  { value: 'task.updated', description: 'A task changes' },
  { value: 'task.completed', description: 'A task is marked done' },
  { value: 'task.deleted', description: 'A task is deleted' },
  { value: 'project.created', description: 'A project is added' },
  { value: 'project.updated', description: 'A project changes' },
  { value: 'project.deleted', description: 'A project is deleted' },
];

export function useApiKeys() {
  return useQuery({
    queryKey: ['api-keys'],
    queryFn: async () =>
      (await unwrapBody(api.GET('/api/v1/api-keys', { params: { query: { limit: 100 } } }))).data,
  });
}

export type FeedStatus = { active: boolean; created_at: string | null };

/** Whether the user has a calendar feed URL, and since when (the URL itself is shown only once). */
export function useCalendarFeed() {
  return useQuery({
    queryKey: ['calendar-feed'],
    queryFn: (): Promise<FeedStatus> => unwrap(api.GET('/api/v1/calendar/feed')),
  });
}

export type CalendarConnection = Schemas['CalendarConnection'];

/** A "Sync now" asked for: the connection's `last_sync_at` at that moment, and when (ms). */
export type SyncRequest = { before: string | null; at: number };

/** How long a sync is shown as running before the page stops waiting for its outcome. */
const SYNC_WAIT_MS = 2 * 60_000;

/**
 * Whether a sync is under way, as far as the page can tell (the API has no "running" state): one
 * was asked for and the connection has not recorded an outcome since, or a new connection's first
 * sync has not ended yet.
 */
export function isSyncing(
  c: CalendarConnection,
  request: SyncRequest | undefined,
  now = Date.now(),
): boolean {
  if (request && now - request.at < SYNC_WAIT_MS && c.last_sync_at === request.before) return true;
  return c.last_sync_at === null && now - Date.parse(c.created_at) < SYNC_WAIT_MS;
}

/**
 * The connected CalDAV calendars and how their sync goes. Given the syncs asked for (the section
 * that shows them), looked at every 1.5 s while a sync is under way, to show its outcome, and every
 * minute otherwise, as periodic syncs run in the background.
 */
export function useCalendarConnections(requests?: Record<string, SyncRequest>) {
  return useQuery({
    queryKey: ['calendar-connections'],
    queryFn: () => unwrap(api.GET('/api/v1/calendar/connections')),
    refetchInterval: (query) => {
      const list = query.state.data;
      if (!requests || !list?.length) return false;
      return list.some((c) => isSyncing(c, requests[c.id])) ? 1500 : 60_000;
    },
  });
}

export type ConnectBody = { server_url: string; username: string; password: string; calendar_url?: string };

/** Signs in to the CalDAV server, finds the calendar and starts a first sync (201). */
export const connectCalendar = (body: ConnectBody) =>
  unwrap(api.POST('/api/v1/calendar/connections', { body }));

/** Asks for a sync now (202): it runs in the background, the connection records its outcome. */
export const syncCalendarNow = (id: string) =>
  unwrap(api.POST('/api/v1/calendar/connections/{id}/sync', { params: { path: { id } } }));

/** Stops syncing (what is in the calendar stays); already gone counts as done. */
export const disconnectCalendar = (id: string) =>
  expectOk(api.DELETE('/api/v1/calendar/connections/{id}', { params: { path: { id } } })).catch((err) => {
    if (!(err instanceof TaskmanError && err.status === 404)) throw err;
  });

/** A connection's name: the calendar's display name, else the last part of its URL. */
export function calendarName(c: CalendarConnection): string {
  if (c.display_name?.trim()) return c.display_name.trim();
  const last = c.calendar_url.split('/').filter(Boolean).at(-1) ?? c.calendar_url;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

export function useWebhooks() {
  return useQuery({
    queryKey: ['webhooks'],
    queryFn: async () =>
      (await unwrapBody(api.GET('/api/v1/webhooks', { params: { query: { limit: 100 } } }))).data,
  });
}

/**
 * How soon to look again at deliveries: every 1.5 s while one is being sent (pending with no retry
 * planned, or a retry due now), at its next retry while one waits for it, never when all are done.
 */
export function pollInterval(deliveries: Delivery[] | undefined, now = Date.now()): number | false {
  const pending = deliveries?.filter((d) => d.state === 'pending') ?? [];
  if (pending.length === 0) return false;
  const soonest = Math.min(
    ...pending.map((d) => (d.next_attempt_at ? Date.parse(d.next_attempt_at) - now : 0)),
  );
  return Math.min(Math.max(soonest + 1000, 1500), 60_000);
}

export type DeliveryPage = { data: Delivery[]; meta: { page: number; total: number; total_pages: number } };

export function useDeliveries(webhookId: string, filter: { state?: DeliveryState; page: number }) {
  return useQuery({
    queryKey: ['webhook-deliveries', webhookId, filter],
    queryFn: () =>
      unwrapBody(
        api.GET('/api/v1/webhooks/{id}/deliveries', {
          params: { path: { id: webhookId }, query: { limit: 20, ...filter } },
        }),
      ) as Promise<DeliveryPage>,
    placeholderData: (previous) => previous,
    staleTime: 0,
    refetchInterval: (query) => pollInterval(query.state.data?.data),
  });
}

export function useDelivery(webhookId: string, deliveryId: string) {
  return useQuery({
    queryKey: ['webhook-delivery', webhookId, deliveryId],
    queryFn: () =>
      unwrap(
        api.GET('/api/v1/webhooks/{id}/deliveries/{delivery_id}', {
          params: { path: { id: webhookId, delivery_id: deliveryId } },
        }),
      ),
    staleTime: 0,
    refetchInterval: (query) => pollInterval(query.state.data ? [query.state.data] : undefined),
  });
}

/** "just now", "5 minutes ago", "in 3 days", "15 Jan", "15 Jan 2031": an instant, near or far. */
export function relativeTime(iso: string, timeZone: string, now = new Date()): string {
  const at = new Date(iso);
  const seconds = (at.getTime() - now.getTime()) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 45) return seconds < 0 ? 'just now' : 'in a few seconds';
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 31 * 86_400) return rtf.format(Math.round(seconds / 86_400), 'day');
  return new Intl.DateTimeFormat(undefined, {
    timeZone,
    day: 'numeric',
    month: 'short',
    ...(at.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }),
  }).format(at);
}

/** "15 Jan 2031, 17:00": the whole instant, for a tooltip or a detail. */
export function fullTime(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat(undefined, {
    timeZone,
    dateStyle: 'medium',
    timeStyle: 'medium',
  }).format(new Date(iso));
}

/** A body for reading: JSON indented, anything else as it came. */
export function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** A validation error found before asking the server, shaped as the server's own. */
export function invalid(details: { field: string; message: string }[]): TaskmanError {
  return new TaskmanError(400, 'VALIDATION_ERROR', 'Check the fields marked below.', details);
}

/** A field's problem as a sentence under it: "must be an absolute URL" → "Must be an absolute URL". */
export function fieldProblem(err: unknown, field: string): string | undefined {
  const message = fieldError(err, field);
  return message && message[0]!.toUpperCase() + message.slice(1);
}

/**
 * The message at the top of a form: a pointer to the fields when every problem is shown next to
 * one of them, else what went wrong.
 */
export function formProblem(err: unknown, fields: string[]): string | undefined {
  if (err === undefined) return undefined;
  if (err instanceof TaskmanError && err.details.length && err.details.every((d) => fields.includes(d.field)))
    return 'Please check the fields marked below.';
  return messageOf(err);
}
