import fc from 'fast-check';
import { RRule } from 'rrule';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors';
import { fromWallTime, wallTime } from '../src/lib/timezone';
import {
  describeRecurrence,
  nextOccurrence,
  nextRecurrence,
  parseRecurrenceRule,
  type Recurrence,
} from '../src/recurrence/recurrence';

const due = (rule: string): Recurrence => ({ rule, basis: 'due' });
const afterCompletion = (rule: string): Recurrence => ({ rule, basis: 'completion' });
const at = (iso: string) => new Date(iso);
/** The next occurrence, completed at the due date itself (on time), as an ISO string. */
function next(rule: string, dueIso: string, timezone = 'Europe/Paris', completedIso = dueIso) {
  return nextOccurrence(due(rule), {
    due: at(dueIso),
    completedAt: at(completedIso),
    timezone,
  })?.toISOString();
}
/** Successive due dates, storing the recurrence nextRecurrence returns as the task service must. */
function chain(r: Recurrence, firstIso: string, timezone: string, steps: number): (string | null)[] {
  const out: (string | null)[] = [];
  let dueDate = at(firstIso);
  for (let i = 0; i < steps; i++) {
    const n = nextRecurrence(r, { due: dueDate, completedAt: dueDate, timezone });
    out.push(n ? n.due.toISOString() : null);
    if (!n) break;
    [r, dueDate] = [n.recurrence, n.due];
  }
  return out;
}

describe('parseRecurrenceRule', () => {
  it.each([
    ['freq=weekly;byday=we,mo', 'FREQ=WEEKLY;BYDAY=MO,WE'],
    ['FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE;WKST=MO', 'FREQ=WEEKLY;BYDAY=MO,WE'],
    ['RRULE:FREQ=DAILY;', 'FREQ=DAILY'],
    ['BYDAY=-1FR,+1MO;FREQ=MONTHLY', 'FREQ=MONTHLY;BYDAY=1MO,-1FR'],
    ['FREQ=MONTHLY;BYMONTHDAY=15,1,15;COUNT=4', 'FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=4'],
    ['FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;WKST=SU', 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;WKST=SU'],
    ['FREQ=WEEKLY;BYDAY=MO;WKST=SU', 'FREQ=WEEKLY;BYDAY=MO'],
    ['FREQ=DAILY;UNTIL=20261231t235959z', 'FREQ=DAILY;UNTIL=20261231T235959Z'],
    ['FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29', 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29'],
    ['FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1', 'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1'],
  ])('canonicalises %j', (input, canonical) => {
    expect(parseRecurrenceRule(input)).toEqual({ ok: true, rule: canonical });
  });

  it('makes equal rules compare equal', () => {
    const a = parseRecurrenceRule('FREQ=WEEKLY;BYDAY=FR,MO;INTERVAL=1');
    const b = parseRecurrenceRule(' byday=mo,fr;freq=weekly ');
    expect(a.ok && b.ok && a.rule === b.rule).toBe(true);
  });

  it.each([
    ['', 'must not be empty, e.g. "FREQ=WEEKLY;BYDAY=MO"'],
    ['   ', 'must not be empty, e.g. "FREQ=WEEKLY;BYDAY=MO"'],
    [`FREQ=DAILY;${'BYMONTH=1;'.repeat(50)}`, 'must be at most 500 characters'],
    ['FREQ=HOURLY', 'FREQ=HOURLY is not supported: tasks repeat at most daily'],
    ['FREQ=MINUTELY;INTERVAL=30', 'FREQ=MINUTELY is not supported: tasks repeat at most daily'],
    ['FREQ=SECONDLY', 'FREQ=SECONDLY is not supported: tasks repeat at most daily'],
    ['FREQ=FORTNIGHTLY', 'FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY'],
    ['INTERVAL=2', 'FREQ is required, e.g. FREQ=DAILY'],
    ['FREQ=DAILY;DTSTART=20260101T090000Z', DTSTART_MESSAGE()],
    ['DTSTART;TZID=Europe/Paris:20260101T090000\nRRULE:FREQ=DAILY', DTSTART_MESSAGE()],
    ['FREQ=DAILY;TZID=Europe/Paris', DTSTART_MESSAGE()],
    [
      'FREQ=DAILY;BYHOUR=9',
      'BYHOUR is not supported; use FREQ, INTERVAL, BYMONTH, BYMONTHDAY, BYDAY, BYSETPOS, WKST, COUNT, UNTIL',
    ],
    [
      'FREQ=DAILY;COLOR=RED',
      'COLOR is not supported; use FREQ, INTERVAL, BYMONTH, BYMONTHDAY, BYDAY, BYSETPOS, WKST, COUNT, UNTIL',
    ],
    ['FREQ=DAILY;INTERVAL', '"INTERVAL" is not a NAME=VALUE part'],
    ['FREQ=DAILY;INTERVAL=', 'INTERVAL has no value'],
    ['FREQ=DAILY;FREQ=WEEKLY', 'FREQ is given twice'],
    ['FREQ=DAILY;INTERVAL=0', 'INTERVAL must be 1 to 365'],
    ['FREQ=DAILY;INTERVAL=366', 'INTERVAL must be 1 to 365'],
    ['FREQ=DAILY;INTERVAL=two', 'INTERVAL must be 1 to 365'],
    ['FREQ=WEEKLY;BYDAY=MO,XX', 'BYDAY must list days like MO,WE or, monthly, 1MO or -1FR (not "XX")'],
    ['FREQ=WEEKLY;BYDAY=1MO', 'BYDAY ordinals like 1MO need FREQ=MONTHLY or YEARLY'],
    ['FREQ=MONTHLY;BYDAY=6MO', 'BYDAY ordinals must be between -5 and 5'],
    ['FREQ=MONTHLY;BYDAY=0MO', 'BYDAY ordinals cannot be 0'],
    ['FREQ=MONTHLY;BYMONTHDAY=32', 'BYMONTHDAY must be between -31 and 31, not 0'],
    ['FREQ=MONTHLY;BYMONTHDAY=0', 'BYMONTHDAY must be between -31 and 31, not 0'],
    ['FREQ=WEEKLY;BYMONTHDAY=1', 'BYMONTHDAY cannot be used with FREQ=WEEKLY'],
    ['FREQ=YEARLY;BYMONTH=13', 'BYMONTH must be 1 to 12'],
    ['FREQ=DAILY;BYSETPOS=1', 'BYSETPOS needs BYDAY, BYMONTHDAY or BYMONTH to pick from'],
    ['FREQ=DAILY;WKST=XX', 'WKST must be MO to SU'],
    ['FREQ=DAILY;COUNT=0', 'COUNT must be 1 to 10000'],
    ['FREQ=DAILY;COUNT=3;UNTIL=20261231', 'COUNT and UNTIL cannot both be given'],
    [
      'FREQ=DAILY;UNTIL=20261231T235959',
      'UNTIL must be a date (20261231) or a UTC date-time (20261231T235959Z)',
    ],
    ['FREQ=DAILY;UNTIL=2026-12-31', 'UNTIL must be a date (20261231) or a UTC date-time (20261231T235959Z)'],
    ['FREQ=DAILY;UNTIL=20260230', 'UNTIL is not a real date'],
    ['FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30', 'never produces an occurrence'],
    ['FREQ=YEARLY;BYMONTH=4,6;BYMONTHDAY=31', 'never produces an occurrence'],
    ['FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2', 'never produces an occurrence'],
    ['FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30', 'never produces an occurrence'],
  ])('rejects %j', (input, message) => {
    expect(parseRecurrenceRule(input)).toEqual({ ok: false, message });
  });

  it('rejects non-strings instead of throwing (bodies are untyped JSON)', () => {
    expect(parseRecurrenceRule(42 as never)).toEqual({
      ok: false,
      message: 'must be a string, e.g. "FREQ=WEEKLY;BYDAY=MO"',
    });
  });

  it('checks for emptiness quickly, even for a rule that can never match', () => {
    const start = performance.now();
    for (let i = 0; i < 5; i++) parseRecurrenceRule('FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30');
    expect(performance.now() - start).toBeLessThan(1_000); // rrule alone scans to 9999: ~14 s each
  });
});

function DTSTART_MESSAGE() {
  return "must not contain DTSTART or TZID: the task's due date and the user's time zone are the start";
}

describe('nextOccurrence on the due date', () => {
  it('repeats daily, weekly on chosen days, monthly on a day and yearly', () => {
    // 2026-03-02 is a Monday; Paris is UTC+1 until March 29.
    expect(next('FREQ=DAILY', '2026-03-02T08:00:00Z')).toBe('2026-03-03T08:00:00.000Z');
    expect(next('FREQ=WEEKLY;BYDAY=MO,WE', '2026-03-02T08:00:00Z')).toBe('2026-03-04T08:00:00.000Z');
    expect(next('FREQ=WEEKLY;BYDAY=MO,WE', '2026-03-04T08:00:00Z')).toBe('2026-03-09T08:00:00.000Z');
    expect(next('FREQ=WEEKLY', '2026-03-04T08:00:00Z')).toBe('2026-03-11T08:00:00.000Z');
    expect(next('FREQ=MONTHLY;BYMONTHDAY=15', '2026-01-15T08:00:00Z')).toBe('2026-02-15T08:00:00.000Z');
    expect(next('FREQ=MONTHLY;BYMONTHDAY=15', '2026-01-20T08:00:00Z')).toBe('2026-02-15T08:00:00.000Z');
    expect(next('FREQ=MONTHLY;BYDAY=-1FR', '2026-01-30T08:00:00Z')).toBe('2026-02-27T08:00:00.000Z');
    expect(next('FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1', '2026-02-27T08:00:00Z')).toBe(
      '2026-03-31T07:00:00.000Z',
    );
    expect(next('FREQ=YEARLY', '2026-05-10T07:00:00Z')).toBe('2027-05-10T07:00:00.000Z');
    // US Thanksgiving (4th Thursday of November), and the 20th Monday of the year (May 18, 2026).
    expect(next('FREQ=YEARLY;BYMONTH=11;BYDAY=4TH', '2026-11-26T17:00:00Z', 'UTC')).toBe(
      '2027-11-25T17:00:00.000Z',
    );
    expect(next('FREQ=YEARLY;BYDAY=20MO', '2026-01-01T12:00:00Z', 'UTC')).toBe('2026-05-18T12:00:00.000Z');
    expect(next('FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1', '2026-01-01T08:00:00Z')).toBe(
      '2026-07-01T07:00:00.000Z',
    );
  });

  it('honours INTERVAL', () => {
    expect(next('FREQ=DAILY;INTERVAL=3', '2026-03-02T08:00:00Z')).toBe('2026-03-05T08:00:00.000Z');
    // Every other week on Monday and Friday: after Friday 6th comes Monday 16th, not Monday 9th.
    expect(next('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR', '2026-03-02T08:00:00Z')).toBe(
      '2026-03-06T08:00:00.000Z',
    );
    expect(next('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR', '2026-03-06T08:00:00Z')).toBe(
      '2026-03-16T08:00:00.000Z',
    );
    expect(next('FREQ=MONTHLY;INTERVAL=2', '2026-01-10T08:00:00Z')).toBe('2026-03-10T08:00:00.000Z');
    expect(next('FREQ=YEARLY;INTERVAL=4', '2026-06-01T07:00:00Z')).toBe('2030-06-01T07:00:00.000Z');
  });

  it('follows the RFC 5545 examples for WKST with INTERVAL=2', () => {
    // DTSTART 1997-08-05 09:00 America/New_York: with WKST=MO August 5, 10, 19, 24; with SU 5, 17, 19, 31.
    const r = (wkst: string) => due(`FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=${wkst}`);
    expect(chain(r('MO'), '1997-08-05T13:00:00Z', 'America/New_York', 4)).toEqual([
      '1997-08-10T13:00:00.000Z',
      '1997-08-19T13:00:00.000Z',
      '1997-08-24T13:00:00.000Z',
      null,
    ]);
    expect(chain(r('SU'), '1997-08-05T13:00:00Z', 'America/New_York', 4)).toEqual([
      '1997-08-17T13:00:00.000Z',
      '1997-08-19T13:00:00.000Z',
      '1997-08-31T13:00:00.000Z',
      null,
    ]);
  });

  it('takes nothing for a BYSETPOS beyond the set, as RFC 5545 says (rrule would take the one day)', () => {
    // The 1st and the last day both Mondays: only a leap February starting on a Monday.
    expect(next('FREQ=MONTHLY;BYMONTHDAY=1,-1;BYDAY=MO;BYSETPOS=-2', '2020-01-01T00:00:00Z', 'UTC')).toBe(
      '2044-02-01T00:00:00.000Z',
    );
    // All Mondays, not only those that are also the 5th-last (rrule intersects plain and ordinal days).
    expect(next('FREQ=MONTHLY;BYDAY=MO,-5MO', '2020-01-01T00:00:00Z', 'UTC')).toBe(
      '2020-01-06T00:00:00.000Z',
    );
  });

  it('keeps a monthly task on the 31st, or the last day of shorter months (Jan 31 → Feb 28 → Mar 31)', () => {
    const monthly = due('FREQ=MONTHLY');
    expect(chain(monthly, '2026-01-31T08:00:00Z', 'Europe/Paris', 4)).toEqual([
      '2026-02-28T08:00:00.000Z',
      '2026-03-31T07:00:00.000Z',
      '2026-04-30T07:00:00.000Z',
      '2026-05-31T07:00:00.000Z',
    ]);
    expect(chain(monthly, '2028-01-31T08:00:00Z', 'Europe/Paris', 2)).toEqual([
      '2028-02-29T08:00:00.000Z',
      '2028-03-31T07:00:00.000Z',
    ]);
    expect(chain(monthly, '2026-01-30T08:00:00Z', 'Europe/Paris', 2)).toEqual([
      '2026-02-28T08:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
    ]);
    // The day is pinned into the rule to store, so Feb 28 does not become the new day of the month.
    const first = nextRecurrence(monthly, {
      due: at('2026-01-31T08:00:00Z'),
      completedAt: at('2026-01-31T08:00:00Z'),
      timezone: 'Europe/Paris',
    });
    expect(first?.recurrence).toEqual({ rule: 'FREQ=MONTHLY;BYMONTHDAY=-1,31;BYSETPOS=1', basis: 'due' });
    // Days that every month has need no pin.
    expect(
      nextRecurrence(monthly, {
        due: at('2026-01-28T08:00:00Z'),
        completedAt: at('2026-01-28T08:00:00Z'),
        timezone: 'UTC',
      })?.recurrence.rule,
    ).toBe('FREQ=MONTHLY');
  });

  it('skips months without the day for an explicit BYMONTHDAY=31, as RFC 5545 says', () => {
    expect(chain(due('FREQ=MONTHLY;BYMONTHDAY=31'), '2026-01-31T08:00:00Z', 'Europe/Paris', 3)).toEqual([
      '2026-03-31T07:00:00.000Z',
      '2026-05-31T07:00:00.000Z',
      '2026-07-31T07:00:00.000Z',
    ]);
  });

  it('moves a yearly Feb 29 to Feb 28 in common years and back to Feb 29 in leap years', () => {
    expect(chain(due('FREQ=YEARLY'), '2028-02-29T12:00:00Z', 'UTC', 4)).toEqual([
      '2029-02-28T12:00:00.000Z',
      '2030-02-28T12:00:00.000Z',
      '2031-02-28T12:00:00.000Z',
      '2032-02-29T12:00:00.000Z',
    ]);
    expect(next('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29', '2028-02-29T12:00:00Z', 'UTC')).toBe(
      '2032-02-29T12:00:00.000Z',
    );
  });

  it('keeps 09:00 in Paris across the March and October DST changes', () => {
    // Monday March 23 09:00 CET is 08:00Z; after the change on March 29, 09:00 CEST is 07:00Z.
    expect(next('FREQ=WEEKLY;BYDAY=MO', '2026-03-23T08:00:00Z')).toBe('2026-03-30T07:00:00.000Z');
    expect(next('FREQ=WEEKLY;BYDAY=MO', '2026-10-19T07:00:00Z')).toBe('2026-10-26T08:00:00.000Z');
    expect(next('FREQ=DAILY', '2026-03-28T08:00:00Z')).toBe('2026-03-29T07:00:00.000Z');
  });

  it('keeps 09:00 in New York across its DST changes', () => {
    expect(next('FREQ=DAILY', '2026-03-07T14:00:00Z', 'America/New_York')).toBe('2026-03-08T13:00:00.000Z');
    expect(next('FREQ=DAILY', '2026-10-31T13:00:00Z', 'America/New_York')).toBe('2026-11-01T14:00:00.000Z');
  });

  it('moves a wall time inside the spring-forward gap (02:30) to 03:30, and keeps 02:30 on other days', () => {
    // 02:30 EST on March 7 is 07:30Z; 02:30 does not exist on March 8, 03:30 EDT (07:30Z) is used.
    expect(next('FREQ=DAILY', '2026-03-07T07:30:00Z', 'America/New_York')).toBe('2026-03-08T07:30:00.000Z');
    expect(next('FREQ=WEEKLY', '2026-03-01T07:30:00Z', 'America/New_York')).toBe('2026-03-08T07:30:00.000Z');
    expect(next('FREQ=WEEKLY', '2026-03-01T07:30:00Z', 'America/New_York', '2026-03-08T12:00:00Z')).toBe(
      '2026-03-15T06:30:00.000Z',
    );
    // 01:30 happens twice on November 1: the first one (EDT, 05:30Z) is used, not 06:30Z (EST).
    expect(next('FREQ=DAILY', '2026-10-31T05:30:00Z', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
  });

  it('works in half-hour zones: Asia/Kolkata and Australia/Lord_Howe (30-minute DST)', () => {
    expect(next('FREQ=DAILY', '2026-03-02T03:30:00Z', 'Asia/Kolkata')).toBe('2026-03-03T03:30:00.000Z');
    // Lord Howe Island: +10:30, and +11:00 from 02:00 on October 4, 2026 (clocks go to 02:30).
    expect(
      new Intl.DateTimeFormat('en', { timeZone: 'Australia/Lord_Howe' }).resolvedOptions().timeZone,
    ).toBe('Australia/Lord_Howe');
    expect(next('FREQ=DAILY', '2026-10-02T22:30:00Z', 'Australia/Lord_Howe')).toBe(
      '2026-10-03T22:00:00.000Z',
    );
    // 02:15 does not exist on October 4: it moves forward by the 30-minute gap to 02:45 (+11:00).
    expect(next('FREQ=DAILY', '2026-10-02T15:45:00Z', 'Australia/Lord_Howe')).toBe(
      '2026-10-03T15:45:00.000Z',
    );
    expect(wallTime(at('2026-10-03T15:45:00Z'), 'Australia/Lord_Howe')).toMatchObject({
      day: 4,
      hour: 2,
      minute: 45,
    });
  });

  it('jumps to the next future occurrence when a task is completed late', () => {
    // Due daily 09:00 from Monday March 2, done on Thursday March 5 at 12:00: next is Friday 09:00.
    expect(next('FREQ=DAILY', '2026-03-02T08:00:00Z', 'Europe/Paris', '2026-03-05T11:00:00Z')).toBe(
      '2026-03-06T08:00:00.000Z',
    );
    // Done on Thursday at 08:00, before the 09:00 occurrence of that day: that one is next.
    expect(next('FREQ=DAILY', '2026-03-02T08:00:00Z', 'Europe/Paris', '2026-03-05T07:00:00Z')).toBe(
      '2026-03-05T08:00:00.000Z',
    );
    expect(
      next('FREQ=WEEKLY;BYDAY=MO,WE', '2026-03-02T08:00:00Z', 'Europe/Paris', '2026-03-20T08:00:00Z'),
    ).toBe('2026-03-23T08:00:00.000Z');
    // Done early: the next one is still after the current due date.
    expect(next('FREQ=DAILY', '2026-03-10T08:00:00Z', 'Europe/Paris', '2026-03-05T08:00:00Z')).toBe(
      '2026-03-11T08:00:00.000Z',
    );
    // An explicit `after` replaces completedAt.
    const r = nextOccurrence(due('FREQ=DAILY'), {
      due: at('2026-03-02T08:00:00Z'),
      completedAt: at('2026-03-02T08:00:00Z'),
      after: at('2026-04-01T12:00:00Z'),
      timezone: 'Europe/Paris',
    });
    expect(r?.toISOString()).toBe('2026-04-02T07:00:00.000Z');
  });

  it('anchors a task without a due date at its completion time', () => {
    const opts = { due: null, completedAt: at('2026-03-04T14:42:10Z'), timezone: 'UTC' }; // a Wednesday
    expect(nextOccurrence(due('FREQ=DAILY'), opts)?.toISOString()).toBe('2026-03-05T14:42:10.000Z');
    expect(nextOccurrence(due('FREQ=WEEKLY;BYDAY=MO'), opts)?.toISOString()).toBe('2026-03-09T14:42:10.000Z');
  });

  it('ends the series after COUNT occurrences, counting skipped ones', () => {
    expect(chain(due('FREQ=DAILY;COUNT=3'), '2026-03-02T08:00:00Z', 'Europe/Paris', 4)).toEqual([
      '2026-03-03T08:00:00.000Z',
      '2026-03-04T08:00:00.000Z',
      null,
    ]);
    expect(next('FREQ=DAILY;COUNT=1', '2026-03-02T08:00:00Z')).toBeUndefined();
    const late = (completed: string) =>
      nextRecurrence(due('FREQ=DAILY;COUNT=3'), {
        due: at('2026-03-02T08:00:00Z'),
        completedAt: at(completed),
        timezone: 'Europe/Paris',
      });
    // Done on the 3rd at noon: the 3rd is skipped, the 4th is the third and last occurrence.
    expect(late('2026-03-03T11:00:00Z')).toEqual({
      due: at('2026-03-04T08:00:00Z'),
      recurrence: { rule: 'FREQ=DAILY;COUNT=1', basis: 'due' },
    });
    expect(late('2026-03-04T11:00:00Z')).toBeNull();
  });

  it('ends the series after UNTIL: a date includes its whole local day, a date-time is exact', () => {
    // Daily at 00:30 in Paris (23:30Z the day before), until March 5.
    expect(chain(due('FREQ=DAILY;UNTIL=20260305'), '2026-03-03T23:30:00Z', 'Europe/Paris', 3)).toEqual([
      '2026-03-04T23:30:00.000Z', // March 5, 00:30 in Paris: included
      null, // 2026-03-05T23:30Z is March 6 in Paris: over
    ]);
    expect(next('FREQ=DAILY;UNTIL=20260305T080000Z', '2026-03-04T08:00:00Z')).toBe(
      '2026-03-05T08:00:00.000Z',
    );
    expect(next('FREQ=DAILY;UNTIL=20260305T075959Z', '2026-03-04T08:00:00Z')).toBeUndefined();
  });

  it('returns null when the rule cannot match from this anchor, quickly', () => {
    // Feb 29 every 4 years, counted from a common year, never falls in a leap year.
    expect(
      next('FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29', '2025-02-01T12:00:00Z', 'UTC'),
    ).toBeUndefined();
    const start = performance.now();
    expect(next('FREQ=DAILY;INTERVAL=7;BYDAY=TU', '2026-03-02T08:00:00Z')).toBeUndefined(); // from a Monday
    expect(performance.now() - start).toBeLessThan(1_000);
  });

  it('throws a ValidationError for an invalid rule', () => {
    expect(() => next('FREQ=HOURLY', '2026-03-02T08:00:00Z')).toThrow(ValidationError);
    expect(() => next('FREQ=HOURLY', '2026-03-02T08:00:00Z')).toThrow(
      'recurrence.rule: FREQ=HOURLY is not supported: tasks repeat at most daily',
    );
  });
});

describe('nextOccurrence after completion', () => {
  const done = (rule: string, dueIso: string | null, completedIso: string, timezone = 'Europe/Paris') =>
    nextOccurrence(afterCompletion(rule), {
      due: dueIso ? at(dueIso) : null,
      completedAt: at(completedIso),
      timezone,
    })?.toISOString();

  it('counts from the local date of completion, at the time of day of the due date', () => {
    // Due Monday March 2 09:00, done Friday March 6 at 19:00: due again Monday March 9 at 09:00.
    expect(done('FREQ=DAILY;INTERVAL=3', '2026-03-02T08:00:00Z', '2026-03-06T18:00:00Z')).toBe(
      '2026-03-09T08:00:00.000Z',
    );
    // 23:30Z on March 6 is already March 7 in Paris.
    expect(done('FREQ=DAILY;INTERVAL=3', '2026-03-02T08:00:00Z', '2026-03-06T23:30:00Z')).toBe(
      '2026-03-10T08:00:00.000Z',
    );
    // Done before the due date: counted from the completion all the same.
    expect(done('FREQ=DAILY;INTERVAL=3', '2026-03-20T08:00:00Z', '2026-03-06T10:00:00Z')).toBe(
      '2026-03-09T08:00:00.000Z',
    );
    // Done at 07:00, before the 09:00 time of day: still not the same day.
    expect(done('FREQ=DAILY', '2026-03-02T08:00:00Z', '2026-03-06T06:00:00Z')).toBe(
      '2026-03-07T08:00:00.000Z',
    );
  });

  it('uses the completion time of day without a due date', () => {
    expect(done('FREQ=WEEKLY;INTERVAL=2', null, '2026-03-06T17:15:00Z', 'UTC')).toBe(
      '2026-03-20T17:15:00.000Z',
    );
  });

  it('clamps months and follows BYDAY from the completion', () => {
    expect(done('FREQ=MONTHLY', '2026-01-10T08:00:00Z', '2026-01-31T10:00:00Z')).toBe(
      '2026-02-28T08:00:00.000Z',
    );
    // Weekly on Monday and Wednesday, done on Monday March 2: Wednesday March 4.
    expect(done('FREQ=WEEKLY;BYDAY=MO,WE', '2026-02-27T08:00:00Z', '2026-03-02T15:00:00Z')).toBe(
      '2026-03-04T08:00:00.000Z',
    );
  });

  it('keeps the time of day across DST', () => {
    expect(done('FREQ=DAILY', '2026-03-20T08:00:00Z', '2026-03-28T20:00:00Z')).toBe(
      '2026-03-29T07:00:00.000Z',
    );
  });
});

describe('describeRecurrence', () => {
  it.each([
    [due('FREQ=WEEKLY;BYDAY=MO,WE'), 'every week on Monday, Wednesday'],
    [afterCompletion('FREQ=DAILY;INTERVAL=3'), 'every 3 days after completion'],
    [due('FREQ=MONTHLY;BYDAY=-1FR'), 'every month on the last Friday'],
    [due('FREQ=MONTHLY;BYMONTHDAY=-1'), 'every month on the last day'],
    [
      due('FREQ=MONTHLY;BYMONTHDAY=-1,31;BYSETPOS=1'),
      'every month on the 31st (or the last day of shorter months)',
    ],
    [due('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR'), 'every weekday'],
    [due('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29'), 'every February on the 29th'],
    [
      due('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1,29;BYSETPOS=1'),
      'every February on the 29th (or the last day of shorter months)',
    ],
    [due('FREQ=DAILY;COUNT=5'), 'every day, 5 times'],
    [afterCompletion('FREQ=DAILY;COUNT=1'), 'every day after completion, once'],
    [due('FREQ=DAILY;UNTIL=20261231T000000Z'), 'every day, until December 31, 2026'],
    [due('not a rule'), 'not a rule'],
  ])('describes %j', (r, text) => {
    expect(describeRecurrence(r)).toBe(text);
  });
});

describe('properties', () => {
  const zones = [
    'UTC',
    'Europe/Paris',
    'America/New_York',
    'Asia/Kolkata',
    'Australia/Lord_Howe',
    'America/Santiago', // DST changes at midnight
    'Pacific/Chatham', // +12:45
    'America/St_Johns', // -03:30
  ];
  const days = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
  const instant = fc
    .integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 11, 31) })
    .map((t) => new Date(t));
  const daySet = fc.subarray(days, { minLength: 1 }).map((d) => d.join(','));
  // Rules that match from any anchor.
  const rule = fc.oneof(
    fc.integer({ min: 1, max: 10 }).map((i) => `FREQ=DAILY;INTERVAL=${i}`),
    fc.tuple(fc.integer({ min: 1, max: 4 }), daySet).map(([i, d]) => `FREQ=WEEKLY;INTERVAL=${i};BYDAY=${d}`),
    fc.integer({ min: 1, max: 6 }).map((i) => `FREQ=MONTHLY;INTERVAL=${i}`),
    fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.oneof(fc.integer({ min: 1, max: 28 }), fc.constant(-1)))
      .map(([i, d]) => `FREQ=MONTHLY;INTERVAL=${i};BYMONTHDAY=${d}`),
    fc
      .tuple(fc.constantFrom(1, 2, 3, 4, -1), fc.constantFrom(...days))
      .map(([n, d]) => `FREQ=MONTHLY;BYDAY=${n}${d}`),
  );
  /** The instant at which the result's local date shows the anchor's local time of day. */
  const sameTimeOfDay = (result: Date, anchor: Date, tz: string) => {
    const [r, a] = [wallTime(result, tz), wallTime(anchor, tz)];
    return fromWallTime({ ...r, hour: a.hour, minute: a.minute, second: a.second }, tz).getTime();
  };

  it('on the due date: strictly after the due date and `after`, at the same local time of day', () => {
    fc.assert(
      fc.property(
        rule,
        instant,
        fc.integer({ min: -3 * 86_400_000, max: 400 * 86_400_000 }),
        fc.constantFrom(...zones),
        (rule, dueDate, lateness, tz) => {
          const completedAt = new Date(dueDate.getTime() + lateness);
          const result = nextOccurrence(due(rule), { due: dueDate, completedAt, timezone: tz });
          expect(result).not.toBeNull();
          expect(result!.getTime()).toBeGreaterThan(Math.max(dueDate.getTime(), completedAt.getTime()));
          // Equal to the anchor's wall time on that date, or moved forward the same way out of a gap.
          expect(result!.getTime()).toBe(sameTimeOfDay(result!, dueDate, tz));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('after completion: on a later local date than the completion, at the due time of day', () => {
    fc.assert(
      fc.property(
        rule,
        instant,
        fc.integer({ min: -30 * 86_400_000, max: 30 * 86_400_000 }),
        fc.constantFrom(...zones),
        (rule, dueDate, offset, tz) => {
          const completedAt = new Date(dueDate.getTime() + offset);
          const result = nextOccurrence(afterCompletion(rule), { due: dueDate, completedAt, timezone: tz });
          const [r, c] = [wallTime(result!, tz), wallTime(completedAt, tz)];
          expect(Date.UTC(r.year, r.month - 1, r.day)).toBeGreaterThan(Date.UTC(c.year, c.month - 1, c.day));
          expect(result!.getTime()).toBe(sameTimeOfDay(result!, dueDate, tz));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('finds the same occurrence as rrule for any valid rule (UTC, so floating time is real time)', () => {
    const list = (xs: fc.Arbitrary<number | string>) =>
      fc.uniqueArray(xs, { minLength: 1, maxLength: 3 }).map((v) => v.join(','));
    const parts = fc.record(
      {
        FREQ: fc.constantFrom('DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'),
        INTERVAL: fc.integer({ min: 1, max: 5 }).map(String),
        BYMONTH: list(fc.integer({ min: 1, max: 12 })),
        BYMONTHDAY: list(fc.oneof(fc.integer({ min: 1, max: 31 }), fc.integer({ min: -31, max: -1 }))),
        // Plain days, or days with ordinals, not both: for BYDAY=MO,-5MO rrule keeps only the
        // Mondays that are also the 5th-last (an intersection); RFC 5545 and this module: all Mondays.
        BYDAY: fc.oneof(
          list(fc.constantFrom(...days)),
          list(
            fc
              .tuple(fc.constantFrom('1', '2', '-1', '-2', '5', '-5', '20'), fc.constantFrom(...days))
              .map(([n, d]) => n + d),
          ),
        ),
        // Positive only: rrule takes BYSETPOS=-2 of a 1-day set as that day (JS slice); see below.
        BYSETPOS: list(fc.constantFrom(1, 2, 3)),
        WKST: fc.constantFrom(...days),
      },
      { requiredKeys: ['FREQ'] },
    );
    let compared = 0;
    fc.assert(
      fc.property(parts, instant, fc.integer({ min: 0, max: 800 * 86_400_000 }), (p, dueDate, lateness) => {
        const parsed = parseRecurrenceRule(
          Object.entries(p)
            .map(([k, v]) => `${k}=${v}`)
            .join(';'),
        );
        fc.pre(parsed.ok);
        // rrule cuts the first week at DTSTART before applying BYSETPOS (so from a Saturday, MO,FR
        // with BYSETPOS=1 gives the coming Monday); RFC 5545 and this module use the whole week.
        fc.pre(!(p.FREQ === 'WEEKLY' && p.BYSETPOS));
        const completedAt = new Date(dueDate.getTime() + lateness);
        const mine = nextRecurrence(due(parsed.ok ? parsed.rule : ''), {
          due: dueDate,
          completedAt,
          timezone: 'UTC',
        });
        // rrule scans to the year 9999 when nothing matches from this anchor; only compare found ones.
        fc.pre(mine !== null);
        const anchor = new Date(Math.floor(dueDate.getTime() / 1000) * 1000);
        const theirs = new RRule({ ...RRule.parseString(mine!.recurrence.rule), dtstart: anchor }).after(
          completedAt,
        );
        expect(mine!.due.toISOString()).toBe(theirs?.toISOString());
        compared++;
      }),
      { numRuns: 300 },
    );
    expect(compared).toBeGreaterThan(100);
  });
});
