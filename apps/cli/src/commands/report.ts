// The productivity report: a week (default), a month, or any days.
import { type Schemas, unwrapBody } from '@taskman/sdk';
import { dayKey } from '@taskman/sdk/dates';
import type { Command } from 'commander';
import { Context } from '../context';
import { CliError, EXIT } from '../errors';
import { type Output, paint, printFields, printJson, println, printTable } from '../output';
import { examples } from './util';

const DAY = 86_400_000;
const shiftDay = (day: string, days: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);

function duration(seconds: number | null): string | undefined {
  if (seconds === null) return undefined;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

/** ▁▂▃▅▇ of a series, for the completed-per-day line. */
function sparkline(values: number[]): string {
  const bars = '▁▂▃▄▅▆▇█';
  const max = Math.max(...values, 1);
  return values.map((v) => (v === 0 ? '·' : bars[Math.min(7, Math.floor((v / max) * 7.999))])).join('');
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .summary('your productivity: created, completed, overdue, by priority, project and tag')
    .option('--week', 'the last 7 days, today included (the default)')
    .option('--month', 'the last 30 days')
    .option('--from <day>', 'first day (YYYY-MM-DD)')
    .option('--to <day>', 'last day, included (YYYY-MM-DD; default today)')
    .option('-P, --project <name>', 'one project only')
    .option('--csv', 'the report as CSV (one row per day)')
    .addHelpText(
      'after',
      examples([
        'taskman report --week',
        'taskman report --from 2026-01-01 --to 2026-03-31',
        'taskman report --month --csv > month.csv',
      ]),
    )
    .action(
      async (
        o: { week?: boolean; month?: boolean; from?: string; to?: string; project?: string; csv?: boolean },
        cmd: Command,
      ) => {
        const ctx = Context.of(cmd);
        if ([o.week, o.month, o.from !== undefined].filter(Boolean).length > 1)
          throw new CliError('choose one of --week, --month or --from', EXIT.usage);
        for (const [flag, v] of [
          ['--from', o.from],
          ['--to', o.to],
        ] as const)
          if (v !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(v))))
            throw new CliError(`${flag} takes a day as YYYY-MM-DD, not "${v}"`, EXIT.usage);
        const tz = await ctx.timeZone();
        const to = o.to ?? dayKey(new Date(), tz);
        const from = o.from ?? shiftDay(to, o.month ? -29 : -6);
        const project = o.project ? await ctx.project(o.project) : undefined;
        const query = { from, to, ...(project ? { project_id: project.id } : {}) };
        if (o.csv) {
          const csv = await ctx.call(
            'Building the report…',
            unwrapBody(
              ctx.api.GET('/api/v1/reports/productivity', {
                params: { query: { ...query, format: 'csv' } },
                parseAs: 'text',
              }),
            ),
          );
          process.stdout.write(String(csv));
          return;
        }
        // The route also answers CSV, so its body type is a union: this is the JSON one.
        const { data: report } = (await ctx.call(
          'Building the report…',
          unwrapBody(ctx.api.GET('/api/v1/reports/productivity', { params: { query } })),
        )) as { data: Report };
        if (ctx.out.json) return printJson(report);
        printReport(ctx.out, report, project?.name);
      },
    );
}

type Report = Schemas['ProductivityReport'];

function printReport(out: Output, r: Report, projectName?: string): void {
  println(
    paint(out, 'bold', `${r.from} to ${r.to}${projectName ? ` · ${projectName}` : ''}`) +
      paint(out, 'dim', `  (${r.timezone})`),
  );
  printFields(out, [
    ['Created', String(r.created)],
    ['Completed', String(r.completed), 'green'],
    ['Completion rate', r.completion_rate === null ? undefined : `${Math.round(r.completion_rate * 100)}%`],
    ['Overdue now', String(r.overdue), r.overdue > 0 ? 'red' : undefined],
    [
      'Time to complete',
      r.median_seconds_to_complete === null
        ? undefined
        : `${duration(r.median_seconds_to_complete)} median, ${duration(r.average_seconds_to_complete)} average`,
    ],
    [
      'Completed per day',
      r.days.length <= 62 ? sparkline(r.days.map((d) => d.completed)) : undefined,
      'cyan',
    ],
  ]);
  const section = (title: string, rows: { label: string; created: number; completed: number }[]) => {
    if (rows.length === 0) return;
    println();
    printTable(out, rows, [
      { header: title, value: (x) => x.label, flexible: true },
      { header: 'created', value: (x) => String(x.created), align: 'right' },
      { header: 'completed', value: (x) => String(x.completed), align: 'right' },
    ]);
  };
  section(
    'priority',
    r.by_priority.map((x) => ({ label: x.priority, created: x.created, completed: x.completed })),
  );
  section(
    'project',
    r.by_project.map((x) => ({
      label: x.project_name ?? '(no project)',
      created: x.created,
      completed: x.completed,
    })),
  );
  section(
    'tag',
    r.by_tag.map((x) => ({ label: `#${x.tag}`, created: x.created, completed: x.completed })),
  );
}
