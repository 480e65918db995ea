import { and, asc, desc, eq, getTableColumns, isNotNull, isNull, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import {
  type Priority,
  type Status,
  type TaskCompletionRow,
  type TaskRow,
  taskCompletions,
  tasks,
} from '../db/schema';
import { offsetOf, type Page, type PageRequest, type SortOrder } from './pagination';

export type NewTask = Pick<
  TaskRow,
  | 'id'
  | 'userId'
  | 'projectId'
  | 'title'
  | 'description'
  | 'dueDate'
  | 'priority'
  | 'status'
  | 'tags'
  | 'remindAt'
  | 'reminderMode'
  | 'recurrenceRule'
  | 'recurrenceBasis'
>;
/** What an update may change: everything a new task has but its id and owner. */
export type TaskPatch = Partial<Omit<NewTask, 'id' | 'userId'>>;

export const TASK_SORTS = ['created_at', 'updated_at', 'due_date', 'priority'] as const;
export type TaskSort = (typeof TASK_SORTS)[number];

export interface TaskFilter {
  status?: Status[];
  priority?: Priority[];
  /** Tasks carrying any of these tags. */
  tags?: string[];
  /** A project id, or null for tasks in no project (the inbox). */
  projectId?: string | null;
  dueBefore?: Date;
  dueAfter?: Date;
  /** True: due before `now` and not done; false: everything else. */
  overdue?: boolean;
  q?: string;
  /** The start of the short id: the last 12 hex digits of the id (lower case, 1–12 of them). */
  shortId?: string;
  /** Archived tasks are hidden ('exclude', the default) unless asked for. */
  archived?: 'exclude' | 'include' | 'only';
}

// The search vector is internal: never selected, never returned.
/** Every column of a task but the search vector (an index, not data). */
export const { searchVector: _omit, ...taskColumns } = getTableColumns(tasks);

const sortColumns = {
  created_at: tasks.createdAt,
  updated_at: tasks.updatedAt,
  due_date: tasks.dueDate,
  priority: tasks.priority,
};

/** Turns free text into a prefix-matching tsquery: "buy mil" finds "Buy milk". Only letters and digits survive. */
export function toPrefixQuery(q: string): string | undefined {
  const terms = q.toLowerCase().match(/[\p{L}\p{N}]+/gu);
  if (!terms) return undefined;
  return terms
    .slice(0, 16)
    .map((t) => `${t}:*`)
    .join(' & ');
}

function whereOf(userId: string, f: TaskFilter, now: Date): SQL {
  const conds: (SQL | undefined)[] = [eq(tasks.userId, userId)];
  if (f.archived === 'only') conds.push(isNotNull(tasks.archivedAt));
  else if (f.archived !== 'include') conds.push(isNull(tasks.archivedAt));
  if (f.shortId !== undefined) conds.push(sql`right(${tasks.id}::text, 12) like ${`${f.shortId}%`}`);
  if (f.status?.length) conds.push(sql`${tasks.status} in ${f.status}`);
  if (f.priority?.length) conds.push(sql`${tasks.priority} in ${f.priority}`);
  if (f.tags?.length) conds.push(sql`${tasks.tags} && ${sql.param(f.tags)}::text[]`);
  if (f.projectId === null) conds.push(isNull(tasks.projectId));
  else if (f.projectId !== undefined) conds.push(eq(tasks.projectId, f.projectId));
  if (f.dueBefore) conds.push(sql`${tasks.dueDate} < ${f.dueBefore}`);
  if (f.dueAfter) conds.push(sql`${tasks.dueDate} >= ${f.dueAfter}`);
  if (f.overdue === true) conds.push(sql`${tasks.dueDate} < ${now} and ${tasks.status} <> 'done'`);
  if (f.overdue === false)
    conds.push(
      sql`not (${tasks.dueDate} is not null and ${tasks.dueDate} < ${now} and ${tasks.status} <> 'done')`,
    );
  if (f.q !== undefined) {
    const query = toPrefixQuery(f.q);
    // A query with no searchable word matches nothing rather than everything.
    conds.push(query ? sql`${tasks.searchVector} @@ to_tsquery('simple', ${query})` : sql`false`);
  }
  return and(...conds)!;
}

/** Every method takes the owner's id and filters on it: a task of another user does not exist here. */
export class TaskRepository {
  constructor(private readonly db: Executor) {}

  withTx(tx: Executor): TaskRepository {
    return new TaskRepository(tx);
  }

  async insert(task: NewTask): Promise<TaskRow> {
    // completed_at from the same statement clock as created_at, so it is never earlier.
    const completedAt = task.status === 'done' ? sql`now()` : null;
    const [row] = await this.db
      .insert(tasks)
      .values({ ...task, completedAt })
      .returning(taskColumns);
    return row!;
  }

  /** The most frequent read: its SQL and result mapping are built once per repository, not per call. */
  private byId?: { execute(params: { userId: string; id: string }): Promise<TaskRow[]> };

  async findById(userId: string, id: string): Promise<TaskRow | undefined> {
    this.byId ??= this.db
      .select(taskColumns)
      .from(tasks)
      .where(and(eq(tasks.userId, sql.placeholder('userId')), eq(tasks.id, sql.placeholder('id'))))
      .prepare('tm_task_by_id');
    const [row] = await this.byId.execute({ userId, id });
    return row;
  }

  /** A task by id alone, for background jobs that act for its owner (never reachable from a request). */
  async findForJob(id: string): Promise<TaskRow | undefined> {
    const [row] = await this.db.select(taskColumns).from(tasks).where(eq(tasks.id, id));
    return row;
  }

  async list(
    userId: string,
    filter: TaskFilter,
    page: PageRequest,
    sort: TaskSort,
    order: SortOrder,
    now: Date,
  ): Promise<Page<TaskRow>> {
    const where = whereOf(userId, filter, now);
    const column = sortColumns[sort];
    // Tasks without a due date sort last in both directions: they are the least pressing. Only
    // due_date is nullable; the other sorts stay plain so they can walk the (user_id, column) indexes.
    const primary =
      sort === 'due_date'
        ? sql`${column} ${order === 'asc' ? sql`asc` : sql`desc`} nulls last`
        : order === 'asc'
          ? asc(column)
          : desc(column);
    const tiebreak = order === 'asc' ? asc(tasks.id) : desc(tasks.id);
    const [items, [count]] = await Promise.all([
      this.db
        .select(taskColumns)
        .from(tasks)
        .where(where)
        .orderBy(primary, tiebreak)
        .limit(page.limit)
        .offset(offsetOf(page)),
      this.db.select({ n: sql<number>`count(*)::int` }).from(tasks).where(where),
    ]);
    return { items, total: count?.n ?? 0 };
  }

  /**
   * Applies a partial update and bumps the version. completed_at follows status in the same
   * statement (set when it becomes done, kept while it stays done, cleared when reopened), so
   * concurrent updates cannot leave the two out of step.
   */
  async update(userId: string, id: string, patch: TaskPatch): Promise<TaskRow | undefined> {
    const completedAt =
      patch.status === undefined
        ? undefined
        : patch.status === 'done'
          ? sql`case when ${tasks.status} = 'done' then ${tasks.completedAt} else now() end`
          : sql`null`;
    const [row] = await this.db
      .update(tasks)
      .set({
        ...patch,
        ...(completedAt ? { completedAt } : {}),
        version: sql`${tasks.version} + 1`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(tasks.userId, userId), eq(tasks.id, id)))
      .returning(taskColumns);
    return row;
  }

  /** Archives (sets archived_at) or restores a task; a change like any other (version, updated_at). */
  async setArchived(userId: string, id: string, archived: boolean): Promise<TaskRow | undefined> {
    const [row] = await this.db
      .update(tasks)
      .set({
        archivedAt: archived ? sql`coalesce(${tasks.archivedAt}, now())` : null,
        version: sql`${tasks.version} + 1`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(tasks.userId, userId), eq(tasks.id, id)))
      .returning(taskColumns);
    return row;
  }

  /** Archives every live task completed before `cutoff`, returning them (the cleanup job). */
  archiveCompletedBefore(cutoff: Date, limit: number): Promise<TaskRow[]> {
    const batch = this.db
      .select({ id: tasks.id })
      .from(tasks)
      .where(and(eq(tasks.status, 'done'), isNull(tasks.archivedAt), sql`${tasks.completedAt} < ${cutoff}`))
      .limit(limit)
      .for('update', { skipLocked: true });
    return this.db
      .update(tasks)
      .set({ archivedAt: sql`now()`, version: sql`${tasks.version} + 1`, updatedAt: sql`now()` })
      .where(sql`${tasks.id} in (${batch})`)
      .returning(taskColumns);
  }

  /** Locks the task's row for the rest of the transaction and returns it (to see what a change changes). */
  async findForUpdate(userId: string, id: string): Promise<TaskRow | undefined> {
    const [row] = await this.db
      .select(taskColumns)
      .from(tasks)
      .where(and(eq(tasks.userId, userId), eq(tasks.id, id)))
      .for('update');
    return row;
  }

  /** Deletes the task and returns what it was, or undefined if there was none. */
  async delete(userId: string, id: string): Promise<TaskRow | undefined> {
    const [row] = await this.db
      .delete(tasks)
      .where(and(eq(tasks.userId, userId), eq(tasks.id, id)))
      .returning(taskColumns);
    return row;
  }

  /** Moves a project's tasks to no project, as a change of each task (version and updated_at move). */
  async detachFromProject(userId: string, projectId: string): Promise<TaskRow[]> {
    return this.db
      .update(tasks)
      .set({ projectId: null, version: sql`${tasks.version} + 1`, updatedAt: sql`now()` })
      .where(and(eq(tasks.userId, userId), eq(tasks.projectId, projectId)))
      .returning(taskColumns);
  }

  /** Records a completed occurrence of a recurring task. */
  async insertCompletion(row: TaskCompletionRow): Promise<void> {
    await this.db.insert(taskCompletions).values(row);
  }

  /** When the task's last occurrence was completed, if ever. */
  async lastCompletion(taskId: string): Promise<Date | undefined> {
    const [row] = await this.db
      .select({ at: taskCompletions.completedAt })
      .from(taskCompletions)
      .where(eq(taskCompletions.taskId, taskId))
      .orderBy(desc(taskCompletions.completedAt))
      .limit(1);
    return row?.at;
  }

  /** A task's completed occurrences, newest first. */
  completions(userId: string, taskId: string, limit: number): Promise<TaskCompletionRow[]> {
    return this.db
      .select()
      .from(taskCompletions)
      .where(and(eq(taskCompletions.userId, userId), eq(taskCompletions.taskId, taskId)))
      .orderBy(desc(taskCompletions.completedAt))
      .limit(limit);
  }
}
