import { describe, expect, it } from 'vitest';
import { fromWallTime, wallTime } from '../src/lib/timezone';

const w = (year: number, month: number, day: number, hour = 0, minute = 0) => ({
  year,
  month,
  day,
  hour,
  minute,
  second: 0,
});
describe('wall-clock time in a time zone', () => {
  it('converts both ways, across DST gaps and overlaps, half-hour zones and overflowing days', () => {
    expect(fromWallTime(w(2026, 7, 1, 9), 'Europe/Paris').toISOString()).toBe('2026-07-01T07:00:00.000Z');
    expect(fromWallTime(w(2026, 1, 1, 9), 'Europe/Paris').toISOString()).toBe('2026-01-01T08:00:00.000Z');
    expect(fromWallTime(w(2026, 3, 29, 2, 30), 'Europe/Paris').toISOString()).toBe(
      '2026-03-29T01:30:00.000Z',
    );
    expect(fromWallTime(w(2026, 10, 25, 2, 30), 'Europe/Paris').toISOString()).toBe(
      '2026-10-25T00:30:00.000Z',
    );
    expect(fromWallTime(w(2026, 3, 8, 2, 30), 'America/New_York').toISOString()).toBe(
      '2026-03-08T07:30:00.000Z',
    );
    expect(fromWallTime(w(2026, 1, 32, 0), 'Asia/Kolkata').toISOString()).toBe('2026-01-31T18:30:00.000Z');
    expect(wallTime(new Date('2026-03-29T01:30:00Z'), 'Europe/Paris')).toEqual(w(2026, 3, 29, 3, 30));
    expect(fromWallTime(w(2026, 5, 5, 12), 'UTC').toISOString()).toBe('2026-05-05T12:00:00.000Z');
  });
});
