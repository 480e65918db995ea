import { calDavError, type DAVCalendar, openCalDav, taskCalendars } from '../calendar/caldav.client';
import { type SyncResult, syncCalendar } from '../calendar/caldav.sync';
import type { CalendarConnectionRow } from '../db/schema';
import { ConflictError, DomainError, NotFoundError, ValidationError } from '../errors';
import { type JobQueue, jobRequest } from '../jobs/job.queue';
import type { Clock } from '../lib/clock';
import type { SecretBox } from '../lib/encryption';
import { newId } from '../lib/ids';
import type { CalendarConnectionRepository } from '../repositories/calendar-connection.repository';
import { urlProblem } from '../webhooks/webhook.sender';
import type { TaskService } from './task.service';

export interface ConnectInput {
  serverUrl: string;
  username: string;
  password: string;
  /** Which calendar (its collection URL); default: the first that holds tasks. */
  calendarUrl?: string | undefined;
}

export const MAX_CONNECTIONS = 5;
/** Periodic pulls: every 5 minutes; after failures, 2, 4, 8 … minutes, at most 6 hours. */
export const SYNC_EVERY_MS = 5 * 60_000;
export const syncBackoffMs = (failures: number) => Math.min(2 ** failures * 60_000, 6 * 3_600_000);

const WINDOW_MS = 5000;

/** What a sealed CalDAV password is bound to: its connection (the row's id). */
export const calendarPasswordAad = (connectionId: string) => connectionId;

/**
 * The sync that pushes a change made at `at`: one per connection and 5-second window, run when
 * the window closes, so every change of the window is committed (and seen) by then, and changes
 * made together (a bulk edit) share one sync.
 */
export function calendarPushJob(connectionId: string, at: Date): { key: string; runAt: Date } {
  const window = Math.floor(at.getTime() / WINDOW_MS);
  return { key: `calsync.${connectionId}.${window}`, runAt: new Date((window + 1) * WINDOW_MS) };
}

/** Two-way CalDAV sync: connect a calendar, see how its sync goes, disconnect it. */
export class CalendarConnectionService {
  constructor(
    private readonly repo: CalendarConnectionRepository,
    private readonly tasks: TaskService,
    private readonly queue: JobQueue,
    private readonly clock: Clock,
    private readonly box: SecretBox | undefined,
    private readonly opts: { allowPrivate: boolean; appUrl: string },
  ) {}

  /** Logs in, finds the calendar, stores the connection (password sealed) and starts a first sync. */
  async connect(userId: string, input: ConnectInput): Promise<CalendarConnectionRow> {
    if (!this.box)
      throw new DomainError(
        'UNAVAILABLE',
        'Connecting calendars needs ENCRYPTION_KEY to be set on the server',
      );
    const serverUrl = input.serverUrl.trim();
    const problem = urlProblem(serverUrl, this.opts.allowPrivate);
    if (problem) throw ValidationError.field('server_url', problem);
    if ((await this.repo.list(userId)).length >= MAX_CONNECTIONS)
      throw new ConflictError(`You have ${MAX_CONNECTIONS} calendars connected already`);
    let calendars: DAVCalendar[];
    try {
      const client = await openCalDav(
        { serverUrl, username: input.username, password: input.password },
        this.opts.allowPrivate,
      );
      calendars = taskCalendars(await client.fetchCalendars());
    } catch (err) {
      throw ValidationError.field(
        'server_url',
        `could not sign in to this CalDAV server: ${calDavError(err)}`,
      );
    }
    const wanted = input.calendarUrl ? new URL(input.calendarUrl, serverUrl).href : undefined;
    const calendar = wanted ? calendars.find((c) => new URL(c.url, serverUrl).href === wanted) : calendars[0];
    if (!calendar)
      throw ValidationError.field(
        wanted ? 'calendar_url' : 'server_url',
        wanted
          ? 'is not a calendar of this account that holds tasks'
          : 'this account has no calendar that holds tasks',
      );
    const id = newId();
    const calendarUrl = new URL(calendar.url, serverUrl).href;
    if ((await this.repo.list(userId)).some((c) => c.calendarUrl === calendarUrl))
      throw new ConflictError('This calendar is connected already');
    const connection = await this.repo.insert({
      id,
      userId,
      serverUrl,
      calendarUrl,
      displayName: typeof calendar.displayName === 'string' ? calendar.displayName : null,
      username: input.username,
      passwordSealed: this.box.seal(input.password, calendarPasswordAad(id)),
    });
    await this.requestSync(userId, id);
    return connection;
  }

  list(userId: string): Promise<CalendarConnectionRow[]> {
    return this.repo.list(userId);
  }

  async disconnect(userId: string, id: string): Promise<void> {
    if (!(await this.repo.delete(userId, id))) throw new NotFoundError('Calendar connection');
  }

  /** Syncs now (in the background). */
  async requestSync(userId: string, id: string): Promise<CalendarConnectionRow> {
    const connection = await this.repo.find(userId, id);
    if (!connection) throw new NotFoundError('Calendar connection');
    await this.queue.enqueue([
      jobRequest('sync_calendar', { connectionId: id }, { key: `calsync.${id}.now.${newId()}` }),
    ]);
    return connection;
  }

  /** The job: one sync; the outcome (or the error, for the user to see) is recorded on the connection. */
  async sync(connectionId: string): Promise<SyncResult | undefined> {
    const connection = await this.repo.findById(connectionId);
    if (!connection) return undefined;
    const now = this.clock.now();
    try {
      if (!this.box) throw new Error('ENCRYPTION_KEY is not set on this server');
      const password = this.box.open(connection.passwordSealed, calendarPasswordAad(connection.id));
      const client = await openCalDav(
        { serverUrl: connection.serverUrl, username: connection.username, password },
        this.opts.allowPrivate,
      );
      const result = await syncCalendar(client, connection, {
        repo: this.repo,
        tasks: this.tasks,
        context: { appUrl: this.opts.appUrl, host: new URL(this.opts.appUrl).hostname || 'taskman', now },
      });
      await this.repo.recordSuccess(
        connectionId,
        this.clock.now(),
        new Date(this.clock.now().getTime() + SYNC_EVERY_MS),
      );
      return result;
    } catch (err) {
      await this.repo.recordFailure(connectionId, this.clock.now(), calDavError(err), syncBackoffMs);
      throw err;
    }
  }
}
