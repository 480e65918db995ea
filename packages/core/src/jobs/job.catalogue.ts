/**
 * The typed job catalogue (DESIGN.md): every job name with its payload type. A job is listed here
 * only once its handler exists; `assertHandlers` makes a process refuse to start when a listed job
 * has no handler or a handler has no job. Every job of the brief is here.
 */
export interface JobPayloads {
  /** Email the owner of a task its reminder for `remindAt` (ISO 8601), unless it no longer applies. */
  send_reminder: { taskId: string; remindAt: string };
  /**
   * One attempt to deliver an event to a webhook (the delivery row holds the body, the webhook the
   * URL and secret). `attempt` counts from 1 along WEBHOOK_RETRY_SCHEDULE; a `manual` attempt (a
   * ping or a redelivery) is made once, even to a disabled webhook, and schedules no retries.
   */
  send_webhook: { deliveryId: string; attempt?: number; manual?: boolean };
  /** Archive tasks completed more than `olderThanDays` (default ARCHIVE_AFTER_DAYS) days ago, and tidy up. */
  cleanup_tasks: { olderThanDays?: number };
  /**
   * Without a user: find whose weekly report is due and enqueue theirs (run every 15 minutes).
   * With one: email them their weekly productivity report for the week starting `weekStart`.
   */
  generate_report: { userId?: string; weekStart?: string };
  /**
   * Without a connection: find the CalDAV connections whose periodic sync is due and enqueue
   * theirs (run every 5 minutes). With one: sync it, both ways.
   */
  sync_calendar: { connectionId?: string };
}

export type JobName = keyof JobPayloads;
export const JOB_NAMES: readonly JobName[] = [
  'send_reminder',
  'send_webhook',
  'cleanup_tasks',
  'generate_report',
  'sync_calendar',
];

/** What a job's run reports (logged, kept with the job, and printed by `npm run job`). */
export type JobResult = Record<string, number | string | boolean>;

/** Which attempt a run is: a handler can do something different on the last one. */
export interface JobContext {
  attempt: number;
  attempts: number;
}

export type JobHandler<N extends JobName> = (
  payload: JobPayloads[N],
  context?: JobContext,
) => Promise<JobResult>;
export type JobHandlers = { [N in JobName]: JobHandler<N> };

export function isJobName(name: string): name is JobName {
  return (JOB_NAMES as readonly string[]).includes(name);
}

/** Throws unless every job of the catalogue has exactly one handler and no handler is unknown. */
export function assertHandlers(handlers: Record<string, unknown>): asserts handlers is JobHandlers {
  const missing = JOB_NAMES.filter((n) => typeof handlers[n] !== 'function');
  const unknown = Object.keys(handlers).filter((n) => !isJobName(n));
  if (missing.length || unknown.length) {
    throw new Error(
      `job catalogue and handlers disagree: ${[
        missing.length ? `no handler for ${missing.join(', ')}` : '',
        unknown.length ? `handlers for unknown jobs ${unknown.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')}`,
    );
  }
}

/** A job that must not be retried: its input can never succeed (e.g. a malformed payload). */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}
