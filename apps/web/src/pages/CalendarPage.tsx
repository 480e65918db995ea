import { dayKey, fromInputs } from '@taskman/sdk/dates';
import { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import { TaskPanel } from '../components/TaskPanel';
import { useTasks } from '../lib/queries';
import { useTimeZone } from '../lib/session';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const longDate = (day: string) =>
  new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeZone: 'UTC' }).format(
    new Date(`${day}T12:00:00Z`),
  );

/** A month of due dates, weeks starting on Monday, in the user's time zone. */
export function CalendarPage() {
  const tz = useTimeZone();
  const [params, setParams] = useSearchParams();
  const today = dayKey(new Date(), tz);
  const [month, setMonth] = useState(() => params.get('month') ?? today.slice(0, 7));
  const [y, m] = month.split('-').map(Number) as [number, number];
  const first = new Date(Date.UTC(y, m - 1, 1));
  const lead = (first.getUTCDay() + 6) % 7;
  const days = Array.from({ length: 42 }, (_, i) =>
    new Date(Date.UTC(y, m - 1, 1 - lead + i)).toISOString().slice(0, 10),
  );
  const from = fromInputs(days[0]!, '00:00', tz)!;
  const to = fromInputs(
    new Date(Date.parse(`${days[41]}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10),
    '00:00',
    tz,
  )!;
  const tasks = useTasks({ due_after: from, due_before: to, sort: 'due_date', order: 'asc', limit: 100 });
  const byDay = useMemo(() => {
    const map = new Map<string, NonNullable<typeof tasks.data>['data']>();
    for (const t of tasks.data?.data ?? []) {
      const k = dayKey(new Date(t.due_date!), tz);
      map.set(k, [...(map.get(k) ?? []), t]);
    }
    return map;
  }, [tasks.data, tz]);
  const go = (delta: number) => {
    const d = new Date(Date.UTC(y, m - 1 + delta, 1)).toISOString().slice(0, 7);
    setMonth(d);
    setParams({ month: d }, { replace: true });
  };
  const selected = params.get('task') ?? undefined;
  const label = new Intl.DateTimeFormat(undefined, {
    month: 'long',
    year: 'numeric',
    timeZone: 'UTC',
  }).format(first);

  return (
    <div className={selected ? 'with-panel' : ''} style={{ height: '100%', overflow: 'hidden' }}>
      <section className="content" aria-labelledby="calendar-title">
        <div className="row" style={{ marginBottom: 16 }}>
          <h1 id="calendar-title">{label}</h1>
          <span className="spacer" />
          <button type="button" className="btn" onClick={() => go(-1)} aria-label="Previous month">
            ‹
          </button>
          <button
            type="button"
            className="btn"
            onClick={() => {
              setMonth(today.slice(0, 7));
              setParams({}, { replace: true });
            }}
          >
            Today
          </button>
          <button type="button" className="btn" onClick={() => go(1)} aria-label="Next month">
            ›
          </button>
        </div>
        {tasks.isPending && <div className="spinner" role="status" aria-label="Loading the month" />}
        <div className="calendar">
          {WEEKDAYS.map((d) => (
            <div key={d} className="weekday" aria-hidden="true">
              {d}
            </div>
          ))}
          {days.map((d) => (
            <div
              key={d}
              className={`day${d.slice(0, 7) !== month ? ' other' : ''}${d === today ? ' today' : ''}`}
            >
              <span className="day-number" aria-hidden="true">
                {Number(d.slice(8))}
              </span>
              <span className="sr-only">{longDate(d)}</span>
              {byDay.get(d)?.map((t) => (
                <button
                  key={t.id}
                  type="button"
                  className="event"
                  style={t.status === 'done' ? { textDecoration: 'line-through', opacity: 0.6 } : undefined}
                  onClick={() => setParams({ month, task: t.id })}
                  title={t.title}
                >
                  {t.title}
                </button>
              ))}
            </div>
          ))}
        </div>
        {/* On a phone a grid of 42 tiny days cannot be read: the month as a list of its busy days. */}
        <ol className="agenda" aria-label={`Tasks due in ${label}`}>
          {days
            .filter((d) => d.slice(0, 7) === month && byDay.get(d)?.length)
            .map((d) => (
              <li key={d}>
                <h2 className={`agenda-day${d === today ? ' today' : ''}`}>{longDate(d)}</h2>
                {byDay.get(d)!.map((t) => (
                  <button
                    key={t.id}
                    type="button"
                    className={`agenda-task${t.status === 'done' ? ' done' : ''}`}
                    onClick={() => setParams({ month, task: t.id })}
                  >
                    {t.title}
                  </button>
                ))}
              </li>
            ))}
          {tasks.data && !days.some((d) => d.slice(0, 7) === month && byDay.get(d)?.length) && (
            <li className="empty">Nothing is due this month.</li>
          )}
        </ol>
      </section>
      {selected && <TaskPanel id={selected} onClose={() => setParams({ month })} />}
    </div>
  );
}
