import { isForeignKeyViolation } from '../../db/errors';
import type { Clock } from '../../lib/clock';
import type { Mailer } from '../../mail/mailer';
import { reminderEmail } from '../../mail/reminder.email';
import type { ReminderRepository } from '../../repositories/reminder.repository';
import type { TaskRepository } from '../../repositories/task.repository';
import type { UserRepository } from '../../repositories/user.repository';
import { type JobHandler, type JobResult, PermanentJobError } from '../job.catalogue';

/** A reminder more than this late (the workers were down) is dropped rather than sent. */
export const REMINDER_STALE_MS = 24 * 3_600_000;

export interface SendReminderDeps {
  tasks: TaskRepository;
  users: UserRepository;
  reminders: ReminderRepository;
  mailer: Mailer;
  clock: Clock;
  appUrl: string;
  /** How long a claim holds off other workers; longer than a send can take (SMTP timeouts). */
  leaseMs: number;
}

/**
 * send_reminder: emails the owner, once. The job only says "remind about task T at time R"; the
 * task decides whether that still holds (not rescheduled, completed, archived or deleted), and the
 * delivery claim makes two workers, or a retry after a crash, send it once.
 */
export function sendReminderHandler(d: SendReminderDeps): JobHandler<'send_reminder'> {
  return async ({ taskId, remindAt }): Promise<JobResult> => {
    const at = new Date(remindAt);
    if (typeof taskId !== 'string' || Number.isNaN(at.getTime()))
      throw new PermanentJobError('send_reminder needs a taskId and an ISO remindAt');
    const task = await d.tasks.findForJob(taskId);
    if (!task) return { skipped: 'task deleted' };
    if (task.remindAt?.getTime() !== at.getTime()) return { skipped: 'reminder changed' };
    if (task.status === 'done') return { skipped: 'task completed' };
    if (task.archivedAt) return { skipped: 'task archived' };
    const now = d.clock.now();
    if (now.getTime() - at.getTime() > REMINDER_STALE_MS) return { skipped: 'too late' };
    const user = await d.users.findById(task.userId);
    if (!user) return { skipped: 'user deleted' };

    let claim: Awaited<ReturnType<ReminderRepository['claim']>>;
    try {
      claim = await d.reminders.claim(taskId, at, now, new Date(now.getTime() + d.leaseMs));
    } catch (err) {
      if (isForeignKeyViolation(err)) return { skipped: 'task deleted' };
      throw err;
    }
    if (claim.state === 'sent') return { skipped: 'already sent' };
    // Another worker holds it: try again later; by then it has been sent, or its lease ran out.
    if (claim.state === 'busy') throw new Error('another worker is sending this reminder');

    try {
      await d.mailer.send(
        reminderEmail({
          to: user.email,
          userName: user.name,
          timezone: user.timezone,
          task,
          remindAt: at,
          appUrl: d.appUrl,
        }),
      );
    } catch (err) {
      await d.reminders.release(taskId, at, claim.token).catch(() => {});
      throw err;
    }
    // Not recorded means another worker may send it again: the log line shows it (same Message-ID).
    const recorded = await d.reminders.markSent(taskId, at, claim.token, d.clock.now());
    return { sent: true, task_id: taskId, recorded };
  };
}
