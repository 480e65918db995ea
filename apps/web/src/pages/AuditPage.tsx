import { useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { adminGate } from '../components/AdminsOnly';
import { AuditList } from '../components/AuditList';
import { Field } from '../components/Field';
import { messageOf } from '../lib/api';
import {
  ACTION_FAMILIES,
  type AuditQuery,
  actorLog,
  dayRangeOf,
  isFamily,
  shortId,
  useAuditLog,
  useUserNames,
} from '../lib/audit';
import { fieldProblem } from '../lib/integrations';
import { isDate } from '../lib/reports';
import { useMe, useTimeZone } from '../lib/session';

/**
 * The audit log (admins): who did what, when and from where, newest first, a page at a time;
 * filtered by kind of action, by who acted and by days (in the admin's time zone). The filters live
 * in the URL, so a reload or a shared link shows the same entries.
 */
export function AuditPage() {
  const me = useMe();
  const timeZone = useTimeZone();
  const admin = me.data?.role === 'admin';
  const [params, setParams] = useSearchParams();
  const heading = useRef<HTMLHeadingElement>(null);
  const [filtersOpen, setFiltersOpen] = useState(false);
  const names = useUserNames(admin);

  const action = isFamily(params.get('action')) ? params.get('action')! : '';
  const actor = params.get('actor') ?? '';
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const page = Math.max(1, Number(params.get('page')) || 1);
  const rangeProblem =
    isDate(from) && isDate(to) && from > to ? 'The last day must not be before the first' : undefined;
  const query: AuditQuery | undefined =
    admin && !rangeProblem
      ? {
          page,
          ...(action ? { action } : {}),
          ...(actor ? { actor_id: actor } : {}),
          ...dayRangeOf(from, to, timeZone),
        }
      : undefined;
  const log = useAuditLog(query);

  // From the URL as it is now (react-router's copy is that of the last render): quick changes all count.
  const update = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(window.location.search);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    // Another filter starts again from the newest entries.
    if (!('page' in changes)) next.delete('page');
    setParams(next, { replace: true });
  };
  const filterCount = [action, actor, from, to].filter(Boolean).length;
  const filtered = filterCount > 0;
  const clear = () => update({ action: undefined, actor: undefined, from: undefined, to: undefined });

  const gate = adminGate(
    'Audit log',
    me,
    log.error,
    <>
      The audit log is for the administrators of this Taskman. Your own sign-ins and changes are in{' '}
      <Link to="/settings#activity">Settings › Recent activity</Link>.
    </>,
  );
  if (gate) return gate;

  const data = query ? log.data : undefined;
  const meta = data?.meta;
  const updating = log.isFetching && log.isPlaceholderData;
  const users = names.users;
  const actorKnown = !actor || users.some((u) => u.id === actor);
  const toPage = (n: number) => {
    update({ page: n > 1 ? String(n) : undefined });
    heading.current?.focus();
  };

  return (
    <section className="content ops audit-page" aria-labelledby="audit-title">
      <div className="page-head">
        <h1 id="audit-title" ref={heading} tabIndex={-1}>
          Audit log
        </h1>
        <div className="row wrap">
          <Link to="/users" className="btn">
            Users
          </Link>
          <button type="button" className="btn" disabled={!query} onClick={() => log.refetch()}>
            Refresh
          </button>
        </div>
      </div>
      <p className="muted page-sub">
        <span>Who did what, when and from where</span>
        {meta && (
          <>
            <span className="page-sub-sep" aria-hidden="true">
              ·
            </span>
            <span>
              {meta.total} entr{meta.total === 1 ? 'y' : 'ies'}
              {filtered ? ' match' : ''}
            </span>
          </>
        )}
        <span className="page-sub-sep" aria-hidden="true">
          ·
        </span>
        <span>Days in {timeZone}</span>
      </p>

      {/* On a phone the filters fold away behind a button, as on the task lists. */}
      <button
        type="button"
        className="btn filters-toggle"
        aria-expanded={filtersOpen}
        aria-controls="audit-filters"
        onClick={() => setFiltersOpen((o) => !o)}
      >
        Filters{filterCount ? ` (${filterCount})` : ''}
      </button>
      <fieldset id="audit-filters" className={`report-controls audit-controls${filtersOpen ? ' open' : ''}`}>
        <legend className="sr-only">Filter the log</legend>
        <div className="field">
          <label htmlFor="audit-action">Show</label>
          <select id="audit-action" value={action} onChange={(e) => update({ action: e.target.value })}>
            <option value="">All</option>
            {ACTION_FAMILIES.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-actor">Done by</label>
          <select id="audit-actor" value={actor} onChange={(e) => update({ actor: e.target.value })}>
            <option value="">Anyone</option>
            {!actorKnown && <option value={actor}>User {shortId(actor)}</option>}
            {users.map((u) => (
              <option key={u.id} value={u.id}>
                {u.name} ({u.email})
              </option>
            ))}
          </select>
        </div>
        <div className="report-dates">
          <Field label="From">
            {(a) => (
              <input
                {...a}
                type="date"
                value={from}
                max={to || undefined}
                onChange={(e) => update({ from: e.target.value })}
              />
            )}
          </Field>
          <Field label="To" error={rangeProblem ?? fieldProblem(log.error, 'to')}>
            {(a) => (
              <input
                {...a}
                type="date"
                value={to}
                min={from || undefined}
                onChange={(e) => update({ to: e.target.value })}
              />
            )}
          </Field>
        </div>
        {filtered && (
          <button type="button" className="btn audit-clear" onClick={clear}>
            Clear filters
          </button>
        )}
      </fieldset>

      {query && log.isPending && <div className="spinner" role="status" aria-label="Loading the log" />}
      {log.isError && query && (
        <div className="form-error report-error" role="alert">
          {`The log could not be loaded: ${messageOf(log.error)}`}
          <span className="row wrap">
            <button type="button" className="btn" onClick={() => log.refetch()}>
              Try again
            </button>
            {filtered && (
              <button type="button" className="btn" onClick={clear}>
                Clear filters
              </button>
            )}
          </span>
        </div>
      )}

      {data && data.data.length === 0 && (
        <div className="empty empty-compact">
          <h2 className="report-empty-title">
            {filtered ? 'Nothing matches these filters' : 'Nothing recorded yet'}
          </h2>
          {filtered && (
            <button type="button" className="btn" onClick={clear}>
              Clear filters
            </button>
          )}
        </div>
      )}

      {data && data.data.length > 0 && (
        <div className={`ops-card audit-card report-body${updating ? ' updating' : ''}`}>
          <AuditList
            entries={data.data}
            view={{ kind: 'admin', nameOf: names.nameOf }}
            level={2}
            actorHref={actorLog}
            requestIds
          />
        </div>
      )}

      {meta && meta.total_pages > 1 && (
        <nav className="pager" aria-label="Pages of the log">
          <button type="button" className="btn" disabled={page <= 1} onClick={() => toPage(page - 1)}>
            Newer
          </button>
          <span className="faint">
            Page {meta.page} of {meta.total_pages}
          </span>
          <button
            type="button"
            className="btn"
            disabled={page >= meta.total_pages}
            onClick={() => toPage(page + 1)}
          >
            Older
          </button>
        </nav>
      )}
    </section>
  );
}
