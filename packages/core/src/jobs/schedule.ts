import cronParser from 'cron-parser';

/** Throws on a cron pattern that cannot be parsed (used by the config check as well). */
export function assertCronPattern(pattern: string): void {
  cronParser.parseExpression(pattern, { tz: 'UTC' });
}

/** The first time after `after` that a cron pattern (UTC) fires. */
export function nextRun(pattern: string, after: Date): Date {
  return cronParser.parseExpression(pattern, { currentDate: after, tz: 'UTC' }).next().toDate();
}
