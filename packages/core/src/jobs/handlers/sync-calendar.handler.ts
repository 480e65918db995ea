import type { Clock } from '../../lib/clock';
import type { CalendarConnectionRepository } from '../../repositories/calendar-connection.repository';
import type { CalendarConnectionService } from '../../services/calendar-connection.service';
import type { JobHandler, JobResult } from '../job.catalogue';
import { type JobQueue, jobRequest } from '../job.queue';

/**
 * sync_calendar. Without a connection (every 5 minutes): enqueues the syncs that are due, which
 * pulls what changed in the calendar apps. With one: syncs it both ways; a failure is recorded on
 * the connection (the user sees it) and thrown, so the queue retries with backoff, and the next
 * periodic sync waits longer after each failure in a row.
 */
export function syncCalendarHandler(d: {
  connections: CalendarConnectionRepository;
  calendars: CalendarConnectionService;
  queue: JobQueue;
  clock: Clock;
}): JobHandler<'sync_calendar'> {
  return async ({ connectionId }): Promise<JobResult> => {
    if (!connectionId) {
      const now = d.clock.now();
      const due = await d.connections.due(now);
      if (due.length)
        await d.queue.enqueue(
          due.map((c) =>
            jobRequest(
              'sync_calendar',
              { connectionId: c.id },
              { key: `calsync.${c.id}.periodic.${Math.floor(now.getTime() / 60_000)}` },
            ),
          ),
        );
      return { enqueued: due.length };
    }
    const result = await d.calendars.sync(connectionId);
    return result ?? { skipped: 'connection deleted' };
  };
}
