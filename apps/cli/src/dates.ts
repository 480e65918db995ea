// Dates as the CLI shows and reads them: relative to now and in the user's time zone (their
// profile's, like the web app), whatever the machine's zone is.

import type { TaskmanClient } from '@taskman/sdk';
import { unwrap } from '@taskman/sdk';
import { dayKey, formatDateTime, fromInputs, toInputs } from '@taskman/sdk/dates';
import { CliError, EXIT } from './errors';

const DAY = 86_400_000;

/** Whole days from today to the day of `at`, in the zone (negative in the past). */
export function daysFromToday(at: Date, timeZone: string, now = new Date()): number {
  const a = Date.parse(`${dayKey(at, timeZone)}T00:00:00Z`);
  const b = Date.parse(`${dayKey(now, timeZone)}T00:00:00Z`);
  return Math.round((a - b) / DAY);
}

function timeOf(iso: string, timeZone: string): string | undefined {
  const { time } = toInputs(iso, timeZone);
  // 23:59 is "by the end of the day" (what a date alone means): the day says it all.
  return time === '23:59' ? undefined : time;
}

/** "today", "tomorrow", "yesterday", "in 3 days", "2 days ago", or undefined when further off. */
export function relativeDay(iso: string, timeZone: string, now = new Date()): string | undefined {
  const days = daysFromToday(new Date(iso), timeZone, now);
  if (days === 0) return 'today';
  if (days === 1) return 'tomorrow';
  if (days === -1) return 'yesterday';
  if (days > 1 && days <= 14) return `in ${days} days`;
  if (days < -1 && days >= -14) return `${-days} days ago`;
  return undefined;
}

/** "today 17:00", "tomorrow", "in 3 days", "2 days ago", "Mon, Feb 15" (further off): for lists. */
export function relativeDue(iso: string, timeZone: string, now = new Date()): string {
  const day = relativeDay(iso, timeZone, now);
  const time = timeOf(iso, timeZone);
  const days = Math.abs(daysFromToday(new Date(iso), timeZone, now));
  if (day && days <= 1) return time ? `${day} ${time}` : day;
  return day ?? formatDateTime(iso, timeZone, false, now);
}

/** "3 minutes ago", "in 2 hours", "5 days ago": for timestamps (created, updated, last used). */
export function ago(iso: string, now = new Date()): string {
  const seconds = (Date.parse(iso) - now.getTime()) / 1000;
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 30 * 86_400) return rtf.format(Math.round(seconds / 86_400), 'day');
  if (abs < 365 * 86_400) return rtf.format(Math.round(seconds / (30 * 86_400)), 'month');
  return rtf.format(Math.round(seconds / (365 * 86_400)), 'year');
}

/** "Fri, Dec 4 17:00 (in 7 days)": the day, the time (24-hour) and how far off, for `show`. */
export function describeDue(iso: string, timeZone: string, now = new Date()): string {
  const time = timeOf(iso, timeZone);
  const day = relativeDay(iso, timeZone, now);
  return `${formatDateTime(iso, timeZone, false, now)}${time ? ` ${time}` : ''}${day ? ` (${day})` : ''}`;
}

/**
 * A date typed on the command line → an ISO instant: "2026-12-05" (due at 23:59 that day),
 * "2026-12-05 17:00", an ISO timestamp, or words the quick-add parser reads in the user's time zone
 * ("tomorrow 5pm", "fri", "in 3 days"), asked of the API so that the CLI and the web app agree.
 */
export async function readDate(
  value: string,
  flag: string,
  timeZone: () => Promise<string>,
  api: TaskmanClient,
): Promise<string> {
  const text = value.trim();
  const bad = () =>
    new CliError(
      `cannot read ${flag} "${value}": try "tomorrow 17:00", "fri", "in 3 days" or "2026-12-05 09:30"`,
      EXIT.usage,
    );
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
    if (Number.isNaN(Date.parse(text))) throw bad();
    return new Date(text).toISOString();
  }
  const local = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}:\d{2}))?$/.exec(text);
  if (local) {
    const [, date, time] = local;
    if (Number.isNaN(Date.parse(`${date}T00:00:00Z`))) throw bad();
    return fromInputs(date!, time?.padStart(5, '0') ?? '23:59', await timeZone())!;
  }
  if (!text) throw bad();
  const parsed = await unwrap(api.POST('/api/v1/tasks/parse', { body: { text } }));
  // Everything typed must be the date: a word left over means the parser did not understand it.
  if (!parsed.due_date || !readWhole(text, parsed.spans, 'date')) throw bad();
  return parsed.due_date;
}

/** True when the parser recognised all of the text as one kind of thing (a date, a repeat). */
export function readWhole(
  text: string,
  spans: { kind: string; start: number; end: number }[],
  kind: string,
): boolean {
  const covered = new Array<boolean>(text.length).fill(false);
  for (const s of spans) {
    if (s.kind !== kind) return false;
    for (let i = s.start; i < s.end; i++) covered[i] = true;
  }
  return text.split('').every((ch, i) => covered[i] || /\s/.test(ch));
}
