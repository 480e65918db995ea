import { getTableColumns } from 'drizzle-orm';
import { type TaskRow, tasks } from '../db/schema';
import type { Page } from '../repositories/pagination';
import type { TaskListQuery } from '../services/task.service';
import {
  projectTasksField,
  projectTasksKey,
  queryHash,
  taskKey,
  taskListPageKey,
  userTasksGenerationKey,
} from './cache.keys';
import type { CacheAside, Codec } from './cache-aside';

// Every timestamp column of the table, so a new one can never come back from the cache as a string.
const DATE_FIELDS = Object.entries(getTableColumns(tasks))
  .filter(([, column]) => column.columnType === 'PgTimestamp')
  .map(([name]) => name);

function reviveTask(raw: Record<string, unknown>): TaskRow {
  const task = { ...raw } as Record<string, unknown>;
  for (const f of DATE_FIELDS) task[f] = task[f] === null ? null : new Date(task[f] as string);
  return task as unknown as TaskRow;
}

const taskCodec: Codec<TaskRow> = {
  encode: (t) => t,
  decode: (d) => reviveTask(d as Record<string, unknown>),
};

const pageCodec: Codec<Page<TaskRow>> = {
  encode: (p) => p,
  decode: (d) => {
    const p = d as { items: Record<string, unknown>[]; total: number };
    return { items: p.items.map(reviveTask), total: p.total };
  },
};

/** The brief's task caching (§6): single tasks, list pages and project task lists, per user. */
export class TaskCache {
  constructor(
    private readonly cache: CacheAside,
    private readonly ttlSeconds: number,
  ) {}

  task(
    userId: string,
    taskId: string,
    load: () => Promise<TaskRow | undefined>,
  ): Promise<TaskRow | undefined> {
    return this.cache.get(
      'task',
      { key: taskKey(taskId, userId) },
      [userTasksGenerationKey(userId)],
      this.ttlSeconds,
      taskCodec,
      load,
    );
  }

  async list(
    userId: string,
    query: TaskListQuery,
    load: () => Promise<Page<TaskRow>>,
  ): Promise<Page<TaskRow>> {
    // "Overdue" changes with the clock, not with writes: such lists are not cached.
    if (query.filter.overdue !== undefined) return load();
    const slot = { key: taskListPageKey(userId, query.page, hashOf(userId, query)) };
    return (await this.cache.get(
      'task_list',
      slot,
      [userTasksGenerationKey(userId)],
      this.ttlSeconds,
      pageCodec,
      load,
    ))!;
  }

  async projectList(
    userId: string,
    projectId: string,
    query: TaskListQuery,
    load: () => Promise<Page<TaskRow>>,
  ): Promise<Page<TaskRow>> {
    if (query.filter.overdue !== undefined) return load();
    const slot = {
      key: projectTasksKey(projectId),
      field: projectTasksField(query.page, hashOf(userId, query)),
    };
    return (await this.cache.get(
      'project_tasks',
      slot,
      [userTasksGenerationKey(userId)],
      this.ttlSeconds,
      pageCodec,
      load,
    ))!;
  }

  /** After a write to the user's tasks: every cached task and list of theirs becomes stale. */
  invalidateTasks(
    userId: string,
    taskIds: string[] = [],
    projectIds: (string | null | undefined)[] = [],
  ): Promise<void> {
    const keys = [
      ...taskIds.map((id) => taskKey(id, userId)),
      ...projectIds.filter((p): p is string => Boolean(p)).map(projectTasksKey),
    ];
    return this.cache.invalidate('task', [userTasksGenerationKey(userId)], keys);
  }

  /** After a project changes or goes: its cached task lists are dropped (and its tasks', if they moved). */
  invalidateProject(userId: string, projectId: string, tasksMoved: boolean): Promise<void> {
    return this.cache.invalidate('project_tasks', tasksMoved ? [userTasksGenerationKey(userId)] : [], [
      projectTasksKey(projectId),
    ]);
  }
}

// The owner is part of the hash: two users can never share an entry, even for the same project id.
function hashOf(userId: string, q: TaskListQuery): string {
  return queryHash({ user: userId, filter: q.filter, sort: q.sort, order: q.order, limit: q.limit });
}
