import type { ProductivityReport } from '../services/report.service';
import type { MailMessage } from './mailer';
import { escapeHtml } from './reminder.email';

export interface WeeklyReportEmailInput {
  to: string;
  userId: string;
  userName: string;
  report: ProductivityReport;
  appUrl: string;
}

const dayLabel = (date: string) =>
  new Intl.DateTimeFormat('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    timeZone: 'UTC',
  }).format(new Date(`${date}T00:00:00Z`));

/** "3 h", "2 d 4 h", "45 min": a duration a person reads at a glance. */
export function humanDuration(seconds: number | null): string {
  if (seconds === null) return '—';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

const percent = (rate: number | null) => (rate === null ? '—' : `${Math.round(rate * 100)} %`);

/** The weekly summary: the figures of the productivity report, in HTML and plain text. */
export function weeklyReportEmail(input: WeeklyReportEmailInput): MailMessage {
  const r = input.report;
  const period = `${dayLabel(r.from)} – ${dayLabel(r.to)}`;
  const subject = `Your week in Taskman: ${r.completed} done, ${r.created} added, ${r.overdue} overdue (${period})`;
  const projects = r.byProject.slice(0, 5);
  const tags = r.byTag.slice(0, 5);
  const projectName = (p: (typeof projects)[number]) => p.projectName ?? 'No project';
  const text = [
    `Hi ${input.userName},`,
    '',
    `Your week in Taskman, ${period}:`,
    '',
    `Completed: ${r.completed}`,
    `Added: ${r.created}`,
    `Completion rate: ${percent(r.completionRate)} of the tasks added this week are done`,
    `Overdue now: ${r.overdue}`,
    `Time to complete: ${humanDuration(r.averageSecondsToComplete)} on average, ${humanDuration(r.medianSecondsToComplete)} median`,
    '',
    'Day by day (added / completed):',
    ...r.days.map(
      (d) => `  ${dayLabel(d.date).padEnd(12)} ${String(d.created).padStart(3)} / ${d.completed}`,
    ),
    ...(projects.length
      ? [
          '',
          'Projects (added / completed):',
          ...projects.map((p) => `  ${projectName(p)}: ${p.created} / ${p.completed}`),
        ]
      : []),
    ...(tags.length ? ['', `Busiest tags: ${tags.map((t) => `#${t.tag}`).join(', ')}`] : []),
    '',
    `Open Taskman: ${input.appUrl}/`,
    '',
    `You get this email because you turned on the weekly report. Turn it off in your settings: ${input.appUrl}/settings`,
  ].join('\n');

  const max = Math.max(1, ...r.days.map((d) => Math.max(d.created, d.completed)));
  const bar = (n: number, colour: string) =>
    `<span style="display:inline-block;height:8px;width:${Math.round((n / max) * 120)}px;background:${colour};border-radius:2px"></span>`;
  const figure = (label: string, value: string) =>
    `<td style="padding:8px 16px 8px 0"><div style="font-size:24px;font-weight:700">${escapeHtml(value)}</div><div style="color:#555">${escapeHtml(label)}</div></td>`;
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111">
<p>Hi ${escapeHtml(input.userName)},</p>
<p>Your week in Taskman, <strong>${escapeHtml(period)}</strong>:</p>
<table role="presentation"><tr>${figure('completed', String(r.completed))}${figure('added', String(r.created))}${figure('completion rate', percent(r.completionRate))}${figure('overdue now', String(r.overdue))}</tr></table>
<p>Time to complete: ${escapeHtml(humanDuration(r.averageSecondsToComplete))} on average, ${escapeHtml(humanDuration(r.medianSecondsToComplete))} median.</p>
<table role="presentation" style="border-collapse:collapse">
<tr><th style="text-align:left;padding-right:12px">Day</th><th style="text-align:left">Added <span style="color:#4f46e5">■</span> / completed <span style="color:#16a34a">■</span></th></tr>
${r.days.map((d) => `<tr><td style="padding-right:12px">${escapeHtml(dayLabel(d.date))}</td><td>${bar(d.created, '#4f46e5')} ${d.created}<br>${bar(d.completed, '#16a34a')} ${d.completed}</td></tr>`).join('\n')}
</table>
${projects.length ? `<h3 style="margin-bottom:4px">Projects</h3><ul>${projects.map((p) => `<li>${escapeHtml(projectName(p))}: ${p.created} added, ${p.completed} completed</li>`).join('')}</ul>` : ''}
${tags.length ? `<p>Busiest tags: ${tags.map((t) => `#${escapeHtml(t.tag)}`).join(', ')}</p>` : ''}
<p><a href="${escapeHtml(`${input.appUrl}/`)}">Open Taskman</a></p>
<p style="color:#888;font-size:12px">You get this email because you turned on the weekly report. <a href="${escapeHtml(`${input.appUrl}/settings`)}">Turn it off in your settings</a>.</p>
</body></html>`;
  const host = new URL(input.appUrl).hostname || 'taskman';
  return {
    to: input.to,
    subject,
    text,
    html,
    messageId: `<weekly-report.${input.userId}.${r.to}@${host}>`,
  };
}
