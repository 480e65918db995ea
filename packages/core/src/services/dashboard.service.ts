// The operations dashboard: health, traffic, database, cache, disk, business figures, a 30-day
// trend and alerts, for the whole fleet (every API and worker process), in one answer.
import { statfs } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';
import type { Config } from '../config';
import type { Database } from '../db/client';
import type { JobQueue } from '../jobs/job.queue';
import type { OutboxRelay } from '../jobs/outbox.relay';
import type { Clock } from '../lib/clock';
import { LATENCY_BUCKETS, TASKMAN_VERSION } from '../metrics/metrics';
import type { ProcessSampler } from '../metrics/sampler';
import type { ProcessSample, SystemRepository } from '../repositories/system.repository';
import type { HealthService, Readiness } from './health.service';

/** The window the traffic figures cover. */
export const DASHBOARD_WINDOW_MS = 5 * 60_000;
/** A process that wrote no sample for this long is gone (its figures still count in the window). */
export const PROCESS_STALE_MS = 60_000;

/** Alert thresholds: the same numbers as deploy/prometheus/alerts.yml. */
export const ALERT_THRESHOLDS = {
  /** A process's heap over this share of its limit, or the host's memory in use. */
  memoryPercent: 85,
  /** 5xx answers over this share of requests, over the window. */
  errorRate: 0.01,
  /** p95 latency over the window, milliseconds. */
  p95Ms: 500,
  /** The filesystem of DATA_DIR. */
  diskPercent: 80,
  /** Seconds a replica may trail the primary. */
  replicaLagSeconds: 30,
  /** Domain events not yet published to the job queue. */
  outboxBacklog: 1000,
  /** Event-loop lag (p99), milliseconds. */
  eventLoopLagMs: 200,
} as const;

export type Severity = 'warning' | 'critical';
export interface Alert {
  id: string;
  severity: Severity;
  message: string;
  value: number;
  threshold: number;
}

export interface ProcessView {
  id: string;
  kind: string;
  host: string;
  pid: number;
  version: string;
  startedAt: Date;
  lastSeenAt: Date;
  uptimeSeconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  heapLimitBytes: number;
  cpuPercent: number;
  eventLoopLagMs: number;
  inFlight: number;
}

export interface Dashboard {
  generatedAt: Date;
  windowSeconds: number;
  version: string;
  health: Readiness;
  processes: ProcessView[];
  requests: {
    total: number;
    errors: number;
    perSecond: number;
    averageMs: number | null;
    errorRate: number | null;
    p95Ms: number | null;
  };
  database: {
    kind: 'pglite' | 'postgres';
    connectionsUsed: number;
    connectionsMax: number;
    queriesPerSecond: number;
    queryAverageMs: number | null;
    sizeBytes: number;
    replicaLagSeconds: number | null;
  };
  cache: { hits: number; misses: number; hitRate: number | null };
  memory: { hostUsedPercent: number; maxHeapPercent: number };
  disk: { path: string; usedBytes: number; totalBytes: number; usedPercent: number } | null;
  business: {
    activeUsers24h: number;
    tasksCreatedToday: number;
    tasksCompletedToday: number;
    averageCompletionSeconds: number | null;
  };
  jobs: { reachable: boolean; failed: number; outboxPending: number };
  trend: { date: string; created: number; completed: number }[];
  alerts: Alert[];
}

/** The latency under which `q` of the requests fall, interpolated within its bucket (as Prometheus does). */
export function quantileMs(buckets: number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i]!;
    if (seen + n >= rank && n > 0) {
      const lower = i === 0 ? 0 : LATENCY_BUCKETS[i - 1]!;
      // Past the last bound there is no upper edge: the last bound is the best estimate.
      if (i >= LATENCY_BUCKETS.length) return LATENCY_BUCKETS.at(-1)! * 1000;
      const upper = LATENCY_BUCKETS[i]!;
      return (lower + (upper - lower) * ((rank - seen) / n)) * 1000;
    }
    seen += n;
  }
  return LATENCY_BUCKETS.at(-1)! * 1000;
}

export class DashboardService {
  constructor(
    private readonly system: SystemRepository,
    private readonly health: HealthService,
    private readonly database: Database,
    private readonly queue: JobQueue,
    private readonly relay: OutboxRelay,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'dataDir' | 'databaseUrl'>,
    /** This process's sampler: flushed first, so its latest requests count. */
    private readonly sampler?: ProcessSampler,
  ) {}

  async overview(): Promise<Dashboard> {
    await this.sampler?.flush();
    const now = this.clock.now();
    const since = new Date(now.getTime() - DASHBOARD_WINDOW_MS);
    const [health, samples, business, trend, connections, sizeBytes, replicaLagSeconds, disk, jobs] =
      await Promise.all([
        this.health.readiness(),
        this.system.samplesSince(since),
        this.system.businessFigures(now),
        this.system.creationTrend(now, 30),
        this.system.connections(),
        this.system.databaseBytes(),
        this.system.replicaLagSeconds(),
        this.disk(),
        this.jobs(),
      ]);
    const processes = this.processes(samples, now);
    // The window is what the samples cover: less than five minutes just after a start.
    const first = samples[0]?.at.getTime();
    const windowSeconds = Math.max(
      1,
      Math.min(DASHBOARD_WINDOW_MS, first ? now.getTime() - first : 0) / 1000,
    );
    const total = (f: (s: ProcessSample) => number) => samples.reduce((a, s) => a + f(s), 0);
    const requests = total((s) => s.data.requests);
    const errors = total((s) => s.data.errors);
    const buckets = LATENCY_BUCKETS.map((_, i) => i)
      .concat(LATENCY_BUCKETS.length)
      .map((i) => total((s) => s.data.buckets[i] ?? 0));
    const queries = total((s) => s.data.queries);
    const hits = total((s) => s.data.cacheHits);
    const misses = total((s) => s.data.cacheMisses);
    const maxHeapPercent = Math.max(0, ...processes.map((p) => (100 * p.heapUsedBytes) / p.heapLimitBytes));
    const hostUsedPercent = (100 * (totalmem() - freemem())) / totalmem();
    const dashboard: Dashboard = {
      generatedAt: now,
      windowSeconds,
      version: TASKMAN_VERSION,
      health,
      processes,
      requests: {
        total: requests,
        errors,
        perSecond: requests / windowSeconds,
        averageMs: requests ? (1000 * total((s) => s.data.durationSeconds)) / requests : null,
        errorRate: requests ? errors / requests : null,
        p95Ms: quantileMs(buckets, 0.95),
      },
      database: {
        kind: this.database.kind,
        connectionsUsed: connections.used,
        connectionsMax: connections.max,
        queriesPerSecond: queries / windowSeconds,
        queryAverageMs: queries ? (1000 * total((s) => s.data.querySeconds)) / queries : null,
        sizeBytes,
        replicaLagSeconds,
      },
      cache: { hits, misses, hitRate: hits + misses ? hits / (hits + misses) : null },
      memory: { hostUsedPercent, maxHeapPercent },
      disk,
      business,
      jobs,
      trend,
      alerts: [],
    };
    dashboard.alerts = alertsOf(dashboard);
    return dashboard;
  }

  private processes(samples: ProcessSample[], now: Date): ProcessView[] {
    const latest = new Map<string, ProcessSample>();
    const cpu = new Map<string, { seconds: number; from: number; to: number }>();
    for (const s of samples) {
      latest.set(s.processId, s);
      const c = cpu.get(s.processId) ?? { seconds: 0, from: s.at.getTime(), to: s.at.getTime() };
      c.seconds += s.data.cpuSeconds;
      c.to = s.at.getTime();
      cpu.set(s.processId, c);
    }
    return [...latest.values()]
      .filter((s) => now.getTime() - s.at.getTime() <= PROCESS_STALE_MS)
      .map((s) => {
        const c = cpu.get(s.processId)!;
        const span = (c.to - c.from) / 1000;
        return {
          id: s.processId,
          kind: s.kind,
          host: s.host,
          pid: s.pid,
          version: s.data.version,
          startedAt: s.startedAt,
          lastSeenAt: s.at,
          uptimeSeconds: Math.max(0, (now.getTime() - s.startedAt.getTime()) / 1000),
          rssBytes: s.data.rssBytes,
          heapUsedBytes: s.data.heapUsedBytes,
          heapLimitBytes: s.data.heapLimitBytes,
          // CPU over the window (the first sample's time is before the window starts).
          cpuPercent:
            span > 0
              ? (100 * (c.seconds - samples.find((x) => x.processId === s.processId)!.data.cpuSeconds)) / span
              : 0,
          eventLoopLagMs: s.data.eventLoopLagSeconds * 1000,
          inFlight: s.data.inFlight,
        };
      })
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.startedAt.getTime() - b.startedAt.getTime());
  }

  /** The filesystem holding DATA_DIR (embedded database, mail, secrets), when there is one here. */
  private async disk(): Promise<Dashboard['disk']> {
    try {
      const s = await statfs(this.config.dataDir);
      const totalBytes = s.blocks * s.bsize;
      const usedBytes = (s.blocks - s.bavail) * s.bsize;
      return {
        path: this.config.dataDir,
        usedBytes,
        totalBytes,
        usedPercent: (100 * usedBytes) / totalBytes,
      };
    } catch {
      return null;
    }
  }

  private async jobs(): Promise<Dashboard['jobs']> {
    const outboxPending = await this.relay.pending().catch(() => 0);
    try {
      const counts = await this.queue.counts();
      const failed = Object.values(counts).reduce((a, c) => a + (c.failed ?? 0), 0);
      return { reachable: true, failed, outboxPending };
    } catch {
      return { reachable: false, failed: 0, outboxPending };
    }
  }
}

/** What needs an operator's eye, most severe first. */
export function alertsOf(d: Dashboard): Alert[] {
  const t = ALERT_THRESHOLDS;
  const alerts: Alert[] = [];
  const add = (id: string, severity: Severity, message: string, value: number, threshold: number) =>
    alerts.push({ id, severity, message, value, threshold });
  if (!d.health.ready) add('not_ready', 'critical', 'The database does not answer', 0, 1);
  for (const [name, check] of Object.entries(d.health.checks))
    if (check.status !== 'ok' && name !== 'database')
      add(`${name}_down`, 'critical', `${name} does not answer`, 0, 1);
  if (d.memory.maxHeapPercent > t.memoryPercent)
    add(
      'memory_heap',
      'warning',
      `A process uses ${d.memory.maxHeapPercent.toFixed(0)}% of its heap`,
      d.memory.maxHeapPercent,
      t.memoryPercent,
    );
  if (d.memory.hostUsedPercent > t.memoryPercent)
    add(
      'memory_host',
      'warning',
      `The host's memory is ${d.memory.hostUsedPercent.toFixed(0)}% used`,
      d.memory.hostUsedPercent,
      t.memoryPercent,
    );
  if (d.requests.errorRate !== null && d.requests.errorRate > t.errorRate)
    add(
      'error_rate',
      d.requests.errorRate > 0.05 ? 'critical' : 'warning',
      `${(d.requests.errorRate * 100).toFixed(1)}% of requests failed (5xx) in the last ${Math.round(d.windowSeconds / 60)} min`,
      d.requests.errorRate,
      t.errorRate,
    );
  if (d.requests.p95Ms !== null && d.requests.p95Ms > t.p95Ms)
    add(
      'latency_p95',
      'warning',
      `p95 latency is ${d.requests.p95Ms.toFixed(0)} ms`,
      d.requests.p95Ms,
      t.p95Ms,
    );
  if (d.jobs.failed > 0)
    add(
      'failed_jobs',
      'warning',
      `${d.jobs.failed} failed job(s) wait for a retry or a look`,
      d.jobs.failed,
      0,
    );
  if (d.jobs.outboxPending > t.outboxBacklog)
    add(
      'outbox_backlog',
      'critical',
      `${d.jobs.outboxPending} events are not yet published to the job queue`,
      d.jobs.outboxPending,
      t.outboxBacklog,
    );
  if (d.database.replicaLagSeconds !== null && d.database.replicaLagSeconds > t.replicaLagSeconds)
    add(
      'replica_lag',
      'warning',
      `A replica trails by ${d.database.replicaLagSeconds.toFixed(0)} s`,
      d.database.replicaLagSeconds,
      t.replicaLagSeconds,
    );
  if (d.disk && d.disk.usedPercent > t.diskPercent)
    add(
      'disk',
      d.disk.usedPercent > 90 ? 'critical' : 'warning',
      `The disk of ${d.disk.path} is ${d.disk.usedPercent.toFixed(0)}% full`,
      d.disk.usedPercent,
      t.diskPercent,
    );
  const lag = Math.max(0, ...d.processes.map((p) => p.eventLoopLagMs));
  if (lag > t.eventLoopLagMs)
    add(
      'event_loop_lag',
      'warning',
      `A process's event loop lags ${lag.toFixed(0)} ms`,
      lag,
      t.eventLoopLagMs,
    );
  return alerts.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1));
}
