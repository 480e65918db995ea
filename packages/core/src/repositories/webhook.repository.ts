import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type WebhookDeliveryRow, type WebhookRow, webhookDeliveries, webhooks } from '../db/schema';
import { newId } from '../lib/ids';

export interface NewDelivery {
  webhookId: string;
  userId: string;
  eventId: string;
  eventType: string;
  body: string;
}

/** Webhooks and their deliveries. Queries that serve a user filter on the owner's id. */
export class WebhookRepository {
  constructor(private readonly db: Executor) {}

  withTx(tx: Executor): WebhookRepository {
    return new WebhookRepository(tx);
  }

  async insert(row: Pick<WebhookRow, 'userId' | 'url' | 'events' | 'secret'>): Promise<WebhookRow> {
    const [created] = await this.db
      .insert(webhooks)
      .values({ id: newId(), ...row })
      .returning();
    return created!;
  }

  /** The active webhooks of these users (the relay's fan-out of a batch of events). */
  activeFor(userIds: string[]): Promise<WebhookRow[]> {
    if (userIds.length === 0) return Promise.resolve([]);
    return this.db
      .select()
      .from(webhooks)
      .where(and(inArray(webhooks.userId, userIds), eq(webhooks.active, true)));
  }

  /** Creates the delivery of an event to a webhook, or returns the one that exists (a re-published event). */
  async upsertDelivery(d: NewDelivery): Promise<string> {
    const [row] = await this.db
      .insert(webhookDeliveries)
      .values({ id: newId(), ...d })
      .onConflictDoUpdate({
        target: [webhookDeliveries.webhookId, webhookDeliveries.eventId],
        set: { eventType: sql`excluded.event_type` },
      })
      .returning({ id: webhookDeliveries.id });
    return row!.id;
  }

  /** A delivery with its webhook, for the job that sends it (system use, not from a request). */
  async deliveryForJob(
    id: string,
  ): Promise<{ delivery: WebhookDeliveryRow; webhook: WebhookRow } | undefined> {
    const [row] = await this.db
      .select({ delivery: webhookDeliveries, webhook: webhooks })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(eq(webhookDeliveries.id, id));
    return row;
  }

  async recordAttempt(
    id: string,
    outcome: {
      state: WebhookDeliveryRow['state'];
      status: number | null;
      durationMs: number;
      error: string | null;
    },
    at: Date,
  ): Promise<void> {
    await this.db
      .update(webhookDeliveries)
      .set({
        state: outcome.state,
        responseStatus: outcome.status,
        durationMs: outcome.durationMs,
        error: outcome.error,
        attempts: sql`${webhookDeliveries.attempts} + 1`,
        lastAttemptAt: at,
      })
      .where(eq(webhookDeliveries.id, id));
  }

  async disable(id: string, reason: string): Promise<void> {
    await this.db
      .update(webhooks)
      .set({ active: false, disabledReason: reason, updatedAt: sql`now()` })
      .where(eq(webhooks.id, id));
  }
}
