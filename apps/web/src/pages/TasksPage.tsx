import type { Task } from '@taskman/sdk';
import { formatDay, fromInputs } from '@taskman/sdk/dates';
import { viewQuery } from '@taskman/sdk/views';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useParams, useSearchParams } from 'react-router';
import { QuickAdd } from '../components/QuickAdd';
import { TaskPanel } from '../components/TaskPanel';
import { TaskRow } from '../components/TaskRow';
import { messageOf } from '../lib/api';
import {
  isCompleting,
  type TaskQuery,
  useDeleteTask,
  useProjects,
  useTasks,
  useUpdateTask,
} from '../lib/queries';
import { useTimeZone } from '../lib/session';
import { useShortcuts } from '../lib/shortcuts';
import { toast } from '../lib/toast';

export type View = 'today' | 'upcoming' | 'overdue' | 'all' | 'archived' | 'project';

const TITLES: Record<Exclude<View, 'project'>, string> = {
  today: 'Today',
  upcoming: 'Upcoming',
  overdue: 'Overdue',
  all: 'All tasks',
  archived: 'Archived',
};

const EMPTY: Record<View, [string, string]> = {
  today: ['Nothing due today', 'Enjoy the calm, or add a task above.'],
  upcoming: ['Nothing in the next 7 days', 'Tasks with a due date in the coming week show here.'],
  overdue: ['Nothing overdue', 'You are on top of things.'],
  all: ['No tasks yet', 'Add your first task above: type and press Enter.'],
  archived: ['Nothing archived', 'Archived tasks stay here until you bring them back.'],
  project: ['This project has no tasks', 'Add one above.'],
};

const FILTER_KEYS = ['status', 'priority', 'project', 'tag', 'q', 'sort', 'due_from', 'due_to'];
/** Views that already choose the due dates they show: no due range filter there. */
const DATED_VIEWS: View[] = ['today', 'upcoming', 'overdue'];
/** "2030-01-15" → "2030-01-16". */
const nextDay = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/** A view's fixed query (shared with the CLI), or a project's. */
function queryOf(view: View, tz: string, projectId: string | undefined): TaskQuery {
  return view === 'project' ? { project_id: projectId } : viewQuery(view, tz);
}

export function TasksPage({ view }: { view: View }) {
  const tz = useTimeZone();
  const { projectId } = useParams();
  const [params, setParams] = useSearchParams();
  const projects = useProjects();
  const project = projects.data?.find((p) => p.id === projectId);
  const selectedId = params.get('task') ?? undefined;
  const page = Number(params.get('page') ?? 1) || 1;

  // Filters live in the URL: a reload or a shared link shows the same list.
  const filters: TaskQuery = {
    ...(params.get('status') ? { status: params.get('status')!.split(',') as TaskQuery['status'] } : {}),
    ...(params.get('priority')
      ? { priority: params.get('priority')!.split(',') as TaskQuery['priority'] }
      : {}),
    ...(params.get('tag') ? { tag: [params.get('tag')!] } : {}),
    ...(params.get('project') ? { project_id: params.get('project')! } : {}),
    ...(params.get('q') ? { q: params.get('q')! } : {}),
    // A due range in whole days of the user's zone: from the start of the first to the end of the last.
    ...(params.get('due_from') ? { due_after: fromInputs(params.get('due_from')!, '00:00', tz)! } : {}),
    ...(params.get('due_to') ? { due_before: fromInputs(nextDay(params.get('due_to')!), '00:00', tz)! } : {}),
    ...(params.get('sort') ? { sort: params.get('sort') as TaskQuery['sort'] } : {}),
    ...(params.get('order') ? { order: params.get('order') as TaskQuery['order'] } : {}),
  };
  const query: TaskQuery = { ...queryOf(view, tz, projectId), ...filters, page, limit: 50 };
  const tasks = useTasks(query);
  const update = useUpdateTask();
  const remove = useDeleteTask();

  const list = tasks.data?.data ?? [];
  // No task is selected until j/k or a click picks one; another view starts afresh.
  const [cursor, setCursor] = useState(-1);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new view resets the selection
  useEffect(() => setCursor(-1), [view, projectId]);
  const listRef = useRef<HTMLUListElement>(null);
  const quickRef = useRef<HTMLInputElement>(null);
  const set = (key: string, value: string | undefined) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== 'task' && key !== 'page') next.delete('page');
    setParams(next, { replace: key === 'task' });
  };
  const open = (id: string | undefined) => set('task', id);
  /** Closes the panel: the field being edited saves first (its blur), then focus goes back to the task. */
  const closePanel = () => {
    const id = selectedId;
    (document.activeElement as HTMLElement | null)?.blur();
    open(undefined);
    if (id) setTimeout(() => document.getElementById(`open-${id}`)?.focus(), 0);
  };
  const toggle = (t: Task) => {
    const status = t.status === 'done' ? 'todo' : 'done';
    // A recurring task stays open with its next due date: the server says which, and the toast
    // then (useUpdateTask). A second click meanwhile must not complete the next occurrence too.
    if (status === 'done' && t.recurrence) {
      if (!isCompleting(t.id)) update.mutate({ id: t.id, body: { status }, version: t.version });
      return;
    }
    // Only the version shown: a task changed elsewhere meanwhile is reloaded, not overwritten.
    update.mutate({ id: t.id, body: { status }, version: t.version });
    if (status === 'done')
      toast.show(`Completed “${t.title.length > 40 ? `${t.title.slice(0, 40)}…` : t.title}”`, {
        action: {
          label: 'Undo',
          // Undoes this tab's own completion: the version it made is the one to change back.
          run: () =>
            update.mutate({ id: t.id, body: { status: t.status }, version: t.version, follow: true }),
        },
      });
  };

  // The keyboard's selection is also the focus, so a screen reader follows it and Enter/Tab work.
  const focusRow = (i: number) =>
    requestAnimationFrame(() =>
      (listRef.current?.querySelector(`[data-index="${i}"] .task-open`) as HTMLElement | null)?.focus(),
    );
  // Keys can come faster than renders: the next move starts from where the last one went.
  const cursorRef = useRef(cursor);
  cursorRef.current = cursor;
  const moveCursor = (i: number) => {
    cursorRef.current = i;
    setCursor(i);
    focusRow(i);
  };
  const removeSelected = () => {
    const task = list[cursor];
    if (!task) return;
    remove(task);
    // The next task takes the removed one's place (the last one if it was the last).
    focusRow(Math.min(cursor, list.length - 2));
  };
  useShortcuts({
    q: () => quickRef.current?.focus(),
    '/': () => document.getElementById('search')?.focus(),
    j: () => moveCursor(Math.min(cursorRef.current + 1, list.length - 1)),
    k: () => moveCursor(Math.max(cursorRef.current - 1, 0)),
    enter: () => list[cursor] && open(list[cursor].id),
    x: () => list[cursor] && toggle(list[cursor]),
    delete: () => removeSelected(),
    // A Mac keyboard's delete key is Backspace.
    backspace: () => removeSelected(),
    escape: closePanel,
  });
  // The selection stays on the same place when the list shrinks (the next task after a deletion).
  useEffect(() => {
    if (cursor >= list.length) setCursor(list.length - 1);
  }, [cursor, list.length]);
  useEffect(() => {
    const el = listRef.current?.querySelector(`[data-index="${cursor}"]`) as HTMLElement | null;
    el?.scrollIntoView({ block: 'nearest' });
  }, [cursor]);

  // On a phone the filters fold away behind a button; on a desktop they are always shown.
  const [filtersOpen, setFiltersOpen] = useState(false);
  const activeFilters = FILTER_KEYS.filter((k) => params.get(k)).length;
  // Today has two parts, Overdue then Today; Upcoming one per day. A heading starts each part.
  const now = new Date();
  const sectionOf = (i: number): string | undefined => {
    if (view !== 'today' && view !== 'upcoming') return undefined;
    const label = (t: Task) => {
      if (!t.due_date) return 'No date';
      if (view === 'today') return new Date(t.due_date) < now && t.status !== 'done' ? 'Overdue' : 'Today';
      return formatDay(t.due_date, tz, now);
    };
    const here = label(list[i]!);
    return i === 0 || label(list[i - 1]!) !== here ? here : undefined;
  };
  const tags = useMemo(() => [...new Set(list.flatMap((t) => t.tags))].sort(), [list]);
  const title = view === 'project' ? (project?.name ?? 'Project') : TITLES[view];
  const filtered = FILTER_KEYS.some((k) => params.get(k));
  const [emptyTitle, emptyText] =
    filters.q ||
    filters.status ||
    filters.priority ||
    filters.tag ||
    params.get('due_from') ||
    params.get('due_to')
      ? ['No task matches', 'Try other filters, or clear them.']
      : EMPTY[view];

  return (
    <div className={`tasks-page${selectedId ? ' with-panel' : ''}`}>
      <section className="content" aria-labelledby="view-title">
        <div className="row" style={{ marginBottom: 16 }}>
          <h1 id="view-title">{title}</h1>
          {tasks.data && (
            <span className="faint">
              {tasks.data.meta.total} {tasks.data.meta.total === 1 ? 'task' : 'tasks'}
            </span>
          )}
        </div>
        {project?.description && <p className="muted">{project.description}</p>}
        {view !== 'archived' && view !== 'overdue' && (
          <QuickAdd
            inputRef={quickRef}
            defaults={{
              ...(view === 'today'
                ? { day: 'today' as const }
                : view === 'upcoming'
                  ? { day: 'tomorrow' as const }
                  : {}),
              ...(view === 'project' ? { projectId } : {}),
            }}
          />
        )}
        <button
          type="button"
          className="btn filters-toggle"
          aria-expanded={filtersOpen}
          aria-controls="filters"
          onClick={() => setFiltersOpen((o) => !o)}
        >
          Filters{activeFilters ? ` (${activeFilters})` : ''}
        </button>
        <fieldset id="filters" className={`filters${filtersOpen ? ' open' : ''}`}>
          <legend className="sr-only">Filters</legend>
          <FilterSelect
            param="status"
            label="Filter by status"
            value={params.get('status')}
            onChange={set}
            options={[
              ['', 'Any status'],
              ['todo,in_progress', 'Open'],
              ['todo', 'To do'],
              ['in_progress', 'In progress'],
              ['done', 'Done'],
            ]}
          />
          <FilterSelect
            param="priority"
            label="Filter by priority"
            value={params.get('priority')}
            onChange={set}
            options={[
              ['', 'Any priority'],
              ['urgent', 'Urgent'],
              ['high,urgent', 'High or urgent'],
              ['medium', 'Medium'],
              ['low', 'Low'],
            ]}
          />
          {view !== 'project' && (
            <FilterSelect
              param="project"
              label="Filter by project"
              value={params.get('project')}
              onChange={set}
              options={[
                ['', 'Any project'],
                ['none', 'No project'],
                ...(projects.data ?? []).map((p): [string, string] => [p.id, p.name]),
              ]}
            />
          )}
          <FilterSelect
            param="tag"
            label="Filter by tag"
            value={params.get('tag')}
            onChange={set}
            options={[
              ['', 'Any tag'],
              ...[...new Set([...(params.get('tag') ? [params.get('tag')!] : []), ...tags])].map(
                (t): [string, string] => [t, t],
              ),
            ]}
          />
          {!DATED_VIEWS.includes(view) && (
            <>
              <label className="filter-date">
                <span>Due from</span>
                <input
                  type="date"
                  value={params.get('due_from') ?? ''}
                  onChange={(e) => set('due_from', e.target.value || undefined)}
                />
              </label>
              <label className="filter-date">
                <span>Due until</span>
                <input
                  type="date"
                  value={params.get('due_to') ?? ''}
                  min={params.get('due_from') ?? undefined}
                  onChange={(e) => set('due_to', e.target.value || undefined)}
                />
              </label>
            </>
          )}
          <label className="sr-only" htmlFor="f-sort">
            Sort by
          </label>
          <select
            id="f-sort"
            value={params.get('sort') ? `${params.get('sort')}:${params.get('order') ?? 'desc'}` : ''}
            onChange={(e) => {
              const [sort, order] = e.target.value.split(':');
              const next = new URLSearchParams(params);
              if (sort) {
                next.set('sort', sort);
                next.set('order', order ?? 'desc');
              } else {
                next.delete('sort');
                next.delete('order');
              }
              setParams(next);
            }}
          >
            <option value="">Default order</option>
            <option value="due_date:asc">Due date, soonest</option>
            <option value="priority:desc">Priority, highest</option>
            <option value="created_at:desc">Newest</option>
            <option value="created_at:asc">Oldest</option>
            <option value="updated_at:desc">Recently changed</option>
          </select>
          {params.get('q') && (
            <button
              type="button"
              className="chip"
              onClick={() => set('q', undefined)}
              aria-label={`Clear the search ${params.get('q')}`}
            >
              “{params.get('q')}” ✕
            </button>
          )}
        </fieldset>

        {tasks.isPending && <div className="spinner" role="status" aria-label="Loading tasks" />}
        {tasks.isError && (
          <div className="empty" role="alert">
            <h3>Could not load the tasks</h3>
            <p>{messageOf(tasks.error)}</p>
            <button type="button" className="btn" onClick={() => tasks.refetch()}>
              Try again
            </button>
          </div>
        )}
        {tasks.data && list.length === 0 && (
          <div className="empty">
            <h3>{emptyTitle}</h3>
            <p>{emptyText}</p>
            {filtered && (
              <button type="button" className="btn" onClick={() => setParams(new URLSearchParams())}>
                Clear filters
              </button>
            )}
          </div>
        )}
        {list.length > 0 && (
          <ul className="task-list" ref={listRef} aria-label={`${title}: tasks`}>
            {list.map((t, i) => (
              <TaskRow
                key={t.id}
                index={i}
                section={sectionOf(i)}
                task={t}
                timeZone={tz}
                project={view === 'project' ? undefined : projects.data?.find((p) => p.id === t.project_id)}
                selected={t.id === selectedId || i === cursor}
                onOpen={() => {
                  setCursor(i);
                  open(t.id);
                }}
                onToggle={() => toggle(t)}
              />
            ))}
          </ul>
        )}
        {tasks.data && tasks.data.meta.total_pages > 1 && (
          <nav className="pager" aria-label="Pages">
            <button
              type="button"
              className="btn"
              disabled={page <= 1}
              onClick={() => set('page', String(page - 1))}
            >
              Previous
            </button>
            <span className="faint">
              Page {page} of {tasks.data.meta.total_pages}
            </span>
            <button
              type="button"
              className="btn"
              disabled={page >= tasks.data.meta.total_pages}
              onClick={() => set('page', String(page + 1))}
            >
              Next
            </button>
          </nav>
        )}
      </section>
      {selectedId && <TaskPanel id={selectedId} onClose={closePanel} />}
    </div>
  );
}

/** One filter of the list: a labelled select bound to a URL parameter. */
function FilterSelect(props: {
  param: string;
  label: string;
  value: string | null;
  options: [value: string, label: string][];
  onChange: (param: string, value: string) => void;
}) {
  const id = `f-${props.param}`;
  return (
    <>
      <label className="sr-only" htmlFor={id}>
        {props.label}
      </label>
      <select id={id} value={props.value ?? ''} onChange={(e) => props.onChange(props.param, e.target.value)}>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </>
  );
}
