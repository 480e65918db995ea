import { ValidationError } from '../errors';
import type { Clock } from '../lib/clock';
import type { ProductivityFigures, ReportRepository } from '../repositories/report.repository';
import type { ProjectService } from './project.service';
import type { UserService } from './user.service';

export interface ProductivityReport extends ProductivityFigures {
  from: string;
  to: string;
  timezone: string;
  projectId: string | null;
  /** createdAndDone / created, or null when nothing was created. */
  completionRate: number | null;
}

export interface ReportRequest {
  from?: string | undefined;
  to?: string | undefined;
  projectId?: string | undefined;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
export const MAX_REPORT_DAYS = 366;
const DAY_MS = 86_400_000;

/** "YYYY-MM-DD" of an instant in a time zone. */
export function localDate(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(at);
}

const addDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

/** The earliest day a report may start (PostgreSQL has no year 0; nobody has tasks from before). */
const FIRST_DAY = '1900-01-01';

function checkDate(value: string, field: string): string {
  if (
    !DATE.test(value) ||
    Number.isNaN(Date.parse(`${value}T00:00:00Z`)) ||
    new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value
  )
    throw ValidationError.field(field, 'must be a date such as 2026-11-27');
  return value;
}

/** Productivity reports, in the user's time zone. */
export class ReportService {
  constructor(
    private readonly reports: ReportRepository,
    private readonly users: UserService,
    private readonly projects: ProjectService,
    private readonly clock: Clock,
  ) {}

  /** Default: the last 7 days, today included. Both ends are included. */
  async productivity(userId: string, req: ReportRequest): Promise<ProductivityReport> {
    const user = await this.users.getProfile(userId);
    const timezone = user.timezone;
    const now = this.clock.now();
    const to =
      req.to !== undefined
        ? checkDate(req.to, 'to')
        : req.from !== undefined
          ? addDays(checkDate(req.from, 'from'), 6)
          : localDate(now, timezone);
    const from = req.from !== undefined ? checkDate(req.from, 'from') : addDays(to, -6);
    if (from < FIRST_DAY)
      throw ValidationError.field(req.from !== undefined ? 'from' : 'to', `must be ${FIRST_DAY} or later`);
    if (from > to) throw ValidationError.field('from', 'must not be after to');
    if ((Date.parse(to) - Date.parse(from)) / DAY_MS + 1 > MAX_REPORT_DAYS)
      throw ValidationError.field('from', `the period may cover at most ${MAX_REPORT_DAYS} days`);
    // Someone else's project is "not found", as everywhere.
    if (req.projectId) await this.projects.get(userId, req.projectId);
    const figures = await this.reports.productivity({
      userId,
      from,
      to,
      timezone,
      projectId: req.projectId,
      now,
    });
    return {
      from,
      to,
      timezone,
      projectId: req.projectId ?? null,
      completionRate: figures.created
        ? Math.round((figures.createdAndDone / figures.created) * 10_000) / 10_000
        : null,
      ...figures,
    };
  }
}

const csvCell = (v: string | number | null) => {
  if (v === null) return '';
  const s = String(v);
  // Quote what needs it; a leading =, +, - or @ would be a formula in a spreadsheet.
  const safe = /^[=+\-@\t\r]/.test(s) && typeof v === 'string' ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
};

/**
 * The same report as one tidy table, `section,key,metric,value`, that any spreadsheet can pivot:
 * summary figures, then each day, priority, project and tag with its created and completed counts.
 */
export function productivityCsv(r: ProductivityReport): string {
  const rows: (string | number | null)[][] = [['section', 'key', 'metric', 'value']];
  const summary: [string, string | number | null][] = [
    ['from', r.from],
    ['to', r.to],
    ['timezone', r.timezone],
    ['project_id', r.projectId],
    ['created', r.created],
    ['completed', r.completed],
    ['completion_rate', r.completionRate],
    ['overdue', r.overdue],
    [
      'average_seconds_to_complete',
      r.averageSecondsToComplete === null ? null : Math.round(r.averageSecondsToComplete),
    ],
    [
      'median_seconds_to_complete',
      r.medianSecondsToComplete === null ? null : Math.round(r.medianSecondsToComplete),
    ],
  ];
  for (const [metric, value] of summary) rows.push(['summary', '', metric, value]);
  const counts = (section: string, key: string, c: { created: number; completed: number }) => {
    rows.push([section, key, 'created', c.created], [section, key, 'completed', c.completed]);
  };
  for (const d of r.days) counts('day', d.date, d);
  for (const p of r.byPriority) counts('priority', p.priority, p);
  for (const p of r.byProject) counts('project', p.projectName ?? '(no project)', p);
  for (const t of r.byTag) counts('tag', t.tag, t);
  return `${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}
