/** True for an IANA time zone name the runtime knows (e.g. Europe/Paris, UTC). */
export function isValidTimeZone(tz: string): boolean {
  if (!tz || tz.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The canonical spelling of a valid time zone (europe/paris → Europe/Paris). */
export function canonicalTimeZone(tz: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
}

/** A wall-clock date and time (month 1–12), as a person in some time zone reads it. */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const partsFormats = new Map<string, Intl.DateTimeFormat>();

/** What the clock on the wall shows at `instant` in `tz`. */
export function wallTime(instant: Date, tz: string): WallTime {
  let f = partsFormats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partsFormats.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const { type, value } of f.formatToParts(instant)) if (type !== 'literal') p[type] = Number(value);
  return {
    year: p.year!,
    month: p.month!,
    day: p.day!,
    hour: p.hour!,
    minute: p.minute!,
    second: p.second!,
  };
}

/** The UTC offset of `tz` at `instant`, in milliseconds (Paris in summer: +7,200,000). */
export function offsetMs(instant: Date, tz: string): number {
  const w = wallTime(instant, tz);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `tz` shows `w` (fields may overflow: day 32 is the 1st
 * of the next month). A time skipped by a DST change (02:30 on a spring-forward night) is moved
 * forward by the gap (03:30); a time that happens twice (autumn) is the first of the two.
 */
export function fromWallTime(w: WallTime, tz: string): Date {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  // The offset is at most ±18 h: try the offsets in force a day either side of the guess.
  const before = offsetMs(new Date(asUtc - 86_400_000), tz);
  const after = offsetMs(new Date(asUtc + 86_400_000), tz);
  const candidates = [asUtc - before, asUtc - after].filter((t) => offsetMs(new Date(t), tz) === asUtc - t);
  if (candidates.length > 0) return new Date(Math.min(...candidates));
  // In a gap: keep the wall-clock distance from the last valid time before it.
  return new Date(asUtc - before);
}
