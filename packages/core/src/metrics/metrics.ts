import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Counters kept by the core; the API's /metrics endpoint exposes this registry. */
export interface Metrics {
  registry: Registry;
  cacheHits: Counter<'cache'>;
  cacheMisses: Counter<'cache'>;
  cacheErrors: Counter<'cache'>;
  rateLimited: Counter<'scope'>;
  jobDuration: Histogram<'job' | 'outcome'>;
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

/** One registry per core, so several apps in one process (tests) never share counters. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const cache = ['cache'] as const;
  return {
    registry,
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
      help: 'Time a job run took, by job and outcome (completed, retry, failed)',
      labelNames: ['job', 'outcome'] as const,
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
