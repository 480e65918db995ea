import { describeRecurrence, type QuickAddResult } from '@taskman/core';
import { type Static, Type } from 'typebox';
import { DateTime, isoOrNull, literals, Nullable, Uuid } from '../../schemas/common';

/** The grammar in short, for the OpenAPI document (README "Quick add" has it in full). */
export const QUICK_ADD_GRAMMAR = [
  'Reads one line in your time zone; unknown words stay in the title.',
  'Priority: !low !medium !high !urgent, !1-!4 or p1-p4 (1 = urgent).',
  'Tags: #tag. Project: +Name, +"Name with spaces" or a unique prefix.',
  'Dates and times: today, tomorrow 9am, friday, next monday, in 3 days, dec 5 at 14:30, 2026-12-05; a date alone is due at 23:59.',
  'Repeats: every day, every weekday, every monday and wednesday, every 2 weeks, every month, every 15th, every last friday, every year; every! 3 days (or "… after completion") counts from the completion.',
  'Escape a word with \\ (\\#not-a-tag); a leading "quoted part" stays as typed.',
].join(' ');

export const QuickAddBody = Type.Object(
  { text: Type.String({ minLength: 1, maxLength: 2000, description: 'The line to read' }) },
  { additionalProperties: false },
);

const Span = Type.Object({
  kind: literals(['date', 'priority', 'tag', 'project', 'recurrence']),
  start: Type.Integer({ minimum: 0, description: 'UTF-16 offset in text' }),
  end: Type.Integer({ minimum: 0 }),
  text: Type.String(),
});

export const QuickAddParse = Type.Object(
  {
    title: Type.String(),
    due_date: Nullable(DateTime),
    due_has_time: Type.Boolean({ description: 'false: a date alone, due at 23:59 your time' }),
    priority: Nullable(Type.String({ description: 'null: none typed (the default applies)' })),
    tags: Type.Array(Type.String()),
    project_id: Nullable(Uuid),
    project_name: Nullable(Type.String()),
    recurrence: Nullable(
      Type.Object({ rule: Type.String(), basis: Type.String(), description: Type.String() }),
    ),
    spans: Type.Array(Span, { description: 'What was recognised, to highlight it' }),
  },
  { $id: 'QuickAddParse', title: 'QuickAddParse' },
);

export function presentQuickAdd(q: QuickAddResult): Static<typeof QuickAddParse> {
  return {
    title: q.title,
    due_date: isoOrNull(q.dueDate),
    due_has_time: q.dueHasTime,
    priority: q.priority,
    tags: q.tags,
    project_id: q.projectId,
    project_name: q.projectName,
    recurrence: q.recurrence ? { ...q.recurrence, description: describeRecurrence(q.recurrence) } : null,
    spans: q.spans.map((s) => ({ kind: s.kind, start: s.start, end: s.end, text: s.text })),
  };
}

export const TaskCompletion = Type.Object({
  id: Uuid,
  due_date: Nullable(DateTime),
  completed_at: DateTime,
});
