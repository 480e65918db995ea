import { statfs } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/client';

/** The version in every build_info and dashboard. */
export const TASKMAN_VERSION = '0.1.0';

/** Counters kept by the core; the API's /metrics endpoint exposes this registry. */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  httpInFlight: Gauge;
  /** Answers with an error envelope, by the API's error code. */
  httpErrors: Counter<'method' | 'route' | 'code'>;
  dbQueryDuration: Histogram;
  jobFailures: Counter<'job_name'>;
  cacheHits: Counter<'cache'>;
  cacheMisses: Counter<'cache'>;
  cacheErrors: Counter<'cache'>;
  rateLimited: Counter<'scope'>;
  jobDuration: Histogram<'job_name' | 'outcome'>;
}

/** Where the job gauges read their figures at scrape time. */
export interface JobMetricSources {
  counts(): Promise<Record<string, object>>;
  outboxPending(): Promise<number>;
}

/**
 * Gauges of the queues (jobs per queue and state) and of the outbox backlog, read when scraped:
 * every process reports the same fleet-wide figures, from Redis or the database.
 */
export function addJobGauges(metrics: Metrics, sources: JobMetricSources): void {
  const up = new Gauge({
    name: 'taskman_job_queue_up',
    help: '1 if the job queue answered at this scrape (taskman_jobs is current), 0 if not',
    registers: [metrics.registry],
  });
  new Gauge({
    name: 'taskman_jobs',
    help: 'Jobs per queue and state (waiting, active, delayed, failed, completed)',
    labelNames: ['queue', 'state'] as const,
    registers: [metrics.registry],
    async collect() {
      try {
        const counts = await sources.counts();
        this.reset();
        for (const [queue, byState] of Object.entries(counts))
          for (const [state, n] of Object.entries(byState as Record<string, number>))
            this.set({ queue, state }, n);
        up.set(1);
      } catch {
        // The queue is unreachable: no figures rather than stale ones, and the up gauge says so.
        this.reset();
        up.set(0);
      }
    },
  });
  new Gauge({
    name: 'taskman_outbox_pending',
    help: 'Domain events written but not yet published to the job queue',
    registers: [metrics.registry],
    async collect() {
      try {
        this.set(await sources.outboxPending());
      } catch {}
    },
  });
}

/** Seconds: from a cached read (~1 ms) to a slow request (10 s). The dashboard's p95 uses the same. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Where the business gauges read their figures, at scrape time (fleet-wide: from the database). */
export interface BusinessSources {
  figures(): Promise<{
    activeUsers24h: number;
    tasksCreatedToday: number;
    tasksCompletedToday: number;
    averageCompletionSeconds: number | null;
  }>;
}

/**
 * Users active in the last 24 h, tasks created and completed today (UTC), and the average time
 * from creation to completion of the tasks completed in the last 30 days. Read from the database
 * at most every 30 s whatever the scrape rate, so every process reports the same fleet figures.
 */
export function addBusinessGauges(metrics: Metrics, sources: BusinessSources, now = () => Date.now()): void {
  let cached: { at: number; value: Promise<Awaited<ReturnType<BusinessSources['figures']>>> } | undefined;
  const read = () => {
    if (!cached || now() - cached.at > 30_000) {
      const value = sources.figures();
      cached = { at: now(), value };
      value.catch(() => {
        cached = undefined;
      });
    }
    return cached.value;
  };
  const gauge = (name: string, help: string, pick: (f: Awaited<ReturnType<typeof read>>) => number | null) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      async collect() {
        try {
          const v = pick(await read());
          if (v === null) this.reset();
          else this.set(v);
        } catch {
          this.reset();
        }
      },
    });
  gauge('taskman_users_active_24h', 'Users who made a request in the last 24 hours', (f) => f.activeUsers24h);
  gauge('taskman_tasks_created_today', 'Tasks created today (UTC)', (f) => f.tasksCreatedToday);
  gauge('taskman_tasks_completed_today', 'Tasks completed today (UTC)', (f) => f.tasksCompletedToday);
  gauge(
    'taskman_task_completion_seconds_avg',
    'Average time from creation to completion of the tasks completed in the last 30 days',
    (f) => f.averageCompletionSeconds,
  );
}

/** The connection pool: connections in use, idle and waiting for one, and the pool's size. */
export function addDatabaseGauges(metrics: Metrics, database: Pick<Database, 'poolStats' | 'replica'>): void {
  const replica = database.replica;
  if (replica) {
    new Gauge({
      name: 'taskman_db_replica_up',
      help: 'Whether reads go to the replica (1) or all go to the primary (0: down, or trailing by more than DATABASE_REPLICA_MAX_LAG_MS)',
      registers: [metrics.registry],
      collect() {
        this.set(replica.state().usable ? 1 : 0);
      },
    });
    new Counter({
      name: 'taskman_db_reads_total',
      help: 'Statements outside transactions, by the server that ran them (primary or replica)',
      labelNames: ['target'] as const,
      registers: [metrics.registry],
      collect() {
        this.reset();
        this.inc({ target: 'primary' }, replica.reads.primary);
        this.inc({ target: 'replica' }, replica.reads.replica);
      },
    });
  }
  new Gauge({
    name: 'taskman_db_pool_connections',
    help: 'Database pool connections: used (running a query or a transaction), idle, and requests waiting for one',
    labelNames: ['state'] as const,
    registers: [metrics.registry],
    collect() {
      const p = database.poolStats();
      this.set({ state: 'used' }, p.total - p.idle);
      this.set({ state: 'idle' }, p.idle);
      this.set({ state: 'waiting' }, p.waiting);
    },
  });
  new Gauge({
    name: 'taskman_db_pool_max',
    help: 'The most connections the pool opens (DATABASE_POOL_MAX)',
    registers: [metrics.registry],
    collect() {
      this.set(database.poolStats().max);
    },
  });
}

/**
 * The host side: the streaming replicas' lag (PostgreSQL primary), the share of the disk of
 * DATA_DIR in use, and this process's heap limit (to compare nodejs_heap_size_used_bytes with).
 */
export function addHostGauges(
  metrics: Metrics,
  sources: { replicaLagSeconds(): Promise<number | null>; dataDir: string },
): void {
  new Gauge({
    name: 'taskman_db_replica_lag_seconds',
    help: 'How far the read replica (DATABASE_REPLICA_URL) trails the primary, as this process last measured it; else the furthest streaming replica seen by the primary (absent without replicas, or while the replica is down)',
    registers: [metrics.registry],
    async collect() {
      const lag = await sources.replicaLagSeconds().catch(() => null);
      if (lag === null) this.reset();
      else this.set(lag);
    },
  });
  new Gauge({
    name: 'taskman_disk_used_ratio',
    help: 'Share (0-1) of the filesystem holding DATA_DIR that is in use',
    registers: [metrics.registry],
    async collect() {
      try {
        const s = await statfs(sources.dataDir);
        this.set((s.blocks - s.bavail) / s.blocks);
      } catch {
        this.reset();
      }
    },
  });
  new Gauge({
    name: 'taskman_process_heap_limit_bytes',
    help: "The V8 heap's size limit of this process",
    registers: [metrics.registry],
    collect() {
      this.set(getHeapStatistics().heap_size_limit);
    },
  });
}

/** One registry per core, so several apps in one process (tests) never share counters. */
export function createMetrics(labels: { process: 'api' | 'worker' } = { process: 'api' }): Metrics {
  const registry = new Registry();
  // CPU, memory, heap, event-loop lag, file descriptors, GC: prom-client's standard process metrics.
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'taskman_build_info',
    help: 'Always 1; the labels say what runs',
    labelNames: ['version', 'node', 'process'] as const,
    registers: [registry],
  }).set({ version: TASKMAN_VERSION, node: process.versions.node, process: labels.process }, 1);
  const cache = ['cache'] as const;
  const http = ['method', 'route', 'status'] as const;
  return {
    registry,
    httpRequests: new Counter({
      name: 'taskman_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status',
      labelNames: http,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'taskman_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route template and status',
      labelNames: http,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    httpInFlight: new Gauge({
      name: 'taskman_http_requests_in_flight',
      help: 'HTTP requests being answered now (open event streams included)',
      registers: [registry],
    }),
    httpErrors: new Counter({
      name: 'taskman_http_errors_total',
      help: 'Error answers, by method, route template and error code (VALIDATION_ERROR, INTERNAL_ERROR, …)',
      labelNames: ['method', 'route', 'code'] as const,
      registers: [registry],
    }),
    dbQueryDuration: new Histogram({
      name: 'taskman_db_query_duration_seconds',
      help: 'Time a database query took (this process)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    jobFailures: new Counter({
      name: 'taskman_job_failures_total',
      help: 'Job runs that failed (each attempt), by job',
      labelNames: ['job_name'] as const,
      registers: [registry],
    }),
    cacheHits: new Counter({
      name: 'taskman_cache_hits_total',
      help: 'Cache hits',
      labelNames: cache,
      registers: [registry],
    }),
    cacheMisses: new Counter({
      name: 'taskman_cache_misses_total',
      help: 'Cache misses',
      labelNames: cache,
      registers: [registry],
    }),
    cacheErrors: new Counter({
      name: 'taskman_cache_errors_total',
      help: 'Cache operations that failed or were skipped because the cache store was unreachable',
      labelNames: cache,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'taskman_job_duration_seconds',
      help: 'Time a job run took, by job name and outcome (completed, retry, failed); job_name, as Prometheus keeps job for the scrape job',
      labelNames: ['job_name', 'outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'taskman_rate_limited_total',
      help: 'Requests refused with 429',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
  };
}
