// Server state: every read is a TanStack Query; writes update the cache optimistically and roll
// back, with a visible message, when the server says no.

import { type QueryClient, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { expectOk, type Project, type Task, unwrap, unwrapBody } from '@taskman/sdk';
import { useCallback, useSyncExternalStore } from 'react';
import { api, messageOf } from './api';
import { dayRange } from './dates';
import { useTimeZone } from './session';
import { toast } from './toast';

export type TaskQuery = {
  status?: ('todo' | 'in_progress' | 'done')[];
  priority?: ('low' | 'medium' | 'high' | 'urgent')[];
  tag?: string[];
  project_id?: string;
  due_before?: string;
  due_after?: string;
  overdue?: boolean;
  q?: string;
  archived?: boolean;
  sort?: 'created_at' | 'updated_at' | 'due_date' | 'priority';
  order?: 'asc' | 'desc';
  page?: number;
  limit?: number;
};

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

export function useTask(id: string | undefined) {
  return useQuery({
    queryKey: ['task', id],
    enabled: !!id,
    queryFn: () => unwrap(api.GET('/api/v1/tasks/{id}', { params: { path: { id: id! } } })),
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

export type TaskBody = Partial<{
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

export function useCreateTask() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: TaskBody & { title: string }) => unwrap(api.POST('/api/v1/tasks', { body })),
    onSettled: () => qc.invalidateQueries({ queryKey: ['tasks'] }),
  });
}

export function useUpdateTask() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: TaskBody }) =>
      unwrap(api.PATCH('/api/v1/tasks/{id}', { params: { path: { id } }, body })),
    onMutate: async ({ id, body }) => {
      await qc.cancelQueries({ queryKey: ['tasks'] });
      return patchCaches(qc, id, (t) => ({ ...t, ...(body as Partial<Task>) }));
    },
    onError: (err, _vars, undo) => {
      undo?.();
      toast.error(`Not saved: ${messageOf(err)}`);
    },
    onSuccess: (task) => qc.setQueryData(['task', task.id], task),
    onSettled: () => qc.invalidateQueries({ queryKey: ['tasks'] }),
  });
}

export function useSetArchived() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, archived }: { id: string; archived: boolean }) =>
      unwrap(
        archived
          ? api.POST('/api/v1/tasks/{id}/archive', { params: { path: { id } } })
          : api.POST('/api/v1/tasks/{id}/unarchive', { params: { path: { id } } }),
      ),
    onError: (err) => toast.error(messageOf(err)),
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
    toast.show(`Deleted “${task.title.length > 40 ? `${task.title.slice(0, 40)}…` : task.title}”`, {
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
          await expectOk(api.DELETE('/api/v1/tasks/{id}', { params: { path: { id: task.id } } }));
          setPending(task.id, false);
        } catch (err) {
          restore();
          toast.error(`Not deleted: ${messageOf(err)}`);
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
