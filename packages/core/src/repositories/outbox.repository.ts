import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type DomainEventType, type OutboxEventRow, outboxEvents } from '../db/schema';
import { newId } from '../lib/ids';

/** A domain event as a service records it; the outbox gives it an id and a time. */
export interface DomainEvent {
  type: DomainEventType;
  userId: string;
  aggregateId: string;
  payload: Record<string, unknown>;
}

/** The outbox table; services append to it inside the transaction of the change. */
export class OutboxRepository {
  constructor(private readonly db: Executor) {}

  withTx(tx: Executor): OutboxRepository {
    return new OutboxRepository(tx);
  }

  async append(events: DomainEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.insert(outboxEvents).values(events.map((e) => ({ id: newId(), ...e })));
  }

  /** Events not yet published, oldest first (for the relay, and for tests). */
  unpublished(limit = 100, userId?: string): Promise<OutboxEventRow[]> {
    return this.db
      .select()
      .from(outboxEvents)
      .where(
        userId
          ? and(isNull(outboxEvents.publishedAt), eq(outboxEvents.userId, userId))
          : isNull(outboxEvents.publishedAt),
      )
      .orderBy(asc(outboxEvents.createdAt), asc(outboxEvents.id))
      .limit(limit);
  }
}
