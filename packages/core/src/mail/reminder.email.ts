import type { MailMessage } from './mailer';

export interface ReminderEmailInput {
  to: string;
  userName: string;
  timezone: string;
  task: { id: string; title: string; description: string | null; dueDate: Date | null; priority: string };
  remindAt: Date;
  appUrl: string;
}

export const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

// A title is one line in a subject: control characters (newlines included) become spaces.
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();

/** "Friday, 27 November 2026 at 14:30 CET" in the user's time zone. */
export function formatInZone(at: Date, timeZone: string): string {
  const date = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  }).format(at);
  const time = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).formatToParts(at);
  const part = (type: string) => time.find((p) => p.type === type)?.value ?? '';
  return `${date} at ${part('hour')}:${part('minute')} ${part('timeZoneName')}`;
}

/** The reminder email: title, due time in the owner's time zone, and a link to the task. */
export function reminderEmail(input: ReminderEmailInput): MailMessage {
  const { task } = input;
  const title = oneLine(task.title);
  const link = `${input.appUrl}/tasks/${task.id}`;
  const due = task.dueDate ? formatInZone(task.dueDate, input.timezone) : undefined;
  const subject = due ? `Reminder: ${title} (due ${due})` : `Reminder: ${title}`;
  const snippet = task.description ? task.description.slice(0, 500) : undefined;
  const text = [
    `Hi ${input.userName},`,
    '',
    `This is your reminder for: ${title}`,
    due ? `Due: ${due}` : 'No due date.',
    `Priority: ${task.priority}`,
    ...(snippet ? ['', snippet] : []),
    '',
    `Open the task: ${link}`,
    '',
    `You get this email because the task has a reminder. Change your default reminder time in your settings: ${input.appUrl}/settings`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5">
<p>Hi ${escapeHtml(input.userName)},</p>
<p>This is your reminder for:</p>
<h2 style="margin:0">${escapeHtml(title)}</h2>
<p>${due ? `Due: <strong>${escapeHtml(due)}</strong>` : 'No due date.'}<br>Priority: ${escapeHtml(task.priority)}</p>
${snippet ? `<p style="white-space:pre-wrap;color:#444">${escapeHtml(snippet)}</p>` : ''}
<p><a href="${escapeHtml(link)}">Open the task</a></p>
<p style="color:#888;font-size:12px">You get this email because the task has a reminder. <a href="${escapeHtml(`${input.appUrl}/settings`)}">Change your default reminder time</a>.</p>
</body></html>`;
  const host = new URL(input.appUrl).hostname || 'taskman';
  return {
    to: input.to,
    subject,
    text,
    html,
    messageId: `<reminder.${task.id}.${input.remindAt.getTime()}@${host}>`,
  };
}
