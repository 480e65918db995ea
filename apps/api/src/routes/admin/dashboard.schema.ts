import type { Check, Dashboard } from '@taskman/core';
import { type Static, Type } from 'typebox';
import { DateTime, Nullable } from '../../schemas/common';

const N = Type.Number();
const Int = Type.Integer({ minimum: 0 });
const CheckSchema = Type.Object({ status: Type.Enum(['ok', 'down'], { type: 'string' }), latency_ms: N });

export const DashboardSchema = Type.Object(
  {
    generated_at: DateTime,
    window_seconds: Type.Number({
      description: 'What the traffic figures cover: the last 5 minutes (less just after a start)',
    }),
    version: Type.String(),
    health: Type.Object({
      status: Type.Enum(['ok', 'degraded', 'unavailable'], { type: 'string' }),
      checks: Type.Object({
        database: CheckSchema,
        redis: Type.Optional(CheckSchema),
        queue: Type.Optional(CheckSchema),
      }),
      uptime_seconds: Type.Number({ description: 'Of the longest-running API process' }),
    }),
    processes: Type.Array(
      Type.Object({
        id: Type.String(),
        kind: Type.Enum(['api', 'worker'], { type: 'string' }),
        host: Type.String(),
        pid: Type.Integer(),
        version: Type.String(),
        started_at: DateTime,
        last_seen_at: DateTime,
        uptime_seconds: N,
        rss_bytes: N,
        heap_used_bytes: N,
        heap_limit_bytes: N,
        cpu_percent: N,
        event_loop_lag_ms: N,
        in_flight: N,
      }),
      { description: 'Every API and worker process that reported in the last minute' },
    ),
    requests: Type.Object({
      total: Int,
      errors: Type.Integer({ minimum: 0, description: '5xx answers' }),
      per_second: N,
      average_ms: Nullable(N),
      error_rate: Nullable(Type.Number({ description: '0-1: 5xx answers over all answers' })),
      p95_ms: Nullable(N),
    }),
    database: Type.Object({
      kind: Type.Enum(['pglite', 'postgres'], { type: 'string' }),
      connections_used: Int,
      connections_max: Int,
      queries_per_second: N,
      query_average_ms: Nullable(N),
      size_bytes: N,
      replica_lag_seconds: Nullable(N),
    }),
    cache: Type.Object({ hits: Int, misses: Int, hit_rate: Nullable(N) }),
    memory: Type.Object({ host_used_percent: N, max_heap_percent: N }),
    disk: Nullable(Type.Object({ path: Type.String(), used_bytes: N, total_bytes: N, used_percent: N })),
    business: Type.Object({
      active_users_24h: Int,
      tasks_created_today: Type.Integer({ minimum: 0, description: 'Today in UTC' }),
      tasks_completed_today: Int,
      average_completion_seconds: Nullable(
        Type.Number({ description: 'Creation to completion, tasks completed in the last 30 days' }),
      ),
    }),
    jobs: Type.Object({ reachable: Type.Boolean(), failed: Int, outbox_pending: Int }),
    trend: Type.Array(Type.Object({ date: Type.String({ format: 'date' }), created: Int, completed: Int }), {
      description: 'Tasks created and completed per UTC day, the last 30 days',
    }),
    alerts: Type.Array(
      Type.Object({
        id: Type.String(),
        severity: Type.Enum(['warning', 'critical'], { type: 'string' }),
        message: Type.String(),
        value: N,
        threshold: N,
      }),
      { description: 'What needs attention, critical first; empty when all is well' },
    ),
  },
  { $id: 'Dashboard', title: 'Dashboard' },
);

const check = (c: Check) => ({ status: c.status, latency_ms: c.latencyMs });

export function presentDashboard(d: Dashboard): Static<typeof DashboardSchema> {
  const api = d.processes.filter((p) => p.kind === 'api');
  return {
    generated_at: d.generatedAt.toISOString(),
    window_seconds: d.windowSeconds,
    version: d.version,
    health: {
      status: d.health.status,
      checks: {
        database: check(d.health.checks.database),
        ...(d.health.checks.redis ? { redis: check(d.health.checks.redis) } : {}),
        ...(d.health.checks.queue ? { queue: check(d.health.checks.queue) } : {}),
      },
      uptime_seconds: Math.max(0, ...api.map((p) => p.uptimeSeconds)),
    },
    processes: d.processes.map((p) => ({
      id: p.id,
      kind: p.kind as 'api' | 'worker',
      host: p.host,
      pid: p.pid,
      version: p.version,
      started_at: p.startedAt.toISOString(),
      last_seen_at: p.lastSeenAt.toISOString(),
      uptime_seconds: p.uptimeSeconds,
      rss_bytes: p.rssBytes,
      heap_used_bytes: p.heapUsedBytes,
      heap_limit_bytes: p.heapLimitBytes,
      cpu_percent: p.cpuPercent,
      event_loop_lag_ms: p.eventLoopLagMs,
      in_flight: p.inFlight,
    })),
    requests: {
      total: d.requests.total,
      errors: d.requests.errors,
      per_second: d.requests.perSecond,
      average_ms: d.requests.averageMs,
      error_rate: d.requests.errorRate,
      p95_ms: d.requests.p95Ms,
    },
    database: {
      kind: d.database.kind,
      connections_used: d.database.connectionsUsed,
      connections_max: d.database.connectionsMax,
      queries_per_second: d.database.queriesPerSecond,
      query_average_ms: d.database.queryAverageMs,
      size_bytes: d.database.sizeBytes,
      replica_lag_seconds: d.database.replicaLagSeconds,
    },
    cache: { hits: d.cache.hits, misses: d.cache.misses, hit_rate: d.cache.hitRate },
    memory: { host_used_percent: d.memory.hostUsedPercent, max_heap_percent: d.memory.maxHeapPercent },
    disk: d.disk
      ? {
          path: d.disk.path,
          used_bytes: d.disk.usedBytes,
          total_bytes: d.disk.totalBytes,
          used_percent: d.disk.usedPercent,
        }
      : null,
    business: {
      active_users_24h: d.business.activeUsers24h,
      tasks_created_today: d.business.tasksCreatedToday,
      tasks_completed_today: d.business.tasksCompletedToday,
      average_completion_seconds: d.business.averageCompletionSeconds,
    },
    jobs: { reachable: d.jobs.reachable, failed: d.jobs.failed, outbox_pending: d.jobs.outboxPending },
    trend: d.trend,
    alerts: d.alerts,
  };
}
