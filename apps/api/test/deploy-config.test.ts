// The operations files in deploy/ (Prometheus scrape config and alert rules, the Grafana dashboard)
// name metrics and thresholds. A metric renamed or dropped in the code would leave an empty panel or
// an alert that never fires, silently; these checks catch it. They read files only: no server, no database.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ALERT_THRESHOLDS } from '@taskman/core';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { hasPrometheus, promtool } from './helpers/prometheus';

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const read = (file: string) => readFileSync(`${DEPLOY}${file}`, 'utf8');

/** The metrics the API and the worker expose (packages/core/src/metrics/metrics.ts). */
const EXPOSED = [
  'taskman_http_requests_total',
  'taskman_http_request_duration_seconds',
  'taskman_http_requests_in_flight',
  'taskman_http_errors_total',
  'taskman_db_pool_connections',
  'taskman_db_pool_max',
  'taskman_db_query_duration_seconds',
  'taskman_db_replica_lag_seconds',
  'taskman_db_replica_up',
  'taskman_db_reads_total',
  'taskman_disk_used_ratio',
  'taskman_process_heap_limit_bytes',
  'taskman_cache_hits_total',
  'taskman_cache_misses_total',
  'taskman_cache_errors_total',
  'taskman_rate_limited_total',
  'taskman_jobs',
  'taskman_job_queue_up',
  'taskman_outbox_pending',
  'taskman_job_duration_seconds',
  'taskman_job_failures_total',
  'taskman_users_active_24h',
  'taskman_tasks_created_today',
  'taskman_tasks_completed_today',
  'taskman_task_completion_seconds_avg',
  'taskman_build_info',
];
/** The histograms among them: only these have _bucket, _sum and _count series. */
const HISTOGRAMS = [
  'taskman_http_request_duration_seconds',
  'taskman_db_query_duration_seconds',
  'taskman_job_duration_seconds',
];
/** prom-client's default metrics (collectDefaultMetrics) that deploy/ may use. */
const DEFAULT_METRICS = [
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'process_start_time_seconds',
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_eventloop_lag_seconds',
];
/** Series Prometheus makes itself (and time(), a function). */
const BUILT_IN = ['up', 'ALERTS', 'time'];
/** PromQL functions and aggregations deploy/ may call. */
const FUNCTIONS = [
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'rate',
  'increase',
  'histogram_quantile',
  'time',
  'vector',
];
/** PromQL keywords that look like names. */
const KEYWORDS = ['and', 'or', 'unless', 'bool', 'offset'];

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
}
interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}
interface Panel {
  type: string;
  title?: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: { expr?: unknown }[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { thresholds?: { steps: { value: number | null }[] } } };
}

const prometheus = parse(read('prometheus/prometheus.yml'));
const rules: Rule[] = parse(read('prometheus/alerts.yml')).groups.flatMap((g: { rules: Rule[] }) => g.rules);
const dashboard = JSON.parse(read('grafana/taskman-dashboard.json'));
/** Every panel, those inside rows too. */
const panels: Panel[] = (dashboard.panels as Panel[]).flatMap((p) => [p, ...(p.panels ?? [])]);
const dashboardExprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const alertExprs = rules.map((r) => r.expr ?? '');

/** The taskman_ names an expression reads, as the brief's regex finds them. */
const taskmanNames = (expr: string) => [...expr.matchAll(/\btaskman_[a-z0-9_]+/g)].map((m) => m[0]);
const isExposed = (name: string) => {
  if (EXPOSED.includes(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && HISTOGRAMS.includes(base);
};

/** The series and functions an expression names, with label matchers, label lists and ranges set aside. */
function namesIn(expr: string): { metrics: string[]; functions: string[] } {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\w+/g, ' ');
  const metrics: string[] = [];
  const functions: string[] = [];
  for (const [, name, call] of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)) {
    if (call) functions.push(name!);
    else if (!KEYWORDS.includes(name!)) metrics.push(name!);
  }
  return { metrics, functions };
}

/** The number an alert compares its expression with: what follows the last comparison. */
function threshold(expr: string): number {
  const m = /(?:>|<|>=|<=|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(expr.trim());
  if (!m) throw new Error(`no threshold at the end of: ${expr}`);
  return Number(m[1]);
}

function rule(name: string): Rule {
  const found = rules.find((r) => r.alert === name);
  if (!found) throw new Error(`alerts.yml has no rule ${name}`);
  return found;
}

describe('deploy/prometheus/prometheus.yml', () => {
  it('scrapes the API and the worker at /metrics every 15 s and loads the alert rules', () => {
    expect(prometheus.global.scrape_interval).toBe('15s');
    const jobs = prometheus.scrape_configs as ScrapeConfig[];
    for (const name of ['taskman-api', 'taskman-worker']) {
      const job = jobs.find((j) => j.job_name === name);
      expect(job, name).toBeDefined();
      expect(job!.metrics_path).toBe('/metrics');
    }
    expect(prometheus.rule_files).toContain('alerts.yml');
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  it('gives every rule a name, an expression, a severity and a summary', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(typeof r.alert, JSON.stringify(r)).toBe('string');
      expect(r.alert).toMatch(/^Taskman[A-Za-z]+$/);
      expect(typeof r.expr, r.alert).toBe('string');
      expect(r.expr!.trim(), r.alert).not.toBe('');
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(typeof r.annotations?.summary, r.alert).toBe('string');
      expect(r.annotations!.summary!.trim(), r.alert).not.toBe('');
      expect(typeof r.annotations?.description, r.alert).toBe('string');
    }
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });

  it('alerts at the thresholds of the operations dashboard', () => {
    const t = ALERT_THRESHOLDS;
    // [rule, the number its expression compares with, a series it must read]
    const cases: [string, number, string][] = [
      ['TaskmanHighMemory', t.memoryPercent / 100, 'taskman_process_heap_limit_bytes'],
      ['TaskmanHighErrorRate', t.errorRate, 'status=~"5.."'],
      ['TaskmanHighLatency', t.p95Ms / 1000, 'taskman_http_request_duration_seconds_bucket'],
      ['TaskmanDiskFilling', t.diskPercent / 100, 'taskman_disk_used_ratio'],
      ['TaskmanReplicaLag', t.replicaLagSeconds, 'taskman_db_replica_lag_seconds'],
      ['TaskmanOutboxBacklog', t.outboxBacklog, 'taskman_outbox_pending'],
      ['TaskmanEventLoopLag', t.eventLoopLagMs / 1000, 'nodejs_eventloop_lag_p99_seconds'],
    ];
    for (const [name, value, reads] of cases) {
      const { expr } = rule(name);
      expect(threshold(expr!), name).toBeCloseTo(value, 9);
      expect(expr, name).toContain(reads);
    }
    expect(rule('TaskmanHighLatency').expr).toContain('histogram_quantile(0.95,');
  });
});

describe('deploy/grafana/taskman-dashboard.json', () => {
  it('is a dashboard on a chosen Prometheus, filtered by instance', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.__inputs).toContainEqual(
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    );
    const variables = dashboard.templating.list as { name: string; type: string; query: unknown }[];
    expect(variables).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    expect(variables).toContainEqual(expect.objectContaining({ name: 'instance', type: 'query' }));
  });

  it('gives every panel a title and a place on the 24-column grid, without overlaps', () => {
    expect(panels.length).toBeGreaterThan(0);
    for (const p of panels) {
      expect(typeof p.title, JSON.stringify(p)).toBe('string');
      expect(p.title!.trim()).not.toBe('');
      const g = p.gridPos!;
      expect(g, p.title).toBeDefined();
      expect(g.w, p.title).toBeGreaterThan(0);
      expect(g.w, p.title).toBeLessThanOrEqual(24);
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      expect(g.h, p.title).toBeGreaterThan(0);
    }
    const placed = panels.filter((p) => p.gridPos);
    for (const [i, a] of placed.entries())
      for (const b of placed.slice(i + 1)) {
        const [ga, gb] = [a.gridPos!, b.gridPos!];
        const overlap = ga.x < gb.x + gb.w && gb.x < ga.x + ga.w && ga.y < gb.y + gb.h && gb.y < ga.y + ga.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
  });

  it('gives every query a PromQL expression', () => {
    expect(dashboardExprs.length).toBeGreaterThan(0);
    for (const p of panels)
      for (const t of p.targets ?? []) {
        expect(typeof t.expr, p.title).toBe('string');
        expect((t.expr as string).trim(), p.title).not.toBe('');
      }
  });

  it('marks the alert thresholds on the matching panels', () => {
    const t = ALERT_THRESHOLDS;
    const marks = (title: string) => {
      const panel = panels.find((p) => p.title === title);
      if (!panel) throw new Error(`no panel ${title}`);
      return (panel.fieldConfig?.defaults?.thresholds?.steps ?? []).map((s) => s.value);
    };
    expect(marks('Error rate (5xx)')).toContain(t.errorRate);
    expect(marks('p95 latency')).toContain(t.p95Ms / 1000);
    expect(marks('Disk used (DATA_DIR)')).toContain(t.diskPercent / 100);
    expect(marks('Replica lag')).toContain(t.replicaLagSeconds);
    expect(marks('Outbox backlog')).toContain(t.outboxBacklog);
    expect(marks('Event loop lag (p99)')).toContain(t.eventLoopLagMs / 1000);
  });
});

describe('the metrics deploy/ reads', () => {
  const sources: [string, string[]][] = [
    ['alerts.yml', alertExprs],
    ['the Grafana dashboard', dashboardExprs as string[]],
  ];

  it.each(sources)('are all exposed by the API or the worker (%s)', (_, exprs) => {
    const names = exprs.flatMap(taskmanNames);
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => !isExposed(n))).toEqual([]);
  });

  it.each(sources)('outside taskman_, are prom-client defaults or Prometheus built-ins (%s)', (_, exprs) => {
    const found = exprs.map(namesIn);
    const others = found.flatMap((f) => f.metrics).filter((n) => !n.startsWith('taskman_'));
    expect(others.filter((n) => !DEFAULT_METRICS.includes(n) && !BUILT_IN.includes(n))).toEqual([]);
    expect(found.flatMap((f) => f.functions).filter((f) => !FUNCTIONS.includes(f))).toEqual([]);
  });

  it('the name finder sees through label matchers, label lists and ranges', () => {
    expect(
      namesIn(
        'sum by (le, job_name) (rate(taskman_job_duration_seconds_bucket{instance=~"$instance", job="a{b}"}[5m])) / on(instance) up > 0.5',
      ),
    ).toEqual({ metrics: ['taskman_job_duration_seconds_bucket', 'up'], functions: ['sum', 'rate'] });
    expect(isExposed('taskman_http_request_duration_seconds_bucket')).toBe(true);
    expect(isExposed('taskman_jobs_count')).toBe(false);
    expect(isExposed('taskman_http_request_total')).toBe(false);
  });
});

describe.skipIf(!hasPrometheus())('promtool (Prometheus’s own checker)', () => {
  const file = (p: string) => fileURLToPath(new URL(`../../../deploy/prometheus/${p}`, import.meta.url));
  it('accepts the alert rules', async () => {
    const r = await promtool(['check', 'rules', file('alerts.yml')]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('accepts the configuration, with the rules it loads', async () => {
    const r = await promtool(['check', 'config', file('prometheus.yml')]);
    expect(r.code, r.output).toBe(0);
  });
});
