import type { CalendarConnectionRow, TaskRow } from '../db/schema';
import type { CalendarConnectionRepository } from '../repositories/calendar-connection.repository';
import type { TaskService } from '../services/task.service';
import type { DAVClient } from './caldav.client';
import { parseRemoteTodo, type RemoteTodo, type TodoContext, taskCalendarObject } from './ics';

export interface SyncResult {
  pushed: number;
  pulled: number;
  deletedRemote: number;
  archived: number;
  [key: string]: number;
}

/**
 * One two-way sync of a user's tasks with a CalDAV calendar. Each task is one calendar object
 * (`<task id>.ics`); calendar_items remembers, per task, its object and what both sides looked
 * like when they last agreed (the task's version, the object's ETag). Then:
 * - only the task changed → the object is rewritten (If-Match its ETag);
 * - only the object changed (title, due date, completion edited in the calendar app) → the task
 *   takes the change;
 * - both changed → the later modification wins (the task's updated_at against the object's
 *   LAST-MODIFIED; a tie goes to the task);
 * - the task was deleted → the object is deleted; the object was deleted → the task is archived
 *   (not deleted: unarchive brings it back);
 * - a task never synced → a new object.
 */
export async function syncCalendar(
  client: DAVClient,
  connection: CalendarConnectionRow,
  deps: { repo: CalendarConnectionRepository; tasks: TaskService; context: TodoContext },
): Promise<SyncResult> {
  const { repo, context } = deps;
  const result: SyncResult = { pushed: 0, pulled: 0, deletedRemote: 0, archived: 0 };
  const calendar = { url: connection.calendarUrl };
  // Every VTODO of the calendar (tsdav asks for events unless told otherwise).
  const objects = await client.fetchCalendarObjects({
    calendar,
    filters: [
      {
        'comp-filter': {
          _attributes: { name: 'VCALENDAR' },
          'comp-filter': { _attributes: { name: 'VTODO' } },
        },
      },
    ],
  });
  const remoteByHref = new Map(objects.map((o) => [new URL(o.url, connection.calendarUrl).href, o]));
  const items = new Map((await repo.items(connection.id)).map((i) => [i.taskId, i]));
  const tasks = new Map((await repo.syncedTasks(connection.userId)).map((t) => [t.id, t]));
  // A calendar that suddenly lists none of many synced to-dos is more likely broken than emptied
  // by hand: refuse rather than archive every task.
  if (objects.length === 0 && items.size > 5)
    throw new Error(
      `The calendar lists none of the ${items.size} synced to-dos: not archiving them; check the calendar`,
    );
  const etagOf = (res: Response) => res.headers.get('etag');

  const put = async (task: TaskRow, href: string, etag: string | null) => {
    const data = taskCalendarObject(task, context);
    const res = etag
      ? await client.updateCalendarObject({ calendarObject: { url: href, data, etag } })
      : await client.createCalendarObject({ calendar, filename: `${task.id}.ics`, iCalString: data });
    if (!res.ok)
      throw new Error(`The calendar server refused ${task.title.slice(0, 60)}: HTTP ${res.status}`);
    await repo.upsertItem({
      connectionId: connection.id,
      taskId: task.id,
      href,
      etag: etagOf(res),
      syncedVersion: task.version,
    });
    result.pushed++;
  };

  for (const [taskId, item] of items) {
    const task = tasks.get(taskId);
    const remote = remoteByHref.get(item.href);
    if (!task) {
      // Deleted (or archived) here: remove it from the calendar.
      if (remote) {
        await client.deleteCalendarObject({ calendarObject: { url: item.href, etag: remote.etag ?? '' } });
        result.deletedRemote++;
      }
      await repo.deleteItem(connection.id, taskId);
      continue;
    }
    if (!remote) {
      // Deleted in the calendar app: archive the task (recoverable), and stop syncing it.
      await deps.tasks.setArchived(connection.userId, taskId, true);
      await repo.deleteItem(connection.id, taskId);
      tasks.delete(taskId);
      result.archived++;
      continue;
    }
    const localChanged = task.version !== item.syncedVersion;
    const remoteChanged = (remote.etag ?? null) !== item.etag;
    const parsed = remoteChanged ? parseRemoteTodo(String(remote.data ?? '')) : undefined;
    const remoteWins =
      remoteChanged &&
      parsed !== undefined &&
      (!localChanged || (parsed.lastModified !== null && parsed.lastModified > task.updatedAt));
    if (remoteWins) {
      const updated = await applyRemote(task, parsed, deps.tasks, connection.userId);
      await repo.upsertItem({ ...item, etag: remote.etag ?? null, syncedVersion: updated.version });
      if (updated.version !== task.version) result.pulled++;
    } else if (localChanged || remoteChanged) {
      await put(task, item.href, remote.etag ?? null);
    }
  }
  for (const task of tasks.values()) {
    if (items.has(task.id)) continue;
    await put(task, new URL(`${task.id}.ics`, ensureSlash(connection.calendarUrl)).href, null);
  }
  return result;
}

const ensureSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

/** Takes the calendar app's title, due date and completion into the task. */
async function applyRemote(
  task: TaskRow,
  remote: RemoteTodo,
  tasks: TaskService,
  userId: string,
): Promise<TaskRow> {
  const patch: Parameters<TaskService['update']>[2] = {};
  const title = remote.summary?.trim();
  if (title && title !== task.title) patch.title = title;
  if ((remote.due?.getTime() ?? null) !== (task.dueDate?.getTime() ?? null)) patch.dueDate = remote.due;
  if (remote.status !== task.status) patch.status = remote.status;
  if (Object.keys(patch).length === 0) return task;
  return tasks.update(userId, task.id, patch, { fromCalendar: true });
}
