import { PRIORITIES, type ProductivityReport as Report } from '@taskman/core';
import { type Static, Type } from 'typebox';
import { literals, Nullable, Uuid } from '../../schemas/common';

const Counts = { created: Type.Integer({ minimum: 0 }), completed: Type.Integer({ minimum: 0 }) };
const Day = Type.String({ format: 'date', description: 'YYYY-MM-DD, in your time zone' });

export const ProductivityReport = Type.Object(
  {
    from: Day,
    to: Day,
    timezone: Type.String({ description: 'Your time zone: days are cut at its midnights' }),
    project_id: Nullable(Uuid),
    created: Type.Integer({ minimum: 0, description: 'Tasks created in the period' }),
    completed: Type.Integer({ minimum: 0, description: 'Tasks completed in the period' }),
    completion_rate: Nullable(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Of the tasks created in the period, the share done now',
      }),
    ),
    overdue: Type.Integer({ minimum: 0, description: 'Open tasks past their due date now' }),
    average_seconds_to_complete: Nullable(
      Type.Number({ description: 'From creation to completion, over the tasks completed in the period' }),
    ),
    median_seconds_to_complete: Nullable(Type.Number()),
    by_priority: Type.Array(Type.Object({ priority: literals(PRIORITIES), ...Counts })),
    by_project: Type.Array(
      Type.Object({ project_id: Nullable(Uuid), project_name: Nullable(Type.String()), ...Counts }),
    ),
    by_tag: Type.Array(Type.Object({ tag: Type.String(), ...Counts }), {
      description: 'The 100 busiest tags',
    }),
    days: Type.Array(Type.Object({ date: Day, ...Counts }), { description: 'Every day of the period' }),
  },
  { $id: 'ProductivityReport', title: 'ProductivityReport' },
);
type ReportJson = Static<typeof ProductivityReport>;

export function presentReport(r: Report): ReportJson {
  return {
    from: r.from,
    to: r.to,
    timezone: r.timezone,
    project_id: r.projectId,
    created: r.created,
    completed: r.completed,
    completion_rate: r.completionRate,
    overdue: r.overdue,
    average_seconds_to_complete: r.averageSecondsToComplete,
    median_seconds_to_complete: r.medianSecondsToComplete,
    by_priority: r.byPriority.map((p) => ({
      ...p,
      priority: p.priority as ReportJson['by_priority'][number]['priority'],
    })),
    by_project: r.byProject.map((p) => ({
      project_id: p.projectId,
      project_name: p.projectName,
      created: p.created,
      completed: p.completed,
    })),
    by_tag: r.byTag,
    days: r.days,
  };
}

export const ReportQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({ format: 'date', description: 'First day (default: 6 days before `to`)' }),
    ),
    to: Type.Optional(Type.String({ format: 'date', description: 'Last day, included (default: today)' })),
    project_id: Type.Optional(Uuid),
    format: Type.Optional(literals(['json', 'csv'] as const, { default: 'json' })),
  },
  { additionalProperties: false },
);
