// The productivity report: its periods, its query, the CSV download, and the wording of its figures.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type Schemas, unwrapBody } from '@taskman/sdk';
import { api } from './api';

export type Report = Schemas['ProductivityReport'];
export type Priority = Report['by_priority'][number]['priority'];

export const MAX_REPORT_DAYS = 366;
const DAY_MS = 86_400_000;

export type Period = '7d' | '30d' | 'month' | 'last-month' | 'custom';
export const PERIODS: { value: Period; label: string }[] = [
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
  { value: 'month', label: 'This month' },
  { value: 'last-month', label: 'Last month' },
  { value: 'custom', label: 'Custom' },
];
export const isPeriod = (v: string | null): v is Period => PERIODS.some((p) => p.value === v);

/** "2026-11-03" plus `n` days. */
export const addDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

/** Days from `from` to `to`, both included. */
export const daysBetween = (from: string, to: string) =>
  Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
export const isDate = (v: string | null | undefined): v is string =>
  !!v && DATE.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`));

/** The first and last day (included) of a named period, `today` being the user's today. */
export function periodRange(period: Exclude<Period, 'custom'>, today: string): { from: string; to: string } {
  switch (period) {
    case '7d':
      return { from: addDays(today, -6), to: today };
    case '30d':
      return { from: addDays(today, -29), to: today };
    case 'month':
      return { from: `${today.slice(0, 8)}01`, to: today };
    case 'last-month': {
      const firstOfThis = `${today.slice(0, 8)}01`;
      const last = addDays(firstOfThis, -1);
      return { from: `${last.slice(0, 8)}01`, to: last };
    }
  }
}

/** What is wrong with a custom period, per field, before asking the server. */
export function customProblems(from: string, to: string): { field: 'from' | 'to'; message: string }[] {
  if (!isDate(from)) return [{ field: 'from', message: 'Choose the first day' }];
  if (!isDate(to)) return [{ field: 'to', message: 'Choose the last day' }];
  if (from > to) return [{ field: 'to', message: 'The last day must not be before the first' }];
  if (daysBetween(from, to) > MAX_REPORT_DAYS)
    return [{ field: 'from', message: `A report covers at most ${MAX_REPORT_DAYS} days` }];
  return [];
}

export type ReportQuery = { from: string; to: string; project_id?: string };

export function useReport(query: ReportQuery | undefined) {
  return useQuery({
    queryKey: ['report', query],
    enabled: !!query,
    // The route also answers CSV (format=csv), so the SDK types its body as JSON or text: this is JSON.
    queryFn: async () =>
      (
        (await unwrapBody(api.GET('/api/v1/reports/productivity', { params: { query: query! } }))) as {
          data: Report;
        }
      ).data,
    // Another period or project keeps the figures on screen (dimmed) until the new ones arrive.
    placeholderData: keepPreviousData,
    // Tasks change elsewhere in the app: coming back to the report asks again (showing the last one meanwhile).
    staleTime: 0,
  });
}

/**
 * Downloads the report as CSV. The API needs the Authorization header, so a plain link cannot do
 * it: the file is fetched, then saved from an object URL under the name the server gives it.
 */
export async function downloadReportCsv(query: ReportQuery): Promise<string> {
  const call = api.GET('/api/v1/reports/productivity', {
    params: { query: { ...query, format: 'csv' } },
    parseAs: 'blob',
  });
  const blob = (await unwrapBody(call)) as Blob;
  const { response } = await call;
  const disposition = response.headers.get('content-disposition') ?? '';
  const filename =
    /filename="([^"]+)"/.exec(disposition)?.[1] ?? `taskman-productivity-${query.from}-${query.to}.csv`;
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  // Some browsers read the URL after click() returns.
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
  return filename;
}

/** "3 h", "2 d 4 h", "45 min": a duration read at a glance (the weekly email says it the same way). */
export function humanDuration(seconds: number | null): string {
  if (seconds === null) return '—';
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return '< 1 min';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** The same duration for a screen reader: "2 days 4 hours". */
export function spokenDuration(seconds: number | null): string {
  return humanDuration(seconds)
    .replace('—', 'none')
    .replace('< 1 min', 'under a minute')
    .replace(/(\d+) d\b/, (_, n) => `${n} day${n === '1' ? '' : 's'}`)
    .replace(/(\d+) h\b/, (_, n) => `${n} hour${n === '1' ? '' : 's'}`)
    .replace(/(\d+) min\b/, (_, n) => `${n} minute${n === '1' ? '' : 's'}`);
}

export const percent = (rate: number | null) => (rate === null ? '—' : `${Math.round(rate * 100)}%`);

export const PRIORITY_ORDER: Priority[] = ['urgent', 'high', 'medium', 'low'];
export const PRIORITY_LABEL: Record<Priority, string> = {
  urgent: 'Urgent',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
};

/** A day of the report ("2026-11-03", a calendar date) as text; `UTC` keeps it that very date. */
export function formatDate(date: string, opts: Intl.DateTimeFormatOptions): string {
  return new Intl.DateTimeFormat(undefined, { ...opts, timeZone: 'UTC' }).format(
    new Date(`${date}T12:00:00Z`),
  );
}

/** "3 – 9 Nov 2026", "28 Oct – 3 Nov 2026", "15 Dec 2025 – 3 Jan 2026". */
export function formatPeriod(from: string, to: string): string {
  const fmt = new Intl.DateTimeFormat(undefined, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  });
  return fmt.formatRange(new Date(`${from}T12:00:00Z`), new Date(`${to}T12:00:00Z`));
}

/** Weeks (starting on Monday) of the days, for a chart of a long period. */
export function byWeek(days: Report['days']): Report['days'] {
  const weeks = new Map<string, { date: string; created: number; completed: number }>();
  for (const d of days) {
    const weekday = (new Date(`${d.date}T12:00:00Z`).getUTCDay() + 6) % 7;
    const monday = addDays(d.date, -weekday);
    const week = weeks.get(monday) ?? { date: d.date, created: 0, completed: 0 };
    week.created += d.created;
    week.completed += d.completed;
    weeks.set(monday, week);
  }
  return [...weeks.values()];
}
