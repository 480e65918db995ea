// The task views every client shows (Today, Upcoming, Overdue, Archived), defined once: the web app's
// sidebar and `taskman list today` ask the API the same question.
import { dayRange } from './dates';
import type { paths } from './schema';

/** The query of GET /api/v1/tasks. */
export type TaskQuery = NonNullable<paths['/api/v1/tasks']['get']['parameters']['query']>;

export const TASK_VIEWS = ['today', 'upcoming', 'overdue', 'all', 'archived'] as const;
export type TaskView = (typeof TASK_VIEWS)[number];

/**
 * The fixed part of a view's query, in the user's time zone: Today is what is due by the end of
 * today and not done (overdue included), Upcoming the next 7 days after today, Overdue what is past
 * due and not done, Archived the archive (latest first), All everything live.
 */
export function viewQuery(view: TaskView, timeZone: string, now = new Date()): TaskQuery {
  switch (view) {
    case 'today': {
      const { to } = dayRange(now, timeZone);
      return { due_before: to, status: ['todo', 'in_progress'], sort: 'due_date', order: 'asc' };
    }
    case 'upcoming': {
      const { from, to } = dayRange(now, timeZone, 8);
      return { due_after: from, due_before: to, sort: 'due_date', order: 'asc' };
    }
    case 'overdue':
      return { overdue: true, sort: 'due_date', order: 'asc' };
    case 'archived':
      return { archived: true, sort: 'updated_at', order: 'desc' };
    default:
      return {};
  }
}
