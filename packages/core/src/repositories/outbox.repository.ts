import { and, asc, eq, gt, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type DomainEventType, type OutboxEventRow, outboxEvents } from '../db/schema';
import { newId } from '../lib/ids';
import { currentRequestId } from '../lib/request-context';
import { auditRowOfEvent } from '../services/audit.service';
import { AuditRepository } from './audit.repository';

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
    const requestId = currentRequestId() ?? null;
    // Every change to a task or project is in the audit log too, committed with it. Both inserts
    // are issued together: on PostgreSQL (pipeline mode, db/client.ts) they are written at once and
    // answered in one round trip; PGlite runs them one after the other.
    await Promise.all([
      this.db.insert(outboxEvents).values(events.map((e) => ({ id: newId(), requestId, ...e }))),
      new AuditRepository(this.db).append(events.map(auditRowOfEvent)),
    ]);
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
      .orderBy(asc(outboxEvents.seq))
      .limit(limit);
  }

  /**
   * Takes the oldest unpublished events for this transaction, if no other relay is publishing
   * right now: one relay at a time keeps the queue in the order of the changes.
   */
  async claimBatch(limit: number): Promise<OutboxEventRow[]> {
    const res = (await this.db.execute(
      sql`select pg_try_advisory_xact_lock(${RELAY_LOCK_ID}) as ok`,
    )) as unknown as {
      rows: { ok: boolean }[];
    };
    if (!res.rows[0]?.ok) return [];
    return this.db
      .select()
      .from(outboxEvents)
      .where(isNull(outboxEvents.publishedAt))
      .orderBy(asc(outboxEvents.seq))
      .limit(limit)
      .for('update', { skipLocked: true });
  }

  /**
   * Marks events published and gives each its place in the live stream, in seq order; returns the
   * stream position of each event by id.
   */
  async markPublished(ids: string[], at: Date): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const res = (await this.db.execute(sql`
      update outbox_events o set published_at = ${at.toISOString()}::timestamptz, stream_seq = n.s
      from (
        select id, nextval('outbox_stream_seq') as s
        from (select id from outbox_events where id in ${ids} order by seq) ordered
      ) n
      where o.id = n.id
      returning o.id, o.stream_seq`)) as unknown as { rows: { id: string; stream_seq: string | number }[] };
    return new Map(res.rows.map((r) => [r.id, Number(r.stream_seq)]));
  }

  /** A user's published events after a stream position, in stream order (to resume a live stream). */
  streamAfter(userId: string, after: number, limit: number): Promise<OutboxEventRow[]> {
    return this.db
      .select()
      .from(outboxEvents)
      .where(and(eq(outboxEvents.userId, userId), gt(outboxEvents.streamSeq, after)))
      .orderBy(asc(outboxEvents.streamSeq))
      .limit(limit);
  }

  /** The oldest stream position still kept (older ones were purged); undefined when none is. */
  async oldestStreamSeq(): Promise<number | undefined> {
    const [row] = await this.db
      .select({ s: sql<string | null>`min(${outboxEvents.streamSeq})` })
      .from(outboxEvents);
    return row?.s == null ? undefined : Number(row.s);
  }

  async countUnpublished(): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(outboxEvents)
      .where(isNull(outboxEvents.publishedAt));
    return row?.n ?? 0;
  }

  /** Deletes events published before `before` (cleanup_tasks); unpublished ones are never deleted. */
  async purgePublishedBefore(before: Date): Promise<number> {
    const rows = await this.db
      .delete(outboxEvents)
      .where(and(isNotNull(outboxEvents.publishedAt), lt(outboxEvents.publishedAt, before)))
      .returning({ id: outboxEvents.id });
    return rows.length;
  }
}

// Any constant works; it only has to be the same in every relay.
const RELAY_LOCK_ID = 727_274_003;
