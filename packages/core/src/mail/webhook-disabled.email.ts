import type { MailMessage } from './mailer';
import { escapeHtml } from './reminder.email';

export interface WebhookDisabledEmailInput {
  to: string;
  userName: string;
  webhook: { id: string; url: string; description: string | null };
  reason: string;
  appUrl: string;
}

/** Tells a webhook's owner that Taskman stopped sending to it, why, and how to turn it back on. */
export function webhookDisabledEmail(input: WebhookDisabledEmailInput): MailMessage {
  const { webhook } = input;
  const label = webhook.description ? `${webhook.description} (${webhook.url})` : webhook.url;
  const link = `${input.appUrl}/settings#webhooks`;
  const text = [
    `Hi ${input.userName},`,
    '',
    `Taskman has stopped sending events to your webhook ${label}.`,
    `Why: ${input.reason}`,
    '',
    'Events that happen while it is off are not sent. When the endpoint works again, turn the webhook back on;',
    `deliveries that failed can be sent again from its delivery log: ${link}`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5">
<p>Hi ${escapeHtml(input.userName)},</p>
<p>Taskman has stopped sending events to your webhook <strong>${escapeHtml(label)}</strong>.</p>
<p>Why: ${escapeHtml(input.reason)}</p>
<p>Events that happen while it is off are not sent. When the endpoint works again, turn the webhook back on; deliveries that failed can be sent again from <a href="${escapeHtml(link)}">its delivery log</a>.</p>
</body></html>`;
  const host = new URL(input.appUrl).hostname || 'taskman';
  return {
    to: input.to,
    subject: `Taskman stopped sending to your webhook ${new URL(webhook.url).host}`,
    text,
    html,
    messageId: `<webhook-disabled.${webhook.id}.${Date.now()}@${host}>`,
  };
}
