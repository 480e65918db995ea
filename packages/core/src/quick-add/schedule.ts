// When a quick-added task is due: date phrases (chrono-node, read in the user's wall-clock time)
// and recurrence phrases ("every monday", "every! 3 days", "monthly", validated with rrule).
// Pure TypeScript: shared by the API, the web app and the CLI.
import type * as chrono from 'chrono-node';
import * as rruleModule from 'rrule';
import { fromWallTime, type WallTime, wallTime } from '../lib/timezone';

// rrule 2.8 ships a UMD bundle as "main" (Node's ESM loader only sees a default export) and an
// ES module as "module" (bundlers see named exports): take RRule from whichever is there.
const { RRule }: typeof rruleModule =
  'RRule' in rruleModule ? rruleModule : Reflect.get(rruleModule, 'default');

export type Kind = 'normal' | 'literal' | 'marker';
export interface Token {
  start: number;
  end: number;
  text: string;
  kind: Kind;
}

/** Sentence punctuation only (what may follow a marker or a date in its word). */
export const ONLY_TRAILING = /^[.,;:!?]*$/;
/** Words chrono reads as dates but that are mostly something else ("sun cream", "buy now"). */
const AMBIGUOUS = new Set(['now', 'sun', 'sat', 'wed']);
const CASUAL_TIME = /^casualReference\/(morning|afternoon|evening|night|tonight|noon|midnight|now)$/;
const RELATIVE_WEEKDAY = /\b(next|last|past|previous|this|coming|following)\b/i;
const DURATION =
  /^(?:(?:for|about|around|roughly|approximately|just)\s+|~\s*)*(?:\d|an?\b|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|few|several|half|couple)/i;
const DURATION_ANCHOR = /\b(?:ago|later|from now|hence|after|before|earlier)\b/i;

/** A word or punctuation mark of the input, lower-cased, with its place in the input. */
export interface RecurrencePiece {
  text: string;
  start: number;
  end: number;
  /** Index of the whitespace-separated token holding the piece. */
  token: number;
  /** The piece starts its token. */
  first: boolean;
}

export interface RecurrenceMatch {
  /** RRULE value, without "RRULE:" (FREQ=WEEKLY;BYDAY=MO). */
  rule: string;
  basis: 'due' | 'completion';
  /** Index of the first piece after the phrase. */
  next: number;
}

/** Splits a token into pieces: "every!", runs of letters/digits, single other characters. */
export const PIECE = /every!|[\p{L}\p{M}\p{N}]+|[^\p{L}\p{M}\p{N}\s]/giu;

/** Word → table entry, from "VALUE word word,VALUE word" (compact tables). */
const table = <T>(spec: string, value: (v: string) => T): Record<string, T> =>
  // No prototype: "every constructor" must not find Object.prototype.constructor.
  Object.setPrototypeOf(
    Object.fromEntries(
      spec.split(',').flatMap((group) => {
        const [v, ...words] = group.split(' ');
        return words.map((w) => [w, value(v!)]);
      }),
    ),
    null,
  );
const WEEKDAYS = table(
  'MO monday mon,TU tuesday tue tues,WE wednesday wed,TH thursday thu thur thurs,FR friday fri,' +
    'SA saturday sat,SU sunday sun',
  String,
);
const WEEK_ORDER = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
const UNITS = table('DAILY day days,WEEKLY week weeks,MONTHLY month months,YEARLY year years', String);
const STANDALONE = table('DAILY daily,WEEKLY weekly,MONTHLY monthly,YEARLY yearly annually', String);
const NUMBER_WORDS = table('2 other two,3 three,4 four,5 five,6 six,7 seven,8 eight,9 nine,10 ten', Number);
/** "every second day" is every other day; "every second monday" the 2nd Monday of the month. */
const ORDINAL_WORDS = table('1 first,2 second,3 third,4 fourth,5 fifth,-1 last', Number);
const MONTHS = table(
  '1 january jan,2 february feb,3 march mar,4 april apr,5 may,6 june jun,7 july jul,8 august aug,' +
    '9 september sep sept,10 october oct,11 november nov,12 december dec',
  Number,
);
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const monthOf = (word: string | undefined) => (word ? (MONTHS[word] ?? null) : null);

/** 15th → 15 (1–31); anything else → null. */
function numericOrdinal(word: string | undefined): number | null {
  const m = word ? /^(\d{1,2})(?:st|nd|rd|th)$/.exec(word) : null;
  const n = m ? Number(m[1]) : 0;
  return n >= 1 && n <= 31 ? n : null;
}

function count(word: string | undefined): number | null {
  if (!word) return null;
  if (/^\d{1,3}$/.test(word)) {
    const n = Number(word);
    return n >= 1 ? n : null;
  }
  return NUMBER_WORDS[word] ?? null;
}

function dayOfMonth(word: string | undefined): number | null {
  if (word && /^\d{1,2}$/.test(word)) {
    const n = Number(word);
    return n >= 1 && n <= 31 ? n : null;
  }
  return numericOrdinal(word);
}

const rule = (freq: string, parts: Record<string, string | number | undefined> = {}) =>
  [
    `FREQ=${freq}`,
    ...Object.entries(parts)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`),
  ].join(';');

/**
 * The recurrence phrase starting at `pieces[i]` ("every …", "every! …", "daily"…), or null.
 * Only the words of the phrase are read; the caller checks token boundaries.
 */
export function matchRecurrence(pieces: RecurrencePiece[], i: number): RecurrenceMatch | null {
  const w = (k: number) => pieces[k]?.text;
  const head = w(i);
  if (!head || !pieces[i]!.first) return null;
  let basis: 'due' | 'completion' = 'due';
  let out: string | null = null;
  let j = i + 1;
  const standalone = STANDALONE[head];
  if (standalone) out = rule(standalone);
  else if (head === 'every' || head === 'every!') {
    if (head === 'every!') basis = 'completion';
    const t = w(j);
    const n = count(t);
    const ordinal = numericOrdinal(t) ?? (t ? ORDINAL_WORDS[t] : undefined) ?? null;
    const unit = UNITS[w(j + 1) ?? ''];
    if (t && n !== null && unit) {
      out = rule(unit, { INTERVAL: n > 1 ? n : undefined });
      j += 2;
    } else if (t && UNITS[t] && !t.endsWith('s')) {
      out = rule(UNITS[t]!);
      j += 1;
    } else if (t === 'weekday' || t === 'workday') {
      out = rule('WEEKLY', { BYDAY: 'MO,TU,WE,TH,FR' });
      j += 1;
    } else if (t === 'weekend') {
      out = rule('WEEKLY', { BYDAY: 'SA,SU' });
      j += 1;
    } else if (t && WEEKDAYS[t]) {
      const days = new Set([WEEKDAYS[t]!]);
      j += 1;
      for (;;) {
        let k = j;
        if (w(k) === ',') k++;
        if (w(k) === 'and' || w(k) === '&') k++;
        const day = k > j ? WEEKDAYS[w(k) ?? ''] : undefined;
        if (!day) break;
        days.add(day);
        j = k + 1;
      }
      out = rule('WEEKLY', { BYDAY: WEEK_ORDER.filter((d) => days.has(d)).join(',') });
    } else if (t && ordinal !== null) {
      const next = w(j + 1);
      const month = monthOf(next);
      if (next && WEEKDAYS[next] && (ordinal === -1 || ordinal <= 5)) {
        out = rule('MONTHLY', { BYDAY: `${ordinal}${WEEKDAYS[next]}` });
        j += 2;
      } else if (ordinal === -1 && next === 'day') {
        out = rule('MONTHLY', { BYMONTHDAY: -1 });
        j += 2;
      } else if (ORDINAL_WORDS[t] && ordinal > 1 && next && UNITS[next]) {
        out = rule(UNITS[next]!, { INTERVAL: ordinal });
        j += 2;
      } else if (numericOrdinal(t) !== null && month !== null) {
        if (ordinal > DAYS_IN_MONTH[month - 1]!) return null;
        out = rule('YEARLY', { BYMONTH: month, BYMONTHDAY: ordinal });
        j += 2;
      } else if (numericOrdinal(t) !== null) {
        out = rule('MONTHLY', { BYMONTHDAY: ordinal });
        j += 1;
      }
      if (out?.startsWith('FREQ=MONTHLY') && w(j) === 'of' && w(j + 2) === 'month') {
        if (w(j + 1) === 'the' || w(j + 1) === 'every' || w(j + 1) === 'each') j += 3;
      }
    } else if (monthOf(t) !== null && dayOfMonth(w(j + 1)) !== null) {
      const month = monthOf(t)!;
      const day = dayOfMonth(w(j + 1))!;
      if (day > DAYS_IN_MONTH[month - 1]!) return null;
      out = rule('YEARLY', { BYMONTH: month, BYMONTHDAY: day });
      j += 2;
    } else if (dayOfMonth(t) !== null && monthOf(w(j + 1)) !== null) {
      const month = monthOf(w(j + 1))!;
      const day = dayOfMonth(t)!;
      if (day > DAYS_IN_MONTH[month - 1]!) return null;
      out = rule('YEARLY', { BYMONTH: month, BYMONTHDAY: day });
      j += 2;
    }
  }
  if (!out) return null;
  if (w(j) === 'after' && w(j + 1) === 'completion') {
    basis = 'completion';
    j += 2;
  }
  return isValidRule(out) ? { rule: out, basis, next: j } : null;
}

/** The rule parses with rrule and can produce occurrences. */
export function isValidRule(value: string): boolean {
  try {
    const options = RRule.parseString(value);
    new RRule({ ...options, dtstart: new Date(Date.UTC(2026, 0, 1)) });
    return options.freq !== undefined;
  } catch {
    return false;
  }
}

export interface FloatingDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * The first occurrence of `value` starting on `from` (wall clock, its time of day used for every
 * occurrence) that is not before `notBefore` (wall clock). rrule works in "floating" UTC dates.
 */
export function firstOccurrence(
  value: string,
  from: FloatingDateTime,
  notBefore: FloatingDateTime,
): FloatingDateTime | null {
  const floating = (w: FloatingDateTime) =>
    new Date(Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second));
  try {
    const r = new RRule({ ...RRule.parseString(value), dtstart: floating(from) });
    const at = r.after(floating(notBefore), true);
    if (!at) return null;
    return {
      year: at.getUTCFullYear(),
      month: at.getUTCMonth() + 1,
      day: at.getUTCDate(),
      hour: at.getUTCHours(),
      minute: at.getUTCMinutes(),
      second: at.getUTCSeconds(),
    };
  } catch {
    return null;
  }
}

/** The due instant of a chrono result, or null when the result is not taken as a date. */
export function evaluate(
  r: chrono.ParsedResult,
  now: Date,
  refWall: WallTime,
  tz: string,
  rule: string | null,
): { at: Date; hasTime: boolean } | null {
  const c = r.start;
  const tags = [...r.tags()];
  if (tags.some((t) => t.includes('SlashDateFormat'))) return null; // 5/12: May 12 or 5 December?
  if (AMBIGUOUS.has(r.text.toLowerCase())) return null;
  // chrono reads a bare duration as "in …" ("5 min break", "for 2 hours"): not a due date.
  if (tags.includes('result/relativeDate') && DURATION.test(r.text) && !DURATION_ANCHOR.test(r.text))
    return null;
  const relative = tags.includes('result/relativeDateAndTime') || tags.includes('casualReference/now');
  const hasTime = relative || c.isCertain('hour') || tags.some((t) => CASUAL_TIME.test(t));
  const hasDay = c.isCertain('day') || c.isCertain('weekday');
  // A month alone ("March report") or a part of the day alone ("morning run") is not a due date.
  if (!hasDay && !relative && !c.isCertain('hour') && !tags.includes('result/relativeDate')) return null;
  const get = (k: chrono.Component) => c.get(k) ?? 0;
  let wall: WallTime = {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
  if (wall.year < 1000 || wall.year > 9999) return null;
  let explicitDay = hasDay || tags.includes('result/relativeDate');
  let instant: Date | null = null; // set when the text names an instant rather than a wall time

  if (relative) {
    // "in 3 hours": a duration from now, whatever the wall clock does meanwhile.
    const delta = Date.UTC(...utcArgs(wall)) - Date.UTC(...utcArgs(refWall));
    instant = new Date(Math.floor(now.getTime() / 1000) * 1000 + delta);
  } else if (c.isCertain('timezoneOffset') && c.isCertain('hour')) {
    // "5pm EST", "2026-12-05T10:00Z": the zone typed wins; a time alone is the next one there.
    const offset = get('timezoneOffset') * 60_000;
    let at = Date.UTC(...utcArgs(wall)) - offset;
    if (!hasDay) {
      const there = new Date(now.getTime() + offset);
      at = Date.UTC(there.getUTCFullYear(), there.getUTCMonth(), there.getUTCDate(), wall.hour, wall.minute);
      at -= offset;
      if (at <= now.getTime()) at += 86_400_000;
    }
    instant = new Date(at);
  } else if (c.isCertain('weekday') && !c.isCertain('day') && !RELATIVE_WEEKDAY.test(r.text)) {
    // "friday": the next Friday, today included while the due moment is still ahead.
    const today = Date.UTC(refWall.year, refWall.month - 1, refWall.day);
    let ahead = (get('weekday') - new Date(today).getUTCDay() + 7) % 7;
    const atDay = (n: number): WallTime => {
      const d = new Date(today + n * 86_400_000);
      return { ...wall, year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
    };
    if (hasTime && !rule && fromWallTime(atDay(ahead), tz).getTime() <= now.getTime()) ahead += 7;
    wall = atDay(ahead);
  } else if (!hasDay && !rule) {
    explicitDay = true; // a time alone: chrono already chose today or tomorrow
  }
  if (instant && !rule) return { at: instant, hasTime };
  if (instant) wall = wallTime(instant, tz);
  if (!hasTime) wall = { ...wall, hour: 23, minute: 59, second: 0 };

  if (rule) {
    // The first occurrence on or after the date typed, else from now.
    const from = explicitDay
      ? wall
      : { ...refWall, hour: wall.hour, minute: wall.minute, second: wall.second };
    const first = firstOccurrence(rule, from, explicitDay ? from : refWall);
    if (first) wall = first;
  }
  return { at: fromWallTime(wall, tz), hasTime };
}

const utcArgs = (w: WallTime): [number, number, number, number, number, number] => [
  w.year,
  w.month - 1,
  w.day,
  w.hour,
  w.minute,
  w.second,
];

/** The due date of a recurrence typed without a date: its first occurrence from today, by its end. */
export function recurrenceDue(rule: string, now: Date, tz: string): Date {
  const today = wallTime(now, tz);
  const endOfDay = { ...today, hour: 23, minute: 59, second: 0 };
  return fromWallTime(firstOccurrence(rule, endOfDay, today) ?? endOfDay, tz);
}
