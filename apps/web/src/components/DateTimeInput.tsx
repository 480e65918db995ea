import { dayKey, fromInputs, toInputs } from '@taskman/sdk/dates';
import { useEffect, useState } from 'react';

/**
 * A date and a time in the user's zone, saved when the pair loses focus or on Enter (typing a year
 * digit by digit must not save year 0002), with quick picks. `onCommit(null)` clears it.
 */
export function DateTimeInput(props: {
  /** The legend, e.g. "Reminder by email". */
  label: string;
  /** Names the inputs "<name> date" and "<name> time". */
  name: string;
  hint?: string | undefined;
  value: string | null;
  timeZone: string;
  defaultTime: string;
  onCommit: (iso: string | null) => void;
  clearLabel: string;
}) {
  const current = toInputs(props.value, props.timeZone);
  const [date, setDate] = useState(current.date);
  const [time, setTime] = useState(current.time);
  useEffect(() => {
    setDate(current.date);
    setTime(current.time);
  }, [current.date, current.time]);

  const commit = (d = date, t = time) => {
    if (!d) return;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d) || Number(d.slice(0, 4)) < 2000) return;
    const iso = fromInputs(d, t || props.defaultTime, props.timeZone);
    if (iso && iso !== props.value) props.onCommit(iso);
  };
  const pick = (days: number) => {
    const d = dayKey(new Date(Date.now() + days * 86_400_000), props.timeZone);
    const t = time || props.defaultTime;
    setDate(d);
    setTime(t);
    commit(d, t);
  };
  const today = dayKey(new Date(), props.timeZone);

  return (
    <fieldset
      className="stack datetime"
      onBlur={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) commit();
      }}
      onKeyDown={(e) => {
        if (e.key === 'Enter' && (e.target as HTMLElement).tagName === 'INPUT') {
          e.preventDefault();
          commit();
        }
      }}
    >
      <legend>
        {props.label} <span className="faint">({props.timeZone})</span>
      </legend>
      {props.hint && <p className="faint hint">{props.hint}</p>}
      <div className="grid-2 keep">
        <input
          type="date"
          aria-label={`${props.name} date`}
          value={date}
          min={today}
          onChange={(e) => setDate(e.target.value)}
        />
        <input
          type="time"
          aria-label={`${props.name} time`}
          value={time}
          disabled={!date}
          onChange={(e) => setTime(e.target.value)}
        />
      </div>
      <div className="row quick-picks">
        <button type="button" className="btn btn-link" onClick={() => pick(0)}>
          Today
        </button>
        <button type="button" className="btn btn-link" onClick={() => pick(1)}>
          Tomorrow
        </button>
        <button type="button" className="btn btn-link" onClick={() => pick(7)}>
          Next week
        </button>
        {props.value && (
          <button type="button" className="btn btn-link" onClick={() => props.onCommit(null)}>
            {props.clearLabel}
          </button>
        )}
      </div>
    </fieldset>
  );
}
