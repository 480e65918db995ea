import type { TaskService } from '../../services/task.service';
import type { JobHandler } from '../job.catalogue';

/** cleanup_tasks: archives tasks completed long ago. Idempotent: archived tasks are not touched again. */
export function cleanupTasksHandler(
  tasks: TaskService,
  archiveAfterDays: number,
  now: () => Date,
): JobHandler<'cleanup_tasks'> {
  return async (payload) => {
    const days = payload.olderThanDays ?? archiveAfterDays;
    const cutoff = new Date(now().getTime() - days * 86_400_000);
    const archived = await tasks.archiveCompletedBefore(cutoff);
    return { archived, completed_before: cutoff.toISOString() };
  };
}
