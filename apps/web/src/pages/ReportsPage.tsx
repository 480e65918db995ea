import { TaskmanError } from '@taskman/sdk';
import { dayKey } from '@taskman/sdk/dates';
import { type ReactNode, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { DayChart } from '../components/DayChart';
import { messageOf } from '../lib/api';
import { fieldProblem } from '../lib/integrations';
import { useProjects } from '../lib/queries';
import {
  customProblems,
  downloadReportCsv,
  formatPeriod,
  humanDuration,
  isPeriod,
  PERIODS,
  type Period,
  PRIORITY_LABEL,
  PRIORITY_ORDER,
  percent,
  periodRange,
  type Report,
  type ReportQuery,
  spokenDuration,
  useReport,
} from '../lib/reports';
import { useMe, useTimeZone } from '../lib/session';
import { toast } from '../lib/toast';

/**
 * Reports: what was added and completed over a period (in the user's time zone), as figures, a
 * per-day chart and breakdowns by priority, project and tag; the same as a CSV file. The period and
 * project live in the URL, so a reload or a shared link shows the same report.
 */
export function ReportsPage() {
  const me = useMe();
  const timeZone = useTimeZone();
  const projects = useProjects();
  const [params, setParams] = useSearchParams();
  const [downloading, setDownloading] = useState(false);

  const requested = params.get('period');
  const period: Period = isPeriod(requested) ? requested : '7d';
  const today = dayKey(new Date(), timeZone);
  const range =
    period === 'custom'
      ? { from: params.get('from') ?? '', to: params.get('to') ?? '' }
      : periodRange(period, today);
  const problems = period === 'custom' ? customProblems(range.from, range.to) : [];
  const projectId = params.get('project') || undefined;
  // Today is the user's today: wait for their profile (and zone) before asking.
  const query: ReportQuery | undefined =
    me.data && problems.length === 0
      ? { from: range.from, to: range.to, ...(projectId ? { project_id: projectId } : {}) }
      : undefined;
  const report = useReport(query);
  const data = query ? report.data : undefined;

  // From the URL as it is now (react-router's own copy is that of the last render): two quick
  // changes both count.
  const update = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(window.location.search);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };
  const choosePeriod = (value: Period) =>
    // Custom starts from the period on screen, so the dates are never blank.
    value === 'custom'
      ? update({ period: value, from: range.from || today, to: range.to || today })
      : update({ period: value === '7d' ? undefined : value, from: undefined, to: undefined });

  async function download() {
    if (!query) return;
    setDownloading(true);
    try {
      const name = await downloadReportCsv(query);
      toast.show(`Downloaded ${name}`);
    } catch (err) {
      toast.error(`Not downloaded: ${messageOf(err)}`);
    } finally {
      setDownloading(false);
    }
  }

  const serverProblem = report.error;
  const fromProblem =
    problems.find((p) => p.field === 'from')?.message ?? fieldProblem(serverProblem, 'from');
  const toProblem = problems.find((p) => p.field === 'to')?.message ?? fieldProblem(serverProblem, 'to');
  const projectGone = serverProblem instanceof TaskmanError && serverProblem.status === 404 && !!projectId;
  const zone = data?.timezone ?? timeZone;
  // The user's projects, with those the report names (one added on another device since the list
  // was loaded) and the one chosen in the URL.
  const names = new Map((projects.data ?? []).map((p) => [p.id, p.name]));
  for (const p of data?.by_project ?? [])
    if (p.project_id && p.project_name) names.set(p.project_id, p.project_name);
  if (projectId && !names.has(projectId))
    names.set(projectId, projectGone ? 'A deleted project' : 'This project');
  const projectOptions = [...names].sort((a, b) => a[1].localeCompare(b[1]));
  const updating = report.isFetching && report.isPlaceholderData;

  return (
    <section className="content reports" aria-labelledby="reports-title">
      <div className="page-head">
        <h1 id="reports-title">Reports</h1>
        <button
          type="button"
          className="btn"
          disabled={!query || downloading}
          onClick={download}
          aria-describedby="reports-title"
        >
          <DownloadIcon /> {downloading ? 'Downloading…' : 'Download CSV'}
        </button>
      </div>
      <p className="muted page-sub">
        <span>
          {problems.length === 0 && range.from ? formatPeriod(range.from, range.to) : 'Choose a period'}
        </span>
        <span className="page-sub-sep" aria-hidden="true">
          ·
        </span>
        <span>
          Days in {zone}{' '}
          <Link to="/settings" className="faint" aria-label="Change your time zone">
            (change)
          </Link>
        </span>
      </p>

      <fieldset className="report-controls">
        <legend className="sr-only">Report options</legend>
        <div className="field">
          <label htmlFor="report-period">Period</label>
          <select id="report-period" value={period} onChange={(e) => choosePeriod(e.target.value as Period)}>
            {PERIODS.map((p) => (
              <option key={p.value} value={p.value}>
                {p.value === 'custom' ? 'Custom…' : p.label}
              </option>
            ))}
          </select>
        </div>
        {period === 'custom' && (
          <div className="report-dates">
            <DateField
              label="From"
              value={range.from}
              max={range.to || undefined}
              error={fromProblem}
              onChange={(from) => update({ from })}
            />
            <DateField
              label="To"
              value={range.to}
              min={range.from || undefined}
              error={toProblem}
              onChange={(to) => update({ to })}
            />
          </div>
        )}
        <div className="field">
          <label htmlFor="report-project">Project</label>
          <select
            id="report-project"
            value={projectId ?? ''}
            onChange={(e) => update({ project: e.target.value || undefined })}
          >
            <option value="">All projects</option>
            {projectOptions.map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </div>
      </fieldset>

      <div className="sr-only" role="status">
        {updating ? 'Updating the report…' : ''}
      </div>

      {(me.isPending || (query && report.isPending)) && (
        <div className="spinner" role="status" aria-label="Loading the report" />
      )}
      {me.isError && (
        <p className="form-error" role="alert">
          {messageOf(me.error)}
        </p>
      )}
      {report.isError && !fromProblem && !toProblem && (
        <div className="form-error report-error" role="alert">
          {projectGone
            ? 'That project no longer exists.'
            : `The report could not be loaded: ${messageOf(report.error)}`}
          <span className="row wrap">
            {projectGone ? (
              <button type="button" className="btn" onClick={() => update({ project: undefined })}>
                Show all projects
              </button>
            ) : (
              <button type="button" className="btn" onClick={() => report.refetch()}>
                Try again
              </button>
            )}
          </span>
        </div>
      )}

      {data && !report.isError && (
        <div className={`report-body${updating ? ' updating' : ''}`} aria-busy={updating}>
          <Figures report={data} />
          {data.created === 0 && data.completed === 0 ? (
            <div className="empty empty-compact report-empty">
              <h2 className="report-empty-title">Nothing added or completed in this period</h2>
              <p>
                {formatPeriod(data.from, data.to)}: no task was added or completed
                {projectId ? ' in this project' : ''}. Reports count them day by day, in your time zone.
              </p>
              <div className="row wrap center">
                {period === '7d' && (
                  <button type="button" className="btn" onClick={() => choosePeriod('30d')}>
                    See the last 30 days
                  </button>
                )}
                <Link to="/today" className="btn btn-primary">
                  Go to Today
                </Link>
              </div>
            </div>
          ) : (
            <>
              <section className="report-card" aria-label="Per day">
                <DayChart days={data.days} />
              </section>
              <div className="breakdowns">
                <Breakdown
                  title="By priority"
                  rows={PRIORITY_ORDER.map((p) => {
                    const r = data.by_priority.find((x) => x.priority === p);
                    return {
                      key: p,
                      label: (
                        <>
                          <span className={`prio-dot p-${p}`} aria-hidden="true" /> {PRIORITY_LABEL[p]}
                        </>
                      ),
                      created: r?.created ?? 0,
                      completed: r?.completed ?? 0,
                    };
                  })}
                  empty="No tasks."
                />
                {!projectId && (
                  <Breakdown
                    title="By project"
                    rows={data.by_project.map((p) => ({
                      key: p.project_id ?? 'none',
                      label:
                        p.project_id === null ? (
                          <span className="muted">No project</span>
                        ) : (
                          <Link
                            to={`?${new URLSearchParams({ ...Object.fromEntries(params), project: p.project_id })}`}
                            replace
                            title="Show the report of this project"
                          >
                            {p.project_name}
                          </Link>
                        ),
                      created: p.created,
                      completed: p.completed,
                    }))}
                    empty="No tasks."
                  />
                )}
                <Breakdown
                  title="By tag"
                  rows={data.by_tag.map((t) => ({
                    key: t.tag,
                    label: <span className="tag-label">{t.tag}</span>,
                    created: t.created,
                    completed: t.completed,
                  }))}
                  empty="None of these tasks has a tag."
                  limit={8}
                  noun="tags"
                />
              </div>
            </>
          )}
        </div>
      )}
    </section>
  );
}

function DateField(props: {
  label: string;
  value: string;
  min?: string | undefined;
  max?: string | undefined;
  error: string | undefined;
  onChange: (value: string) => void;
}) {
  const id = `report-${props.label.toLowerCase()}`;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        type="date"
        value={props.value}
        min={props.min}
        max={props.max}
        required
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${id}-error` : undefined}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.error && (
        <span id={`${id}-error`} className="field-error">
          {props.error}
        </span>
      )}
    </div>
  );
}

function Figures({ report: r }: { report: Report }) {
  const overdueLink = r.overdue > 0 && !r.project_id;
  return (
    <dl className="stats">
      <Stat label="Completed" value={String(r.completed)} hint="Tasks done in the period" />
      <Stat label="Added" value={String(r.created)} hint="Tasks created in the period" />
      <Stat
        label="Completion rate"
        value={percent(r.completion_rate)}
        hint={r.completion_rate === null ? 'Nothing added in the period' : 'Of the tasks added, done now'}
      />
      <Stat
        label="Overdue now"
        value={String(r.overdue)}
        tone={r.overdue > 0 ? 'danger' : undefined}
        hint={
          overdueLink ? (
            <Link to="/overdue">See the overdue tasks</Link>
          ) : r.overdue > 0 ? (
            'Open and past their due date'
          ) : (
            'Nothing is late'
          )
        }
      />
      <Stat
        label="Avg. time to complete"
        value={humanDuration(r.average_seconds_to_complete)}
        spoken={spokenDuration(r.average_seconds_to_complete)}
        hint="From added to done"
      />
      <Stat
        label="Median time to complete"
        value={humanDuration(r.median_seconds_to_complete)}
        spoken={spokenDuration(r.median_seconds_to_complete)}
        hint="Half were done faster"
      />
    </dl>
  );
}

function Stat(props: {
  label: string;
  value: string;
  spoken?: string;
  hint: ReactNode;
  tone?: 'danger' | undefined;
}) {
  return (
    <div className="stat">
      <dt>{props.label}</dt>
      <dd className={`stat-value${props.tone ? ` stat-${props.tone}` : ''}`}>
        {props.spoken && props.spoken !== props.value ? (
          <>
            <span aria-hidden="true">{props.value}</span>
            <span className="sr-only">{props.spoken}</span>
          </>
        ) : (
          props.value
        )}
      </dd>
      <dd className="stat-hint">{props.hint}</dd>
    </div>
  );
}

type Row = { key: string; label: ReactNode; created: number; completed: number };

/** A breakdown as rows of two bars (added, completed) scaled to the busiest row. */
function Breakdown(props: { title: string; rows: Row[]; empty: string; limit?: number; noun?: string }) {
  const [all, setAll] = useState(false);
  const id = `breakdown-${props.title.toLowerCase().replace(/\W+/g, '-')}`;
  const max = Math.max(1, ...props.rows.map((r) => Math.max(r.created, r.completed)));
  const shown = props.limit && !all ? props.rows.slice(0, props.limit) : props.rows;
  const width = (n: number) => `${(n / max) * 100}%`;
  return (
    <section className="report-card breakdown" aria-labelledby={id}>
      <h2 id={id} className="breakdown-title">
        {props.title}
      </h2>
      {props.rows.length === 0 ? (
        <p className="faint">{props.empty}</p>
      ) : (
        <ul className="bar-rows">
          {shown.map((r) => (
            <li key={r.key} className="bar-row">
              <div className="bar-row-head">
                <span className="bar-label">{r.label}</span>
                <span className="bar-figures">
                  {r.created} added <span aria-hidden="true">·</span> {r.completed} completed
                </span>
              </div>
              <div className="bar-track" aria-hidden="true">
                <span className="bar bar-added" style={{ width: width(r.created) }} />
              </div>
              <div className="bar-track" aria-hidden="true">
                <span className="bar bar-completed" style={{ width: width(r.completed) }} />
              </div>
            </li>
          ))}
        </ul>
      )}
      {props.limit && props.rows.length > props.limit && (
        <button
          type="button"
          className="btn-link btn-inline"
          style={{ alignSelf: 'flex-start' }}
          onClick={() => setAll((a) => !a)}
        >
          {all ? 'Show fewer' : `Show all ${props.rows.length} ${props.noun ?? ''}`.trim()}
        </button>
      )}
    </section>
  );
}

function DownloadIcon() {
  return (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path
        d="M8 2v8m0 0L4.5 6.5M8 10l3.5-3.5M2.5 11.5v1.5a1 1 0 0 0 1 1h9a1 1 0 0 0 1-1v-1.5"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.6"
        strokeLinecap="round"
        strokeLinejoin="round"
      />
    </svg>
  );
}
