import type { MailMessage } from './mailer';
import { escapeHtml } from './reminder.email';

export interface SignupEmailInput {
  to: string;
  name: string;
  appUrl: string;
  /** The confirmation link's token; absent when the address already has an account. */
  token?: string | undefined;
  hours: number;
}

/**
 * The mail a sign-up sends: a confirmation link for a new address, or, for an address that already
 * has an account, a note saying so (the API answers both the same way, so the form says nothing).
 */
export function signupEmail(input: SignupEmailInput): MailMessage {
  const host = new URL(input.appUrl).hostname || 'taskman';
  // The token travels in the fragment: browsers never send it to a server or in a Referer.
  const link = input.token ? `${input.appUrl}/verify-email#token=${input.token}` : `${input.appUrl}/login`;
  const lines = input.token
    ? [
        `Hi ${input.name},`,
        '',
        'Confirm your email address to finish creating your Taskman account:',
        link,
        '',
        `The link works once, for ${input.hours} hours. If you did not sign up, ignore this mail.`,
      ]
    : [
        'Hi,',
        '',
        'Someone (maybe you) tried to create a Taskman account with this email address, which already has one.',
        `Sign in instead: ${link}`,
        '',
        'If it was not you, you can ignore this mail: nothing has changed.',
      ];
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5">${lines
    .filter((l) => l !== '')
    .map((l) =>
      l === link ? `<p><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>` : `<p>${escapeHtml(l)}</p>`,
    )
    .join('\n')}</body></html>`;
  return {
    to: input.to,
    subject: input.token ? 'Confirm your Taskman account' : 'Your Taskman account',
    text: lines.join('\n'),
    html,
    messageId: `<signup.${Date.now()}.${Math.random().toString(36).slice(2)}@${host}>`,
  };
}
