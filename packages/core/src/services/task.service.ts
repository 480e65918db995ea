import type { TaskCache } from '../cache/task.cache';
import type { Executor } from '../db/client';
import { isForeignKeyViolation } from '../db/errors';
import type { DomainEventType, Priority, Status, TaskRow } from '../db/schema';
import type { TransactionRunner } from '../db/transaction';
import { assertVersion, type FieldIssue, type IfVersion, NotFoundError, ValidationError } from '../errors';
import type { Clock } from '../lib/clock';
import { newId } from '../lib/ids';
import { charLength } from '../lib/text';
import { parseQuickAdd, type QuickAddResult } from '../quick-add/quick-add';
import { nextRecurrence, parseRecurrenceRule, type RecurrenceBasis } from '../recurrence/recurrence';
import type { DomainEvent, OutboxRepository } from '../repositories/outbox.repository';
import type { Page, PageRequest, SortOrder } from '../repositories/pagination';
import type { ProjectRepository } from '../repositories/project.repository';
import type { TaskFilter, TaskPatch, TaskRepository, TaskSort } from '../repositories/task.repository';
import type { UserRepository } from '../repositories/user.repository';

export const TASK_LIMITS = { title: 500, description: 10_000, tags: 20, tag: 50 } as const;

export interface TaskInput {
  title: string;
  description?: string | null | undefined;
  dueDate?: Date | null | undefined;
  priority?: Priority | undefined;
  status?: Status | undefined;
  tags?: string[] | undefined;
  projectId?: string | null | undefined;
  /** A time: an explicit reminder; null: none; absent: derived from the due date and the lead time. */
  remindAt?: Date | null | undefined;
  /** 'auto' (update only): the reminder follows the due date again. */
  reminderMode?: 'auto' | undefined;
  /** Repeats: completing the task moves its due date to the next occurrence; null: no longer repeats. */
  recurrence?: { rule: string; basis?: RecurrenceBasis | undefined } | null | undefined;
}

/**
 * A second completion of the same recurring task this soon after the first, without If-Match, is
 * taken for the same tap on two devices (or a double click), not for "skip one more occurrence".
 */
export const DOUBLE_COMPLETION_MS = 10_000;

export interface TaskListQuery extends PageRequest {
  filter: TaskFilter;
  sort: TaskSort;
  order: SortOrder;
}

/** Collects every field problem of an input, so a client sees them all at once. */
class Issues {
  readonly list: FieldIssue[] = [];
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
  throwIfAny(): void {
    if (this.list.length > 0)
      throw new ValidationError(this.list, this.list.map((i) => `${i.field}: ${i.message}`).join('; '));
  }
}

/** Trims, lower-cases and de-duplicates tags, keeping first-seen order. */
export function normaliseTags(tags: string[], issues: Issues): string[] {
  const out: string[] = [];
  for (const raw of tags) {
    const tag = raw.trim().toLowerCase();
    if (tag.length === 0) issues.add('tags', 'must not contain empty tags');
    else if (charLength(tag) > TASK_LIMITS.tag)
      issues.add('tags', `each tag must be at most ${TASK_LIMITS.tag} characters`);
    else if (!out.includes(tag)) out.push(tag);
  }
  if (out.length > TASK_LIMITS.tags) issues.add('tags', `must have at most ${TASK_LIMITS.tags} tags`);
  return out;
}

/**
 * The event of a task change; its payload is the task as it is after the change and, for an
 * update, `previous`: the old values of the fields that changed.
 */
export function taskEvent(type: DomainEventType, task: TaskRow, before?: TaskRow): DomainEvent {
  const payload: Record<string, unknown> = { task };
  if (before) payload.previous = changedFields(before, task);
  return { type, userId: task.userId, aggregateId: task.id, payload };
}

const TRACKED: (keyof TaskRow)[] = [
  'title',
  'description',
  'dueDate',
  'priority',
  'status',
  'tags',
  'projectId',
  'completedAt',
  'archivedAt',
  'remindAt',
  'reminderMode',
  'recurrenceRule',
  'recurrenceBasis',
];

function changedFields(before: TaskRow, after: TaskRow): Partial<TaskRow> {
  const out: Record<string, unknown> = {};
  for (const k of TRACKED) {
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) out[k] = before[k];
  }
  return out as Partial<TaskRow>;
}

interface Occurrence {
  dueDate: Date | null;
  completedAt: Date;
}

/** task.completed for one occurrence of a recurring task: the task has moved on to its next date. */
function occurrenceEvent(task: TaskRow, occurrence: Occurrence): DomainEvent {
  return {
    type: 'task.completed',
    userId: task.userId,
    aggregateId: task.id,
    payload: {
      task,
      occurrence: {
        due_date: occurrence.dueDate?.toISOString() ?? null,
        completed_at: occurrence.completedAt.toISOString(),
      },
    },
  };
}

/** The reminder time of a task whose reminder follows its due date. */
export function derivedRemindAt(dueDate: Date | null, leadMinutes: number | null): Date | null {
  return dueDate && leadMinutes !== null ? new Date(dueDate.getTime() - leadMinutes * 60_000) : null;
}

/** Tasks: the business rules of brief §3 (validate, check due date, set defaults) over the repository. */
export class TaskService {
  constructor(
    private readonly tasks: TaskRepository,
    private readonly projects: ProjectRepository,
    private readonly clock: Clock,
    private readonly cache: TaskCache,
    private readonly outbox: OutboxRepository,
    private readonly transaction: TransactionRunner,
    private readonly users: UserRepository,
  ) {}

  /** The owner's reminder lead time in minutes (null: no automatic reminders). */
  private async leadMinutes(userId: string): Promise<number | null> {
    return (await this.users.findById(userId))?.reminderLeadMinutes ?? null;
  }

  async create(userId: string, input: TaskInput): Promise<TaskRow> {
    const issues = new Issues();
    const now = this.clock.now();
    const title = this.title(input.title, issues);
    const description = this.description(input.description, issues);
    if (input.dueDate && input.dueDate < now) issues.add('due_date', 'must not be in the past');
    if (input.remindAt && input.remindAt < now) issues.add('remind_at', 'must not be in the past');
    const tags = normaliseTags(input.tags ?? [], issues);
    const recurrence = this.recurrence(input.recurrence, issues);
    if (recurrence.recurrenceRule && !input.dueDate)
      issues.add('recurrence', 'needs a due date to repeat from');
    issues.throwIfAny();
    const projectId = input.projectId ?? null;
    if (projectId) await this.assertOwnProject(userId, projectId);
    const status = input.status ?? 'todo';
    const dueDate = input.dueDate ?? null;
    const reminder =
      input.remindAt === undefined
        ? {
            reminderMode: 'auto' as const,
            remindAt: dueDate ? derivedRemindAt(dueDate, await this.leadMinutes(userId)) : null,
          }
        : {
            reminderMode: input.remindAt ? ('explicit' as const) : ('off' as const),
            remindAt: input.remindAt,
          };
    try {
      const task = await this.transaction(async (tx) => {
        const row = await this.tasks.withTx(tx).insert({
          id: newId(),
          userId,
          projectId,
          title,
          description: description ?? null,
          dueDate,
          priority: input.priority ?? 'medium',
          status,
          tags,
          ...reminder,
          ...recurrence,
        });
        const events = [taskEvent('task.created', row)];
        if (row.status === 'done') events.push(taskEvent('task.completed', row));
        await this.outbox.withTx(tx).append(events);
        return row;
      });
      await this.cache.invalidateTasks(userId, [], [projectId]);
      return task;
    } catch (err) {
      // The project was deleted between the check and the insert.
      if (isForeignKeyViolation(err))
        throw ValidationError.field('project_id', 'must be one of your projects');
      throw err;
    }
  }

  async get(userId: string, id: string): Promise<TaskRow> {
    const task = await this.cache.task(userId, id, () => this.tasks.findById(userId, id));
    if (!task) throw new NotFoundError('Task');
    return task;
  }

  list(userId: string, query: TaskListQuery): Promise<Page<TaskRow>> {
    return this.cache.list(userId, query, () => this.load(userId, query));
  }

  /** Tasks of one project; 404 when the project is not the caller's. */
  async listByProject(userId: string, projectId: string, query: TaskListQuery): Promise<Page<TaskRow>> {
    if (!(await this.projects.exists(userId, projectId))) throw new NotFoundError('Project');
    const scoped = { ...query, filter: { ...query.filter, projectId } };
    return this.cache.projectList(userId, projectId, scoped, () => this.load(userId, scoped));
  }

  private load(userId: string, query: TaskListQuery): Promise<Page<TaskRow>> {
    return this.tasks.list(userId, query.filter, query, query.sort, query.order, this.clock.now());
  }

  /**
   * `fromCalendar`: the change was made in a synced calendar app, where a past due date is fine
   * (the rule against setting one in the past is for people typing dates here). `ifVersion`: the
   * versions the change was made against (If-Match); another one is a 412.
   */
  async update(
    userId: string,
    id: string,
    patch: Partial<TaskInput>,
    opts: { fromCalendar?: boolean; ifVersion?: IfVersion } = {},
  ): Promise<TaskRow> {
    const issues = new Issues();
    const changes: TaskPatch = {};
    if (patch.title !== undefined) changes.title = this.title(patch.title, issues);
    if (patch.description !== undefined)
      changes.description = this.description(patch.description, issues) ?? null;
    if (patch.priority !== undefined) changes.priority = patch.priority;
    if (patch.status !== undefined) changes.status = patch.status;
    if (patch.tags !== undefined) changes.tags = normaliseTags(patch.tags, issues);
    if (patch.projectId !== undefined) changes.projectId = patch.projectId;
    if (patch.dueDate !== undefined) {
      changes.dueDate = patch.dueDate;
      // Re-sending the task's current (now past) due date is not setting one.
      if (patch.dueDate && patch.dueDate < this.clock.now() && !opts.fromCalendar) {
        const current = await this.get(userId, id);
        if (current.dueDate?.getTime() !== patch.dueDate.getTime())
          issues.add('due_date', 'must not be in the past');
      }
    }
    if (patch.remindAt !== undefined) {
      changes.remindAt = patch.remindAt;
      changes.reminderMode = patch.remindAt ? 'explicit' : 'off';
      if (patch.remindAt && patch.remindAt < this.clock.now()) {
        const current = await this.get(userId, id);
        if (current.remindAt?.getTime() !== patch.remindAt.getTime())
          issues.add('remind_at', 'must not be in the past');
      }
    }
    if (patch.recurrence !== undefined) Object.assign(changes, this.recurrence(patch.recurrence, issues));
    if (patch.reminderMode === 'auto') {
      if (patch.remindAt !== undefined)
        issues.add('reminder_mode', 'cannot be "auto" together with remind_at');
      changes.reminderMode = 'auto';
    }
    issues.throwIfAny();
    if (changes.projectId) await this.assertOwnProject(userId, changes.projectId);
    // A new due date moves an automatic reminder with it; switching back to auto derives it again.
    const lead =
      (patch.dueDate !== undefined && patch.remindAt === undefined) || patch.reminderMode === 'auto'
        ? await this.leadMinutes(userId)
        : undefined;

    if (Object.keys(changes).length === 0) {
      const current = await this.get(userId, id);
      assertVersion(opts.ifVersion, current.version);
      return current;
    }
    try {
      const task = await this.transaction(async (tx) => {
        const tasks = this.tasks.withTx(tx);
        const before = await tasks.findForUpdate(userId, id);
        if (!before) throw new NotFoundError('Task');
        assertVersion(opts.ifVersion, before.version);
        if (lead !== undefined && (changes.reminderMode ?? before.reminderMode) === 'auto')
          changes.remindAt = derivedRemindAt(
            changes.dueDate !== undefined ? changes.dueDate : before.dueDate,
            lead,
          );
        const rule = changes.recurrenceRule !== undefined ? changes.recurrenceRule : before.recurrenceRule;
        const due = changes.dueDate !== undefined ? changes.dueDate : before.dueDate;
        if (rule && !due) throw ValidationError.field('recurrence', 'needs a due date to repeat from');
        const occurrence =
          rule && changes.status === 'done' && before.status !== 'done'
            ? await this.completeOccurrence(tasks, before, changes, !opts.ifVersion, () =>
                // The owner's zone, in the transaction (embedded mode has a single connection).
                this.users.withTx(tx).findById(userId),
              )
            : undefined;
        const row = (await tasks.update(userId, id, changes))!;
        const events = [taskEvent('task.updated', row, before)];
        // A series that ended completes the task itself: the plain task.completed below says so.
        if (occurrence && row.status !== 'done') events.push(occurrenceEvent(row, occurrence));
        if (before.status !== 'done' && row.status === 'done') events.push(taskEvent('task.completed', row));
        await this.outbox.withTx(tx).append(events);
        return row;
      });
      await this.cache.invalidateTasks(userId, [id], [task.projectId]);
      return task;
    } catch (err) {
      if (isForeignKeyViolation(err))
        throw ValidationError.field('project_id', 'must be one of your projects');
      throw err;
    }
  }

  /** Hides a task from the default lists without deleting it; `unarchive` brings it back. */
  async setArchived(userId: string, id: string, archived: boolean, ifVersion?: IfVersion): Promise<TaskRow> {
    const task = await this.transaction(async (tx) => {
      await this.lockVersion(tx, userId, id, ifVersion);
      const row = await this.tasks.withTx(tx).setArchived(userId, id, archived);
      if (!row) throw new NotFoundError('Task');
      await this.outbox.withTx(tx).append([taskEvent('task.updated', row)]);
      return row;
    });
    await this.cache.invalidateTasks(userId, [id], [task.projectId]);
    return task;
  }

  /**
   * Archives tasks completed before `cutoff`, in batches, each batch one transaction with its
   * task.updated events; returns how many were archived.
   */
  async archiveCompletedBefore(cutoff: Date, batchSize = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = await this.transaction(async (tx) => {
        const rows = await this.tasks.withTx(tx).archiveCompletedBefore(cutoff, batchSize);
        await this.outbox.withTx(tx).append(rows.map((row) => taskEvent('task.updated', row)));
        return rows;
      });
      const byUser = new Map<string, TaskRow[]>();
      for (const row of batch) byUser.set(row.userId, [...(byUser.get(row.userId) ?? []), row]);
      for (const [userId, rows] of byUser) {
        await this.cache.invalidateTasks(
          userId,
          rows.map((r) => r.id),
          rows.map((r) => r.projectId),
        );
      }
      total += batch.length;
      if (batch.length < batchSize) return total;
    }
  }

  async delete(userId: string, id: string, ifVersion?: IfVersion): Promise<void> {
    const task = await this.transaction(async (tx) => {
      await this.lockVersion(tx, userId, id, ifVersion);
      const row = await this.tasks.withTx(tx).delete(userId, id);
      if (!row) throw new NotFoundError('Task');
      await this.outbox.withTx(tx).append([
        {
          type: 'task.deleted',
          userId,
          aggregateId: id,
          payload: { id, project_id: row.projectId, task: row },
        },
      ]);
      return row;
    });
    await this.cache.invalidateTasks(userId, [id], [task.projectId]);
  }

  /**
   * Completing a recurring task: the occurrence is recorded and the task moves on to the next
   * date (its reminder with it) instead of becoming done; when the rule has no next date, it is
   * done like any task. Returns the occurrence completed, or undefined when there is none to record
   * (the series ended, or this is the same completion twice: see DOUBLE_COMPLETION_MS).
   */
  private async completeOccurrence(
    tasks: TaskRepository,
    before: TaskRow,
    changes: TaskPatch,
    guardDouble: boolean,
    owner: () => Promise<{ timezone: string; reminderLeadMinutes: number | null } | undefined>,
  ): Promise<Occurrence | undefined> {
    const now = this.clock.now();
    if (guardDouble) {
      const last = await tasks.lastCompletion(before.id);
      if (last && now.getTime() - last.getTime() < DOUBLE_COMPLETION_MS) {
        delete changes.status;
        return undefined;
      }
    }
    const user = await owner();
    const rule = changes.recurrenceRule !== undefined ? changes.recurrenceRule : before.recurrenceRule;
    const basis = changes.recurrenceBasis ?? before.recurrenceBasis ?? 'due';
    const due = changes.dueDate !== undefined ? changes.dueDate : before.dueDate;
    const next = nextRecurrence(
      { rule: rule!, basis },
      { due, completedAt: now, timezone: user?.timezone ?? 'UTC' },
    );
    const occurrence = { dueDate: due, completedAt: now };
    await tasks.insertCompletion({ id: newId(), taskId: before.id, userId: before.userId, ...occurrence });
    if (!next) return occurrence;
    changes.status = 'todo';
    changes.dueDate = next.due;
    changes.recurrenceRule = next.recurrence.rule;
    const mode = changes.reminderMode ?? before.reminderMode;
    const remindAt = changes.remindAt !== undefined ? changes.remindAt : before.remindAt;
    if (mode === 'auto') changes.remindAt = derivedRemindAt(next.due, user?.reminderLeadMinutes ?? null);
    // An explicit reminder keeps its distance from the due date.
    else if (mode === 'explicit' && remindAt && due)
      changes.remindAt = new Date(next.due.getTime() - (due.getTime() - remindAt.getTime()));
    return occurrence;
  }

  /** Reads a quick-add line ("Pay rent tomorrow 9am !high #home +Finance every month") in the user's zone. */
  async parseText(userId: string, text: string): Promise<QuickAddResult> {
    const [user, projects] = await Promise.all([this.users.findById(userId), this.projects.names(userId)]);
    return parseQuickAdd(text, { now: this.clock.now(), timezone: user?.timezone ?? 'UTC', projects });
  }

  /** A task's completed occurrences (recurring tasks), newest first. */
  async completions(userId: string, id: string, limit = 100) {
    await this.get(userId, id);
    return this.tasks.completions(userId, id, limit);
  }

  private recurrence(
    input: TaskInput['recurrence'],
    issues: Issues,
  ): { recurrenceRule: string | null; recurrenceBasis: RecurrenceBasis | null } {
    if (!input) return { recurrenceRule: null, recurrenceBasis: null };
    const parsed = parseRecurrenceRule(input.rule);
    if (!parsed.ok) {
      issues.add('recurrence.rule', parsed.message);
      return { recurrenceRule: null, recurrenceBasis: null };
    }
    return { recurrenceRule: parsed.rule, recurrenceBasis: input.basis ?? 'due' };
  }

  /** With If-Match: locks the task and checks its version first (404 or 412). */
  private async lockVersion(tx: Executor, userId: string, id: string, ifVersion: IfVersion): Promise<void> {
    if (!ifVersion) return;
    const current = await this.tasks.withTx(tx).findForUpdate(userId, id);
    if (!current) throw new NotFoundError('Task');
    assertVersion(ifVersion, current.version);
  }

  private title(raw: string, issues: Issues): string {
    const title = raw.trim();
    if (title.length === 0 || charLength(title) > TASK_LIMITS.title) {
      issues.add('title', `must be 1 to ${TASK_LIMITS.title} characters after trimming`);
    }
    return title;
  }

  private description(raw: string | null | undefined, issues: Issues): string | null | undefined {
    if (raw && charLength(raw) > TASK_LIMITS.description) {
      issues.add('description', `must be at most ${TASK_LIMITS.description} characters`);
    }
    return raw;
  }

  private async assertOwnProject(userId: string, projectId: string): Promise<void> {
    // Same message for a missing project and another user's: existence is never revealed.
    if (!(await this.projects.exists(userId, projectId))) {
      throw ValidationError.field('project_id', 'must be one of your projects');
    }
  }
}

/** What a quick-add line creates, as task input (fields sent alongside it override these). */
export function quickAddInput(q: QuickAddResult): TaskInput {
  return {
    title: q.title,
    dueDate: q.dueDate,
    ...(q.priority ? { priority: q.priority } : {}),
    tags: q.tags,
    projectId: q.projectId,
    recurrence: q.recurrence,
  };
}
