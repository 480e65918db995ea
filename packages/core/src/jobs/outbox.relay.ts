import { setTimeout as sleep } from 'node:timers/promises';
import type { Executor } from '../db/client';
import type { TransactionRunner } from '../db/transaction';
import type { EventBus, LiveEvent } from '../events/event-bus';
import type { Clock } from '../lib/clock';
import type { Log } from '../lib/log';
import type { CalendarConnectionRepository } from '../repositories/calendar-connection.repository';
import type { OutboxRepository } from '../repositories/outbox.repository';
import type { WebhookRepository } from '../repositories/webhook.repository';
import { calendarPushJob } from '../services/calendar-connection.service';
import { webhookBody } from '../webhooks/webhook.payload';
import { queueOpsForEvent } from './event.jobs';
import { errorSummary, type JobQueue, type JobRequest, jobRequest } from './job.queue';

export interface RelayOptions {
  pollMs: number;
  batchSize: number;
  /** The first entry of WEBHOOK_RETRY_SCHEDULE: how long after the event the first attempt goes. */
  webhookFirstDelayMs?: number;
}

/**
 * The outbox relay: moves domain events from the outbox table to the job queue and marks them
 * published, in one database transaction per batch. If the queue is unreachable (Redis down) the
 * transaction rolls back and the events wait; they are published when it is back. Delivery is at
 * least once (a crash between enqueue and commit publishes a batch again); job keys and the
 * handlers' own checks make a repeat harmless.
 */
export class OutboxRelay {
  private stopping = false;
  private wake: () => void = () => {};
  private loop: Promise<void> | undefined;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly webhooks: WebhookRepository,
    private readonly transaction: TransactionRunner,
    private readonly queue: JobQueue,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly opts: RelayOptions,
    /** Who has CalDAV calendars: their task changes are pushed by a sync_calendar job. */
    private readonly calendars?: CalendarConnectionRepository,
    /** Live streams (GET /events): told of each event once it is published. */
    private readonly bus?: EventBus,
  ) {}

  /** Publishes one batch; returns how many events it published (0: none waiting, or another relay is at it). */
  async publishBatch(): Promise<number> {
    const live: LiveEvent[] = [];
    const published = await this.transaction(async (tx) => {
      const outbox = this.outbox.withTx(tx);
      const events = await outbox.claimBatch(this.opts.batchSize);
      if (events.length === 0) return 0;
      const webhooks = this.webhooks.withTx(tx);
      const userIds = [...new Set(events.map((e) => e.userId))];
      const hooks = await webhooks.activeFor(userIds);
      const calendarsOf = new Map<string, string[]>();
      // In the relay's transaction (PGlite has one connection: a query outside it would wait for ever).
      for (const c of (await this.calendars?.withTx(tx as Executor).forUsers(userIds)) ?? [])
        calendarsOf.set(c.userId, [...(calendarsOf.get(c.userId) ?? []), c.id]);
      // Adds are sent in runs between cancels, so the queue sees the changes in their order.
      let adds: JobRequest[] = [];
      const flush = async () => {
        if (adds.length) await this.queue.enqueue(adds, tx as Executor);
        adds = [];
      };
      for (const event of events) {
        // Each job an event leads to logs the request that made the change.
        const add = (r: JobRequest) => adds.push(event.requestId ? { ...r, requestId: event.requestId } : r);
        for (const op of queueOpsForEvent(event)) {
          if ('add' in op) add(op.add);
          else {
            await flush();
            await this.queue.cancel(op.cancel.name, op.cancel.key, tx as Executor);
          }
        }
        // A task change is pushed to the user's calendars within seconds.
        if (event.type.startsWith('task.'))
          for (const connectionId of calendarsOf.get(event.userId) ?? [])
            add(
              jobRequest('sync_calendar', { connectionId }, calendarPushJob(connectionId, this.clock.now())),
            );
        // Each subscribed webhook gets a delivery (its body fixed now) and a job to send it.
        for (const hook of hooks) {
          if (hook.userId !== event.userId || !hook.events.includes(event.type)) continue;
          const deliveryId = await webhooks.upsertDelivery({
            webhookId: hook.id,
            userId: event.userId,
            eventId: event.id,
            eventType: event.type,
            body: webhookBody(event),
          });
          const first = this.opts.webhookFirstDelayMs ?? 0;
          add(
            jobRequest(
              'send_webhook',
              { deliveryId },
              {
                key: `webhook.${deliveryId}`,
                ...(first > 0 ? { runAt: new Date(this.clock.now().getTime() + first) } : {}),
              },
            ),
          );
        }
      }
      await flush();
      const positions = await outbox.markPublished(
        events.map((e) => e.id),
        this.clock.now(),
      );
      for (const event of events)
        live.push({
          id: positions.get(event.id)!,
          userId: event.userId,
          type: event.type,
          body: webhookBody(event),
        });
      return events.length;
    });
    // After the commit: a stream never shows what might still roll back. A stream that misses
    // these (Redis down) finds them when it reconnects with Last-Event-ID.
    if (live.length && this.bus)
      await this.bus
        .publish(live)
        .catch((err) =>
          this.log.warn({ err: errorSummary(err) }, 'outbox relay: could not tell the live streams'),
        );
    return published;
  }

  /** Publishes until stopped: drains what is waiting, then looks again every pollMs (or when poked). */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = (async () => {
      let failures = 0;
      while (!this.stopping) {
        let published = 0;
        try {
          published = await this.publishBatch();
          if (failures > 0) this.log.info({ failures }, 'outbox relay: publishing again');
          failures = 0;
        } catch (err) {
          failures++;
          // Once, and then every 30th failure: an outage must not flood the log.
          if (failures === 1 || failures % 30 === 0)
            this.log.warn(
              { err: errorSummary(err), failures },
              'outbox relay: could not publish; will retry',
            );
        }
        if (published > 0 && !this.stopping) continue;
        const ac = new AbortController();
        this.wake = () => ac.abort();
        const delay = failures ? Math.min(this.opts.pollMs * 2 ** failures, 10_000) : this.opts.pollMs;
        await sleep(delay, undefined, { signal: ac.signal }).catch(() => {});
      }
    })();
  }

  /** Events written but not yet published. */
  pending(): Promise<number> {
    return this.outbox.countUnpublished();
  }

  /** Looks for events now rather than at the next poll. */
  poke(): void {
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    this.loop = undefined;
  }
}
