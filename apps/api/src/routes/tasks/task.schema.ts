import {
  type TaskListQuery as CoreTaskListQuery,
  describeRecurrence,
  PRIORITIES,
  RECURRENCE_BASES,
  REMINDER_MODES,
  STATUSES,
  TASK_LIMITS,
  TASK_SORTS,
  type TaskInput,
  type TaskRow,
} from '@taskman/core';
import type { FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { DateTime, iso, isoOrNull, literals, Nullable, PageQuery, pageOf, Uuid } from '../../schemas/common';

const Priority = literals(PRIORITIES, { description: 'low | medium | high | urgent' });
const Status = literals(STATUSES, { description: 'todo | in_progress | done' });
const RecurrenceBasis = literals(RECURRENCE_BASES, {
  description:
    'due: the next date follows the rule from the due date; completion: from the day it is completed',
});

export const Task = Type.Object(
  {
    id: Uuid,
    title: Type.String(),
    description: Nullable(Type.String()),
    due_date: Nullable(DateTime),
    priority: Priority,
    status: Status,
    tags: Type.Array(Type.String()),
    project_id: Nullable(Uuid),
    created_at: DateTime,
    updated_at: DateTime,
    completed_at: Nullable(DateTime),
    archived_at: Nullable(DateTime),
    remind_at: Nullable(DateTime),
    reminder_mode: literals(REMINDER_MODES, {
      description:
        'auto: remind_at follows the due date and your reminder lead time; explicit: set on the task; off: no reminder',
    }),
    recurrence: Nullable(
      Type.Object({
        rule: Type.String({ description: 'RFC 5545 RRULE, canonical, e.g. FREQ=WEEKLY;BYDAY=MO,WE' }),
        basis: RecurrenceBasis,
        description: Type.String({ description: 'In words, e.g. "every week on Monday, Wednesday"' }),
      }),
    ),
    version: Type.Integer({ minimum: 1, description: 'Increments on every change' }),
  },
  { $id: 'Task', title: 'Task' },
);
export type TaskJson = Static<typeof Task>;

/** Exactly what the API tells about a task (never the search vector or owner id). */
export function presentTask(t: TaskRow): TaskJson {
  return {
    id: t.id,
    title: t.title,
    description: t.description,
    due_date: isoOrNull(t.dueDate),
    priority: t.priority,
    status: t.status,
    tags: t.tags,
    project_id: t.projectId,
    created_at: iso(t.createdAt),
    updated_at: iso(t.updatedAt),
    completed_at: isoOrNull(t.completedAt),
    archived_at: isoOrNull(t.archivedAt),
    remind_at: isoOrNull(t.remindAt),
    reminder_mode: t.reminderMode,
    recurrence:
      t.recurrenceRule && t.recurrenceBasis
        ? {
            rule: t.recurrenceRule,
            basis: t.recurrenceBasis,
            description: describeRecurrence({ rule: t.recurrenceRule, basis: t.recurrenceBasis }),
          }
        : null,
    version: t.version,
  };
}

// Lengths here are generous caps before trimming; the service applies the exact rules after it.
const fields = {
  title: Type.String({
    minLength: 1,
    maxLength: 2 * TASK_LIMITS.title,
    description: 'Trimmed; 1 to 500 characters',
  }),
  description: Nullable(Type.String({ maxLength: TASK_LIMITS.description })),
  due_date: Nullable(
    Type.String({ format: 'date-time', description: 'ISO 8601 with offset; not in the past' }),
  ),
  priority: Priority,
  status: Status,
  tags: Type.Array(Type.String({ maxLength: 2 * TASK_LIMITS.tag }), {
    maxItems: 100,
    description: 'Trimmed, lower-cased, de-duplicated; at most 20 of at most 50 characters',
  }),
  project_id: Nullable(Uuid),
  remind_at: Nullable(
    Type.String({
      format: 'date-time',
      description:
        'When to email a reminder; null for none. Omitted on create: due date minus your reminder lead time',
    }),
  ),
  recurrence: Nullable(
    Type.Object(
      {
        rule: Type.String({
          minLength: 1,
          maxLength: 500,
          description:
            'An RFC 5545 RRULE: FREQ=DAILY|WEEKLY|MONTHLY|YEARLY with INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, COUNT or UNTIL',
        }),
        basis: Type.Optional(RecurrenceBasis),
      },
      {
        additionalProperties: false,
        description:
          'Repeats: completing the task records the completion and moves the due date (and reminder) to the next occurrence, in your time zone; null stops repeating. Needs a due_date',
      },
    ),
  ),
};

export const TaskCreateBody = Type.Object(
  {
    title: Type.Optional(fields.title),
    text: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2000,
        description:
          'Instead of title: quick add, e.g. "Pay rent tomorrow 9am !high #home +Finance every month" (see POST /tasks/parse); fields given alongside win over what the text says',
      }),
    ),
    description: Type.Optional(fields.description),
    due_date: Type.Optional(fields.due_date),
    priority: Type.Optional(fields.priority),
    status: Type.Optional(fields.status),
    tags: Type.Optional(fields.tags),
    project_id: Type.Optional(fields.project_id),
    remind_at: Type.Optional(fields.remind_at),
    recurrence: Type.Optional(fields.recurrence),
  },
  { additionalProperties: false },
);

const { text: _text, ...patchable } = TaskCreateBody.properties;
export const TaskPatchBody = Type.Partial(
  Type.Object({
    ...patchable,
    title: fields.title,
    reminder_mode: Type.Literal('auto', {
      description: 'Send "auto" to make the reminder follow the due date again (not with remind_at)',
    }),
  }),
  { additionalProperties: false },
);

type TaskBody = Partial<Static<typeof TaskPatchBody>>;

/** Wire body (snake_case, strings) → service input (camelCase, Dates); absent fields stay absent. */
export function toTaskInput<B extends TaskBody>(
  body: B,
): B extends { title: string } ? TaskInput : Partial<TaskInput> {
  const input: Partial<TaskInput> = {};
  if (body.title !== undefined) input.title = body.title;
  if (body.description !== undefined) input.description = body.description;
  if (body.due_date !== undefined) input.dueDate = body.due_date === null ? null : new Date(body.due_date);
  if (body.priority !== undefined) input.priority = body.priority;
  if (body.status !== undefined) input.status = body.status;
  if (body.tags !== undefined) input.tags = body.tags;
  if (body.project_id !== undefined) input.projectId = body.project_id;
  if (body.remind_at !== undefined)
    input.remindAt = body.remind_at === null ? null : new Date(body.remind_at);
  if (body.reminder_mode === 'auto') input.reminderMode = 'auto';
  if (body.recurrence !== undefined) input.recurrence = body.recurrence;
  return input as never;
}

export const TaskListQuery = Type.Object(
  {
    ...PageQuery,
    sort: Type.Optional(literals(TASK_SORTS, { default: 'created_at' })),
    status: Type.Optional(
      Type.Array(Status, { description: 'Comma-separated or repeated: status=todo,in_progress' }),
    ),
    priority: Type.Optional(
      Type.Array(Priority, { description: 'Comma-separated or repeated: priority=high,urgent' }),
    ),
    tag: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: TASK_LIMITS.tag }), {
        description: 'Tasks with any of these tags',
      }),
    ),
    project_id: Type.Optional(
      Type.Union([Uuid, Type.Literal('none')], {
        description: 'A project id, or "none" for tasks in no project',
      }),
    ),
    due_before: Type.Optional(DateTime),
    due_after: Type.Optional(DateTime),
    overdue: Type.Optional(Type.Boolean({ description: 'Due in the past and not done' })),
    q: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'Full-text search over title and description (prefixes match)',
      }),
    ),
    short_id: Type.Optional(
      Type.String({
        pattern: '^[0-9a-fA-F]{1,12}$',
        description:
          'Tasks whose short id starts with this: the short id is the last 12 hex digits of the id (its random end), what the taskman command shows',
      }),
    ),
    include_archived: Type.Optional(Type.Boolean({ description: 'Also list archived tasks' })),
    archived: Type.Optional(
      Type.Boolean({ description: 'true: only archived tasks; false: only live ones (default)' }),
    ),
  },
  { additionalProperties: false },
);

const MULTI_VALUE = ['status', 'priority', 'tag'] as const;

/** preValidation hook: `priority=high,urgent` and `priority=high&priority=urgent` become the same array. */
export async function splitListParams(request: FastifyRequest): Promise<void> {
  const query = request.query as Record<string, unknown>;
  for (const key of MULTI_VALUE) {
    const v = query[key];
    if (v === undefined) continue;
    const parts = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(',')).map((x) => x.trim());
    query[key] = parts.filter((x) => x !== '');
  }
}

/** Wire query → service query: default order is soonest-first for due dates, newest-first otherwise. */
export function toTaskListQuery(q: Partial<Static<typeof TaskListQuery>>): CoreTaskListQuery {
  const sort = q.sort ?? 'created_at';
  return {
    ...pageOf(q),
    sort,
    order: q.order ?? (sort === 'due_date' ? 'asc' : 'desc'),
    filter: {
      status: q.status,
      priority: q.priority,
      tags: q.tag?.map((t) => t.trim().toLowerCase()),
      projectId: q.project_id === 'none' ? null : q.project_id,
      dueBefore: q.due_before ? new Date(q.due_before) : undefined,
      dueAfter: q.due_after ? new Date(q.due_after) : undefined,
      overdue: q.overdue,
      // An empty search box is no search.
      q: q.q?.trim() ? q.q : undefined,
      shortId: q.short_id?.toLowerCase(),
      archived:
        q.archived === true ? 'only' : q.include_archived && q.archived !== false ? 'include' : 'exclude',
    },
  };
}
