// Settings › Calendar sync (CalDAV), end to end: the real API process (embedded, with an
// ENCRYPTION_KEY and CALDAV_ALLOW_PRIVATE so it may reach this machine) serving the built app,
// driven in Chromium, syncing with a real CalDAV server (Debian's Radicale on 127.0.0.1).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RADICALE_BIN, RADICALE_USER, type Radicale, startRadicale } from '../../api/test/helpers/radicale';
// The test setup's provided values (the Radicale helper's imports type-check against them).
import type {} from '../../api/test/setup/pglite';
import {
  apiCall,
  axeViolations,
  DIST_INDEX,
  HTTP_401,
  launchBrowser,
  newUser,
  openTab,
  type Server,
  signUp,
  startServer,
  type Tab,
  tokenOf,
} from './helpers';

const shots = process.env.CALDAV_SHOTS ?? '/tmp/shots';
/** What the browser logs by itself for the refusals the test asks for. */
const REFUSED = /Failed to load resource: the server responded with a status of (400|503)/;

describe.skipIf(process.env.TEST_DB !== 'pglite' || !existsSync(RADICALE_BIN))(
  'Settings: calendar sync (CalDAV) with Radicale',
  { timeout: 120_000 },
  () => {
    let server: Server;
    let browser: Browser;
    let radicale: Radicale;
    let calendarUrl: string;
    const tabs: Tab[] = [];
    const tab = async (options?: Parameters<typeof openTab>[1]) => {
      const t = await openTab(browser, options);
      tabs.push(t);
      return t;
    };

    beforeAll(async () => {
      if (!existsSync(DIST_INDEX))
        throw new Error(`${DIST_INDEX} is missing: run \`npm run build:web\` first.`);
      [server, browser, radicale] = await Promise.all([
        startServer({
          CALDAV_ALLOW_PRIVATE: 'true',
          ENCRYPTION_KEY: randomBytes(32).toString('hex'),
          JOB_POLL_MS: '100',
          JOB_BACKOFF_MS: '100',
          JOB_ATTEMPTS: '2',
        }),
        launchBrowser(),
        startRadicale(),
      ]);
      calendarUrl = await radicale.makeTaskCalendar('tasks');
      await mkdir(shots, { recursive: true });
    });
    afterAll(async () => {
      await Promise.all(tabs.map((t) => t.close().catch(() => {})));
      await browser?.close();
      await server?.stop();
      await radicale?.close();
    });

    const section = (page: Page) => page.getByRole('region', { name: 'Calendar sync (CalDAV)' });
    const item = (page: Page, name: string) =>
      section(page)
        .getByRole('list', { name: 'Connected calendars' })
        .getByRole('listitem')
        .filter({ has: page.getByText(name, { exact: true }) });
    const connections = async (token: string) =>
      (await apiCall(server.url, 'GET', '/calendar/connections', token)).body.data as {
        id: string;
        calendar_url: string;
        last_error: string | null;
        last_success_at: string | null;
      }[];
    const dav = (url: string) => fetch(url, { headers: { authorization: radicale.auth } });
    const posted = (page: Page) =>
      page.waitForResponse(
        (r) => r.url().endsWith('/api/v1/calendar/connections') && r.request().method() === 'POST',
      );
    /** Fills the connect form and submits it; resolves with the API's answer. */
    async function submit(
      page: Page,
      form: Locator,
      fields: { url: string; username: string; password: string },
    ) {
      await form.getByLabel('Server URL').fill(fields.url);
      await form.getByLabel('Username').fill(fields.username);
      await form.getByLabel('Password', { exact: true }).fill(fields.password);
      const answer = posted(page);
      await form.getByRole('button', { name: 'Connect', exact: true }).click();
      const res = await answer;
      return { status: res.status(), body: await res.text() };
    }

    it('connects Radicale through the form, refuses a wrong password and an unreachable server, syncs a task now, disconnects', async () => {
      const { page, errors } = await tab();
      await signUp(page, server.url, newUser('Caldav'));
      const token = await tokenOf(page);
      await page.goto(`${server.url}/settings`);
      const s = section(page);
      await s.getByText('No calendar connected').waitFor();
      await s.getByText('becomes a to-do (VTODO)', { exact: false }).waitFor();
      await s.getByText('later change wins', { exact: false }).waitFor();

      await s.getByRole('button', { name: 'Connect a calendar' }).click();
      const form = s.getByRole('form', { name: 'Connect a calendar' });
      // The password field: masked, and not offered the Taskman password by the browser.
      const password = form.getByLabel('Password', { exact: true });
      expect(await password.getAttribute('type')).toBe('password');
      expect(await password.getAttribute('autocomplete')).toBe('new-password');
      expect(await form.getByLabel('Username').getAttribute('autocomplete')).toBe('off');

      // Nothing filled in: said next to the fields, without asking the server.
      await form.getByRole('button', { name: 'Connect', exact: true }).click();
      await form.getByText('Enter the address of your CalDAV server').waitFor();
      await form.getByText('Enter your user name on that server').waitFor();
      await form.getByText('Enter the password').waitFor();
      expect(await form.getByLabel('Server URL').getAttribute('aria-invalid')).toBe('true');

      // A wrong password: the server's refusal next to the field it is about, nothing listed.
      const wrong = await submit(page, form, {
        url: radicale.url,
        username: RADICALE_USER.username,
        password: 'wrong-horse-42',
      });
      expect(wrong.status).toBe(400);
      expect(wrong.body).not.toContain('wrong-horse-42');
      const urlField = form.getByLabel('Server URL');
      const urlError = form
        .locator('.field-error')
        .filter({ hasText: 'Could not sign in to this CalDAV server' });
      await urlError.waitFor();
      expect(await urlField.getAttribute('aria-invalid')).toBe('true');
      const errorId = (await urlField.getAttribute('aria-describedby'))!.split(' ').at(-1)!;
      expect(await urlError.getAttribute('id')).toBe(errorId);
      await form.getByRole('alert').filter({ hasText: 'Please check the fields marked below.' }).waitFor();
      // Focus goes to the field the refusal is about, so it is read out with its error.
      await expect.poll(() => urlField.evaluate((el) => el === document.activeElement)).toBe(true);
      expect(await page.content()).not.toContain('wrong-horse-42');
      expect(await s.getByRole('list', { name: 'Connected calendars' }).count()).toBe(0);
      expect(await connections(token)).toEqual([]);
      await shoot(s, 'caldav-form-error-1280');

      // A server that does not answer: nothing listens on that port any more.
      const down = await submit(page, form, {
        url: `http://127.0.0.1:${await closedPort()}/`,
        username: RADICALE_USER.username,
        password: RADICALE_USER.password,
      });
      expect(down.status, down.body).toBe(400);
      expect(down.body).not.toContain(RADICALE_USER.password);
      await form
        .locator('.field-error')
        .filter({ hasText: /Could not sign in.*ECONNREFUSED/ })
        .waitFor();
      expect(await s.getByRole('list', { name: 'Connected calendars' }).count()).toBe(0);
      expect(await connections(token)).toEqual([]);

      // The right one: listed with its name and URL, synced, without an error.
      const ok = await submit(page, form, { url: radicale.url, ...RADICALE_USER });
      expect(ok.status, ok.body).toBe(201);
      expect(ok.body).not.toContain(RADICALE_USER.password);
      await form.waitFor({ state: 'detached' });
      await page.getByRole('status').filter({ hasText: 'Connected “tasks”' }).waitFor();
      const connected = item(page, 'tasks');
      await connected.getByText(calendarUrl, { exact: true }).waitFor();
      await connected.getByText(`${RADICALE_USER.username} on ${new URL(radicale.url).host}`).waitFor();
      await connected
        .locator('.badge')
        .filter({ hasText: /^Synced$/ })
        .waitFor({ timeout: 15_000 });
      await connected.getByText(/^Last synced (just now|in a few seconds)$/).waitFor();
      expect(await connected.getByText('The last sync failed').count()).toBe(0);
      const [connection] = await connections(token);
      expect(connection).toMatchObject({ calendar_url: calendarUrl, last_error: null });
      expect(await page.content()).not.toContain(RADICALE_USER.password);

      // A task with a due date, then Sync now: its VTODO is in Radicale.
      const task = await apiCall(server.url, 'POST', '/tasks', token, {
        title: 'Renew the passport',
        due_date: '2031-03-14T09:30:00.000Z',
      });
      expect(task.status).toBe(201);
      const syncNow = connected.getByRole('button', { name: 'Sync now' });
      const accepted = page.waitForResponse(
        (r) =>
          r.url().endsWith(`/calendar/connections/${connection!.id}/sync`) && r.request().method() === 'POST',
      );
      await syncNow.click();
      expect((await accepted).status()).toBe(202);
      await page.getByRole('status').filter({ hasText: 'Syncing “tasks” now' }).waitFor();
      // Shown as syncing, the button disabled, until the connection records the outcome.
      expect(await syncNow.isDisabled()).toBe(true);
      expect(await connected.locator('.badge').textContent()).toBe('Syncing…');
      await expect.poll(() => syncNow.isEnabled(), { timeout: 15_000 }).toBe(true);
      await connected
        .locator('.badge')
        .filter({ hasText: /^Synced$/ })
        .waitFor();
      await expect
        .poll(
          async () => {
            const r = await dav(`${calendarUrl}${task.body.data.id}.ics`);
            return r.status === 200 ? r.text() : '';
          },
          { timeout: 15_000 },
        )
        .toContain('BEGIN:VTODO');
      const ics = await (await dav(`${calendarUrl}${task.body.data.id}.ics`)).text();
      expect(ics).toContain('SUMMARY:Renew the passport');
      expect(ics).toMatch(/DUE(;VALUE=DATE-TIME)?:20310314T093000Z/);

      // Disconnect, after a confirmation: gone from the page and from the API.
      await connected.getByRole('button', { name: 'Disconnect' }).click();
      const confirm = connected.getByRole('group', { name: 'Disconnect “tasks”?' });
      await confirm.getByText('The to-dos already in the calendar stay there', { exact: false }).waitFor();
      const deleted = page.waitForResponse((r) => r.request().method() === 'DELETE');
      await confirm.getByRole('button', { name: 'Disconnect' }).click();
      expect((await deleted).status()).toBe(204);
      await connected.waitFor({ state: 'detached' });
      await s.getByText('No calendar connected').waitFor();
      await page.getByRole('status').filter({ hasText: 'Disconnected “tasks”' }).waitFor();
      expect(await connections(token)).toEqual([]);
      // What is in the calendar stays there.
      expect((await dav(`${calendarUrl}${task.body.data.id}.ics`)).status).toBe(200);
      expect(errors([REFUSED])).toEqual([]);
    });

    it('shows a failing sync with its error, a server without encryption key (503); axe; screenshots at 1280 and 390 px', async () => {
      const { page, errors } = await tab();
      await signUp(page, server.url, newUser('Calshots'));
      const token = await tokenOf(page);
      // One calendar that syncs, one on a server that goes away after connecting.
      const flaky = await startRadicale();
      try {
        await flaky.makeTaskCalendar('work');
        const good = await apiCall(server.url, 'POST', '/calendar/connections', token, {
          server_url: radicale.url,
          ...RADICALE_USER,
        });
        expect(good.status).toBe(201);
        const bad = await apiCall(server.url, 'POST', '/calendar/connections', token, {
          server_url: flaky.url,
          ...RADICALE_USER,
        });
        expect(bad.status).toBe(201);
        await expect
          .poll(
            async () => {
              const list = await connections(token);
              return list.length === 2 && list.every((c) => c.last_success_at && c.last_error === null);
            },
            { timeout: 15_000 },
          )
          .toBe(true);
        await flaky.stop();

        await page.goto(`${server.url}/settings#calendar-sync`);
        const s = section(page);
        // The heading of the section is where /settings#calendar-sync lands.
        await expect
          .poll(() =>
            page
              .getByRole('heading', { level: 2, name: 'Calendar sync (CalDAV)' })
              .evaluate((el) => el === document.activeElement),
          )
          .toBe(true);

        const failing = item(page, 'work');
        await failing.getByRole('button', { name: 'Sync now' }).click();
        await failing
          .locator('.badge')
          .filter({ hasText: /^Sync failed$/ })
          .waitFor({ timeout: 20_000 });
        await failing.getByText('The last sync failed').waitFor();
        await failing.locator('.caldav-error').filter({ hasText: 'ECONNREFUSED' }).waitFor();
        await failing.getByText(/Taskman tries again (in \d+ minutes?|shortly)/).waitFor();
        await item(page, 'tasks')
          .locator('.badge')
          .filter({ hasText: /^Synced$/ })
          .waitFor();
        const found: string[] = [];
        for (const v of await axeViolations(page)) found.push(`desktop: ${v}`);
        await page.screenshot({ path: path.join(shots, 'caldav-desktop-1280x800.png') });
        // Only the content scrolls: nothing in the section makes the page itself taller than the window.
        expect(await page.evaluate(() => document.documentElement.scrollHeight <= window.innerHeight)).toBe(
          true,
        );
        await shoot(s, 'caldav-list-1280');
        // The form, open, on the desktop.
        await s.getByRole('button', { name: 'Connect a calendar' }).click();
        for (const v of await axeViolations(page)) found.push(`desktop, form: ${v}`);
        await shoot(s, 'caldav-form-1280');

        // A server with no key to seal passwords with: said plainly at the top of the form.
        await page.route('**/api/v1/calendar/connections', (route) =>
          route.request().method() === 'POST'
            ? route.fulfill({
                status: 503,
                contentType: 'application/json',
                body: JSON.stringify({
                  success: false,
                  error: {
                    code: 'UNAVAILABLE',
                    message: 'Connecting calendars needs ENCRYPTION_KEY to be set on the server',
                  },
                  request_id: 'test',
                }),
              })
            : route.fallback(),
        );
        const form = s.getByRole('form', { name: 'Connect a calendar' });
        await form.getByLabel('Server URL').fill('https://dav.example.com/');
        await form.getByLabel('Username').fill('ann');
        await form.getByLabel('Password', { exact: true }).fill('whatever');
        await form.getByRole('button', { name: 'Connect', exact: true }).click();
        await form
          .getByRole('alert')
          .filter({
            hasText: 'needs ENCRYPTION_KEY to be set on the server. Ask whoever runs this Taskman server.',
          })
          .waitFor();
        await page.unroute('**/api/v1/calendar/connections');

        // A phone (390 px), dark.
        const phone = await tab({
          viewport: { width: 390, height: 844 },
          isMobile: true,
          hasTouch: true,
          colorScheme: 'dark',
        });
        await phone.page.goto(`${server.url}/login`);
        await phone.page.evaluate(
          (t) => localStorage.setItem('taskman.session', t),
          JSON.stringify({ token, expiresAt: new Date(Date.now() + 3_600_000).toISOString() }),
        );
        await phone.page.goto(`${server.url}/settings#calendar-sync`);
        const ps = section(phone.page);
        await item(phone.page, 'work').getByText('The last sync failed').waitFor();
        await item(phone.page, 'tasks')
          .locator('.badge')
          .filter({ hasText: /^Synced$/ })
          .waitFor();
        for (const v of await axeViolations(phone.page)) found.push(`phone: ${v}`);
        // What the phone shows on arriving at /settings#calendar-sync, then the whole section.
        await phone.page.screenshot({ path: path.join(shots, 'caldav-phone-390x844.png') });
        await shoot(ps, 'caldav-list-390');
        await ps.getByRole('button', { name: 'Connect a calendar' }).click();
        const phoneForm = ps.getByRole('form', { name: 'Connect a calendar' });
        await phoneForm.getByLabel('Server URL').fill(radicale.url);
        await phoneForm.getByLabel('Username').fill('ann');
        await phoneForm.getByLabel('Password', { exact: true }).fill('not-it');
        await phoneForm.getByRole('button', { name: 'Connect', exact: true }).click();
        await phoneForm.locator('.field-error').first().waitFor();
        for (const v of await axeViolations(phone.page)) found.push(`phone, form: ${v}`);
        await shoot(ps, 'caldav-form-390');
        await item(phone.page, 'work').getByRole('button', { name: 'Disconnect' }).click();
        await item(phone.page, 'work').getByRole('group', { name: 'Disconnect “work”?' }).waitFor();
        await shoot(item(phone.page, 'work'), 'caldav-confirm-390');
        // No sideways scrolling at 390 px, and only the content scrolls.
        expect(
          await phone.page.evaluate(() => {
            const content = document.querySelector('.content')!;
            return (
              content.scrollWidth <= content.clientWidth &&
              document.documentElement.scrollHeight <= window.innerHeight
            );
          }),
        ).toBe(true);
        expect(found).toEqual([]);
        expect(errors([REFUSED])).toEqual([]);
        expect(phone.errors([HTTP_401, REFUSED])).toEqual([]);
      } finally {
        await flaky.close();
      }
    });
  },
);

/** A port that was free a moment ago: connecting to it is refused. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Hides (or shows again, with '') the toasts, through the CSSOM. */
function toastsVisibility(page: Page, visibility: string): Promise<void> {
  return page.locator('.toasts').evaluateAll((els, v) => {
    for (const el of els) (el as HTMLElement).style.visibility = v;
  }, visibility);
}

/**
 * A picture of one element, whole: the page scrolls inside `.content`, so a section taller than
 * the window is shot in a window made tall enough (same width, so the same layout).
 */
async function shoot(target: Locator, name: string): Promise<void> {
  const page = target.page();
  const size = page.viewportSize()!;
  const box = await target.boundingBox();
  if (box && box.height + 160 > size.height)
    await page.setViewportSize({ width: size.width, height: Math.ceil(box.height) + 160 });
  try {
    await target.scrollIntoViewIfNeeded();
    // Toasts float over whatever is behind them: not part of the section's picture. (Hidden through
    // the CSSOM: the screenshot's `style` option adds a <style> element, which the app's CSP refuses.)
    await toastsVisibility(page, 'hidden');
    await target.screenshot({ path: path.join(shots, `${name}.png`) });
  } finally {
    await toastsVisibility(page, '');
    await page.setViewportSize(size);
  }
}
