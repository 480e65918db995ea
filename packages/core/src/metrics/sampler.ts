// Every API and worker process writes what it did in the last interval to process_samples; the
// operations dashboard adds up the recent rows of all processes, so its figures cover the fleet
// whichever process answers. The figures come from the same prom-client metrics /metrics shows.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { MetricValue } from 'prom-client';
import type { Clock } from '../lib/clock';
import type { Log } from '../lib/log';
import type { SampleData, SystemRepository } from '../repositories/system.repository';
import { LATENCY_BUCKETS, type Metrics, TASKMAN_VERSION } from './metrics';

/** Samples are kept this long; the dashboard reads the last few minutes. */
export const SAMPLE_RETENTION_MS = 3_600_000;

type Totals = Omit<
  SampleData,
  'rssBytes' | 'heapUsedBytes' | 'heapLimitBytes' | 'eventLoopLagSeconds' | 'inFlight' | 'version'
>;

/** A value of a metric; a histogram's also says which series (_bucket, _sum, _count) it is. */
type Value = MetricValue<string> & { metricName?: string };

async function values(metric: {
  get(): Promise<{ values: Value[] }> | { values: Value[] };
}): Promise<Value[]> {
  return (await metric.get()).values;
}

const sum = (vs: Value[], pick: (v: Value) => boolean = () => true) =>
  vs.filter(pick).reduce((a, v) => a + v.value, 0);

export class ProcessSampler {
  readonly processId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  readonly startedAt: Date;
  private previous: Totals | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });

  constructor(
    private readonly metrics: Metrics,
    private readonly system: SystemRepository,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly kind: 'api' | 'worker',
    private readonly intervalMs: number,
  ) {
    this.startedAt = clock.now();
  }

  start(): void {
    this.loopDelay.enable();
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
    // A first row at once: the process shows on the dashboard from its start.
    void this.flush();
  }

  /** Writes a row for the time since the last one (one flush at a time). */
  flush(): Promise<void> {
    this.running = this.running.then(() =>
      this.write().catch((err: Error) =>
        this.log.warn({ err: { message: err.message } }, 'could not record the process sample'),
      ),
    );
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    this.loopDelay.disable();
  }

  private async totals(): Promise<Totals> {
    const m = this.metrics;
    const [requests, duration, queries, hits, misses, jobs, failures] = await Promise.all([
      values(m.httpRequests),
      values(m.httpDuration),
      values(m.dbQueryDuration),
      values(m.cacheHits),
      values(m.cacheMisses),
      values(m.jobDuration),
      values(m.jobFailures),
    ]);
    // The histogram's buckets are cumulative per label set: add them up per bound, then take the
    // differences, so each entry counts the requests of that bucket alone.
    const bounds = [...LATENCY_BUCKETS.map(String), '+Inf'];
    const cumulative = bounds.map((le) =>
      sum(
        duration,
        (v) => v.metricName === 'taskman_http_request_duration_seconds_bucket' && String(v.labels.le) === le,
      ),
    );
    const usage = process.cpuUsage();
    return {
      requests: sum(requests),
      errors: sum(requests, (v) => Number(v.labels.status) >= 500),
      durationSeconds: sum(duration, (v) => v.metricName === 'taskman_http_request_duration_seconds_sum'),
      buckets: cumulative.map((c, i) => c - (i === 0 ? 0 : cumulative[i - 1]!)),
      queries: sum(queries, (v) => v.metricName === 'taskman_db_query_duration_seconds_count'),
      querySeconds: sum(queries, (v) => v.metricName === 'taskman_db_query_duration_seconds_sum'),
      cacheHits: sum(hits),
      cacheMisses: sum(misses),
      jobsCompleted: sum(
        jobs,
        (v) => v.metricName === 'taskman_job_duration_seconds_count' && v.labels.outcome === 'completed',
      ),
      jobsFailed: sum(failures),
      cpuSeconds: (usage.user + usage.system) / 1e6,
    };
  }

  private async write(): Promise<void> {
    const now = this.clock.now();
    const current = await this.totals();
    const before = this.previous;
    this.previous = current;
    const delta = (k: keyof Totals) => (current[k] as number) - (before ? (before[k] as number) : 0);
    const memory = process.memoryUsage();
    const inFlight = sum(await values(this.metrics.httpInFlight));
    const data: SampleData = {
      requests: delta('requests'),
      errors: delta('errors'),
      durationSeconds: delta('durationSeconds'),
      buckets: current.buckets.map((b, i) => b - (before?.buckets[i] ?? 0)),
      queries: delta('queries'),
      querySeconds: delta('querySeconds'),
      cacheHits: delta('cacheHits'),
      cacheMisses: delta('cacheMisses'),
      jobsCompleted: delta('jobsCompleted'),
      jobsFailed: delta('jobsFailed'),
      cpuSeconds: delta('cpuSeconds'),
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapLimitBytes: getHeapStatistics().heap_size_limit,
      eventLoopLagSeconds: Number.isNaN(this.loopDelay.percentile(99))
        ? 0
        : this.loopDelay.percentile(99) / 1e9,
      inFlight,
      version: TASKMAN_VERSION,
    };
    this.loopDelay.reset();
    await this.system.recordSample(
      {
        processId: this.processId,
        at: now,
        kind: this.kind,
        host: hostname(),
        pid: process.pid,
        startedAt: this.startedAt,
        data,
      },
      new Date(now.getTime() - SAMPLE_RETENTION_MS),
    );
  }
}
