import type { Clock } from '../../lib/clock';
import type { Mailer } from '../../mail/mailer';
import { weeklyReportEmail } from '../../mail/weekly-report.email';
import type { UserRepository } from '../../repositories/user.repository';
import type { WeeklyReportRepository } from '../../repositories/weekly-report.repository';
import type { ReportService } from '../../services/report.service';
import type { JobHandler, JobResult } from '../job.catalogue';
import { type JobQueue, jobRequest } from '../job.queue';

export interface GenerateReportDeps {
  weekly: WeeklyReportRepository;
  users: UserRepository;
  reports: ReportService;
  queue: JobQueue;
  mailer: Mailer;
  clock: Clock;
  appUrl: string;
  leaseMs: number;
}

const addDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/**
 * generate_report. Without a user (run on a schedule): finds the users whose weekly report is due
 * and enqueues one job each, keyed by user and week. With a user and week: emails that user the
 * productivity report of the 7 days before their report day, once (a claim per user and week,
 * as reminders do), whatever the number of workers and retries.
 */
export function generateReportHandler(d: GenerateReportDeps): JobHandler<'generate_report'> {
  return async ({ userId, weekStart }): Promise<JobResult> => {
    const now = d.clock.now();
    if (!userId || !weekStart) {
      const due = await d.weekly.due(now);
      if (due.length)
        await d.queue.enqueue(
          due.map((r) => jobRequest('generate_report', r, { key: `report.${r.userId}.${r.weekStart}` })),
        );
      return { enqueued: due.length };
    }
    const user = await d.users.findById(userId);
    if (!user) return { skipped: 'user deleted' };
    if (user.weeklyReportDay === null) return { skipped: 'weekly report turned off' };
    const claim = await d.weekly.claim(userId, weekStart, now, new Date(now.getTime() + d.leaseMs));
    if (claim.state === 'sent') return { skipped: 'already sent' };
    // Another worker is sending it; if it dies, its lease runs out and this retry takes over.
    if (claim.state === 'busy') throw new Error('another worker holds this report');
    try {
      const sendDay = addDays(weekStart, user.weeklyReportDay - 1);
      const report = await d.reports.productivity(userId, {
        from: addDays(sendDay, -7),
        to: addDays(sendDay, -1),
      });
      await d.mailer.send(
        weeklyReportEmail({ to: user.email, userId, userName: user.name, report, appUrl: d.appUrl }),
      );
      await d.weekly.markSent(userId, weekStart, claim.token, d.clock.now());
      return { sent: true, from: report.from, to: report.to, completed: report.completed };
    } catch (err) {
      await d.weekly.release(userId, weekStart, claim.token).catch(() => {});
      throw err;
    }
  };
}
