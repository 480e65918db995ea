import ICAL from 'ical.js';
import type { Priority, Status, TaskRow } from '../db/schema';

/** RFC 5545 PRIORITY: 1 is the highest, 9 the lowest (0: undefined). */
export const ICAL_PRIORITY: Record<Priority, number> = { urgent: 1, high: 3, medium: 5, low: 9 };
/** RFC 5545 VTODO STATUS. */
export const ICAL_STATUS: Record<Status, string> = {
  todo: 'NEEDS-ACTION',
  in_progress: 'IN-PROCESS',
  done: 'COMPLETED',
};

/** What a VTODO needs besides its task: links point to appUrl, UIDs end with @host. */
export interface TodoContext {
  appUrl: string;
  host: string;
  now: Date;
}

export interface FeedInput extends TodoContext {
  calendarName: string;
  timezone: string;
  tasks: TaskRow[];
}

const utc = (d: Date) => ICAL.Time.fromJSDate(d, true);

/** A task as a VTODO: stable UID, DUE, STATUS, PRIORITY, CATEGORIES, a VALARM for its reminder. */
function vtodo(task: TaskRow, input: TodoContext): ICAL.Component {
  const todo = new ICAL.Component('vtodo');
  todo.addPropertyWithValue('uid', `${task.id}@${input.host}`);
  todo.addPropertyWithValue('dtstamp', utc(input.now));
  todo.addPropertyWithValue('created', utc(task.createdAt));
  todo.addPropertyWithValue('last-modified', utc(task.updatedAt));
  todo.addPropertyWithValue('sequence', task.version - 1);
  todo.addPropertyWithValue('summary', task.title);
  if (task.description) todo.addPropertyWithValue('description', task.description);
  if (task.dueDate) todo.addPropertyWithValue('due', utc(task.dueDate));
  todo.addPropertyWithValue('status', ICAL_STATUS[task.status]);
  todo.addPropertyWithValue('priority', ICAL_PRIORITY[task.priority]);
  if (task.completedAt) {
    todo.addPropertyWithValue('completed', utc(task.completedAt));
    todo.addPropertyWithValue('percent-complete', 100);
  }
  if (task.tags.length) {
    const categories = new ICAL.Property('categories');
    categories.setValues(task.tags);
    todo.addProperty(categories);
  }
  todo.addPropertyWithValue('url', `${input.appUrl}/tasks/${task.id}`);
  if (task.remindAt && task.status !== 'done') {
    const alarm = new ICAL.Component('valarm');
    alarm.addPropertyWithValue('action', 'DISPLAY');
    alarm.addPropertyWithValue('description', task.title);
    // An absolute trigger (ical.js writes VALUE=DATE-TIME for a time value).
    const trigger = new ICAL.Property('trigger');
    trigger.setValue(utc(task.remindAt));
    alarm.addProperty(trigger);
    todo.addSubcomponent(alarm);
  }
  return todo;
}

const PRODID = '-//Taskman//Taskman//EN';

/** One task as a calendar object (a VCALENDAR holding its VTODO), for a CalDAV PUT. */
export function taskCalendarObject(task: TaskRow, context: TodoContext): string {
  const cal = new ICAL.Component(['vcalendar', [], []]);
  cal.addPropertyWithValue('prodid', PRODID);
  cal.addPropertyWithValue('version', '2.0');
  cal.addSubcomponent(vtodo(task, context));
  return `${cal.toString()}\r\n`;
}

/** What Taskman reads back from a VTODO edited in a calendar app. */
export interface RemoteTodo {
  uid: string | null;
  summary: string | null;
  due: Date | null;
  status: Status;
  lastModified: Date | null;
}

const STATUS_OF: Record<string, Status> = {
  'NEEDS-ACTION': 'todo',
  'IN-PROCESS': 'in_progress',
  COMPLETED: 'done',
};

/** Parses a calendar object's first VTODO; undefined if there is none or it cannot be read. */
export function parseRemoteTodo(data: string): RemoteTodo | undefined {
  try {
    const todo = new ICAL.Component(ICAL.parse(data)).getFirstSubcomponent('vtodo');
    if (!todo) return undefined;
    const time = (name: string) => {
      const v = todo.getFirstPropertyValue(name);
      return v instanceof ICAL.Time ? v.toJSDate() : null;
    };
    const text = (name: string) => {
      const v = todo.getFirstPropertyValue(name);
      return typeof v === 'string' ? v : null;
    };
    const status = String(text('status') ?? '').toUpperCase();
    return {
      uid: text('uid'),
      summary: text('summary'),
      due: time('due'),
      // Some apps only set COMPLETED (or PERCENT-COMPLETE) when a to-do is ticked off.
      status: STATUS_OF[status] ?? (time('completed') ? 'done' : 'todo'),
      lastModified: time('last-modified') ?? time('dtstamp'),
    };
  } catch {
    return undefined;
  }
}

/** The iCalendar text of a feed (RFC 5545, CRLF line ends, long lines folded). */
export function calendarFeed(input: FeedInput): string {
  const cal = new ICAL.Component(['vcalendar', [], []]);
  cal.addPropertyWithValue('prodid', PRODID);
  cal.addPropertyWithValue('version', '2.0');
  cal.addPropertyWithValue('calscale', 'GREGORIAN');
  cal.addPropertyWithValue('method', 'PUBLISH');
  cal.addPropertyWithValue('x-wr-calname', input.calendarName);
  cal.addPropertyWithValue('x-wr-timezone', input.timezone);
  // How often subscribers should look again.
  const refresh = new ICAL.Property('refresh-interval');
  refresh.setValue(ICAL.Duration.fromString('PT15M'));
  cal.addProperty(refresh);
  cal.addPropertyWithValue('x-published-ttl', 'PT15M');
  for (const task of input.tasks) cal.addSubcomponent(vtodo(task, input));
  return `${cal.toString()}\r\n`;
}
