import fc from 'fast-check';
import * as rruleModule from 'rrule';
import { afterEach, describe, expect, it } from 'vitest';
import { parseQuickAdd, type QuickAddContext, type QuickAddResult } from '../src/quick-add/quick-add';

const { RRule } = (
  (rruleModule as any).RRule ? rruleModule : (rruleModule as any).default
) as typeof rruleModule;

const PROJECTS = [
  { id: 'p-fin', name: 'Finance' },
  { id: 'p-home', name: 'Home' },
  { id: 'p-reno', name: 'Home Renovation' },
  { id: 'p-work', name: 'Work' },
  { id: 'p-shop', name: 'Workshop' },
  { id: 'p-cafe', name: 'Café Déjà' },
];
// Friday 27 November 2026, 11:00 in Paris.
const NOW = '2026-11-27T10:00:00Z';

function parse(text: string, over: Partial<QuickAddContext> & { at?: string } = {}): QuickAddResult {
  const { at, ...rest } = over;
  const result = parseQuickAdd(text, {
    now: new Date(at ?? NOW),
    timezone: 'Europe/Paris',
    projects: PROJECTS,
    ...rest,
  });
  for (const s of result.spans) expect(text.slice(s.start, s.end)).toBe(s.text);
  return result;
}
const due = (text: string, over: Partial<QuickAddContext> & { at?: string } = {}) =>
  parse(text, over).dueDate?.toISOString() ?? null;
const spanList = (r: QuickAddResult) => r.spans.map((s) => [s.kind, s.text, s.start, s.end]);

describe('quick add: the example', () => {
  it('Pay rent tomorrow 9am !high #home +Finance every month', () => {
    const text = 'Pay rent tomorrow 9am !high #home +Finance every month';
    const r = parse(text);
    expect(r).toEqual({
      title: 'Pay rent',
      dueDate: new Date('2026-11-28T08:00:00.000Z'),
      dueHasTime: true,
      priority: 'high',
      tags: ['home'],
      projectId: 'p-fin',
      projectName: 'Finance',
      recurrence: { rule: 'FREQ=MONTHLY', basis: 'due' },
      spans: [
        { kind: 'date', start: 9, end: 21, text: 'tomorrow 9am' },
        { kind: 'priority', start: 22, end: 27, text: '!high' },
        { kind: 'tag', start: 28, end: 33, text: '#home' },
        { kind: 'project', start: 34, end: 42, text: '+Finance' },
        { kind: 'recurrence', start: 43, end: 54, text: 'every month' },
      ],
    });
  });
});

describe('quick add: priority', () => {
  it('reads !low, !medium, !high, !urgent (any case)', () => {
    expect(parse('a !low').priority).toBe('low');
    expect(parse('a !medium').priority).toBe('medium');
    expect(parse('a !HIGH').priority).toBe('high');
    expect(parse('a !urgent').priority).toBe('urgent');
    expect(parse('a !urgent').title).toBe('a');
  });

  it('reads !1–!4 and p1–p4 like Todoist (1 = urgent, 4 = low)', () => {
    expect(['!1', '!2', '!3', '!4'].map((p) => parse(`x ${p}`).priority)).toEqual([
      'urgent',
      'high',
      'medium',
      'low',
    ]);
    expect(['p1', 'p2', 'P3', 'p4'].map((p) => parse(`x ${p}`).priority)).toEqual([
      'urgent',
      'high',
      'medium',
      'low',
    ]);
  });

  it('keeps the last one, and removes them all from the title', () => {
    const r = parse('p1 Call the bank !low');
    expect(r.priority).toBe('low');
    expect(r.title).toBe('Call the bank');
    expect(spanList(r)).toEqual([
      ['priority', 'p1', 0, 2],
      ['priority', '!low', 17, 21],
    ]);
  });

  it('does not take an exclamation mark for a priority', () => {
    for (const text of ['Call mom!', 'Call mom !', 'Wow!!', 'Try !5', 'p5 is not one', 'Buy p100 filter']) {
      const r = parse(text);
      expect(r.priority).toBeNull();
      expect(r.title).toBe(text);
      expect(r.spans).toEqual([]);
    }
  });
});

describe('quick add: tags', () => {
  it('collects several tags, lower-cased, de-duplicated, in order', () => {
    const r = parse('Plan trip #Travel #family #travel #2026-plans #a_b');
    expect(r.tags).toEqual(['travel', 'family', '2026-plans', 'a_b']);
    expect(r.title).toBe('Plan trip');
    expect(r.spans.map((s) => s.text)).toEqual(['#Travel', '#family', '#travel', '#2026-plans', '#a_b']);
  });

  it('accepts unicode letters', () => {
    const r = parse('Buy bread #café #日本語 #Ünïcode #ДОМ');
    expect(r.tags).toEqual(['café', '日本語', 'ünïcode', 'дом']);
    expect(r.title).toBe('Buy bread');
  });

  it('leaves C#, issue#42, #42 and over-long tags in the title', () => {
    const long = `#${'a'.repeat(51)}`;
    const r = parse(`Learn C# for issue#42 and #42 ${long} #${'b'.repeat(50)}`);
    expect(r.tags).toEqual(['b'.repeat(50)]);
    expect(r.title).toBe(`Learn C# for issue#42 and #42 ${long}`);
  });

  it('takes at most 20 tags; the others stay in the title', () => {
    const many = Array.from({ length: 22 }, (_, i) => `#t${i}`).join(' ');
    const r = parse(`x ${many} #t0`);
    expect(r.tags).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`));
    expect(r.title).toBe('x #t20 #t21');
  });

  it('leaves sentence punctuation after a marker in the title', () => {
    expect(parse('Fix it #urgent!').title).toBe('Fix it!');
    const r = parse('Buy milk #errands, eggs and bread !high.');
    expect(r.title).toBe('Buy milk, eggs and bread.');
    expect(r.tags).toEqual(['errands']);
    expect(r.priority).toBe('high');
  });
});

describe('quick add: project', () => {
  it('matches the exact name, case-insensitively', () => {
    const r = parse('Pay taxes +finance');
    expect([r.projectId, r.projectName, r.title]).toEqual(['p-fin', 'Finance', 'Pay taxes']);
    expect(parse('x +HOME').projectId).toBe('p-home');
  });

  it('matches a quoted name with spaces, and an unquoted one word by word', () => {
    const r = parse('Paint the hall +"Home Renovation" tomorrow');
    expect([r.projectId, r.title]).toEqual(['p-reno', 'Paint the hall']);
    expect(spanList(r)[0]).toEqual(['project', '+"Home Renovation"', 15, 33]);
    const u = parse('Paint +home renovation, hall');
    expect([u.projectId, u.title]).toEqual(['p-reno', 'Paint, hall']);
    expect(parse('x +“Café Déjà” y').projectId).toBe('p-cafe');
    expect(parse('x +Home y').projectId).toBe('p-home');
  });

  it('accepts a unique prefix of 2+ characters, not an ambiguous one', () => {
    expect(parse('x +Fin').projectId).toBe('p-fin');
    const r = parse('x +Wor');
    expect([r.projectId, r.title]).toEqual([null, 'x +Wor']);
    expect(parse('x +F').projectId).toBeNull();
  });

  it('leaves an unknown project in the title as typed, and does not read dates in it', () => {
    const r = parse('Ask about +Marketing budget');
    expect([r.projectId, r.title, r.spans]).toEqual([null, 'Ask about +Marketing budget', []]);
    const q = parse('Join +"Tomorrow Club" +1');
    expect([q.projectId, q.dueDate, q.title]).toEqual([null, null, 'Join +"Tomorrow Club" +1']);
  });

  it('keeps the last project', () => {
    const r = parse('+Work x +Finance');
    expect([r.projectId, r.title]).toEqual(['p-fin', 'x']);
  });
});

describe('quick add: dates', () => {
  it('reads a date alone as due by 23:59 on the wall clock, without a time', () => {
    const r = parse('Call the bank today');
    expect([r.title, r.dueDate?.toISOString(), r.dueHasTime]).toEqual([
      'Call the bank',
      '2026-11-27T22:59:00.000Z',
      false,
    ]);
    expect(due('tomorrow')).toBe('2026-11-28T22:59:00.000Z');
    expect(due('in 3 days')).toBe('2026-11-30T22:59:00.000Z');
    expect(due('dec 5')).toBe('2026-12-05T22:59:00.000Z');
    expect(due('2026-12-05')).toBe('2026-12-05T22:59:00.000Z');
    expect(due('May 5')).toBe('2027-05-05T21:59:00.000Z'); // summer time, next year
  });

  it('reads dates with times on the wall clock', () => {
    const r = parse('Dentist on 5 dec at 14:30');
    expect([r.title, r.dueDate?.toISOString(), r.dueHasTime]).toEqual([
      'Dentist',
      '2026-12-05T13:30:00.000Z',
      true,
    ]);
    expect(due('tomorrow 9am')).toBe('2026-11-28T08:00:00.000Z');
    expect(due('8pm tomorrow')).toBe('2026-11-28T19:00:00.000Z');
    expect(parse('Lunch at noon').title).toBe('Lunch');
  });

  it('reads weekdays forward: next monday, friday (today), friday 9am (next week: 9:00 is past)', () => {
    expect(due('next monday')).toBe('2026-11-30T22:59:00.000Z');
    expect(due('Submit report friday')).toBe('2026-11-27T22:59:00.000Z');
    expect(due('friday 9am')).toBe('2026-12-04T08:00:00.000Z');
    expect(due('friday 5pm')).toBe('2026-11-27T16:00:00.000Z');
    expect(due('wednesday')).toBe('2026-12-02T22:59:00.000Z');
  });

  it('reads a time alone as today while it is ahead, else tomorrow', () => {
    expect(parse('Standup at 17:00')).toMatchObject({
      title: 'Standup',
      dueDate: new Date('2026-11-27T16:00:00Z'),
      dueHasTime: true,
    });
    expect(due('at 10:00')).toBe('2026-11-28T09:00:00.000Z');
  });

  it('reads durations from now, a typed zone, and ISO instants', () => {
    expect(due('in 3 hours')).toBe('2026-11-27T13:00:00.000Z');
    expect(due('Call at 5pm EST')).toBe('2026-11-27T22:00:00.000Z');
    expect(due('Call at 4am EST')).toBe('2026-11-28T09:00:00.000Z'); // 4am there has passed
    expect(due('Deploy 2026-12-05T10:00Z')).toBe('2026-12-05T10:00:00.000Z');
  });

  it('takes only the first date phrase; the next one stays in the title', () => {
    const r = parse('Move today and tomorrow');
    expect([r.title, r.dueDate?.toISOString()]).toEqual(['Move and tomorrow', '2026-11-27T22:59:00.000Z']);
  });

  it('reads a date and time around markers, with one span per piece', () => {
    const r = parse('tomorrow !high 9am Pay rent');
    expect([r.title, r.dueDate?.toISOString(), r.priority]).toEqual([
      'Pay rent',
      '2026-11-28T08:00:00.000Z',
      'high',
    ]);
    expect(spanList(r)).toEqual([
      ['date', 'tomorrow', 0, 8],
      ['priority', '!high', 9, 14],
      ['date', '9am', 15, 18],
    ]);
  });

  it('does not read ambiguous words, fractions or durations as dates', () => {
    for (const text of [
      'Review March report',
      'Buy sun cream',
      'Buy now',
      'Add 1/2 cup of sugar',
      'Study for 2 hours',
      'Take 5 min break',
      'Morning run',
      'Read 1984',
    ]) {
      const r = parse(text);
      expect([r.title, r.dueDate]).toEqual([text, null]);
    }
  });

  it('keeps the sentence punctuation after a date', () => {
    expect(parse('Meet Ann tomorrow, then call Bob').title).toBe('Meet Ann, then call Bob');
  });
});

describe('quick add: time zones', () => {
  it('keeps 9:00 on the wall clock across the spring change (Paris, the night before)', () => {
    // Saturday 28 March 2026, 23:00 CET; clocks go to CEST at 02:00 on the 29th.
    const r = parse('tomorrow 9am', { at: '2026-03-28T22:00:00Z' });
    expect(r.dueDate?.toISOString()).toBe('2026-03-29T07:00:00.000Z');
    // 02:30 does not exist that night: moved forward by the gap.
    expect(due('tomorrow 2:30am', { at: '2026-03-28T22:00:00Z' })).toBe('2026-03-29T01:30:00.000Z');
    // A duration is a duration: 3 hours from 01:30 CET is 05:30 CEST.
    expect(due('in 3 hours', { at: '2026-03-29T00:30:00Z' })).toBe('2026-03-29T03:30:00.000Z');
  });

  it('keeps 9:00 on the wall clock in New York, spring and autumn', () => {
    const ny = { timezone: 'America/New_York' };
    expect(due('tomorrow 9am', { ...ny, at: '2026-03-08T04:00:00Z' })).toBe('2026-03-08T13:00:00.000Z');
    expect(due('tomorrow 9am', { ...ny, at: '2026-10-31T23:00:00Z' })).toBe('2026-11-01T14:00:00.000Z');
  });

  it('works in a half-hour zone (Asia/Kolkata)', () => {
    const ist = { timezone: 'Asia/Kolkata', at: '2026-11-27T20:00:00Z' }; // 01:30 on the 28th there
    expect(due('today', ist)).toBe('2026-11-28T18:29:00.000Z');
    expect(due('tomorrow 9am', ist)).toBe('2026-11-29T03:30:00.000Z');
    expect(due('at 17:00', ist)).toBe('2026-11-28T11:30:00.000Z');
  });

  it('late evening: today and tomorrow are the user’s, not UTC’s', () => {
    // 22:30 on Friday 27 in New York is already Saturday 28 in UTC.
    const late = { timezone: 'America/New_York', at: '2026-11-28T03:30:00Z' };
    expect(due('today', late)).toBe('2026-11-28T04:59:00.000Z');
    expect(due('tomorrow', late)).toBe('2026-11-29T04:59:00.000Z');
    expect(due('at 23:00', late)).toBe('2026-11-28T04:00:00.000Z');
    expect(due('at 22:00', late)).toBe('2026-11-29T03:00:00.000Z');
  });

  it('reads an unknown zone as UTC', () => {
    expect(due('today', { timezone: 'Mars/Olympus' })).toBe('2026-11-27T23:59:00.000Z');
  });

  describe('whatever the zone of the runtime', () => {
    const saved = process.env.TZ;
    afterEach(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });
    it('gives the same results', () => {
      const texts = ['tomorrow 9am', 'at 17:00', 'friday', 'in 3 hours', 'every monday at 9am', 'dec 5'];
      const before = texts.map((t) => due(t, { at: '2026-03-28T22:00:00Z' }));
      for (const zone of ['America/Los_Angeles', 'Australia/Lord_Howe', 'Asia/Kathmandu']) {
        process.env.TZ = zone;
        expect(texts.map((t) => due(t, { at: '2026-03-28T22:00:00Z' }))).toEqual(before);
      }
    });
  });
});

describe('quick add: recurrence', () => {
  const rec = (text: string) => parse(text).recurrence;

  it('reads the phrases into RRULE values that rrule accepts', () => {
    const cases: [string, string][] = [
      ['every day', 'FREQ=DAILY'],
      ['daily', 'FREQ=DAILY'],
      ['every weekday', 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR'],
      ['every weekend', 'FREQ=WEEKLY;BYDAY=SA,SU'],
      ['every monday', 'FREQ=WEEKLY;BYDAY=MO'],
      ['every mon and wed', 'FREQ=WEEKLY;BYDAY=MO,WE'],
      ['every wednesday, monday', 'FREQ=WEEKLY;BYDAY=MO,WE'],
      ['every 2 weeks', 'FREQ=WEEKLY;INTERVAL=2'],
      ['every other day', 'FREQ=DAILY;INTERVAL=2'],
      ['every month', 'FREQ=MONTHLY'],
      ['every 15th', 'FREQ=MONTHLY;BYMONTHDAY=15'],
      ['every 1st of the month', 'FREQ=MONTHLY;BYMONTHDAY=1'],
      ['every last day', 'FREQ=MONTHLY;BYMONTHDAY=-1'],
      ['every last friday', 'FREQ=MONTHLY;BYDAY=-1FR'],
      ['every second tuesday', 'FREQ=MONTHLY;BYDAY=2TU'],
      ['every year', 'FREQ=YEARLY'],
      ['yearly', 'FREQ=YEARLY'],
      ['every dec 25', 'FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25'],
      ['every 3 days', 'FREQ=DAILY;INTERVAL=3'],
    ];
    for (const [text, rule] of cases) {
      expect([text, rec(`Water plants ${text}`)]).toEqual([text, { rule, basis: 'due' }]);
      expect(() => RRule.fromString(`RRULE:${rule}`)).not.toThrow();
      expect(parse(`Water plants ${text}`).title).toBe('Water plants');
    }
  });

  it('reads "every!" and "after completion" as counted from completion', () => {
    expect(rec('Water plants every! 3 days')).toEqual({ rule: 'FREQ=DAILY;INTERVAL=3', basis: 'completion' });
    const r = parse('Water plants every 3 days after completion');
    expect([r.title, r.recurrence]).toEqual([
      'Water plants',
      { rule: 'FREQ=DAILY;INTERVAL=3', basis: 'completion' },
    ]);
  });

  it('anchors the first due date at the first occurrence from now', () => {
    expect(due('every monday')).toBe('2026-11-30T22:59:00.000Z');
    expect(due('every day')).toBe('2026-11-27T22:59:00.000Z');
    expect(due('every 15th')).toBe('2026-12-15T22:59:00.000Z');
    expect(due('every last friday')).toBe('2026-11-27T22:59:00.000Z'); // today is the last Friday
    expect(due('every weekend')).toBe('2026-11-28T22:59:00.000Z');
    expect(parse('every monday').dueHasTime).toBe(false);
  });

  it('applies a time, and skips today when that time has passed', () => {
    const r = parse('Standup every monday at 9am');
    expect([r.title, r.dueDate?.toISOString(), r.dueHasTime]).toEqual([
      'Standup',
      '2026-11-30T08:00:00.000Z',
      true,
    ]);
    expect(due('every day at 9am')).toBe('2026-11-28T08:00:00.000Z');
    expect(due('every day at 18:00')).toBe('2026-11-27T17:00:00.000Z');
  });

  it('starts on a date typed with it, at its first occurrence from there', () => {
    const r = parse('Rent every month starting dec 5');
    expect([r.title, r.dueDate?.toISOString()]).toEqual(['Rent', '2026-12-05T22:59:00.000Z']);
    expect(due('every monday starting dec 5')).toBe('2026-12-07T22:59:00.000Z');
  });

  it('leaves a non-recurrence "every" in the title, and later phrases too', () => {
    expect(parse('Read every book')).toMatchObject({ title: 'Read every book', recurrence: null });
    const r = parse('Gym every monday every friday');
    expect([r.title, r.recurrence?.rule, r.dueDate?.toISOString()]).toEqual([
      'Gym every friday',
      'FREQ=WEEKLY;BYDAY=MO',
      '2026-11-30T22:59:00.000Z',
    ]);
  });
});

describe('quick add: escaping and literal text', () => {
  it('keeps a leading "quoted part" as typed, without the quotes', () => {
    const r = parse('"Buy milk tomorrow #not !high" tomorrow');
    expect([r.title, r.tags, r.priority, r.dueDate?.toISOString()]).toEqual([
      'Buy milk tomorrow #not !high',
      [],
      null,
      '2026-11-28T22:59:00.000Z',
    ]);
    expect(spanList(r)).toEqual([['date', 'tomorrow', 31, 39]]);
  });

  it('keeps a \\-escaped word literally, without the backslash', () => {
    const r = parse('Use \\#not-a-tag and \\!high \\p1 \\tomorrow \\+Finance \\every day');
    expect(r).toMatchObject({
      title: 'Use #not-a-tag and !high p1 tomorrow +Finance every day',
      tags: [],
      priority: null,
      projectId: null,
      dueDate: null,
      recurrence: null,
      spans: [],
    });
  });

  it('does not read markers or dates in emails and URLs', () => {
    const text = 'Mail bob+Finance@example.com about https://example.com/#home?d=2026-12-05 !high';
    const r = parse(text);
    expect(r).toMatchObject({
      title: 'Mail bob+Finance@example.com about https://example.com/#home?d=2026-12-05',
      tags: [],
      priority: 'high',
      projectId: null,
      dueDate: null,
    });
  });
});

describe('quick add: edge cases', () => {
  it('falls back to the input when only markers were typed', () => {
    const r = parse('  #home   !high +Finance tomorrow ');
    expect(r).toMatchObject({
      title: '#home !high +Finance tomorrow',
      tags: ['home'],
      priority: 'high',
      projectId: 'p-fin',
      dueDate: new Date('2026-11-28T22:59:00Z'),
    });
  });

  it('returns an empty result for blank input', () => {
    expect(parse('   ')).toEqual({
      title: '',
      dueDate: null,
      dueHasTime: false,
      priority: null,
      tags: [],
      projectId: null,
      projectName: null,
      recurrence: null,
      spans: [],
    });
  });

  it('gives span indexes into the input (UTF-16), in order', () => {
    const text = '🎉 Party 🎂 #fête   p2 \t+Home on 5 dec at 14:30 every year';
    const r = parse(text);
    expect(spanList(r)).toEqual([
      ['tag', '#fête', 12, 17],
      ['priority', 'p2', 20, 22],
      ['project', '+Home', 24, 29],
      ['date', 'on 5 dec at 14:30', 30, 47],
      ['recurrence', 'every year', 48, 58],
    ]);
    expect(r.title).toBe('🎉 Party 🎂');
    expect(r.dueDate?.toISOString()).toBe('2026-12-05T13:30:00.000Z');
  });

  it('parses a 10,000-character input quickly', () => {
    const text = 'word tomorrow #tag p1 +Fin every day 10:00 a@b.c '.repeat(250).slice(0, 10_000);
    const started = performance.now();
    const r = parse(text);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(r.tags).toEqual(['tag']);
    expect(r.dueDate?.toISOString()).toBe('2026-11-28T09:00:00.000Z');
    const plain = 'x'.repeat(10_000);
    expect(parse(plain).title).toBe(plain);
  });

  it('never throws, keeps a title and slices spans correctly (property)', () => {
    const fragment = fc.constantFrom(
      ' ',
      '  ',
      '\t',
      '"',
      '“',
      '”',
      '\\',
      '#',
      '!',
      '+',
      ',',
      '.',
      '#home',
      '!high',
      'p1',
      '!4',
      '+Finance',
      '+"Home Renovation"',
      '+"',
      'every',
      'every!',
      'day',
      'monday',
      'and',
      'last',
      '15th',
      'after completion',
      'tomorrow',
      '9am',
      'at',
      '17:00',
      'in 3 hours',
      'dec 5',
      '2026-12-05',
      'C#',
      'a@b.com',
      'https://x.y/#z',
      '🎉',
      'é',
      '\u0301',
    );
    const input = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.array(fc.oneof(fragment, fc.string({ maxLength: 4 })), { maxLength: 25 }).map((a) => a.join('')),
    );
    const zone = fc.constantFrom('Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'UTC');
    const instant = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) });
    fc.assert(
      fc.property(input, zone, instant, (text, timezone, at) => {
        const r = parseQuickAdd(text, { now: new Date(at), timezone, projects: PROJECTS });
        if (/\S/.test(text)) expect(r.title.length).toBeGreaterThan(0);
        for (const s of r.spans) expect(text.slice(s.start, s.end)).toBe(s.text);
        for (let i = 1; i < r.spans.length; i++)
          expect(r.spans[i]!.start).toBeGreaterThanOrEqual(r.spans[i - 1]!.end);
        if (r.dueDate) expect(Number.isNaN(r.dueDate.getTime())).toBe(false);
      }),
      { numRuns: 1500 },
    );
  });
});
