import type { Task } from '@taskman/sdk';
import { formatDateTime, formatDue } from '@taskman/sdk/dates';
import { useEffect, useId, useRef, useState } from 'react';
import { fieldError, messageOf } from '../lib/api';
import {
  type Recurrence,
  type TaskBody,
  useCompletions,
  useDeleteTask,
  useProjects,
  useSetArchived,
  useTask,
  useTasks,
  useUpdateTask,
} from '../lib/queries';
import { useTimeZone } from '../lib/session';
import { toast } from '../lib/toast';
import { DateTimeInput } from './DateTimeInput';
import { Field } from './Field';

/**
 * A text field that saves when it loses focus, and keeps what is typed across a forced log-in. It
 * also keeps the version of the task the edit started from: that is the version it is saved
 * against (If-Match), so a change made elsewhere while typing is not overwritten.
 */
function useDraft(
  key: string,
  value: string,
  version: number,
): [string, (v: string, base?: number) => void, () => void, () => number] {
  const storageKey = `taskman.draft.${key}`;
  const versionKey = `${storageKey}@version`;
  const [draft, setDraft] = useState(() => sessionStorage.getItem(storageKey) ?? value);
  // A new value from the server replaces the field, unless something unsaved is in it.
  useEffect(() => {
    if (sessionStorage.getItem(storageKey) === null) setDraft(value);
  }, [value, storageKey]);
  const change = (v: string, base?: number) => {
    setDraft(v);
    if (base !== undefined || sessionStorage.getItem(storageKey) === null)
      sessionStorage.setItem(versionKey, String(base ?? version));
    sessionStorage.setItem(storageKey, v);
  };
  const clear = () => {
    sessionStorage.removeItem(storageKey);
    sessionStorage.removeItem(versionKey);
  };
  const base = () => Number(sessionStorage.getItem(versionKey) ?? version) || version;
  return [draft, change, clear, base];
}

/** "30 minutes before", "1 hour before", "at": how far this task's reminder is from its due time. */
function leadText(task: Task): string {
  if (!task.due_date || !task.remind_at) return 'before';
  const minutes = Math.round((Date.parse(task.due_date) - Date.parse(task.remind_at)) / 60_000);
  if (minutes <= 0) return 'at';
  if (minutes % 60 === 0) return `${minutes / 60} hour${minutes === 60 ? '' : 's'} before`;
  return `${minutes} minutes before`;
}

export function TaskPanel({ id, onClose }: { id: string; onClose: () => void }) {
  const task = useTask(id);
  const closeRef = useRef<HTMLButtonElement>(null);
  // Focus moves into the panel each time another task opens in it.
  // biome-ignore lint/correctness/useExhaustiveDependencies: id is the trigger, not a value read
  useEffect(() => closeRef.current?.focus(), [id]);
  return (
    <aside className="panel" aria-label="Task details">
      <div className="panel-header">
        <h2 style={{ fontSize: 'var(--text-lg)' }}>Task</h2>
        <span className="spacer" />
        <button
          ref={closeRef}
          type="button"
          className="btn btn-ghost"
          onClick={onClose}
          aria-label="Close the task"
        >
          ✕
        </button>
      </div>
      {task.isPending && <div className="spinner" role="status" aria-label="Loading the task" />}
      {task.isError && (
        <div className="empty" role="alert">
          <h3>This task cannot be shown</h3>
          <p>{messageOf(task.error)}</p>
        </div>
      )}
      {task.data && <TaskForm key={task.data.id} task={task.data} onClose={onClose} />}
    </aside>
  );
}

function TaskForm({ task, onClose }: { task: Task; onClose: () => void }) {
  const tz = useTimeZone();
  const projects = useProjects();
  const allTasks = useTasks({ limit: 100 });
  const update = useUpdateTask();
  const archive = useSetArchived();
  const remove = useDeleteTask();
  const ids = useId();
  const [title, setTitle, clearTitle, titleBase] = useDraft(`${task.id}.title`, task.title, task.version);
  const [description, setDescription, clearDescription, descriptionBase] = useDraft(
    `${task.id}.description`,
    task.description ?? '',
    task.version,
  );
  const [tagText, setTagText, clearTags, tagsBase] = useDraft(
    `${task.id}.tags`,
    task.tags.join(', '),
    task.version,
  );
  const suggestions = [...new Set(allTasks.data?.data.flatMap((t) => t.tags) ?? [])].filter(
    (t) => !task.tags.includes(t),
  );
  // Changed elsewhere while this was open: said here, in the panel, until dismissed or saved.
  const [conflict, setConflict] = useState<{ kept: boolean }>();
  const [repeatError, setRepeatError] = useState<string>();

  /**
   * Saves a change made against `base` (the version the person saw; a text field's, when its
   * edit started). Refused as changed elsewhere: the task is reloaded, nothing is overwritten, and
   * `keep` puts what was typed back in its field.
   */
  const save = (
    body: TaskBody,
    opts: { base?: number; keep?: (current: Task) => void; onSaved?: () => void } = {},
  ) =>
    update.mutate({
      id: task.id,
      body,
      version: opts.base ?? task.version,
      follow: true,
      onConflict: (current) => {
        if (current && opts.keep) opts.keep(current);
        setConflict({ kept: !!opts.keep });
      },
      onError: (err) => {
        const repeat = fieldError(err, 'recurrence') ?? fieldError(err, 'recurrence.rule');
        if (repeat) setRepeatError(repeat.replace(/\bdue_date\b/g, 'due date'));
        else toast.error(`Not saved: ${messageOf(err)}`);
      },
      onSaved: () => {
        setConflict(undefined);
        if ('recurrence' in body || 'due_date' in body) setRepeatError(undefined);
        opts.onSaved?.();
      },
    });
  const saveTitle = () => {
    const t = title.trim();
    if (t && t !== task.title)
      save({ title: t }, { base: titleBase(), keep: (current) => setTitle(title, current.version) });
    else if (!t) setTitle(task.title);
    clearTitle();
  };
  const saveDescription = () => {
    const d = description.trim() ? description : null;
    if (d !== task.description)
      save(
        { description: d },
        { base: descriptionBase(), keep: (current) => setDescription(description, current.version) },
      );
    clearDescription();
  };
  const saveTags = () => {
    const tags = tagText
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean);
    if (tags.join(',') !== task.tags.join(','))
      save({ tags }, { base: tagsBase(), keep: (current) => setTagText(tagText, current.version) });
    clearTags();
  };

  return (
    <div className="stack">
      {conflict && (
        <div className="notice notice-warning" role="alert">
          <div>
            <strong>This task was changed elsewhere — reloaded; your edit was not saved.</strong>{' '}
            {conflict.kept
              ? 'What you typed is still in its field: save it again to replace the new version.'
              : 'Make the change again if you still want it.'}
          </div>
          <button type="button" className="btn" onClick={() => setConflict(undefined)}>
            Dismiss
          </button>
        </div>
      )}
      <Field label="Title">
        {(a) => (
          <input
            {...a}
            value={title}
            maxLength={500}
            onChange={(e) => setTitle(e.target.value)}
            onBlur={saveTitle}
            onKeyDown={(e) => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
          />
        )}
      </Field>
      <div className="grid-2 keep">
        <Field label="Status">
          {(a) => (
            <select
              {...a}
              value={task.status}
              onChange={(e) => save({ status: e.target.value as Task['status'] })}
            >
              <option value="todo">To do</option>
              <option value="in_progress">In progress</option>
              <option value="done">Done</option>
            </select>
          )}
        </Field>
        <Field label="Priority">
          {(a) => (
            <select
              {...a}
              value={task.priority}
              onChange={(e) => save({ priority: e.target.value as Task['priority'] })}
            >
              <option value="urgent">Urgent</option>
              <option value="high">High</option>
              <option value="medium">Medium</option>
              <option value="low">Low</option>
            </select>
          )}
        </Field>
      </div>
      <DateTimeInput
        label="Due"
        name="Due"
        value={task.due_date}
        timeZone={tz}
        defaultTime="09:00"
        clearLabel="No due date"
        // A time chosen for a task without a reminder (e.g. quick-added) brings the usual one.
        onCommit={(iso) =>
          save({
            due_date: iso,
            ...(iso && task.reminder_mode === 'off' && !task.remind_at ? { reminder_mode: 'auto' } : {}),
          })
        }
      />
      <DateTimeInput
        label="Reminder by email"
        name="Reminder"
        hint={
          task.reminder_mode === 'auto'
            ? task.remind_at
              ? `Automatic: ${leadText(task)} the due time.`
              : 'Automatic: set a due date (and a lead time in Settings) to be reminded.'
            : task.reminder_mode === 'explicit'
              ? 'At the time you chose.'
              : 'No reminder for this task.'
        }
        value={task.remind_at}
        timeZone={tz}
        defaultTime="09:00"
        clearLabel="No reminder"
        onCommit={(iso) => save({ remind_at: iso })}
      />
      <RepeatField
        task={task}
        timeZone={tz}
        error={repeatError}
        onChange={(recurrence) => {
          setRepeatError(undefined);
          save({ recurrence });
        }}
      />
      {task.reminder_mode !== 'auto' && (
        <button
          type="button"
          className="btn btn-link"
          style={{ alignSelf: 'flex-start' }}
          onClick={() => save({ reminder_mode: 'auto' })}
        >
          Remind me automatically before the due time
        </button>
      )}
      <Field label="Project">
        {(a) => (
          <select
            {...a}
            value={task.project_id ?? ''}
            onChange={(e) => save({ project_id: e.target.value || null })}
          >
            <option value="">No project</option>
            {projects.data?.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Tags" hint="Comma-separated, e.g. work, errands">
        {(a) => (
          <>
            <input
              {...a}
              value={tagText}
              list={`${ids}-tags`}
              onChange={(e) => setTagText(e.target.value)}
              onBlur={saveTags}
              onKeyDown={(e) => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
            />
            <datalist id={`${ids}-tags`}>
              {suggestions.map((t) => (
                <option
                  key={t}
                  value={tagText.trim() ? `${tagText.replace(/[^,]*$/, ' ').trimStart()}${t}` : t}
                />
              ))}
            </datalist>
          </>
        )}
      </Field>
      <Field label="Description">
        {(a) => (
          <textarea
            {...a}
            value={description}
            maxLength={10_000}
            onChange={(e) => setDescription(e.target.value)}
            onBlur={saveDescription}
            placeholder="Notes, links, details…"
          />
        )}
      </Field>
      {task.recurrence && <CompletionHistory task={task} timeZone={tz} />}
      <p className="faint">
        Created {new Date(task.created_at).toLocaleString(undefined, { timeZone: tz })}
        {task.completed_at &&
          ` · completed ${new Date(task.completed_at).toLocaleString(undefined, { timeZone: tz })}`}
      </p>
      <div className="row" style={{ flexWrap: 'wrap' }}>
        <button
          type="button"
          className="btn"
          onClick={() =>
            archive.mutate(
              { id: task.id, archived: !task.archived_at, version: task.version },
              { onSuccess: onClose },
            )
          }
        >
          {task.archived_at ? 'Unarchive' : 'Archive'}
        </button>
        <button
          type="button"
          className="btn btn-danger"
          onClick={() => {
            remove(task);
            onClose();
          }}
        >
          Delete
        </button>
      </div>
    </div>
  );
}

type Preset = 'none' | 'daily' | 'weekdays' | 'weekly' | 'monthly' | 'yearly' | 'custom';
const RULES = {
  daily: 'FREQ=DAILY',
  weekdays: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR',
  // Without BYDAY/BYMONTHDAY: the repeat follows the due date (its weekday, its day of the month).
  weekly: 'FREQ=WEEKLY',
  monthly: 'FREQ=MONTHLY',
  yearly: 'FREQ=YEARLY',
} as const;
const RRULE_DAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];

/** The due date's weekday (RRULE code and name), day of the month and month, in the zone. */
function dueParts(iso: string, timeZone: string) {
  const at = new Date(iso);
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', day: 'numeric', month: 'numeric' })
      .formatToParts(at)
      .map((x) => [x.type, x.value]),
  );
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday ?? '');
  return {
    byday: RRULE_DAYS[weekday] ?? 'MO',
    dayName: new Intl.DateTimeFormat(undefined, { timeZone, weekday: 'long' }).format(at),
    dom: Number(p.day),
    month: Number(p.month),
    dayMonth: new Intl.DateTimeFormat(undefined, { timeZone, day: 'numeric', month: 'long' }).format(at),
  };
}

const ordinal = (n: number) => {
  const s =
    n % 100 >= 11 && n % 100 <= 13 ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as const)[n % 10] ?? 'th');
  return `${n}${s}`;
};

/** Which choice of the picker a rule is (a rule it cannot name is "custom"). */
function presetOf(rule: string | undefined, due: ReturnType<typeof dueParts> | undefined): Preset {
  if (!rule) return 'none';
  if (rule === RULES.daily) return 'daily';
  if (rule === RULES.weekdays) return 'weekdays';
  if (rule === RULES.weekly || (due && rule === `FREQ=WEEKLY;BYDAY=${due.byday}`)) return 'weekly';
  if (
    rule === RULES.monthly ||
    (due &&
      (rule === `FREQ=MONTHLY;BYMONTHDAY=${due.dom}` ||
        rule === `FREQ=MONTHLY;BYMONTHDAY=-1,${due.dom};BYSETPOS=1`))
  )
    return 'monthly';
  if (rule === RULES.yearly || (due && rule === `FREQ=YEARLY;BYMONTH=${due.month};BYMONTHDAY=${due.dom}`))
    return 'yearly';
  return 'custom';
}

/**
 * The repeat of a task: none, a few common ones named after its due date, or any RRULE; and
 * whether the next date counts from the due date or from the completion.
 */
function RepeatField(props: {
  task: Task;
  timeZone: string;
  error: string | undefined;
  onChange: (recurrence: Recurrence | null) => void;
}) {
  const { task } = props;
  const ids = useId();
  const due = task.due_date ? dueParts(task.due_date, props.timeZone) : undefined;
  const rule = task.recurrence?.rule;
  const current = presetOf(rule, due);
  const [mode, setMode] = useState<Preset>(current);
  const [custom, setCustom] = useState(rule ?? '');
  const [basis, setBasis] = useState<Recurrence['basis']>(task.recurrence?.basis ?? 'due');
  const customRef = useRef<HTMLInputElement>(null);
  // The server's answer (or a change elsewhere) sets the picker; a refused choice goes back.
  useEffect(() => {
    setMode(current);
    setCustom(rule ?? '');
  }, [current, rule]);
  useEffect(() => setBasis(task.recurrence?.basis ?? 'due'), [task.recurrence?.basis]);
  useEffect(() => {
    if (props.error) setMode((m) => (m === 'custom' ? m : current));
  }, [props.error, current]);

  const choose = (next: Preset) => {
    setMode(next);
    if (next === 'custom') {
      if (!custom) setCustom(rule ?? 'FREQ=WEEKLY;INTERVAL=2');
      setTimeout(() => customRef.current?.focus(), 0);
    } else if (next === 'none') {
      if (rule) props.onChange(null);
    } else props.onChange({ rule: RULES[next], basis });
  };
  const saveCustom = () => {
    const text = custom.trim().replace(/^RRULE:/i, '');
    if (text && text !== rule) props.onChange({ rule: text, basis });
  };

  const hint = task.recurrence
    ? `Repeats ${task.recurrence.description}. Completing it moves it to the next date.`
    : !task.due_date
      ? 'A repeat needs a due date: the first occurrence.'
      : undefined;
  return (
    <div className="stack repeat">
      <Field label="Repeat" hint={hint} error={mode === 'custom' ? undefined : props.error}>
        {(a) => (
          <select {...a} value={mode} onChange={(e) => choose(e.target.value as Preset)}>
            <option value="none">Does not repeat</option>
            <option value="daily">Every day</option>
            <option value="weekdays">Every weekday (Monday to Friday)</option>
            <option value="weekly">Every week{due ? ` on ${due.dayName}` : ''}</option>
            <option value="monthly">Every month{due ? ` on the ${ordinal(due.dom)}` : ''}</option>
            <option value="yearly">Every year{due ? ` on ${due.dayMonth}` : ''}</option>
            <option value="custom">Custom rule (RRULE)…</option>
          </select>
        )}
      </Field>
      {mode === 'custom' && (
        <Field
          label="Repeat rule (RRULE)"
          hint="For example FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH — saved when you leave the field or press Enter."
          error={props.error}
        >
          {(a) => (
            <input
              {...a}
              ref={customRef}
              className="mono"
              value={custom}
              maxLength={500}
              spellCheck={false}
              autoCapitalize="characters"
              onChange={(e) => setCustom(e.target.value)}
              onBlur={saveCustom}
              onKeyDown={(e) => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
            />
          )}
        </Field>
      )}
      <label className="check check-inline" htmlFor={`${ids}-basis`}>
        <input
          id={`${ids}-basis`}
          type="checkbox"
          checked={basis === 'completion'}
          aria-describedby={`${ids}-basis-hint`}
          onChange={(e) => {
            const next = e.target.checked ? 'completion' : 'due';
            setBasis(next);
            if (rule) props.onChange({ rule, basis: next });
          }}
        />
        <span className="check-text">
          <span>Count from completion</span>
          <span id={`${ids}-basis-hint`} className="faint">
            The next date counts from the day you complete it, not from the due date.
          </span>
        </span>
      </label>
    </div>
  );
}

/** "Completed 3 times, last on Fri 27 Nov, 14:05", and the last few. */
function CompletionHistory({ task, timeZone }: { task: Task; timeZone: string }) {
  const completions = useCompletions(task.id, true);
  const list = completions.data;
  if (!list) return null;
  const n = list.length;
  return (
    <section className="history" aria-labelledby={`history-${task.id}`}>
      <h3 id={`history-${task.id}`} className="history-title">
        History
      </h3>
      {n === 0 ? (
        <p className="faint">Not completed yet.</p>
      ) : (
        <>
          <p>
            Completed {n === 1 ? 'once' : `${n >= 100 ? '100+' : n} times`}, last on{' '}
            {formatDateTime(list[0]!.completed_at, timeZone)}
            {n === 1 && list[0]!.due_date && (
              <span className="faint"> (was due {formatDue(list[0]!.due_date, timeZone)})</span>
            )}
            .
          </p>
          {n > 1 && (
            <ul className="history-list" aria-label="Last completions">
              {list.slice(0, 5).map((c) => (
                <li key={c.id}>
                  {formatDateTime(c.completed_at, timeZone)}
                  {c.due_date && <span className="faint"> · was due {formatDue(c.due_date, timeZone)}</span>}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
