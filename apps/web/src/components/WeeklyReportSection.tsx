import { useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@taskman/sdk';
import { dayKey, toInputs } from '@taskman/sdk/dates';
import { useRef, useState } from 'react';
import { Link } from 'react-router';
import { api, messageOf } from '../lib/api';
import { addDays, formatDate } from '../lib/reports';
import type { User } from '../lib/session';
import { toast } from '../lib/toast';
import { Field } from './Field';

type Day = NonNullable<User['weekly_report_day']>;
const DAYS: Day[] = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const HOURS = Array.from({ length: 24 }, (_, h) => h);

/** "Monday": 1 January 2024 was a Monday. */
const dayName = (day: Day) => formatDate(`2024-01-0${DAYS.indexOf(day) + 1}`, { weekday: 'long' });
/** "08:00" or "8:00 AM", as the browser's locale writes an hour. */
const H12 = new Intl.DateTimeFormat(undefined, { hour: 'numeric' }).resolvedOptions().hour12;
const hourFormat = new Intl.DateTimeFormat(undefined, {
  hour: H12 ? 'numeric' : '2-digit',
  minute: '2-digit',
  timeZone: 'UTC',
});
const hourName = (hour: number) => hourFormat.format(Date.UTC(2024, 0, 1, hour));

/**
 * When the report goes out, as the dispatcher decides it: at this week's slot (Monday to Sunday, in
 * the zone) if it is ahead, else next week's; and a slot passed less than a day ago is still sent
 * (within 15 minutes) unless this week's report has gone already.
 */
function schedule(day: Day, hour: number, timeZone: string, now = new Date()) {
  const today = dayKey(now, timeZone);
  const [h, m] = toInputs(now.toISOString(), timeZone).time.split(':').map(Number) as [number, number];
  const weekday = (new Date(`${today}T12:00:00Z`).getUTCDay() + 6) % 7;
  const offset = DAYS.indexOf(day) - weekday;
  const sinceHours = -offset * 24 + h + m / 60 - hour;
  return {
    next: addDays(today, sinceHours < 0 ? offset : offset + 7),
    justPassed: sinceHours >= 0 && sinceHours < 24,
  };
}

/** Settings › Weekly report: on or off, the weekday and the hour, in the user's time zone; saved as changed. */
export function WeeklyReportSection({ user }: { user: User }) {
  const qc = useQueryClient();
  // The day to come back to when it is turned off and on again.
  const [lastDay, setLastDay] = useState<Day>(user.weekly_report_day ?? 'monday');
  const latest = useRef(0);
  const on = user.weekly_report_day !== null;
  const day = user.weekly_report_day ?? lastDay;
  const hour = user.weekly_report_hour;

  async function save(body: { weekly_report_day: Day | null; weekly_report_hour: number }, done: string) {
    const call = ++latest.current;
    const before = qc.getQueryData<User>(['me']);
    // Shown at once; the answer of the last change wins, a refusal puts the previous setting back.
    qc.setQueryData<User>(['me'], (u) => u && { ...u, ...body });
    if (body.weekly_report_day) setLastDay(body.weekly_report_day);
    try {
      const updated = await unwrap(api.PATCH('/api/v1/users/me', { body }));
      if (call === latest.current) {
        qc.setQueryData(['me'], updated);
        toast.show(done);
      }
    } catch (err) {
      if (call === latest.current && before) qc.setQueryData(['me'], before);
      toast.error(`Not saved: ${messageOf(err)}`);
    }
  }

  const when = (d: Day, h: number) => `every ${dayName(d)} at ${hourName(h)}`;
  const { next, justPassed } = schedule(day, hour, user.timezone);
  return (
    <section className="settings-section stack" aria-labelledby="weekly-report-title" id="weekly-report">
      <div className="section-head">
        <h2 id="weekly-report-title" tabIndex={-1}>
          Weekly report
        </h2>
      </div>
      <p className="muted section-intro">
        Once a week, an email to {user.email} about the 7 days before: tasks completed and added, the
        completion rate, what is overdue, the time tasks take and a chart of each day.{' '}
        <Link to="/reports">See your report now</Link>
      </p>
      <button
        type="button"
        role="switch"
        aria-checked={on}
        className="switch switch-labelled"
        onClick={() =>
          save(
            { weekly_report_day: on ? null : day, weekly_report_hour: hour },
            on ? 'Weekly report turned off' : `Weekly report on: ${when(day, hour)}`,
          )
        }
      >
        <span className="switch-track" aria-hidden="true">
          <span className="switch-thumb" />
        </span>
        Email me a weekly report
      </button>
      {on && (
        <>
          <div className="grid-2 keep">
            <Field label="Day">
              {(a) => (
                <select
                  {...a}
                  value={day}
                  onChange={(e) => {
                    const d = e.target.value as Day;
                    void save(
                      { weekly_report_day: d, weekly_report_hour: hour },
                      `Weekly report: ${when(d, hour)}`,
                    );
                  }}
                >
                  {DAYS.map((d) => (
                    <option key={d} value={d}>
                      {dayName(d)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={`Time (${user.timezone})`}>
              {(a) => (
                <select
                  {...a}
                  value={hour}
                  onChange={(e) => {
                    const h = Number(e.target.value);
                    void save(
                      { weekly_report_day: day, weekly_report_hour: h },
                      `Weekly report: ${when(day, h)}`,
                    );
                  }}
                >
                  {HOURS.map((h) => (
                    <option key={h} value={h}>
                      {hourName(h)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          <p className="faint section-intro">
            Next one: {formatDate(next, { weekday: 'long', day: 'numeric', month: 'long' })} at{' '}
            {hourName(hour)}
            {justPassed
              ? ' — or within 15 minutes if this week’s has not gone yet, as its time passed less than a day ago'
              : ''}
            . Times are in your time zone, {user.timezone} (change it under Profile).
          </p>
        </>
      )}
    </section>
  );
}
