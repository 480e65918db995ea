import { lookup } from 'node:dns/promises';
import { WEBHOOK_EVENT_TYPES, type WebhookDeliveryRow, type WebhookRow } from '../db/schema';
import type { TransactionRunner } from '../db/transaction';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { webhookAttemptKey } from '../jobs/handlers/send-webhook.handler';
import { type JobQueue, jobRequest } from '../jobs/job.queue';
import type { Clock } from '../lib/clock';
import { newId } from '../lib/ids';
import { isForbiddenAddress } from '../lib/ssrf';
import { charLength } from '../lib/text';
import type { Page, PageRequest } from '../repositories/pagination';
import type { UserRepository } from '../repositories/user.repository';
import type { DeliveryFilter, WebhookPatch, WebhookRepository } from '../repositories/webhook.repository';
import { newWebhookSecret, webhookBody } from '../webhooks/webhook.payload';
import { urlProblem } from '../webhooks/webhook.sender';
import type { AuditService } from './audit.service';

export const MAX_WEBHOOKS = 20;
/** How long the old secret keeps signing after a rotation, unless the caller says otherwise. */
export const DEFAULT_ROTATION_OVERLAP_HOURS = 24;
const DNS_TIMEOUT_MS = 2000;

export interface WebhookInput {
  url: string;
  events: readonly string[];
  active?: boolean | undefined;
  description?: string | null | undefined;
}

export type WebhookUpdate = Partial<WebhookInput>;

export interface WebhookServiceOptions {
  allowPrivate: boolean;
}

/**
 * A user's webhooks: registration (with the SSRF guard), the delivery log, pings, redeliveries and
 * secret rotation. Deliveries of events are created by the outbox relay and sent by send_webhook.
 */
export class WebhookService {
  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly queue: JobQueue,
    private readonly clock: Clock,
    private readonly opts: WebhookServiceOptions,
    private readonly transaction: TransactionRunner,
    private readonly users: UserRepository,
    private readonly audit: AuditService,
  ) {}

  /** Registers a webhook; the row returned holds its signing secret in clear (to show it once). */
  async create(userId: string, input: WebhookInput): Promise<WebhookRow> {
    const url = await this.checkUrl(input.url);
    const events = this.checkEvents(input.events);
    const description = this.checkDescription(input.description);
    return this.transaction(async (tx) => {
      const webhooks = this.webhooks.withTx(tx);
      // Counted and written under the user's row lock: concurrent creations cannot pass the limit.
      await this.users.withTx(tx).lockUser(userId);
      if ((await webhooks.count(userId)) >= MAX_WEBHOOKS)
        throw new ConflictError(`You have ${MAX_WEBHOOKS} webhooks already: delete one first`);
      const secret = newWebhookSecret();
      const created = await webhooks.insert({
        userId,
        url,
        events,
        secret,
        active: input.active ?? true,
        description,
      });
      // Stored sealed; the answer shows it in clear, this once.
      await this.audit.record(
        {
          action: 'webhook.created',
          targetType: 'webhook',
          targetId: created.id,
          details: { host: new URL(url).host, events },
        },
        tx,
      );
      return { ...created, secret };
    });
  }

  list(userId: string, page: PageRequest): Promise<Page<WebhookRow>> {
    return this.webhooks.list(userId, page);
  }

  async get(userId: string, id: string): Promise<WebhookRow> {
    const webhook = await this.webhooks.find(userId, id);
    if (!webhook) throw new NotFoundError('Webhook');
    return webhook;
  }

  async update(userId: string, id: string, input: WebhookUpdate): Promise<WebhookRow> {
    const patch: WebhookPatch = {};
    if (input.url !== undefined) patch.url = await this.checkUrl(input.url);
    if (input.events !== undefined) patch.events = this.checkEvents(input.events);
    if (input.description !== undefined) patch.description = this.checkDescription(input.description);
    if (input.active !== undefined) patch.active = input.active;
    if (Object.keys(patch).length === 0) return this.get(userId, id);
    const webhook = await this.webhooks.update(userId, id, patch);
    if (!webhook) throw new NotFoundError('Webhook');
    await this.audit.record({
      action: 'webhook.updated',
      targetType: 'webhook',
      targetId: id,
      details: { changed: Object.keys(patch) },
    });
    return webhook;
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await this.webhooks.delete(userId, id))) throw new NotFoundError('Webhook');
    await this.audit.record({ action: 'webhook.deleted', targetType: 'webhook', targetId: id });
  }

  /**
   * A new signing secret. The old one keeps signing too (a second signature in the header) for
   * `overlapHours`, so receivers can switch without dropping deliveries; 0 drops it at once. The
   * row returned holds the new secret in clear (to show it once); the previous one stays sealed.
   */
  async rotateSecret(
    userId: string,
    id: string,
    overlapHours = DEFAULT_ROTATION_OVERLAP_HOURS,
  ): Promise<WebhookRow> {
    const until = overlapHours > 0 ? new Date(this.clock.now().getTime() + overlapHours * 3_600_000) : null;
    const secret = newWebhookSecret();
    const webhook = await this.transaction((tx) =>
      this.webhooks.withTx(tx).rotateSecret(userId, id, secret, until),
    );
    if (!webhook) throw new NotFoundError('Webhook');
    await this.audit.record({
      action: 'webhook.secret_rotated',
      targetType: 'webhook',
      targetId: id,
      details: { overlap_hours: overlapHours },
    });
    return { ...webhook, secret };
  }

  /** Sends a `ping` event now (once, even to a disabled webhook): a way to test an endpoint. */
  async ping(userId: string, id: string): Promise<WebhookDeliveryRow> {
    const webhook = await this.get(userId, id);
    const eventId = newId();
    const body = webhookBody({
      id: eventId,
      type: 'ping',
      createdAt: this.clock.now(),
      payload: {
        webhookId: webhook.id,
        url: webhook.url,
        events: webhook.events,
        message: 'Taskman is sending events to this endpoint.',
      },
    });
    const deliveryId = await this.webhooks.upsertDelivery({
      webhookId: webhook.id,
      userId,
      eventId,
      eventType: 'ping',
      body,
    });
    await this.sendNow(deliveryId);
    return this.delivery(userId, id, deliveryId);
  }

  async deliveries(
    userId: string,
    id: string,
    filter: DeliveryFilter,
    page: PageRequest,
  ): Promise<Page<WebhookDeliveryRow>> {
    await this.get(userId, id);
    return this.webhooks.deliveries(userId, id, filter, page);
  }

  async delivery(userId: string, id: string, deliveryId: string): Promise<WebhookDeliveryRow> {
    const delivery = await this.webhooks.delivery(userId, id, deliveryId);
    if (!delivery) throw new NotFoundError('Delivery');
    return delivery;
  }

  /** Sends a delivery again, now, with the same body and webhook-id (a receiver may drop it as a repeat). */
  async redeliver(userId: string, id: string, deliveryId: string): Promise<WebhookDeliveryRow> {
    const delivery = await this.delivery(userId, id, deliveryId);
    await this.webhooks.markRedelivering(delivery.id);
    await this.sendNow(delivery.id);
    return { ...delivery, state: 'pending' };
  }

  private async sendNow(deliveryId: string): Promise<void> {
    await this.queue.enqueue([
      jobRequest(
        'send_webhook',
        { deliveryId, manual: true },
        // Every manual send is its own job, even two in the same millisecond (a double click).
        { key: `${webhookAttemptKey(deliveryId, 1)}.manual.${newId()}` },
      ),
    ]);
  }

  /**
   * Refuses URLs that reach this host or a private network (the SSRF guard, checked again on the
   * address connected to at every delivery): literal addresses in any spelling, and names that
   * resolve there now. A name that does not resolve yet is accepted; delivery checks it.
   */
  private async checkUrl(raw: string): Promise<string> {
    const problem = urlProblem(raw.trim(), this.opts.allowPrivate);
    if (problem) throw ValidationError.field('url', problem);
    // Stored as the URL parser writes it (http:x → http://x/, HTTP://H → http://h/).
    const url = new URL(raw.trim()).href;
    if (charLength(url) > 2000) throw ValidationError.field('url', 'must be at most 2000 characters');
    if (!this.opts.allowPrivate) {
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      const addresses = await Promise.race([
        lookup(host, { all: true }).catch(() => []),
        new Promise<[]>((resolve) => setTimeout(() => resolve([]), DNS_TIMEOUT_MS).unref()),
      ]);
      if (addresses.some((a) => isForbiddenAddress(a.address)))
        throw ValidationError.field(
          'url',
          `must not point to a private, loopback or link-local address (${host} resolves to one)`,
        );
    }
    return url;
  }

  private checkEvents(events: readonly string[]): string[] {
    const unique = [...new Set(events)];
    if (unique.length === 0) throw ValidationError.field('events', 'must name at least one event');
    const unknown = unique.find((e) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e));
    if (unknown)
      throw ValidationError.field(
        'events',
        `unknown event ${unknown}; one of ${WEBHOOK_EVENT_TYPES.join(', ')}`,
      );
    return WEBHOOK_EVENT_TYPES.filter((e) => unique.includes(e));
  }

  private checkDescription(description: string | null | undefined): string | null {
    const d = description?.trim();
    if (!d) return null;
    if (charLength(d) > 200) throw ValidationError.field('description', 'must be at most 200 characters');
    return d;
  }
}
