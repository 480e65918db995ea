import { createHash, randomBytes } from 'node:crypto';
import { calendarFeed } from '../calendar/ics';
import { NotFoundError } from '../errors';
import type { Clock } from '../lib/clock';
import type { CalendarRepository } from '../repositories/calendar.repository';
import type { ProjectRepository } from '../repositories/project.repository';

const FEED_PREFIX = 'tmcal_';
const FEED_TOKEN = /^tmcal_[A-Za-z0-9_-]{32}$/;
/** Done tasks stay in the feed this long after completion. */
const DONE_VISIBLE_DAYS = 30;

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export interface RenderedFeed {
  ics: string;
  etag: string;
}

/** The secret iCalendar feed of a user's tasks (a subscription URL for any calendar app). */
export class CalendarService {
  constructor(
    private readonly calendars: CalendarRepository,
    private readonly projects: ProjectRepository,
    private readonly clock: Clock,
    private readonly appUrl: string,
  ) {}

  /** A new feed URL; a previous one stops working at once. */
  async createFeed(userId: string): Promise<{ url: string; createdAt: Date }> {
    const token = `${FEED_PREFIX}${randomBytes(24).toString('base64url')}`;
    const row = await this.calendars.upsertFeed(userId, hashOf(token));
    return { url: `${this.appUrl}/api/v1/calendar/feed/${token}.ics`, createdAt: row.createdAt };
  }

  async feedStatus(userId: string): Promise<{ active: boolean; createdAt: Date | null }> {
    const row = await this.calendars.findFeed(userId);
    return { active: Boolean(row), createdAt: row?.createdAt ?? null };
  }

  async revokeFeed(userId: string): Promise<void> {
    if (!(await this.calendars.deleteFeed(userId))) throw new NotFoundError('Calendar feed');
  }

  /** The feed of a token, optionally one project's tasks; "not found" for an unknown token or project. */
  async render(token: string, projectId?: string): Promise<RenderedFeed> {
    if (!FEED_TOKEN.test(token)) throw new NotFoundError('Calendar feed');
    const owner = await this.calendars.ownerOf(hashOf(token));
    if (!owner) throw new NotFoundError('Calendar feed');
    let name = 'Taskman';
    if (projectId) {
      const project = await this.projects.findById(owner.userId, projectId);
      if (!project) throw new NotFoundError('Project');
      name = `Taskman: ${project.name}`;
    }
    const now = this.clock.now();
    const tasks = await this.calendars.feedTasks(
      owner.userId,
      new Date(now.getTime() - DONE_VISIBLE_DAYS * 86_400_000),
      projectId,
    );
    const ics = calendarFeed({
      calendarName: name,
      timezone: owner.timezone,
      tasks,
      appUrl: this.appUrl,
      host: new URL(this.appUrl).hostname || 'taskman',
      // DTSTAMP from the newest change, not the clock: the same tasks give the same bytes (and ETag).
      now: new Date(Math.max(0, ...tasks.map((t) => t.updatedAt.getTime()))),
    });
    return { ics, etag: `"${createHash('sha256').update(ics).digest('base64url').slice(0, 27)}"` };
  }
}
