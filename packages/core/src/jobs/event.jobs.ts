import type { OutboxEventRow } from '../db/schema';
import type { JobName } from './job.catalogue';
import { type JobRequest, jobRequest } from './job.queue';

/** The one job of a task's reminder at a time: adding it twice is one job. */
export const reminderKey = (taskId: string, at: Date | string) =>
  `reminder.${taskId}.${new Date(at).getTime()}`;

export type QueueOp = { add: JobRequest } | { cancel: { name: JobName; key: string } };

/** The parts of a task the relay reads from an event payload (JSON: dates are strings). */
interface TaskSnapshot {
  id: string;
  status: string;
  remindAt: string | null;
  archivedAt: string | null;
}

/**
 * What the queue must do for one domain event, in order. The job handlers check the task again
 * when they run, so a stale or repeated event can never send a wrong reminder; these operations
 * keep the queue tidy (a completed task's pending reminder is dropped, not left to fire and skip).
 */
export function queueOpsForEvent(event: Pick<OutboxEventRow, 'type' | 'payload'>): QueueOp[] {
  const payload = event.payload as { task?: TaskSnapshot; previous?: Partial<TaskSnapshot> };
  const task = payload.task;
  if (!task) return [];
  const ops: QueueOp[] = [];
  const cancel = (at: string) =>
    ops.push({ cancel: { name: 'send_reminder', key: reminderKey(task.id, at) } });
  switch (event.type) {
    case 'task.created':
    case 'task.updated': {
      const previous = payload.previous?.remindAt;
      if (previous && previous !== task.remindAt) cancel(previous);
      if (task.remindAt && task.status !== 'done' && !task.archivedAt) {
        ops.push({
          add: jobRequest(
            'send_reminder',
            { taskId: task.id, remindAt: new Date(task.remindAt).toISOString() },
            { key: reminderKey(task.id, task.remindAt), runAt: new Date(task.remindAt) },
          ),
        });
      } else if (task.remindAt) cancel(task.remindAt);
      break;
    }
    case 'task.completed':
    case 'task.deleted':
      if (task.remindAt) cancel(task.remindAt);
      break;
    default:
      break;
  }
  return ops;
}
