import type { Task } from '@taskman/sdk';
import { useEffect, useId, useRef, useState } from 'react';
import { messageOf } from '../lib/api';
import {
  type TaskBody,
  useDeleteTask,
  useProjects,
  useSetArchived,
  useTask,
  useTasks,
  useUpdateTask,
} from '../lib/queries';
import { useTimeZone } from '../lib/session';
import { DateTimeInput } from './DateTimeInput';
import { Field } from './Field';

/** A text field that saves when it loses focus, and keeps what is typed across a forced log-in. */
function useDraft(key: string, value: string): [string, (v: string) => void, () => void] {
  const storageKey = `taskman.draft.${key}`;
  const [draft, setDraft] = useState(() => sessionStorage.getItem(storageKey) ?? value);
  // A new value from the server replaces the field, unless something unsaved is in it.
  useEffect(() => {
    if (sessionStorage.getItem(storageKey) === null) setDraft(value);
  }, [value, storageKey]);
  const change = (v: string) => {
    setDraft(v);
    sessionStorage.setItem(storageKey, v);
  };
  const clear = () => sessionStorage.removeItem(storageKey);
  return [draft, change, clear];
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
  const [title, setTitle, clearTitle] = useDraft(`${task.id}.title`, task.title);
  const [description, setDescription, clearDescription] = useDraft(
    `${task.id}.description`,
    task.description ?? '',
  );
  const [tagText, setTagText] = useState(task.tags.join(', '));
  useEffect(() => setTagText(task.tags.join(', ')), [task.tags]);
  const suggestions = [...new Set(allTasks.data?.data.flatMap((t) => t.tags) ?? [])].filter(
    (t) => !task.tags.includes(t),
  );

  const save = (body: TaskBody) => update.mutate({ id: task.id, body });
  const saveTitle = () => {
    const t = title.trim();
    if (t && t !== task.title) save({ title: t });
    else if (!t) setTitle(task.title);
    clearTitle();
  };
  const saveDescription = () => {
    const d = description.trim() ? description : null;
    if (d !== task.description) save({ description: d });
    clearDescription();
  };
  const saveTags = () => {
    const tags = tagText
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean);
    if (tags.join(',') !== task.tags.join(',')) save({ tags });
  };

  return (
    <div className="stack">
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
      <p className="faint">
        Created {new Date(task.created_at).toLocaleString(undefined, { timeZone: tz })}
        {task.completed_at &&
          ` · completed ${new Date(task.completed_at).toLocaleString(undefined, { timeZone: tz })}`}
      </p>
      <div className="row" style={{ flexWrap: 'wrap' }}>
        <button
          type="button"
          className="btn"
          onClick={() => archive.mutate({ id: task.id, archived: !task.archived_at }, { onSuccess: onClose })}
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
