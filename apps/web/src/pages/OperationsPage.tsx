import { type CSSProperties, type ReactNode, useState } from 'react';
import { Link } from 'react-router';
import { adminGate } from '../components/AdminsOnly';
import { DayChart } from '../components/DayChart';
import { messageOf } from '../lib/api';
import {
  type Alert,
  bytes,
  clock,
  compact,
  type Dashboard,
  duration,
  HEALTH,
  type HealthStatus,
  millis,
  type ProcessInfo,
  pct,
  REFRESH_MS,
  ratio,
  sortAlerts,
  spokenDuration,
  useDashboard,
} from '../lib/dashboard';
import { fullTime } from '../lib/integrations';
import { useMe, useTimeZone } from '../lib/session';

/**
 * Operations (admins): the system dashboard of the brief (§10). Overall health and alerts first,
 * then a card per area (API, database, cache, disk, business, jobs), the 30-day task trend and every
 * process. Figures are the whole fleet's, from GET /admin/dashboard, asked again every 10 s.
 */
export function OperationsPage() {
  const me = useMe();
  const timeZone = useTimeZone();
  const admin = me.data?.role === 'admin';
  const dashboard = useDashboard(admin);
  // Said to a screen reader after a Refresh asked for by hand (not every 10 s: that would be noise).
  const [announce, setAnnounce] = useState('');

  const gate = adminGate(
    'Operations',
    me,
    dashboard.error,
    <>
      The operations dashboard is for the administrators of this Taskman. Ask one of them if you need to see
      it.
    </>,
  );
  if (gate) return gate;

  const data = dashboard.data;
  const refresh = async () => {
    setAnnounce('Refreshing…');
    const result = await dashboard.refetch();
    setAnnounce(
      result.isError
        ? `Not refreshed: ${messageOf(result.error)}`
        : `Refreshed at ${result.data ? clock(result.data.generated_at, timeZone) : ''}`,
    );
  };

  return (
    <section className="content ops" aria-labelledby="ops-title">
      <div className="page-head">
        <h1 id="ops-title">Operations</h1>
        <div className="row wrap">
          <Link to="/users" className="btn">
            Users
          </Link>
          <Link to="/audit" className="btn">
            Audit log
          </Link>
          <button type="button" className="btn" onClick={refresh}>
            <RefreshIcon spinning={dashboard.isFetching} /> Refresh
          </button>
        </div>
      </div>
      <p className="muted page-sub">
        <span>Every API and worker process{data ? `, ${windowText(data.window_seconds)}` : ''}</span>
        <span className="page-sub-sep" aria-hidden="true">
          ·
        </span>
        <span>Refreshes every {REFRESH_MS / 1000} s</span>
      </p>
      <div className="sr-only" role="status">
        {announce}
      </div>

      {dashboard.isPending && <div className="spinner" role="status" aria-label="Loading the dashboard" />}
      {dashboard.isError && (
        <div className="form-error report-error" role="alert">
          {data
            ? `Could not refresh: ${messageOf(dashboard.error)}. The figures below are from ${clock(data.generated_at, timeZone)}.`
            : `The dashboard could not be loaded: ${messageOf(dashboard.error)}`}
          <span className="row wrap">
            <button type="button" className="btn" onClick={refresh}>
              Try again
            </button>
          </span>
        </div>
      )}

      {data && (
        <>
          <div className="ops-top">
            <Health data={data} timeZone={timeZone} />
            <Alerts alerts={data.alerts} />
          </div>
          <div className="ops-grid">
            <ApiCard data={data} />
            <DatabaseCard data={data} />
            <CacheCard data={data} />
            <DiskCard data={data} />
            <BusinessCard data={data} />
            <JobsCard data={data} />
          </div>
          <section className="ops-card ops-trend" aria-labelledby="ops-trend-title">
            <h2 id="ops-trend-title" className="ops-card-title">
              Task trend
            </h2>
            <DayChart
              days={data.trend}
              added="Created"
              title={`Tasks created and completed per day, last ${data.trend.length} days (UTC)`}
            />
          </section>
          <Processes processes={data.processes} />
        </>
      )}
    </section>
  );
}

/** "traffic over the last 5 min" (less just after a start). */
function windowText(seconds: number): string {
  return `traffic over the last ${duration(seconds)}`;
}

function HealthBadge({ status }: { status: HealthStatus }) {
  const { label, tone } = HEALTH[status];
  return (
    <span className={`health-badge health-${tone}`} data-status={status}>
      <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
        {tone === 'ok' ? (
          <path d="M3.5 8.5l3 3 6-7" />
        ) : tone === 'warn' ? (
          <path d="M8 3.5v6M8 12.5v.01" />
        ) : (
          <path d="M4 4l8 8M12 4l-8 8" />
        )}
      </svg>
      {label}
    </span>
  );
}

const CHECK_LABEL = { database: 'Database', redis: 'Redis', queue: 'Job queue' } as const;

function Health({ data, timeZone }: { data: Dashboard; timeZone: string }) {
  const checks = (Object.keys(CHECK_LABEL) as (keyof typeof CHECK_LABEL)[]).flatMap((key) => {
    const check = data.health.checks[key];
    return check ? [{ key, ...check }] : [];
  });
  return (
    <section className="ops-card ops-health" aria-labelledby="ops-health-title">
      <div className="ops-health-head">
        <h2 id="ops-health-title" className="ops-card-title">
          System health
        </h2>
        <HealthBadge status={data.health.status} />
      </div>
      <dl className="ops-facts">
        <div>
          <dt>Uptime</dt>
          <dd>
            <Spoken
              value={duration(data.health.uptime_seconds)}
              spoken={spokenDuration(data.health.uptime_seconds)}
            />
          </dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd className="mono">{data.version}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>
            <time dateTime={data.generated_at} title={fullTime(data.generated_at, timeZone)}>
              {clock(data.generated_at, timeZone)}
            </time>
          </dd>
        </div>
      </dl>
      <ul className="ops-checks" aria-label="Dependencies">
        {checks.map((c) => (
          <li key={c.key} className={c.status === 'ok' ? 'check-ok' : 'check-down'}>
            <span className="ops-check-dot" aria-hidden="true" />
            {CHECK_LABEL[c.key]}: <strong>{c.status === 'ok' ? 'up' : 'down'}</strong>
            {c.status === 'ok' && <span className="faint"> · {millis(c.latency_ms)}</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Alerts({ alerts }: { alerts: Alert[] }) {
  const sorted = sortAlerts(alerts);
  return (
    <section className="ops-card ops-alerts" aria-labelledby="ops-alerts-title">
      <div className="ops-health-head">
        <h2 id="ops-alerts-title" className="ops-card-title">
          Alerts
        </h2>
        {sorted.length > 0 && <span className="ops-count">{sorted.length}</span>}
      </div>
      {sorted.length === 0 ? (
        <p className="ops-no-alerts">
          <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
            <path d="M3.5 8.5l3 3 6-7" />
          </svg>
          No alerts
        </p>
      ) : (
        <ul className="alert-list">
          {sorted.map((a) => (
            <li key={a.id} className={`alert alert-${a.severity}`} data-alert={a.id}>
              <span className="alert-severity">{a.severity === 'critical' ? 'Critical' : 'Warning'}</span>
              <span className="alert-message">{a.message}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** A short value on screen, spelt out for a screen reader ("3 h 12 min" → "3 hours 12 minutes"). */
function Spoken({ value, spoken }: { value: string; spoken: string }) {
  if (value === spoken) return <>{value}</>;
  return (
    <>
      <span aria-hidden="true">{value}</span>
      <span className="sr-only">{spoken}</span>
    </>
  );
}

function Card(props: { id: string; title: string; children: ReactNode }) {
  return (
    <section className="ops-card" aria-labelledby={`ops-${props.id}-title`}>
      <h2 id={`ops-${props.id}-title`} className="ops-card-title">
        {props.title}
      </h2>
      <dl className="ops-figures">{props.children}</dl>
    </section>
  );
}

type Tone = 'danger' | 'warn' | undefined;

/**
 * A figure: its label (and a hint) on the left, its value on the right. `bar` (a share, 0–100) draws
 * a bar under it, for the eye only: the value says the same.
 */
function Figure(props: { label: string; value: ReactNode; hint?: string; tone?: Tone; bar?: number }) {
  const bar = props.bar === undefined ? undefined : Math.min(100, Math.max(0, props.bar));
  const classes = ['ops-figure'];
  if (bar !== undefined) classes.push('ops-figure-bar');
  if (props.tone) classes.push(`ops-tone-${props.tone}`);
  return (
    <div
      className={classes.join(' ')}
      style={bar === undefined ? undefined : ({ '--fill': `${bar}%` } as CSSProperties)}
    >
      <dt>
        {props.label}
        {props.hint && <span className="ops-hint">{props.hint}</span>}
      </dt>
      <dd>{props.value}</dd>
    </div>
  );
}

function ApiCard({ data }: { data: Dashboard }) {
  const r = data.requests;
  return (
    <Card id="api" title="API">
      <Figure label="Requests per second" value={compact(r.per_second)} hint={`${compact(r.total)} in all`} />
      <Figure label="Average response" value={millis(r.average_ms)} />
      <Figure label="p95 response" value={millis(r.p95_ms)} hint="95% of requests were faster" />
      <Figure
        label="Error rate"
        value={ratio(r.error_rate)}
        hint={`${compact(r.errors)} server error${r.errors === 1 ? '' : 's'} (5xx)`}
        tone={r.errors > 0 ? 'danger' : undefined}
      />
    </Card>
  );
}

function DatabaseCard({ data }: { data: Dashboard }) {
  const d = data.database;
  const used = d.connections_max ? (d.connections_used / d.connections_max) * 100 : 0;
  // PGlite has one connection, always in use: a full bar there would only alarm.
  const pool = d.kind === 'postgres';
  return (
    <Card id="database" title="Database">
      <Figure
        label="Connections"
        value={`${compact(d.connections_used)} / ${compact(d.connections_max)}`}
        hint={pool ? 'Used / max of the pools' : 'Embedded (PGlite)'}
        {...(pool ? { bar: used, tone: used >= 90 ? 'danger' : used >= 75 ? 'warn' : undefined } : {})}
      />
      <Figure label="Query time" value={millis(d.query_average_ms)} hint="Average" />
      <Figure label="Queries per second" value={compact(d.queries_per_second)} />
      <Figure label="Size" value={bytes(d.size_bytes)} />
      {d.replica_lag_seconds !== null && (
        <Figure
          label="Replica lag"
          value={
            d.replica_lag_seconds < 60
              ? `${compact(d.replica_lag_seconds)} s`
              : duration(d.replica_lag_seconds)
          }
        />
      )}
    </Card>
  );
}

function CacheCard({ data }: { data: Dashboard }) {
  const c = data.cache;
  return (
    <Card id="cache" title="Cache">
      <Figure
        label="Hit rate"
        value={ratio(c.hit_rate)}
        {...(c.hit_rate === null ? { hint: 'No reads yet' } : { bar: c.hit_rate * 100 })}
      />
      <Figure label="Hits" value={compact(c.hits)} />
      <Figure label="Misses" value={compact(c.misses)} />
    </Card>
  );
}

function DiskCard({ data }: { data: Dashboard }) {
  const d = data.disk;
  const tone = d && d.used_percent >= 90 ? 'danger' : d && d.used_percent >= 80 ? 'warn' : undefined;
  return (
    <Card id="disk" title="Disk">
      <Figure
        label="Used"
        value={d ? pct(d.used_percent) : '—'}
        {...(d
          ? { hint: `${bytes(d.used_bytes)} of ${bytes(d.total_bytes)}`, bar: d.used_percent, tone }
          : { hint: 'Not measured here' })}
      />
      {d && (
        <div className="ops-figure ops-path">
          <dt>Path</dt>
          <dd className="mono" title={d.path}>
            {d.path}
          </dd>
        </div>
      )}
    </Card>
  );
}

function BusinessCard({ data }: { data: Dashboard }) {
  const b = data.business;
  return (
    <Card id="business" title="Business">
      <Figure label="Active users" value={compact(b.active_users_24h)} hint="Last 24 h" />
      <Figure label="Tasks created today" value={compact(b.tasks_created_today)} hint="UTC day" />
      <Figure label="Tasks completed today" value={compact(b.tasks_completed_today)} hint="UTC day" />
      <Figure
        label="Average completion time"
        value={
          <Spoken
            value={duration(b.average_completion_seconds)}
            spoken={spokenDuration(b.average_completion_seconds)}
          />
        }
        hint="Tasks done in the last 30 days"
      />
    </Card>
  );
}

function JobsCard({ data }: { data: Dashboard }) {
  const j = data.jobs;
  return (
    <Card id="jobs" title="Jobs">
      <Figure label="Failed jobs" value={compact(j.failed)} tone={j.failed > 0 ? 'danger' : undefined} />
      <Figure label="Outbox backlog" value={compact(j.outbox_pending)} hint="Waiting to be queued" />
      <Figure
        label="Queue"
        value={
          <span className={`ops-state ${j.reachable ? 'ops-state-ok' : 'ops-state-down'}`}>
            {j.reachable ? 'Reachable' : 'Unreachable'}
          </span>
        }
      />
    </Card>
  );
}

const KIND_LABEL: Record<ProcessInfo['kind'], string> = { api: 'API', worker: 'Worker' };

function Processes({ processes }: { processes: ProcessInfo[] }) {
  return (
    <section className="ops-card ops-processes" aria-labelledby="ops-processes-title">
      <div className="ops-health-head">
        <h2 id="ops-processes-title" className="ops-card-title">
          Processes
        </h2>
        <span className="ops-count">{processes.length}</span>
      </div>
      {processes.length === 0 ? (
        <p className="faint">No process reported in the last minute.</p>
      ) : (
        <>
          <p className="faint ops-scroll-hint" aria-hidden="true">
            Swipe the table sideways for more columns.
          </p>
          {/* Scrolls sideways on a phone: focusable, so a keyboard can scroll it too. */}
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard */}
          <section className="ops-table-scroll" tabIndex={0} aria-label="Processes table">
            <table className="data-table ops-table">
              <caption className="sr-only">API and worker processes that reported in the last minute</caption>
              <thead>
                <tr>
                  <th scope="col">Process</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Uptime</th>
                  <th scope="col">Memory (RSS)</th>
                  <th scope="col">Heap</th>
                  <th scope="col">CPU</th>
                  <th scope="col">Event-loop lag</th>
                  <th scope="col">In flight</th>
                </tr>
              </thead>
              <tbody>
                {processes.map((p) => {
                  const heap = p.heap_limit_bytes ? (p.heap_used_bytes / p.heap_limit_bytes) * 100 : 0;
                  return (
                    <tr key={p.id} data-kind={p.kind}>
                      <th scope="row" className="mono">
                        {p.host}
                        <span className="faint">:{p.pid}</span>
                      </th>
                      <td className="ops-text">{KIND_LABEL[p.kind]}</td>
                      <td>
                        <Spoken
                          value={duration(p.uptime_seconds)}
                          spoken={spokenDuration(p.uptime_seconds)}
                        />
                      </td>
                      <td>{bytes(p.rss_bytes)}</td>
                      <td title={`${bytes(p.heap_used_bytes)} of ${bytes(p.heap_limit_bytes)}`}>
                        {pct(heap)}
                      </td>
                      <td>{pct(p.cpu_percent)}</td>
                      <td>{millis(p.event_loop_lag_ms)}</td>
                      <td>{compact(p.in_flight)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </section>
        </>
      )}
    </section>
  );
}

function RefreshIcon({ spinning }: { spinning: boolean }) {
  return (
    <svg
      className={spinning ? 'ops-spin' : undefined}
      width="16"
      height="16"
      viewBox="0 0 16 16"
      aria-hidden="true"
      focusable="false"
    >
      <path
        d="M13.5 8a5.5 5.5 0 1 1-1.6-3.9M13.5 2.5v3h-3"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.6"
        strokeLinecap="round"
        strokeLinejoin="round"
      />
    </svg>
  );
}
