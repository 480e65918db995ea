import type { Clock } from '../../lib/clock';
import type { OutboxRepository } from '../../repositories/outbox.repository';
import type { ReminderRepository } from '../../repositories/reminder.repository';
import type { WebhookRepository } from '../../repositories/webhook.repository';
import type { AuthService } from '../../services/auth.service';
import type { IdempotencyService } from '../../services/idempotency.service';
import type { SignupService } from '../../services/signup.service';
import type { SyncService } from '../../services/sync.service';
import type { TaskService } from '../../services/task.service';
import { type JobHandler, PermanentJobError } from '../job.catalogue';
import type { JobQueue } from '../job.queue';

/** Published outbox events are kept this long (to look into a delivery), then deleted. */
export const OUTBOX_RETENTION_DAYS = 7;
/** The webhook delivery log keeps this many days. */
export const DELIVERY_LOG_RETENTION_DAYS = 30;

export interface CleanupDeps {
  tasks: TaskService;
  auth: AuthService;
  signups: SignupService;
  outbox: OutboxRepository;
  reminders: ReminderRepository;
  webhooks: WebhookRepository;
  sync: SyncService;
  idempotency: IdempotencyService;
  queue: JobQueue;
  clock: Clock;
  archiveAfterDays: number;
}

/**
 * cleanup_tasks: archives tasks completed long ago (nothing is deleted), then tidies what only
 * the system reads: published outbox events, expired token revocations, finished jobs, old reminder
 * delivery records, webhook deliveries older than 30 days, sync tombstones older than a cursor lives,
 * idempotency keys older than 24 hours. Idempotent: a second run finds nothing
 * more to do.
 */
export function cleanupTasksHandler(d: CleanupDeps): JobHandler<'cleanup_tasks'> {
  return async (payload) => {
    const days = payload.olderThanDays ?? d.archiveAfterDays;
    if (!Number.isInteger(days) || days < 1)
      throw new PermanentJobError('olderThanDays must be a whole number, at least 1');
    const now = d.clock.now().getTime();
    const cutoff = new Date(now - days * 86_400_000);
    const archived = await d.tasks.archiveCompletedBefore(cutoff);
    const outboxPurged = await d.outbox.purgePublishedBefore(
      new Date(now - OUTBOX_RETENTION_DAYS * 86_400_000),
    );
    const revocationsPurged = await d.auth.purgeExpiredRevocations(new Date(now));
    const jobsPurged = await d.queue.purge();
    // A delivery record only matters while its reminder could still be retried.
    const remindersPurged = await d.reminders.purgeBefore(new Date(now - 30 * 86_400_000));
    const deliveriesPurged = await d.webhooks.purgeDeliveriesBefore(
      new Date(now - DELIVERY_LOG_RETENTION_DAYS * 86_400_000),
    );
    const tombstonesPurged = await d.sync.purgeTombstones();
    const idempotencyKeysPurged = await d.idempotency.purge();
    const loginThrottlesPurged = await d.auth.purgeLoginThrottles();
    const signupRequestsPurged = await d.signups.purge();
    return {
      archived,
      completed_before: cutoff.toISOString(),
      outbox_events_purged: outboxPurged,
      revocations_purged: revocationsPurged,
      jobs_purged: jobsPurged,
      reminder_deliveries_purged: remindersPurged,
      webhook_deliveries_purged: deliveriesPurged,
      sync_tombstones_purged: tombstonesPurged,
      idempotency_keys_purged: idempotencyKeysPurged,
      login_throttles_purged: loginThrottlesPurged,
      signup_requests_purged: signupRequestsPurged,
    };
  };
}
