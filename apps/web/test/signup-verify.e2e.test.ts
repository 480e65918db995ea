// Sign-up with email confirmation, end to end: the real API (embedded PGlite) with a real SMTP
// server and SIGNUP_VERIFY_EMAIL, driven in Chromium. The form says "check your inbox" whether or
// not the address has an account; the mailed link signs the new account in; a used link is refused.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpServer, type TestSmtpServer } from '../../api/test/helpers/smtp';
import {
  DIST_INDEX,
  launchBrowser,
  newUser,
  openTab,
  type Server,
  SHOTS,
  startServer,
  type Tab,
} from './helpers';

describe.skipIf(process.env.TEST_DB !== 'pglite')(
  'sign-up with email confirmation',
  { timeout: 120_000 },
  () => {
    let server: Server;
    let smtp: TestSmtpServer;
    let browser: Browser;
    const tabs: Tab[] = [];
    const tab = async () => {
      const t = await openTab(browser);
      tabs.push(t);
      return t;
    };

    beforeAll(async () => {
      if (!existsSync(DIST_INDEX))
        throw new Error(`${DIST_INDEX} is missing: run \`npm run build:web\` first.`);
      smtp = await startSmtpServer();
      [server, browser] = await Promise.all([
        startServer({ SMTP_URL: smtp.url, SIGNUP_VERIFY_EMAIL: 'true' }),
        launchBrowser(),
      ]);
    });
    afterAll(async () => {
      await Promise.all(tabs.map((t) => t.close().catch(() => {})));
      await browser?.close();
      await server?.stop();
      await smtp?.close();
    });

    async function submitSignup(t: Tab, user: ReturnType<typeof newUser>) {
      await t.page.goto(`${server.url}/signup`);
      await t.page.getByLabel('Name').fill(user.name);
      await t.page.getByLabel('Email').fill(user.email);
      await t.page.getByLabel('Password').fill(user.password);
      await t.page.getByRole('button', { name: 'Create account' }).click();
      await t.page.getByRole('heading', { level: 1, name: 'Check your inbox' }).waitFor();
    }

    async function mailTo(email: string) {
      for (let i = 0; i < 300; i++) {
        const mail = smtp.received.find((m) => m.to.includes(email));
        if (mail) return mail;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no mail to ${email}`);
    }

    it('sends a link; following it creates the account and opens Today; the link works once', async () => {
      const t = await tab();
      const user = newUser('Verify');
      await submitSignup(t, user);
      expect(await t.page.getByRole('status').textContent()).toContain(user.email);
      await t.page.screenshot({ path: path.join(SHOTS, 'signup-check-inbox.png') });

      const mail = await mailTo(user.email);
      const link = /(http\S+\/verify-email#token=[A-Za-z0-9_-]+)/.exec(mail.parsed.text ?? '')?.[1];
      expect(link).toBeDefined();
      await t.page.goto(link!.replace(/^https?:\/\/[^/]+/, server.url));
      await t.page.waitForURL(/\/today$/);
      await t.page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
      expect(t.errors()).toEqual([]);

      const again = await tab();
      await again.page.goto(link!.replace(/^https?:\/\/[^/]+/, server.url));
      await again.page.getByRole('heading', { level: 1, name: 'This link does not work' }).waitFor();
      // The token does not stay in the address bar.
      expect(again.page.url()).not.toContain('token');
      await again.page.screenshot({ path: path.join(SHOTS, 'signup-link-used.png') });
    });

    it('answers a registered address with the same page, and mails its owner instead', async () => {
      const first = await tab();
      const user = newUser('Taken');
      await submitSignup(first, user);
      const link = /(http\S+\/verify-email#token=[A-Za-z0-9_-]+)/.exec(
        (await mailTo(user.email)).parsed.text ?? '',
      )?.[1];
      await first.page.goto(link!.replace(/^https?:\/\/[^/]+/, server.url));
      await first.page.waitForURL(/\/today$/);

      const before = smtp.received.length;
      const second = await tab();
      await submitSignup(second, { ...user, name: 'Someone Else', password: 'another long passphrase' });
      expect(await second.page.getByRole('status').textContent()).toContain(user.email);
      for (let i = 0; i < 300 && smtp.received.length === before; i++)
        await new Promise((r) => setTimeout(r, 50));
      const note = smtp.received.slice(before).find((m) => m.to.includes(user.email));
      expect(note?.parsed.subject).toBe('Your Taskman account');
    });
  },
);
