import { type FailedJob, JOB_NAMES, type QueueCounts } from '@taskman/core';
import { type Static, Type } from 'typebox';
import { DateTime, Nullable } from '../../schemas/common';

const Count = Type.Integer({ minimum: 0 });
export const QueueCountsSchema = Type.Object({
  waiting: Count,
  active: Count,
  delayed: Count,
  failed: Count,
  completed: Count,
});

export const FailedJobSchema = Type.Object({
  id: Type.String({ description: 'Pass to POST /admin/jobs/retry to run the job again' }),
  name: Type.String(),
  payload: Type.Unknown(),
  error: Type.String({ description: 'The last error, one line' }),
  attempts: Type.Integer(),
  failed_at: Nullable(DateTime),
});

export const JobsOverview = Type.Object(
  {
    backend: Type.Enum(['bullmq', 'database'], { type: 'string' }),
    queues: Nullable(
      Type.Record(Type.String(), QueueCountsSchema, {
        description: `Per queue (${JOB_NAMES.join(', ')}); null while the queue (Redis) is unreachable`,
      }),
    ),
    queue_reachable: Type.Boolean(),
    outbox_pending: Type.Integer({ description: 'Domain events not yet published to the queue' }),
    failed: Type.Array(FailedJobSchema, { description: 'The most recent failed jobs, newest first' }),
  },
  { $id: 'JobsOverview', title: 'JobsOverview' },
);

export const JobsQuery = Type.Object(
  { failed_limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: 20 })) },
  { additionalProperties: false },
);

export const RetryBody = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      maxLength: 300,
      description: 'The id of a failed job, from GET /admin/jobs',
    }),
  },
  { additionalProperties: false },
);

export function presentOverview(
  backend: 'bullmq' | 'database',
  queues: Record<string, QueueCounts> | null,
  outboxPending: number,
  failed: FailedJob[],
): Static<typeof JobsOverview> {
  return {
    backend,
    queues,
    queue_reachable: queues !== null,
    outbox_pending: outboxPending,
    failed: failed.map((j) => ({
      id: j.id,
      name: j.name,
      payload: j.payload,
      error: j.error,
      attempts: j.attempts,
      failed_at: j.failedAt ? j.failedAt.toISOString() : null,
    })),
  };
}
