import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** A stable Message-ID: a retried send carries the same one, so mail clients can drop a duplicate. */
  messageId: string;
}

/** The Mailer port (DESIGN.md): SMTP in production, .eml files (or memory) without SMTP_URL. */
export interface Mailer {
  readonly kind: 'smtp' | 'file' | 'memory';
  /** Where mail goes, for the start-up log (never includes a password). */
  readonly location: string;
  send(message: MailMessage): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  smtpUrl: string | undefined;
  from: string;
  /** Without SMTP, mail is written under `<dataDir>/mail`; a memory:// data dir keeps it in memory. */
  dataDir: string;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

export function createMailer(opts: MailerOptions): Mailer {
  if (opts.smtpUrl) return smtpMailer(opts.smtpUrl, opts.from);
  if (opts.dataDir.startsWith('memory://')) return memoryMailer(opts.from);
  return fileMailer(path.join(opts.dataDir, 'mail'), opts.from);
}

function smtpMailer(url: string, from: string): Mailer {
  const transport = nodemailer.createTransport(url, {
    from,
    // Bounded so that a stuck server fails the attempt (and it is retried) within the job lock
    // (30 s by default), which is also how long a reminder's delivery claim lasts.
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 15_000,
  } as nodemailer.TransportOptions);
  return {
    kind: 'smtp',
    location: redact(url),
    async send(m) {
      await transport.sendMail({ from, ...m });
    },
    close: () => transport.close(),
  };
}

const render = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });

async function toEml(from: string, m: MailMessage): Promise<Buffer> {
  const info = await render.sendMail({ from, ...m });
  return info.message as Buffer;
}

/** Embedded mode without SMTP_URL: each message becomes an .eml file any mail client opens. */
function fileMailer(dir: string, from: string): Mailer {
  return {
    kind: 'file',
    location: dir,
    async send(m) {
      mkdirSync(dir, { recursive: true });
      const eml = await toEml(from, m);
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${m.messageId.replace(/[^\w.-]+/g, '_')}.eml`;
      // Written whole, then renamed: a reader never sees half a message.
      const tmp = path.join(dir, `.${name}.tmp`);
      writeFileSync(tmp, eml, { mode: 0o600 });
      renameSync(tmp, path.join(dir, name));
    },
    close() {},
  };
}

/** A throw-away data dir (memory://): the last messages are kept in memory, for tests and demos. */
export interface MemoryMailer extends Mailer {
  readonly sent: { message: MailMessage; eml: string }[];
}

function memoryMailer(from: string): MemoryMailer {
  const sent: { message: MailMessage; eml: string }[] = [];
  return {
    kind: 'memory',
    location: 'memory',
    sent,
    async send(m) {
      sent.push({ message: m, eml: (await toEml(from, m)).toString() });
      if (sent.length > 100) sent.shift();
    },
    close() {},
  };
}
