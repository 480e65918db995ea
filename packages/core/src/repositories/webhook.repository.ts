import { and, count, desc, eq, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type WebhookDeliveryRow, type WebhookRow, webhookDeliveries, webhooks } from '../db/schema';
import { SealedValueError, SecretBox } from '../lib/encryption';
import { newId } from '../lib/ids';
import { offsetOf, type Page, type PageRequest } from './pagination';

export type WebhookPatch = Partial<Pick<WebhookRow, 'url' | 'events' | 'active' | 'description'>>;

export interface DeliveryFilter {
  state?: WebhookDeliveryRow['state'] | undefined;
  eventType?: string | undefined;
}

export interface AttemptOutcome {
  state: WebhookDeliveryRow['state'];
  status: number | null;
  durationMs: number;
  error: string | null;
  responseBody?: string | null;
  /** When the next automatic attempt is due (null: none). */
  nextAttemptAt?: Date | null;
}

export interface NewDelivery {
  webhookId: string;
  userId: string;
  eventId: string;
  eventType: string;
  body: string;
}

/** The columns that hold a webhook's signing secrets (the database's names). */
export type WebhookSecretColumn = 'secret' | 'previous_secret';

/** What a sealed webhook secret is bound to: its webhook and its column (a copy elsewhere does not open). */
export const webhookSecretAad = (webhookId: string, column: WebhookSecretColumn) =>
  `webhook:${webhookId}:${column}`;

/**
 * A secret stored in clear: rows written before secrets were sealed, or by a server with no
 * ENCRYPTION_KEY (cluster mode without one). `npm run rotate-encryption-key` seals them.
 */
export const isClearWebhookSecret = (stored: string) => stored.startsWith('whsec_');

/**
 * Webhooks and their deliveries. Queries that serve a user filter on the owner's id.
 *
 * Signing secrets are stored sealed with `box` (AES-256-GCM, bound to the webhook and the column):
 * the rows this repository returns hold them as stored, and only `openSecret` (the delivery job,
 * a rotation) turns one back into the clear "whsec_…" value. Without a box (cluster mode without
 * ENCRYPTION_KEY) they are stored in clear, as they were before.
 */
export class WebhookRepository {
  constructor(
    private readonly db: Executor,
    private readonly box?: SecretBox,
  ) {}

  withTx(tx: Executor): WebhookRepository {
    return new WebhookRepository(tx, this.box);
  }

  /** What to store for this clear secret of this webhook's column. */
  sealSecret(webhookId: string, column: WebhookSecretColumn, secret: string): string {
    return this.box ? this.box.seal(secret, webhookSecretAad(webhookId, column)) : secret;
  }

  /** The clear secret a stored value holds (a clear one as it is); throws naming the webhook, never the value. */
  openSecret(webhookId: string, column: WebhookSecretColumn, stored: string): string {
    if (isClearWebhookSecret(stored)) return stored;
    if (!SecretBox.isSealed(stored))
      throw new SealedValueError(`webhooks.${column} of webhook ${webhookId} is neither sealed nor a secret`);
    if (!this.box)
      throw new SealedValueError(
        `webhooks.${column} of webhook ${webhookId} is sealed, and this server has no ENCRYPTION_KEY`,
      );
    try {
      return this.box.open(stored, webhookSecretAad(webhookId, column));
    } catch (err) {
      throw new SealedValueError(`webhooks.${column} of webhook ${webhookId} ${(err as Error).message}`);
    }
  }

  /** Stores a new webhook; `secret` is the clear one (sealed here). The row returned holds it as stored. */
  async insert(
    row: Pick<WebhookRow, 'userId' | 'url' | 'events' | 'secret'> &
      Partial<Pick<WebhookRow, 'active' | 'description'>>,
  ): Promise<WebhookRow> {
    const id = newId();
    const [created] = await this.db
      .insert(webhooks)
      .values({ id, ...row, secret: this.sealSecret(id, 'secret', row.secret) })
      .returning();
    return created!;
  }

  async list(userId: string, page: PageRequest): Promise<Page<WebhookRow>> {
    const where = eq(webhooks.userId, userId);
    const [items, [total]] = await Promise.all([
      this.db
        .select()
        .from(webhooks)
        .where(where)
        .orderBy(desc(webhooks.createdAt), desc(webhooks.id))
        .limit(page.limit)
        .offset(offsetOf(page)),
      this.db.select({ n: count() }).from(webhooks).where(where),
    ]);
    return { items, total: total?.n ?? 0 };
  }

  async count(userId: string): Promise<number> {
    const [row] = await this.db.select({ n: count() }).from(webhooks).where(eq(webhooks.userId, userId));
    return row?.n ?? 0;
  }

  async find(userId: string, id: string): Promise<WebhookRow | undefined> {
    const [row] = await this.db
      .select()
      .from(webhooks)
      .where(and(eq(webhooks.id, id), eq(webhooks.userId, userId)));
    return row;
  }

  /** Turning a webhook on again clears why it was switched off. */
  async update(userId: string, id: string, patch: WebhookPatch): Promise<WebhookRow | undefined> {
    const [row] = await this.db
      .update(webhooks)
      .set({
        ...patch,
        ...(patch.active === true ? { disabledReason: null } : {}),
        updatedAt: sql`now()`,
      })
      .where(and(eq(webhooks.id, id), eq(webhooks.userId, userId)))
      .returning();
    return row;
  }

  async delete(userId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .delete(webhooks)
      .where(and(eq(webhooks.id, id), eq(webhooks.userId, userId)))
      .returning({ id: webhooks.id });
    return rows.length > 0;
  }

  /**
   * A new secret (clear; sealed here); the current one becomes the previous one and keeps signing
   * until `previousUntil`. Run it in a transaction: the row is locked while the current secret is
   * moved (opened and sealed again, bound to its new column; a clear one gets sealed on the way).
   */
  async rotateSecret(
    userId: string,
    id: string,
    secret: string,
    previousUntil: Date | null,
  ): Promise<WebhookRow | undefined> {
    const [current] = await this.db
      .select({ secret: webhooks.secret })
      .from(webhooks)
      .where(and(eq(webhooks.id, id), eq(webhooks.userId, userId)))
      .for('update');
    if (!current) return undefined;
    const previous = previousUntil
      ? this.sealSecret(id, 'previous_secret', this.openSecret(id, 'secret', current.secret))
      : null;
    const [row] = await this.db
      .update(webhooks)
      .set({
        secret: this.sealSecret(id, 'secret', secret),
        previousSecret: previous,
        previousSecretExpiresAt: previousUntil,
        updatedAt: sql`now()`,
      })
      .where(and(eq(webhooks.id, id), eq(webhooks.userId, userId)))
      .returning();
    return row;
  }

  async deliveries(
    userId: string,
    webhookId: string,
    filter: DeliveryFilter,
    page: PageRequest,
  ): Promise<Page<WebhookDeliveryRow>> {
    const conditions: SQL[] = [
      eq(webhookDeliveries.webhookId, webhookId),
      eq(webhookDeliveries.userId, userId),
    ];
    if (filter.state) conditions.push(eq(webhookDeliveries.state, filter.state));
    if (filter.eventType) conditions.push(eq(webhookDeliveries.eventType, filter.eventType));
    const where = and(...conditions);
    const [items, [total]] = await Promise.all([
      this.db
        .select()
        .from(webhookDeliveries)
        .where(where)
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
        .limit(page.limit)
        .offset(offsetOf(page)),
      this.db.select({ n: count() }).from(webhookDeliveries).where(where),
    ]);
    return { items, total: total?.n ?? 0 };
  }

  async delivery(userId: string, webhookId: string, id: string): Promise<WebhookDeliveryRow | undefined> {
    const [row] = await this.db
      .select()
      .from(webhookDeliveries)
      .where(
        and(
          eq(webhookDeliveries.id, id),
          eq(webhookDeliveries.webhookId, webhookId),
          eq(webhookDeliveries.userId, userId),
        ),
      );
    return row;
  }

  /** Gives up on a delivery without sending it (its webhook is off); the last attempt's figures stay. */
  async markNotSent(id: string, error: string): Promise<void> {
    await this.db
      .update(webhookDeliveries)
      .set({ state: 'failed', error, nextAttemptAt: null })
      .where(eq(webhookDeliveries.id, id));
  }

  /** A redelivery is on its way: the log shows the delivery pending until it has been made. */
  async markRedelivering(id: string): Promise<void> {
    await this.db.update(webhookDeliveries).set({ state: 'pending' }).where(eq(webhookDeliveries.id, id));
  }

  /** Forgets deliveries created before `before` (the log keeps 30 days); returns how many. */
  async purgeDeliveriesBefore(before: Date): Promise<number> {
    const rows = await this.db
      .delete(webhookDeliveries)
      .where(lt(webhookDeliveries.createdAt, before))
      .returning({ id: webhookDeliveries.id });
    return rows.length;
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

  async recordAttempt(id: string, outcome: AttemptOutcome, at: Date): Promise<void> {
    await this.db
      .update(webhookDeliveries)
      .set({
        state: outcome.state,
        responseStatus: outcome.status,
        durationMs: outcome.durationMs,
        error: outcome.error,
        responseBody: outcome.responseBody ?? null,
        nextAttemptAt: outcome.nextAttemptAt ?? null,
        attempts: sql`${webhookDeliveries.attempts} + 1`,
        lastAttemptAt: at,
      })
      .where(eq(webhookDeliveries.id, id));
  }

  /** Switches a webhook off; true if this call did it (it was on), so its owner is told once. */
  async disable(id: string, reason: string): Promise<boolean> {
    const rows = await this.db
      .update(webhooks)
      .set({ active: false, disabledReason: reason, updatedAt: sql`now()` })
      .where(and(eq(webhooks.id, id), eq(webhooks.active, true)))
      .returning({ id: webhooks.id });
    return rows.length > 0;
  }
}
