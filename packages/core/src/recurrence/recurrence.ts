import * as rruleModule from 'rrule';
import { ValidationError } from '../errors';
import { fromWallTime, type WallTime, wallTime } from '../lib/timezone';

// rrule ships CommonJS as "main": under Node/tsx ESM its exports sit on `default`, while vitest
// resolves the ESM build with named exports. Accept both so the API and the tests load the same code.
const { RRule } = ((rruleModule as { default?: typeof rruleModule }).default ??
  rruleModule) as typeof rruleModule;
type RRuleInstance = InstanceType<typeof RRule>;

export type RecurrenceBasis = 'due' | 'completion';
/** `rule` is an RFC 5545 RRULE value without the "RRULE:" prefix, e.g. "FREQ=WEEKLY;BYDAY=MO,WE". */
export interface Recurrence {
  rule: string;
  basis: RecurrenceBasis;
}
export interface NextOptions {
  due: Date | null;
  completedAt: Date;
  /** IANA zone of the user: occurrences keep their wall-clock time there across DST changes. */
  timezone: string;
  /** The next occurrence is strictly after this instant too (default: completedAt). */
  after?: Date;
}

const MAX_RULE_LENGTH = 500;
const DAY_MS = 86_400_000;
const DAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
const FREQS = ['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'] as const;
type Freq = (typeof FREQS)[number];
// Canonical part order; also the list of accepted parts.
const PARTS = ['FREQ', 'INTERVAL', 'BYMONTH', 'BYMONTHDAY', 'BYDAY', 'BYSETPOS', 'WKST', 'COUNT', 'UNTIL'];
// Shortest length of each month (February of a common year), to know when a day may be missing.
const SHORTEST_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

interface Rule {
  freq: Freq;
  interval: number;
  bymonth: number[];
  bymonthday: number[];
  byday: { n: number; day: number }[]; // n = 0: every such weekday; day: 0 = Monday
  bysetpos: number[];
  wkst: number;
  count?: number;
  until?: string; // as written: YYYYMMDD or YYYYMMDDTHHMMSSZ
}

class RuleError extends Error {}
const fail = (message: string): never => {
  throw new RuleError(message);
};

function int(name: string, value: string, min: number, max: number, allowNegative = false): number {
  const n = /^[+-]?\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
  const ok = Number.isInteger(n) && (allowNegative ? n !== 0 && Math.abs(n) >= min : n >= min);
  if (!ok || Math.abs(n) > max) {
    fail(`${name} must be ${allowNegative ? `between -${max} and ${max}, not 0` : `${min} to ${max}`}`);
  }
  return n;
}
const list = (name: string, value: string, min: number, max: number, neg = false) =>
  [...new Set(value.split(',').map((v) => int(name, v, min, max, neg)))].sort((a, b) => a - b);
const weekday = (name: string, value: string) =>
  DAYS.indexOf(value as never) >= 0 ? DAYS.indexOf(value as never) : fail(`${name} must be MO to SU`);

function parse(raw: string): Rule {
  if (typeof raw !== 'string') fail('must be a string, e.g. "FREQ=WEEKLY;BYDAY=MO"');
  if (raw.trim() === '') fail('must not be empty, e.g. "FREQ=WEEKLY;BYDAY=MO"');
  if (raw.length > MAX_RULE_LENGTH) fail(`must be at most ${MAX_RULE_LENGTH} characters`);
  // The prefix of an iCalendar line is harmless; anything else of an iCalendar event is not.
  const text = raw
    .trim()
    .toUpperCase()
    .replace(/^RRULE:/, '');
  if (/DTSTART|TZID/.test(text)) {
    fail("must not contain DTSTART or TZID: the task's due date and the user's time zone are the start");
  }
  const parts = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part === '' && parts.size > 0) continue; // a trailing ";"
    const [name = '', value, ...rest] = part.split('=');
    if (value === undefined || rest.length > 0) fail(`"${part.slice(0, 40)}" is not a NAME=VALUE part`);
    if (!PARTS.includes(name)) fail(`${name.slice(0, 40)} is not supported; use ${PARTS.join(', ')}`);
    if (parts.has(name)) fail(`${name} is given twice`);
    if (value === '') fail(`${name} has no value`);
    parts.set(name, value!);
  }
  const freq = parts.get('FREQ') ?? fail('FREQ is required, e.g. FREQ=DAILY');
  if (/^(HOURLY|MINUTELY|SECONDLY)$/.test(freq))
    fail(`FREQ=${freq} is not supported: tasks repeat at most daily`);
  if (!FREQS.includes(freq as Freq)) fail('FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY');
  const get = <T>(name: string, read: (v: string) => T, fallback: T): T => {
    const v = parts.get(name);
    return v === undefined ? fallback : read(v);
  };
  const rule: Rule = {
    freq: freq as Freq,
    interval: get('INTERVAL', (v) => int('INTERVAL', v, 1, 365), 1),
    bymonth: get('BYMONTH', (v) => list('BYMONTH', v, 1, 12), []),
    bymonthday: get('BYMONTHDAY', (v) => list('BYMONTHDAY', v, 1, 31, true), []),
    byday: get('BYDAY', (v) => v.split(',').map(byDay), []),
    bysetpos: get('BYSETPOS', (v) => list('BYSETPOS', v, 1, 366, true), []),
    wkst: get('WKST', (v) => weekday('WKST', v), 0),
    count: get('COUNT', (v) => int('COUNT', v, 1, 10_000), undefined),
    until: get('UNTIL', untilValue, undefined),
  };
  rule.byday = dedupeDays(rule.byday);
  const maxOrdinal = freq === 'MONTHLY' ? 5 : freq === 'YEARLY' ? 53 : 0;
  for (const d of rule.byday) {
    if (d.n !== 0 && maxOrdinal === 0) fail(`BYDAY ordinals like 1MO need FREQ=MONTHLY or YEARLY`);
    if (Math.abs(d.n) > maxOrdinal) fail(`BYDAY ordinals must be between -${maxOrdinal} and ${maxOrdinal}`);
  }
  if (freq === 'WEEKLY' && rule.bymonthday.length) fail('BYMONTHDAY cannot be used with FREQ=WEEKLY');
  if (rule.bysetpos.length && !rule.byday.length && !rule.bymonthday.length && !rule.bymonth.length) {
    fail('BYSETPOS needs BYDAY, BYMONTHDAY or BYMONTH to pick from');
  }
  if (rule.count !== undefined && rule.until !== undefined) fail('COUNT and UNTIL cannot both be given');
  // With INTERVAL=1 every period is tried, so nothing in 28 years (which hold every kind of year:
  // each weekday to start on, leap or not) means no anchor can ever match, e.g. February 30th. The
  // anchor's defaults (1st of January, a Saturday) exist everywhere.
  const probe = { ...rule, interval: 1 };
  const from: WallTime = { year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
  const periods = periodIndex(probe, from, { ...from, year: 2028 });
  let k = 0;
  while (k < periods && periodDays(probe, from, k).length === 0) k++;
  if (k === periods) fail('never produces an occurrence');
  return rule;
}

function byDay(value: string): { n: number; day: number } {
  const m = /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/.exec(value);
  if (!m) fail(`BYDAY must list days like MO,WE or, monthly, 1MO or -1FR (not "${value.slice(0, 20)}")`);
  const n = m![1] ? Number(m![1]) : 0;
  if (m![1] && n === 0) fail('BYDAY ordinals cannot be 0');
  return { n, day: DAYS.indexOf(m![2] as never) };
}
const dedupeDays = (days: Rule['byday']) =>
  [...new Map(days.map((d) => [`${d.day}:${d.n}`, d])).values()].sort((a, b) => a.day - b.day || a.n - b.n);

function untilValue(value: string): string {
  const m = /^(\d{4})(\d\d)(\d\d)(?:T(\d\d)(\d\d)(\d\d)Z)?$/.exec(value);
  if (!m) fail('UNTIL must be a date (20261231) or a UTC date-time (20261231T235959Z)');
  const [y, mo, d, h = 0, mi = 0, s = 0] = m!.slice(1).map((v) => Number(v ?? 0));
  const t = new Date(Date.UTC(y!, mo! - 1, d!, h, mi, s));
  if (t.getUTCMonth() !== mo! - 1 || t.getUTCDate() !== d! || h > 23 || mi > 59 || s > 59) {
    fail('UNTIL is not a real date');
  }
  return value;
}

function format(rule: Rule): string {
  const day = (d: Rule['byday'][number]) => `${d.n || ''}${DAYS[d.day]}`;
  const values: Record<string, string | undefined> = {
    FREQ: rule.freq,
    INTERVAL: rule.interval > 1 ? String(rule.interval) : undefined,
    BYMONTH: rule.bymonth.join(',') || undefined,
    BYMONTHDAY: rule.bymonthday.join(',') || undefined,
    BYDAY: rule.byday.map(day).join(',') || undefined,
    BYSETPOS: rule.bysetpos.join(',') || undefined,
    // The week start only matters for weekly intervals and for BYSETPOS within a week.
    WKST:
      rule.freq === 'WEEKLY' && (rule.interval > 1 || rule.bysetpos.length) && rule.wkst
        ? DAYS[rule.wkst]
        : undefined,
    COUNT: rule.count?.toString(),
    UNTIL: rule.until,
  };
  return PARTS.filter((p) => values[p] !== undefined)
    .map((p) => `${p}=${values[p]}`)
    .join(';');
}

/** Checks a rule from a client; `message` is meant for a 400 on the field `recurrence.rule`. */
export function parseRecurrenceRule(
  rule: string,
): { ok: true; rule: string } | { ok: false; message: string } {
  try {
    return { ok: true, rule: format(parse(rule)) };
  } catch (err) {
    if (err instanceof RuleError) return { ok: false, message: err.message };
    throw err;
  }
}

function parseOrThrow(rule: string): Rule {
  try {
    return parse(rule);
  } catch (err) {
    throw err instanceof RuleError ? ValidationError.field('recurrence.rule', err.message) : err;
  }
}

// Occurrences are computed on "floating" time: a wall-clock time written as if it were UTC, so the
// arithmetic never meets a DST change; results are mapped back to instants with fromWallTime.
const floating = (w: WallTime) => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
const wallOf = (t: number): WallTime => {
  const d = new Date(t);
  const [year, month, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
  return { year, month, day, hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
};
const dayNumber = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) / DAY_MS; // overflow ok
const weekdayOf = (n: number) => (((n + 3) % 7) + 7) % 7; // day 0, 1970-01-01, was a Thursday
const weekStart = (n: number, wkst: number) => n - ((weekdayOf(n) - wkst + 7) % 7);
const nth = (o: number, pos: number, size: number) =>
  Math.floor((o > 0 ? pos : size - 1 - pos) / 7) === Math.abs(o) - 1;
const isLeap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const monthLength = (y: number, m: number) => (m === 2 && isLeap(y) ? 29 : SHORTEST_MONTH[m - 1]!);

/** Index of the period (day, week, month, year) holding `w`, counted in intervals from the anchor. */
function periodIndex(rule: Rule, a: WallTime, w: WallTime): number {
  const span = {
    DAILY: () => dayNumber(w.year, w.month, w.day) - dayNumber(a.year, a.month, a.day),
    WEEKLY: () =>
      (weekStart(dayNumber(w.year, w.month, w.day), rule.wkst) -
        weekStart(dayNumber(a.year, a.month, a.day), rule.wkst)) /
      7,
    MONTHLY: () => w.year * 12 + w.month - (a.year * 12 + a.month),
    YEARLY: () => w.year - a.year,
  }[rule.freq]();
  return Math.floor(span / rule.interval);
}

/**
 * The days (day numbers) of occurrence in the k-th period after the anchor, per RFC 5545, for the
 * parts parseRecurrenceRule accepts. rrule does not generate them because it scans on to the year
 * 9999 while no period matches (14 s for FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30), and a valid rule can
 * match nothing from some anchors (Feb 29 every 4 years from a common year): this loop is bounded.
 * The tests compare it with rrule, which differs on three corner cases where this follows the RFC:
 * BYDAY=MO,-5MO (rrule: Mondays that are also 5th-last), BYSETPOS=-2 of a 1-day set (rrule: that
 * day) and BYSETPOS in the first week (rrule cuts the week at DTSTART).
 */
function periodDays(rule: Rule, a: WallTime, k: number): number[] {
  const step = k * rule.interval;
  const anchorDay = dayNumber(a.year, a.month, a.day);
  let first = dayNumber(a.year + step, 1, 1); // YEARLY
  let length = isLeap(a.year + step) ? 366 : 365;
  if (rule.freq === 'DAILY') [first, length] = [anchorDay + step, 1];
  if (rule.freq === 'WEEKLY') [first, length] = [weekStart(anchorDay, rule.wkst) + 7 * step, 7];
  if (rule.freq === 'MONTHLY') {
    first = dayNumber(a.year, a.month + step, 1);
    length = dayNumber(a.year, a.month + step + 1, 1) - first;
  }
  let { bymonth, bymonthday, byday } = rule;
  // Without BYDAY or BYMONTHDAY the anchor supplies the day, as in RFC 5545.
  if (!byday.length && !bymonthday.length) {
    if (rule.freq === 'WEEKLY') byday = [{ n: 0, day: weekdayOf(anchorDay) }];
    if (rule.freq === 'MONTHLY' || rule.freq === 'YEARLY') bymonthday = [a.day];
    if (rule.freq === 'YEARLY' && !bymonth.length) bymonth = [a.month];
  }
  // Ordinals (1MO, -1FR) count within the month, or within the year for YEARLY without BYMONTH.
  const inYear = rule.freq === 'YEARLY' && !rule.bymonth.length;
  const start = new Date(first * DAY_MS);
  let [y, m, d] = [start.getUTCFullYear(), start.getUTCMonth() + 1, start.getUTCDate()];
  let yearDay = first - dayNumber(y, 1, 1); // 0-based
  const days: number[] = [];
  for (let n = first; n < first + length; n++, d++, yearDay++) {
    if (d > monthLength(y, m)) [d, m] = [1, m + 1];
    if (m > 12) [m, y, yearDay] = [1, y + 1, 0];
    const len = monthLength(y, m);
    if (bymonth.length && !bymonth.includes(m)) continue;
    if (bymonthday.length && !bymonthday.includes(d) && !bymonthday.includes(d - len - 1)) continue;
    const [pos, size] = inYear ? [yearDay, isLeap(y) ? 366 : 365] : [d - 1, len];
    // 1MO lies in the first 7 days of the month (or of the year), -1MO in the last 7.
    if (byday.length && !byday.some((b) => b.day === weekdayOf(n) && (b.n === 0 || nth(b.n, pos, size)))) {
      continue;
    }
    days.push(n);
  }
  if (!rule.bysetpos.length) return days;
  const picked = rule.bysetpos.map((p) => days[p > 0 ? p - 1 : days.length + p]);
  return [...new Set(picked.filter((n) => n !== undefined))].sort((x, y) => x - y);
}

/** For describeRecurrence only: rrule's toText. */
function toRRule(rule: Rule): RRuleInstance {
  const weekdays = [RRule.MO, RRule.TU, RRule.WE, RRule.TH, RRule.FR, RRule.SA, RRule.SU];
  const or = <T>(xs: T[]) => (xs.length ? xs : null);
  return new RRule({
    freq: RRule[rule.freq],
    interval: rule.interval,
    bymonth: or(rule.bymonth),
    bymonthday: or(rule.bymonthday),
    byweekday: or(rule.byday.map((d) => (d.n ? weekdays[d.day]!.nth(d.n) : weekdays[d.day]!))),
    bysetpos: or(rule.bysetpos),
  });
}

/**
 * A plain monthly (or yearly) rule anchored on the 29th–31st takes "the same day, or the last day
 * of a shorter month": a task due Jan 31 is next due Feb 28 (29 in a leap year), then Mar 31; a
 * yearly Feb 29 falls on Feb 28 in common years. That is what people expect of "monthly", and it
 * differs from RFC 5545, which skips months without the day. The day is pinned into the rule as
 * BYMONTHDAY=<d>,-1;BYSETPOS=1 (same meaning in any calendar) because the anchor is the current due
 * date: without the pin, Feb 28 would become the new day of the month. An explicit BYMONTHDAY=31
 * keeps the RFC meaning and skips the months without a 31st.
 */
function pinMonthEnd(rule: Rule, anchor: WallTime): Rule {
  if ((rule.freq !== 'MONTHLY' && rule.freq !== 'YEARLY') || anchor.day < 29) return rule;
  if (rule.byday.length || rule.bymonthday.length || rule.bysetpos.length) return rule;
  const months = rule.bymonth.length ? rule.bymonth : rule.freq === 'YEARLY' ? [anchor.month] : [2];
  if (!months.some((m) => SHORTEST_MONTH[m - 1]! < anchor.day)) return rule;
  const bymonth = rule.freq === 'YEARLY' ? months : rule.bymonth;
  return { ...rule, bymonth, bymonthday: [-1, anchor.day], bysetpos: [1] };
}

/**
 * The next occurrence after a task is completed, and the recurrence to store on it. Callers should
 * store the returned rule: it carries the remaining COUNT and a pinned month-end day.
 *
 * - basis 'due': the anchor is the current due date (completedAt if there is none); the result is
 *   the first occurrence strictly after both the due date and `after` (default completedAt), so a
 *   task completed late jumps to the next future occurrence instead of piling up past ones.
 * - basis 'completion': the anchor is the completion's local date at the due date's time of day
 *   (the completion's if there is no due date); the result is the first occurrence on a later local
 *   date (and after `after` if given): "every 3 days after completion" is 3 days after the day done.
 * - COUNT counts the completed occurrence and any skipped ones; null means the series is over, as
 *   does no occurrence within 100 years.
 */
export function nextRecurrence(
  r: Recurrence,
  opts: NextOptions,
): { due: Date; recurrence: Recurrence } | null {
  const rule = parseOrThrow(r.rule);
  const tz = opts.timezone;
  let anchor: WallTime;
  let threshold: number;
  if (r.basis === 'completion') {
    const done = wallTime(opts.completedAt, tz);
    const time = opts.due ? wallTime(opts.due, tz) : done;
    anchor = { ...done, hour: time.hour, minute: time.minute, second: time.second };
    // The anchor itself never counts and a day holds one occurrence, so the next is on a later date.
    threshold = Math.max(opts.completedAt.getTime(), opts.after?.getTime() ?? 0);
  } else {
    const start = opts.due ?? opts.completedAt;
    anchor = wallTime(start, tz);
    threshold = Math.max(start.getTime(), (opts.after ?? opts.completedAt).getTime());
  }
  const pinned = pinMonthEnd(rule, anchor);
  let end = Number.POSITIVE_INFINITY;
  if (pinned.until) {
    const [, y, mo, d, h, mi, s] = /^(\d{4})(\d\d)(\d\d)(?:T(\d\d)(\d\d)(\d\d)Z)?$/
      .exec(pinned.until)!
      .map(Number);
    // A date-only UNTIL includes that whole local day.
    end = Number.isNaN(h)
      ? fromWallTime({ year: y!, month: mo!, day: d! + 1, hour: 0, minute: 0, second: 0 }, tz).getTime() - 1
      : Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  }
  const start = floating(anchor);
  const time = start - dayNumber(anchor.year, anchor.month, anchor.day) * DAY_MS;
  const reached = periodIndex(pinned, anchor, wallTime(new Date(threshold), tz));
  const yearsPerPeriod = { DAILY: 1 / 365, WEEKLY: 7 / 365, MONTHLY: 1 / 12, YEARLY: 1 }[pinned.freq];
  const last = reached + Math.ceil(100 / (yearsPerPeriod * pinned.interval)) + 1;
  // Without COUNT, skip straight to the period before the threshold (a DST overlap can make local
  // and real order differ); COUNT needs every occurrence since the anchor.
  let used = 1; // the occurrence just completed
  for (let k = pinned.count === undefined ? Math.max(0, reached - 1) : 0; k <= last; k++) {
    for (const day of periodDays(pinned, anchor, k)) {
      const at = day * DAY_MS + time;
      if (at <= start) continue;
      const due = fromWallTime(wallOf(at), tz);
      if (due.getTime() > end) return null;
      if (due.getTime() > threshold) {
        if (pinned.count !== undefined && used >= pinned.count) return null;
        const count = pinned.count === undefined ? undefined : pinned.count - used;
        return { due, recurrence: { basis: r.basis, rule: format({ ...pinned, count }) } };
      }
      if (++used >= (pinned.count ?? Number.POSITIVE_INFINITY)) return null; // used up before `after`
    }
  }
  return null;
}

/** The next due date of a recurring task, or null when the series is over. See nextRecurrence. */
export function nextOccurrence(r: Recurrence, opts: NextOptions): Date | null {
  return nextRecurrence(r, opts)?.due ?? null;
}

/** Short English text, e.g. "every week on Monday, Wednesday", "every 3 days after completion". */
export function describeRecurrence(r: Recurrence): string {
  let rule: Rule;
  try {
    rule = parse(r.rule);
  } catch {
    return r.rule;
  }
  // The pinned month-end form reads badly through rrule ("on the 31st and last").
  const day = rule.bymonthday[1];
  const monthEnd = rule.bymonthday.length === 2 && rule.bymonthday[0] === -1 && day! >= 29;
  const pinned = monthEnd && rule.bysetpos.join() === '1' && !rule.byday.length;
  const base = pinned ? { ...rule, bymonthday: [day!], bysetpos: [] } : rule;
  let text = toRRule(base)
    .toText()
    .replace(/\bthe last(?=$| and|,)/g, 'the last day');
  if (pinned) text += ' (or the last day of shorter months)';
  if (r.basis === 'completion') text += ' after completion';
  if (rule.count !== undefined) text += rule.count === 1 ? ', once' : `, ${rule.count} times`;
  if (rule.until) {
    const [y, m, d] = [rule.until.slice(0, 4), rule.until.slice(4, 6), rule.until.slice(6, 8)].map(Number);
    const date = new Date(Date.UTC(y!, m! - 1, d!));
    text += `, until ${date.toLocaleDateString('en-US', { timeZone: 'UTC', dateStyle: 'long' })}`;
  }
  return text;
}
