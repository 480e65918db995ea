// Server state: every read is a TanStack Query; writes update the cache optimistically and roll
// back, with a visible message, when the server says no.

import { type QueryClient, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { expectOk, type Project, type Task, TaskmanError, unwrap, unwrapBody } from '@taskman/sdk';
import { dayRange, formatDue } from '@taskman/sdk/dates';
import type { TaskQuery } from '@taskman/sdk/views';
import { useCallback, useSyncExternalStore } from 'react';
import { api, messageOf } from './api';
import { useTimeZone } from './session';
import { toast } from './toast';

export type { TaskQuery } from '@taskman/sdk/views';

export type TaskPage = {
  data: Task[];
  meta: { page: number; limit: number; total: number; total_pages: number };
};

function samePageless(a: TaskQuery, b: TaskQuery): boolean {
  const { page: _a, ...restA } = a;
  const { page: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

// Tasks deleted on screen whose deletion waits for its Undo window: a list fetched meanwhile (after
// another change) must not bring them back.
const pendingDeletes = new Set<string>();
const pendingListeners = new Set<() => void>();
let pendingVersion = 0;
function setPending(id: string, pending: boolean): void {
  if (pending) pendingDeletes.add(id);
  else pendingDeletes.delete(id);
  pendingVersion++;
  for (const l of pendingListeners) l();
}
function usePendingVersion(): number {
  return useSyncExternalStore(
    (l) => {
      pendingListeners.add(l);
      return () => pendingListeners.delete(l);
    },
    () => pendingVersion,
  );
}

export function useTasks(query: TaskQuery) {
  const version = usePendingVersion();
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new version re-runs the filter
  const hidePending = useCallback(
    (page: TaskPage): TaskPage => {
      if (pendingDeletes.size === 0) return page;
      const data = page.data.filter((t) => !pendingDeletes.has(t.id));
      return {
        ...page,
        data,
        meta: { ...page.meta, total: page.meta.total - (page.data.length - data.length) },
      };
    },
    [version],
  );
  return useQuery({
    queryKey: ['tasks', query],
    queryFn: () => unwrapBody(api.GET('/api/v1/tasks', { params: { query } })) as Promise<TaskPage>,
    select: hidePending,
    // Another page of the same list keeps showing the current one while it loads; another list
    // (view, filter) does not, so its title never sits over the rows of the previous one.
    placeholderData: (previous, previousQuery) =>
      previousQuery && samePageless(previousQuery.queryKey[1] as TaskQuery, query) ? previous : undefined,
  });
}

const fetchTask = (id: string) => unwrap(api.GET('/api/v1/tasks/{id}', { params: { path: { id } } }));

export function useTask(id: string | undefined) {
  return useQuery({
    queryKey: ['task', id],
    enabled: !!id,
    queryFn: () => fetchTask(id!),
  });
}

export type Completion = { id: string; due_date: string | null; completed_at: string };

/** The completed occurrences of a recurring task, newest first (the API sends at most 100). */
export function useCompletions(id: string, enabled: boolean) {
  return useQuery({
    queryKey: ['task', id, 'completions'],
    enabled,
    queryFn: () =>
      unwrap(api.GET('/api/v1/tasks/{id}/completions', { params: { path: { id } } })) as Promise<
        Completion[]
      >,
  });
}

export function useProjects() {
  return useQuery({
    queryKey: ['projects'],
    queryFn: async () => {
      const body = await unwrapBody(api.GET('/api/v1/projects', { params: { query: { limit: 100 } } }));
      return body.data as Project[];
    },
  });
}

/** Applies `change` to every cached task list and to the task's own entry; returns an undo. */
function patchCaches(qc: QueryClient, id: string, change: (t: Task) => Task | undefined): () => void {
  const lists = qc.getQueriesData<TaskPage>({ queryKey: ['tasks'] });
  const single = qc.getQueryData<Task>(['task', id]);
  for (const [key, page] of lists) {
    if (!page) continue;
    const data = page.data.flatMap((t) => (t.id === id ? (change(t) ? [change(t)!] : []) : [t]));
    const removed = page.data.length - data.length;
    qc.setQueryData(key, { ...page, data, meta: { ...page.meta, total: page.meta.total - removed } });
  }
  if (single) {
    const next = change(single);
    if (next) qc.setQueryData(['task', id], next);
  }
  return () => {
    for (const [key, page] of lists) qc.setQueryData(key, page);
    if (single) qc.setQueryData(['task', id], single);
  };
}

export type Recurrence = { rule: string; basis: 'due' | 'completion' };

export type TaskBody = Partial<{
  recurrence: Recurrence | null;
  title: string;
  description: string | null;
  due_date: string | null;
  remind_at: string | null;
  priority: Task['priority'];
  status: Task['status'];
  tags: string[];
  project_id: string | null;
  reminder_mode: 'auto';
}>;

/** A new task: fields, or `text` for quick add (fields sent with it win over what it says). */
export type CreateBody = TaskBody & ({ title: string; text?: never } | { text: string; title?: never });

export function useCreateTask() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateBody) => unwrap(api.POST('/api/v1/tasks', { body })),
    onSettled: () => qc.invalidateQueries({ queryKey: ['tasks'] }),
  });
}

// No lost updates: every write names the version it was made against (If-Match); a task changed
// elsewhere meanwhile answers 412 and nothing is overwritten. Our own writes must not trip over
// each other, though: writes to one task run one after the other, and the versions they produced
// are remembered, so an edit started on version 4 still applies after our own change made it 5.
const ownWrites = new Map<string, number>();
const queues = new Map<string, Promise<unknown>>();

/** The version `version` became through this tab's own writes (itself when none followed). */
function followOwn(id: string, version: number): number {
  let v = version;
  for (let i = 0; i < 1000 && ownWrites.has(`${id}:${v}`); i++) v = ownWrites.get(`${id}:${v}`)!;
  return v;
}

/** Runs the writes to one task in order (the next starts when the previous has its answer). */
function serial<T>(id: string, run: () => Promise<T>): Promise<T> {
  const next = (queues.get(id) ?? Promise.resolve()).catch(() => {}).then(run);
  queues.set(id, next);
  const done = () => {
    if (queues.get(id) === next) queues.delete(id);
  };
  next.then(done, done);
  return next;
}

/** The If-Match header of a write made against `version` (none without one). */
function ifMatch(id: string, version: number | undefined, follow: boolean) {
  if (version === undefined) return { sent: undefined, header: undefined };
  const sent = follow ? followOwn(id, version) : version;
  return { sent, header: { 'if-match': `"${sent}"` } };
}

export const isConflict = (err: unknown) => err instanceof TaskmanError && err.status === 412;

/** Recurring tasks being completed now: a second click must not complete the next occurrence too. */
const completing = new Set<string>();
export const isCompleting = (id: string) => completing.has(id);

export interface UpdateVars {
  id: string;
  body: TaskBody;
  /** The version the change was made against (what the person saw): sent as If-Match. */
  version?: number | undefined;
  /** True: the version may have moved on through this tab's own writes since (a form's next field). */
  follow?: boolean;
  /** Changed elsewhere (412): called with the task as it is now, reloaded. Default: a toast. */
  onConflict?: (current: Task | undefined) => void;
  /** Any other refusal. Default: a toast. */
  onError?: (err: unknown) => void;
  onSaved?: (task: Task) => void;
}

const shortTitle = (title: string) => (title.length > 40 ? `${title.slice(0, 40)}…` : title);

export function useUpdateTask() {
  const qc = useQueryClient();
  const tz = useTimeZone();
  return useMutation({
    mutationFn: ({ id, body, version, follow = false }: UpdateVars) =>
      serial(id, async () => {
        const { sent, header } = ifMatch(id, version, follow);
        const task = await unwrap(
          api.PATCH('/api/v1/tasks/{id}', { params: { path: { id }, ...(header ? { header } : {}) }, body }),
        );
        if (sent !== undefined) ownWrites.set(`${id}:${sent}`, task.version);
        return task;
      }),
    onMutate: async ({ id, body }) => {
      // Completing a recurring task keeps it open with its next due date: only the server knows
      // which, so its answer is awaited rather than showing the task done. A repeat rule is shown
      // as the server describes it.
      const { recurrence: _rule, ...shown } = body;
      const cached = qc.getQueryData<Task>(['task', id]) ?? findInLists(qc, id);
      if (shown.status === 'done' && cached?.recurrence) {
        completing.add(id); // (before any await: a double click's second click sees it)
        delete shown.status;
      }
      await qc.cancelQueries({ queryKey: ['tasks'] });
      return patchCaches(qc, id, (t) => ({ ...t, ...(shown as Partial<Task>) }));
    },
    onError: async (err, vars, undo) => {
      undo?.();
      if (isConflict(err)) {
        // Changed elsewhere: show it as it is now, and say the change was not saved.
        const current = await qc
          .fetchQuery({ queryKey: ['task', vars.id], queryFn: () => fetchTask(vars.id), staleTime: 0 })
          .catch(() => undefined);
        if (current) patchCaches(qc, vars.id, () => current);
        if (vars.onConflict) vars.onConflict(current);
        else
          toast.error(
            `${current ? `“${shortTitle(current.title)}”` : 'This task'} was changed elsewhere — reloaded; your change was not saved`,
          );
        return;
      }
      if (vars.onError) vars.onError(err);
      else toast.error(`Not saved: ${messageOf(err)}`);
    },
    onSuccess: (task, vars) => {
      // The server's answer wins (a recurring task's next due date, a canonical rule, the version).
      patchCaches(qc, task.id, () => task);
      qc.setQueryData(['task', task.id], task);
      if (vars.body.status === 'done' && task.recurrence && task.status !== 'done' && task.due_date) {
        toast.show(`Completed “${shortTitle(task.title)}” — next: ${formatDue(task.due_date, tz)}`);
        void qc.invalidateQueries({ queryKey: ['task', task.id, 'completions'] });
      }
      vars.onSaved?.(task);
    },
    onSettled: (_task, _err, vars) => {
      completing.delete(vars.id);
      return qc.invalidateQueries({ queryKey: ['tasks'] });
    },
  });
}

function findInLists(qc: QueryClient, id: string): Task | undefined {
  for (const [, page] of qc.getQueriesData<TaskPage>({ queryKey: ['tasks'] })) {
    const found = page?.data.find((t) => t.id === id);
    if (found) return found;
  }
  return undefined;
}

export function useSetArchived() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, archived, version }: { id: string; archived: boolean; version?: number }) =>
      serial(id, async () => {
        const { sent, header } = ifMatch(id, version, true);
        const params = { path: { id }, ...(header ? { header } : {}) };
        const task = await unwrap(
          archived
            ? api.POST('/api/v1/tasks/{id}/archive', { params })
            : api.POST('/api/v1/tasks/{id}/unarchive', { params }),
        );
        if (sent !== undefined) ownWrites.set(`${id}:${sent}`, task.version);
        return task;
      }),
    onError: (err, vars) => {
      if (isConflict(err)) {
        void qc.invalidateQueries({ queryKey: ['task', vars.id] });
        toast.error('This task was changed elsewhere — reloaded; it was not archived');
      } else toast.error(messageOf(err));
    },
    onSettled: () => qc.invalidateQueries({ queryKey: ['tasks'] }),
  });
}

/**
 * Delete with undo: the task leaves the lists at once, and is deleted on the server only when the
 * undo window closes without an undo.
 */
export function useDeleteTask() {
  const qc = useQueryClient();
  return (task: Task) => {
    setPending(task.id, true);
    const undoCache = patchCaches(qc, task.id, () => undefined);
    const restore = () => {
      setPending(task.id, false);
      undoCache();
    };
    let undone = false;
    toast.show(`Deleted “${shortTitle(task.title)}”`, {
      action: {
        label: 'Undo',
        run: () => {
          undone = true;
          restore();
        },
      },
      onClose: async () => {
        if (undone) return;
        try {
          // Only the task as it was seen (or as this tab's own writes made it since): one changed
          // elsewhere in the meantime is kept, and shown as it is now.
          await serial(task.id, () => {
            const { header } = ifMatch(task.id, task.version, true);
            return expectOk(
              api.DELETE('/api/v1/tasks/{id}', {
                params: { path: { id: task.id }, ...(header ? { header } : {}) },
              }),
            );
          });
          setPending(task.id, false);
        } catch (err) {
          restore();
          if (isConflict(err)) {
            await qc.invalidateQueries({ queryKey: ['task', task.id] });
            toast.error(
              `Not deleted: “${shortTitle(task.title)}” was changed elsewhere — reloaded; delete it again if you still mean to`,
            );
          } else toast.error(`Not deleted: ${messageOf(err)}`);
        }
        await qc.invalidateQueries({ queryKey: ['tasks'] });
      },
    });
  };
}

/** How many open tasks are due today (overdue included) and overdue: the sidebar's counts. */
export function useViewCounts(): { today: number; overdue: number } {
  const { to } = dayRange(new Date(), useTimeZone());
  const today = useTasks({ due_before: to, status: ['todo', 'in_progress'], limit: 1 });
  const overdue = useTasks({ overdue: true, limit: 1 });
  return { today: today.data?.meta.total ?? 0, overdue: overdue.data?.meta.total ?? 0 };
}
