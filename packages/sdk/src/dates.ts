// Dates in the user's time zone (their profile's), whatever the browser's zone is.

function parts(at: Date, timeZone: string) {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (t: string) => Number(f.find((p) => p.type === t)?.value);
  return {
    y: get('year'),
    m: get('month'),
    d: get('day'),
    h: get('hour'),
    min: get('minute'),
    s: get('second'),
  };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** "2030-01-15" of an instant, in the zone. */
export function dayKey(at: Date, timeZone: string): string {
  const p = parts(at, timeZone);
  return `${p.y}-${pad(p.m)}-${pad(p.d)}`;
}

/** The date and time inputs' values ("2030-01-15", "17:00") of an instant, in the zone. */
export function toInputs(iso: string | null, timeZone: string): { date: string; time: string } {
  if (!iso) return { date: '', time: '' };
  const p = parts(new Date(iso), timeZone);
  return { date: `${p.y}-${pad(p.m)}-${pad(p.d)}`, time: `${pad(p.h)}:${pad(p.min)}` };
}

/** The instant of a wall-clock date and time in the zone (DST gaps resolve forward). */
export function fromInputs(date: string, time: string, timeZone: string): string | null {
  if (!date) return null;
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const [h, min] = (time || '09:00').split(':').map(Number) as [number, number];
  const wall = Date.UTC(y, m - 1, d, h, min);
  // The zone's offset at that moment, found from the wall time; a second pass settles DST edges.
  let guess = wall;
  for (let i = 0; i < 2; i++) {
    const p = parts(new Date(guess), timeZone);
    const asWall = Date.UTC(p.y, p.m - 1, p.d, p.h, p.min, p.s);
    guess = wall - (asWall - guess);
  }
  return new Date(guess).toISOString();
}

/** "Today 17:00", "Tomorrow", "Mon 15 Jan", "15 Jan 2031" — short, in the zone. */
/** "Today", "Tomorrow", "Mon 15 Jan", "15 Jan 2031": the day of an instant, in the zone. */
export function formatDay(iso: string, timeZone: string, now = new Date()): string {
  const at = new Date(iso);
  const day = dayKey(at, timeZone);
  const today = dayKey(now, timeZone);
  if (day === today) return 'Today';
  if (day === dayKey(new Date(now.getTime() + 86_400_000), timeZone)) return 'Tomorrow';
  return new Intl.DateTimeFormat(undefined, {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    ...(day.slice(0, 4) === today.slice(0, 4) ? {} : { year: 'numeric' }),
  }).format(at);
}

export function formatDue(iso: string, timeZone: string, now = new Date()): string {
  const label = formatDay(iso, timeZone, now);
  // 23:59 is "by the end of the day" (what quick add sets): the day says it all.
  if (toInputs(iso, timeZone).time === '23:59') return label;
  const time = new Intl.DateTimeFormat(undefined, { timeZone, hour: 'numeric', minute: '2-digit' }).format(
    new Date(iso),
  );
  return `${label} ${time}`;
}

/**
 * "Sat 28 Nov, 09:00" (the year only when not this year; no time when `withTime` is false): an
 * absolute date, in the zone, where "Tomorrow" would hide which day that is.
 */
export function formatDateTime(iso: string, timeZone: string, withTime = true, now = new Date()): string {
  const at = new Date(iso);
  const sameYear = dayKey(at, timeZone).slice(0, 4) === dayKey(now, timeZone).slice(0, 4);
  return new Intl.DateTimeFormat(undefined, {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    ...(sameYear ? {} : { year: 'numeric' }),
    ...(withTime ? { hour: 'numeric', minute: '2-digit' } : {}),
  }).format(at);
}

export type DueState = 'overdue' | 'today' | 'later';

export function dueState(
  iso: string | null,
  done: boolean,
  timeZone: string,
  now = new Date(),
): DueState | undefined {
  if (!iso) return undefined;
  if (!done && new Date(iso) < now) return 'overdue';
  return dayKey(new Date(iso), timeZone) === dayKey(now, timeZone) ? 'today' : 'later';
}

/** Start and end (exclusive) of the zone's day containing `at`, plus `days` days. */
export function dayRange(at: Date, timeZone: string, days = 1): { from: string; to: string } {
  const { date } = toInputs(at.toISOString(), timeZone);
  const from = fromInputs(date, '00:00', timeZone)!;
  const end = new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
  return { from, to: fromInputs(end, '00:00', timeZone)! };
}
