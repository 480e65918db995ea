// Observability: /metrics judged by independent parsers (parse-prometheus-text-format, promtool and
// a real Prometheus server scraping the API), readiness with each dependency, and the operations
// dashboard's figures against the database, across two API processes.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import parsePrometheus, { type MetricFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsOf, type Dashboard } from '../../../packages/core/src/services/dashboard.service';
import { createTestApp, redisEnv, type TestApp, testDb } from './helpers/app';
import { Client, signUp } from './helpers/client';
import { startApiPair, startWorker } from './helpers/process';
import { hasPrometheus, promtoolCheckMetrics, startPrometheus } from './helpers/prometheus';
import { RedisServer } from './helpers/redis-server';
import { query, until } from './helpers/wait';

const API = '/api/v1';

async function scrape(
  app: TestApp['app'],
  token?: string,
): Promise<{ text: string; families: MetricFamily[] }> {
  const res = await app.inject({
    method: 'GET',
    url: '/metrics',
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return { text: res.body, families: parsePrometheus(res.body) };
}

/** The value of a counter or gauge series with exactly these labels (0 when absent). */
function seriesValue(families: MetricFamily[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? 0 : Number(sample.value);
}

/** A histogram series' count, read from its `_count` line (the library merges labelled histograms). */
function histogramCount(text: string, name: string, labels: Record<string, string>): number {
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith(`${name}_count{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('/metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { ...redisEnv() } });
  });
  afterAll(() => t.close());

  it('counts and times requests by method, route template and status; errors by code; never a raw id', async () => {
    const ann = await signUp(t.app);
    const before = await scrape(t.app);
    const created: string[] = [];
    for (let i = 0; i < 3; i++)
      created.push((await ann.post(`${API}/tasks`, { title: `m${i}` })).body.data.id);
    await ann.get(`${API}/tasks/${created[0]}`);
    await ann.get(`${API}/tasks/${created[0]}`); // a cache hit
    const missing = randomUUID();
    expect((await ann.get(`${API}/tasks/${missing}`)).status).toBe(404);
    expect((await ann.post(`${API}/tasks`, { title: '' })).status).toBe(400);
    expect((await ann.get(`/no/such/${missing}`)).status).toBe(404);
    const after = await scrape(t.app);

    const moved = (name: string, labels: Record<string, string>) =>
      seriesValue(after.families, name, labels) - seriesValue(before.families, name, labels);
    expect(
      moved('taskman_http_requests_total', { method: 'POST', route: '/api/v1/tasks', status: '201' }),
    ).toBe(3);
    expect(
      moved('taskman_http_requests_total', { method: 'POST', route: '/api/v1/tasks', status: '400' }),
    ).toBe(1);
    expect(
      moved('taskman_http_requests_total', { method: 'GET', route: '/api/v1/tasks/:id', status: '200' }),
    ).toBe(2);
    expect(
      moved('taskman_http_requests_total', { method: 'GET', route: '/api/v1/tasks/:id', status: '404' }),
    ).toBe(1);
    expect(moved('taskman_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(
      1,
    );
    expect(moved('taskman_http_errors_total', { route: '/api/v1/tasks', code: 'VALIDATION_ERROR' })).toBe(1);
    expect(moved('taskman_http_errors_total', { route: '/api/v1/tasks/:id', code: 'NOT_FOUND' })).toBe(1);
    expect(
      histogramCount(after.text, 'taskman_http_request_duration_seconds', {
        route: '/api/v1/tasks',
        status: '201',
      }) -
        histogramCount(before.text, 'taskman_http_request_duration_seconds', {
          route: '/api/v1/tasks',
          status: '201',
        }),
    ).toBe(3);
    expect(moved('taskman_cache_hits_total', {})).toBeGreaterThanOrEqual(1);
    // The scrape itself is in flight while it is answered.
    expect(seriesValue(after.families, 'taskman_http_requests_in_flight')).toBe(1);
    // Labels are templates: no id, of a task or of the made-up path, appears anywhere.
    for (const id of [...created, missing]) expect(after.text).not.toContain(id);
  });

  it('database pool and query time, process CPU, memory and event-loop lag, build info', async () => {
    const { families, text } = await scrape(t.app);
    const names = new Set(families.map((f) => f.name));
    for (const name of [
      'taskman_db_pool_connections',
      'taskman_db_pool_max',
      'taskman_db_query_duration_seconds',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'taskman_process_heap_limit_bytes',
      'taskman_jobs',
      'taskman_outbox_pending',
      'taskman_rate_limited_total',
    ])
      expect(names, name).toContain(name);
    const queries = () => Number(/^taskman_db_query_duration_seconds_count (\d+)/m.exec(text)?.[1]);
    expect(queries()).toBeGreaterThan(0);
    expect(seriesValue(families, 'taskman_db_pool_max')).toBe(testDb === 'pglite' ? 1 : 5);
    expect(seriesValue(families, 'taskman_build_info', { process: 'api' })).toBe(1);
  });

  it('business gauges equal the database: users active in 24 h, tasks created and completed today, average completion', async () => {
    const bob = await signUp(t.app);
    const task = (await bob.post(`${API}/tasks`, { title: 'to finish' })).body.data;
    await bob.patch(`${API}/tasks/${task.id}`, { status: 'done' });
    // Activity is recorded in the background: wait for it.
    await until(
      'last_seen_at',
      async () =>
        (await query(t, sql`select 1 from users where id = ${bob.user.id} and last_seen_at is not null`))
          .length === 1 || undefined,
    );
    // The gauges are read from the database at most every 30 s: a fresh app reads them now.
    const fresh = await createTestApp({ shareDatabaseOf: t });
    try {
      const { families } = await scrape(fresh.app);
      const [db] = await query(
        t,
        sql`select
          (select count(*)::int from users where last_seen_at > now() - interval '24 hours') as active,
          (select count(*)::int from tasks where created_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') as created,
          (select count(*)::int from tasks where completed_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') as completed,
          (select avg(extract(epoch from completed_at - created_at))::float8 from tasks where completed_at > now() - interval '30 days') as avg`,
      );
      expect(seriesValue(families, 'taskman_users_active_24h')).toBe(db.active);
      expect(db.active).toBeGreaterThanOrEqual(1);
      expect(seriesValue(families, 'taskman_tasks_created_today')).toBe(db.created);
      expect(seriesValue(families, 'taskman_tasks_completed_today')).toBe(db.completed);
      expect(db.completed).toBeGreaterThanOrEqual(1);
      expect(seriesValue(families, 'taskman_task_completion_seconds_avg')).toBeCloseTo(db.avg, 3);
    } finally {
      await fresh.close();
    }
  });

  it('METRICS_TOKEN: 401 without it or with a wrong one; the document with it', async () => {
    const locked = await createTestApp({ env: { METRICS_TOKEN: 'scrape-secret-123' } });
    try {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: 'Bearer scrape-secret-1234' },
      ]) {
        const res = await locked.app.inject({ method: 'GET', url: '/metrics', headers });
        expect(res.statusCode).toBe(401);
        expect(res.body).not.toContain('taskman_');
      }
      await scrape(locked.app, 'scrape-secret-123');
    } finally {
      await locked.close();
    }
  });

  it('jobs: duration and outcome per job, failures', async () => {
    const before = await scrape(t.app);
    const { startJobWorker } = await import('@taskman/core');
    const worker = startJobWorker(t.core);
    try {
      await t.core.queue.enqueue([{ name: 'cleanup_tasks', payload: {} }]);
      await until('a completed cleanup in the metrics', async () => {
        const now = await scrape(t.app);
        return (
          histogramCount(now.text, 'taskman_job_duration_seconds', {
            job_name: 'cleanup_tasks',
            outcome: 'completed',
          }) >
          histogramCount(before.text, 'taskman_job_duration_seconds', {
            job_name: 'cleanup_tasks',
            outcome: 'completed',
          })
        );
      });
    } finally {
      await worker.stop();
    }
  });
});

describe.skipIf(!hasPrometheus())('scraped by a real Prometheus', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp();
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t.close());

  it("promtool parses /metrics and finds nothing to complain about in Taskman's series", async () => {
    const ann = await signUp(t.app);
    await ann.post(`${API}/tasks`, { title: 'linted' });
    const { text } = await scrape(t.app);
    const complaints = (await promtoolCheckMetrics(text)).split('\n').filter(Boolean);
    // prom-client's own nodejs_active_*_total gauges break a naming rule; ours must not.
    expect(complaints.filter((c) => !/^nodejs_active_\w+_total non-counter/.test(c))).toEqual([]);
    // A document promtool could not parse is reported as an error line, which this would show.
    expect(complaints.every((c) => c.startsWith('nodejs_'))).toBe(true);
  });

  it('Prometheus scrapes the API; rates and quantiles of the series move after real requests', async () => {
    const prometheus = await startPrometheus([{ job: 'taskman-api', address: new URL(url).host }]);
    try {
      await prometheus.scrapedAgain();
      const ann = await signUp(t.app);
      for (let i = 0; i < 5; i++) await ann.post(`${API}/tasks`, { title: `p${i}` });
      await prometheus.scrapedAgain();
      const created = await prometheus.query(
        'sum(taskman_http_requests_total{job="taskman-api",route="/api/v1/tasks",method="POST",status="201"})',
      );
      expect(Number(created[0]!.value[1])).toBeGreaterThanOrEqual(5);
      const p95 = await prometheus.query(
        'histogram_quantile(0.95, sum by (le) (taskman_http_request_duration_seconds_bucket{route="/api/v1/tasks"}))',
      );
      expect(Number(p95[0]!.value[1])).toBeGreaterThan(0);
      const up = await prometheus.query('up{job="taskman-api"}');
      expect(up.map((r) => r.value[1])).toEqual(['1']);
    } finally {
      await prometheus.stop();
    }
  });
});

describe('/health/ready', () => {
  it('reports the database, Redis and the queue, each with its latency', async () => {
    const t = await createTestApp({ env: redisEnv() });
    try {
      const res = await new Client(t.app).get('/health/ready');
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('ok');
      for (const name of ['database', 'redis', 'queue']) {
        expect(res.body.checks[name], name).toEqual({ status: 'ok', latency_ms: expect.any(Number) });
        expect(res.body.checks[name].latency_ms).toBeGreaterThanOrEqual(0);
      }
    } finally {
      await t.close();
    }
  });

  it('Redis away: still ready (200), status degraded, Redis and the queue down; ok again when it is back', async () => {
    const redis = await RedisServer.start();
    const t = await createTestApp({ env: { REDIS_URL: redis.url, JOBS_IN_PROCESS: 'false' } });
    try {
      expect((await new Client(t.app).get('/health/ready')).body.status).toBe('ok');
      await redis.stop();
      const res = await new Client(t.app).get('/health/ready');
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('degraded');
      expect(res.body.checks.database.status).toBe('ok');
      expect(res.body.checks.redis.status).toBe('down');
      expect(res.body.checks.queue.status).toBe('down');
      await redis.restart();
      await until('ready again', async () =>
        (await new Client(t.app).get('/health/ready')).body.status === 'ok' ? true : undefined,
      );
    } finally {
      // Closed while Redis is up: its clients end cleanly.
      await t.close();
      await redis.stop();
    }
  });
});

describe('the operations dashboard', () => {
  let t: TestApp;
  let admin: Client;
  beforeAll(async () => {
    t = await createTestApp({ env: { METRICS_SAMPLE_MS: '200' } });
    admin = await signUp(t.app, { name: 'Admin' }); // the first account is an admin
  });
  afterAll(() => t.close());

  it('admins only: 401 without a token, 403 for a user and for an API key', async () => {
    expect((await new Client(t.app).get(`${API}/admin/dashboard`)).status).toBe(401);
    const user = await signUp(t.app);
    expect((await user.get(`${API}/admin/dashboard`)).status).toBe(403);
    const key = (await admin.post(`${API}/api-keys`, { name: 'k', scopes: ['tasks:read'] })).body.data.key;
    expect((await new Client(t.app, key).get(`${API}/admin/dashboard`)).status).toBe(403);
  });

  it('its figures match the database and the requests made', async () => {
    const ann = await signUp(t.app);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await ann.post(`${API}/tasks`, { title: `d${i}` })).body.data.id);
    for (const id of ids.slice(0, 2)) await ann.patch(`${API}/tasks/${id}`, { status: 'done' });
    await ann.get(`${API}/tasks/${randomUUID()}`);
    const res = await admin.get(`${API}/admin/dashboard`);
    expect(res.status, res.raw).toBe(200);
    const d = res.body.data;
    const [db] = await query(
      t,
      sql`select
        (select count(*)::int from tasks where created_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') as created,
        (select count(*)::int from tasks where completed_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') as completed`,
    );
    expect(d.business.tasks_created_today).toBe(db.created);
    expect(d.business.tasks_completed_today).toBe(db.completed);
    expect(db.completed).toBe(2);
    expect(d.trend).toHaveLength(30);
    expect(d.trend.at(-1)).toMatchObject({ created: db.created, completed: db.completed });
    expect(d.trend.slice(0, -1).every((x: { created: number }) => x.created === 0)).toBe(true);
    // Every request this app answered so far is in the window (the dashboard request itself is not yet).
    expect(d.requests.total).toBeGreaterThanOrEqual(4 + 2 + 1 + 1);
    expect(d.requests.errors).toBe(0);
    expect(d.requests.error_rate).toBe(0);
    expect(d.requests.p95_ms).toBeGreaterThan(0);
    expect(d.processes).toHaveLength(1);
    expect(d.processes[0]).toMatchObject({ kind: 'api', pid: process.pid });
    expect(d.health.status).toBe('ok');
    expect(d.database.kind).toBe(testDb);
    expect(d.database.connections_used).toBeGreaterThanOrEqual(1);
    expect(d.database.size_bytes).toBeGreaterThan(0);
    expect(d.database.query_average_ms).toBeGreaterThan(0);
    expect(d.cache.hit_rate === null || (d.cache.hit_rate >= 0 && d.cache.hit_rate <= 1)).toBe(true);
    expect(d.business.active_users_24h).toBeGreaterThanOrEqual(1);
    expect(d.alerts.filter((a: { id: string }) => a.id !== 'memory_host' && a.id !== 'disk')).toEqual([]);
  });

  it('alerts: each threshold, with its severity, critical first', () => {
    const calm: Dashboard = {
      generatedAt: new Date(),
      windowSeconds: 300,
      version: 'x',
      health: { ready: true, status: 'ok', checks: { database: { status: 'ok', latencyMs: 1 } } },
      processes: [],
      requests: { total: 1000, errors: 0, perSecond: 3, averageMs: 20, errorRate: 0, p95Ms: 100 },
      database: {
        kind: 'postgres',
        connectionsUsed: 3,
        connectionsMax: 100,
        queriesPerSecond: 10,
        queryAverageMs: 1,
        sizeBytes: 1,
        replicaLagSeconds: null,
      },
      cache: { hits: 1, misses: 1, hitRate: 0.5 },
      memory: { hostUsedPercent: 40, maxHeapPercent: 30 },
      disk: { path: '/data', usedBytes: 1, totalBytes: 10, usedPercent: 10 },
      business: {
        activeUsers24h: 1,
        tasksCreatedToday: 1,
        tasksCompletedToday: 1,
        averageCompletionSeconds: 1,
      },
      jobs: { reachable: true, failed: 0, outboxPending: 0 },
      trend: [],
      alerts: [],
    };
    expect(alertsOf(calm)).toEqual([]);
    const stormy: Dashboard = {
      ...calm,
      health: {
        ready: true,
        status: 'degraded',
        checks: { database: { status: 'ok', latencyMs: 1 }, redis: { status: 'down', latencyMs: 2000 } },
      },
      requests: { ...calm.requests, errors: 20, errorRate: 0.02, p95Ms: 900 },
      memory: { hostUsedPercent: 90, maxHeapPercent: 86 },
      disk: { path: '/data', usedBytes: 95, totalBytes: 100, usedPercent: 95 },
      database: { ...calm.database, replicaLagSeconds: 45 },
      jobs: { reachable: true, failed: 3, outboxPending: 5000 },
    };
    const alerts = alertsOf(stormy);
    const byId = Object.fromEntries(alerts.map((a) => [a.id, a.severity]));
    expect(byId).toEqual({
      redis_down: 'critical',
      memory_heap: 'warning',
      memory_host: 'warning',
      error_rate: 'warning',
      latency_p95: 'warning',
      failed_jobs: 'warning',
      outbox_backlog: 'critical',
      replica_lag: 'warning',
      disk: 'critical',
    });
    const firstWarning = alerts.findIndex((a) => a.severity === 'warning');
    expect(alerts.slice(firstWarning).every((a) => a.severity === 'warning')).toBe(true);
  });
});

describe.skipIf(testDb !== 'postgres')(
  'the dashboard across processes (PostgreSQL)',
  { timeout: 120_000 },
  () => {
    it('two API processes and a worker: the requests of both, and every process, whichever answers', async () => {
      const pair = await startApiPair({
        METRICS_SAMPLE_MS: '200',
        RATE_LIMIT_MAX: '100000',
        AUTH_RATE_LIMIT_MAX: '100000',
      });
      const worker = await startWorker({
        DATABASE_URL: pair.databaseUrl,
        JWT_SECRET: 'unused-by-the-worker-0123456789abcdef',
        METRICS_SAMPLE_MS: '200',
        METRICS_PORT: String(20_000 + Math.floor(Math.random() * 20_000)),
        LOG_LEVEL: 'info',
      }).catch(async (err) => {
        await pair.stop();
        throw err;
      });
      try {
        const call = async (base: string, path: string, init: RequestInit = {}) => {
          const res = await fetch(`${base}${path}`, {
            ...init,
            headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
          });
          return { status: res.status, body: (await res.json()) as any };
        };
        const register = await call(pair.a.url, `${API}/auth/register`, {
          method: 'POST',
          body: JSON.stringify({ email: 'ops@example.com', password: 'correct horse battery', name: 'Ops' }),
        });
        const auth = { authorization: `Bearer ${register.body.data.token}` };
        let onA = 1;
        let onB = 0;
        for (let i = 0; i < 6; i++) {
          await call(pair.a.url, `${API}/tasks`, {
            method: 'POST',
            headers: auth,
            body: JSON.stringify({ title: `a${i}` }),
          });
          onA++;
        }
        for (let i = 0; i < 9; i++) {
          await call(pair.b.url, `${API}/tasks`, {
            method: 'POST',
            headers: auth,
            body: JSON.stringify({ title: `b${i}` }),
          });
          onB++;
        }
        // B's last requests reach the database with its next sample (every 200 ms).
        await new Promise((r) => setTimeout(r, 800));
        const { body } = await call(pair.a.url, `${API}/admin/dashboard`, { headers: auth });
        const d = body.data;
        expect(d.requests.total).toBe(onA + onB);
        expect(d.business.tasks_created_today).toBe(15);
        const kinds = d.processes.map((p: { kind: string }) => p.kind).sort();
        expect(kinds).toEqual(['api', 'api', 'worker']);
        const pids = d.processes.map((p: { pid: number }) => p.pid);
        expect(pids).toContain(pair.a.child.pid);
        expect(pids).toContain(pair.b.child.pid);
        expect(pids).toContain(worker.child.pid);
        // The worker's own /metrics.
        const port = /"port":(\d+)/.exec(worker.output())![1];
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        expect(seriesValue(parsePrometheus(metrics), 'taskman_build_info', { process: 'worker' })).toBe(1);
      } finally {
        await worker.stop();
        await pair.stop();
      }
    });
  },
);
