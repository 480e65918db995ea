// Users, the audit log and Settings › Recent activity, end to end: the real API process (embedded
// PGlite) serving the built app, driven in Chromium. An admin searches an account, disables it (the
// user's open session ends at its next request, and signing in says the account is disabled),
// enables it again, makes it an admin and takes the role back; the audit log shows these and a
// failed sign-in, filtered by kind, user and days, a page at a time. A user's Settings list their
// own activity, failed sign-ins to their account first among equals; others are told the admin
// pages are for admins. Phone and desktop, light and dark: no sideways scroll, no serious axe
// violation; screenshots go to /tmp/taskman-security (and test-results/web).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiCall,
  axeViolations,
  DIST_INDEX,
  HTTP_401,
  launchBrowser,
  logIn,
  nav,
  newUser,
  openTab,
  quickAdd,
  type Server,
  SHOTS,
  startServer,
  type Tab,
} from './helpers';

const TMP_SHOTS = '/tmp/taskman-security';
const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } as const;
/** What the browser logs by itself for the refusals these tests cause on purpose. */
const REFUSED = [HTTP_401, /status of 40[039]/, /status of 429/];

type Account = ReturnType<typeof newUser> & { id: string; token: string };

describe.skipIf(process.env.TEST_DB !== 'pglite')(
  'Users, audit log and account activity',
  { timeout: 180_000 },
  () => {
    let server: Server;
    let browser: Browser;
    const tabs: Tab[] = [];
    const tab = async (options?: Parameters<typeof openTab>[1]) => {
      const t = await openTab(browser, options);
      tabs.push(t);
      return t;
    };

    beforeAll(async () => {
      if (!existsSync(DIST_INDEX))
        throw new Error(`${DIST_INDEX} is missing: run \`npm run build:web\` first.`);
      await mkdir(TMP_SHOTS, { recursive: true });
      [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    });
    afterAll(async () => {
      await Promise.all(tabs.map((t) => t.close().catch(() => {})));
      await browser?.close();
      await server?.stop();
    });

    const register = async (prefix: string): Promise<Account> => {
      const user = newUser(prefix);
      const res = await fetch(`${server.url}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(user),
      });
      expect(res.status).toBe(201);
      const { data } = (await res.json()) as { data: { token: string; user: { id: string } } };
      return { ...user, id: data.user.id, token: data.token };
    };
    const failSignIn = (email: string) =>
      fetch(`${server.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: 'not the password' }),
      });
    const signIn = async (page: Page, user: Account) => {
      await page.goto(`${server.url}/login`);
      await logIn(page, user.email, user.password);
      await page.waitForURL(/\/today$/);
      await page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
    };
    const shoot = async (page: Page, name: string) => {
      await page.screenshot({ path: path.join(TMP_SHOTS, `${name}.png`) });
      await page.screenshot({ path: path.join(SHOTS, `security-${name}.png`) });
    };
    /** The whole page: the viewport grows to the height of the content, then comes back. */
    const shootAll = async (page: Page, name: string) => {
      const size = page.viewportSize()!;
      const height = await page.evaluate(() => {
        const content = document.querySelector('.content')!;
        return content.scrollHeight + content.getBoundingClientRect().top;
      });
      await page.setViewportSize({ width: size.width, height: Math.max(size.height, Math.ceil(height)) });
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(TMP_SHOTS, `${name}-full.png`) });
      await page.setViewportSize(size);
      await page.waitForTimeout(200);
    };
    /** Nothing scrolls sideways: neither the page nor its content column. */
    const fitsWidth = (page: Page) =>
      page.evaluate(() => {
        const content = document.querySelector('.content')!;
        return (
          content.scrollWidth <= content.clientWidth &&
          document.documentElement.scrollWidth <= document.documentElement.clientWidth
        );
      });

    const userRow = (page: Page, name: string) =>
      page
        .getByRole('list', { name: /^Users/ })
        .getByRole('listitem')
        .filter({ hasText: name });
    const entries = (page: Page) => page.locator('.audit-entry');
    const entryTexts = (page: Page) => page.locator('.audit-text').allTextContents();

    let admin: Account;
    let bob: Account;
    let carol: Account;

    it('an admin finds an account, disables it (its open session ends), enables it, promotes and demotes it', async () => {
      admin = await register('Ops');
      bob = await register('Bob');
      carol = await register('Carol');

      // Bob is working in his browser.
      const bobTab = await tab();
      await signIn(bobTab.page, bob);

      const { page, errors } = await tab();
      await signIn(page, admin);
      await nav(page).getByRole('link', { name: 'Users' }).click();
      await page.waitForURL(/\/users$/);
      await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
      expect(await nav(page).getByRole('link', { name: 'Users' }).getAttribute('aria-current')).toBe('page');

      // The admin's own row: no Disable, no Remove admin.
      const own = userRow(page, admin.email);
      await own.getByText('You', { exact: true }).waitFor();
      await own.getByText('Active', { exact: true }).waitFor();
      expect(await own.getByRole('button').count()).toBe(0);
      await own.getByRole('link', { name: 'View activity' }).waitFor();

      // Search: typing waits for a pause, then the list (and the URL) follow.
      const part = bob.email.split('@')[0]!.slice(0, 14);
      await page.getByLabel('Search users').fill(part);
      await page.waitForURL((u) => u.searchParams.get('q') === part);
      await expect
        .poll(() =>
          page
            .getByRole('list', { name: /^Users matching/ })
            .getByRole('listitem')
            .count(),
        )
        .toBe(1);
      const row = userRow(page, bob.email);
      await row.getByText(bob.name).waitFor();
      await page.getByText('1 match', { exact: true }).waitFor();
      await page.getByRole('status').filter({ hasText: '1 user found' }).waitFor({ state: 'attached' });

      // Disable: asked first, saying what it does.
      await row.getByRole('button', { name: 'Disable' }).click();
      const confirm = row.getByRole('group', { name: `Disable ${bob.name}?` });
      await confirm.getByText(/signed out everywhere at once and their API keys stop working/).waitFor();
      // The confirming button has the focus; Cancel gives it back to the actions.
      expect(
        await confirm
          .getByRole('button', { name: 'Disable account' })
          .evaluate((b) => b === document.activeElement),
      ).toBe(true);
      await shoot(page, 'users-confirm-1280');
      const disabling = page.waitForResponse(
        (r) => r.request().method() === 'PATCH' && r.url().endsWith(`/admin/users/${bob.id}`),
      );
      await confirm.getByRole('button', { name: 'Disable account' }).click();
      expect((await disabling).status()).toBe(200);
      await row.getByText('Disabled', { exact: true }).first().waitFor();
      await row.getByRole('button', { name: 'Enable' }).waitFor();
      await page.getByText(`${bob.name} is disabled: signed out everywhere, API keys stopped`).waitFor();
      expect(
        (await apiCall(server.url, 'GET', `/users?q=${encodeURIComponent(bob.email)}`, admin.token)).body
          .data[0].disabled_at,
      ).not.toBeNull();

      // Bob's open session ends at his next request; signing in again says why.
      await bobTab.page.getByLabel('Add a task').fill('Write the report');
      await bobTab.page.getByLabel('Add a task').press('Enter');
      await bobTab.page.waitForURL(/\/login/);
      await logIn(bobTab.page, bob.email, bob.password);
      await bobTab.page
        .getByRole('alert')
        .filter({ hasText: 'This account is disabled: ask an administrator' })
        .waitFor();
      await shoot(bobTab.page, 'login-disabled-1280');
      // His API token is refused too.
      expect((await apiCall(server.url, 'GET', '/users/me', bob.token)).status).toBe(401);

      // Enable: at once (no question), and Bob can sign in again.
      await row.getByRole('button', { name: 'Enable' }).click();
      await row.getByText('Active', { exact: true }).waitFor();
      await row.getByRole('button', { name: 'Disable' }).waitFor();
      await logIn(bobTab.page, bob.email, bob.password);
      await bobTab.page.waitForURL(/\/today$/);

      // Make admin (asked first), then Remove admin.
      await row.getByRole('button', { name: 'Make admin' }).click();
      await row
        .getByRole('group', { name: `Make ${bob.name} an admin?` })
        .getByRole('button', { name: 'Make admin' })
        .click();
      await row.getByRole('button', { name: 'Remove admin' }).waitFor();
      await row.getByText('Role: Admin', { exact: true }).waitFor();
      expect((await apiCall(server.url, 'GET', '/users/me', (await login(bob)).token)).body.data.role).toBe(
        'admin',
      );
      await row.getByRole('button', { name: 'Remove admin' }).click();
      const demote = row.getByRole('group', { name: `Remove ${bob.name}’s admin role?` });
      // Escape cancels; the actions come back.
      await page.keyboard.press('Escape');
      await row.getByRole('button', { name: 'Remove admin' }).click();
      await demote.getByRole('button', { name: 'Remove admin' }).click();
      await row.getByRole('button', { name: 'Make admin' }).waitFor();
      await row.getByText('Role: User', { exact: true }).waitFor();

      // Clearing the search lists everyone again.
      await page.getByLabel('Search users').fill('');
      await page.waitForURL((u) => !u.searchParams.has('q'));
      await expect
        .poll(() => page.getByRole('list', { name: 'Users' }).getByRole('listitem').count())
        .toBe(3);
      await page.getByText('3 accounts', { exact: true }).waitFor();

      // The API refuses an admin disabling or demoting themselves (409); a refusal is said in the row.
      expect(
        (await apiCall(server.url, 'PATCH', `/admin/users/${admin.id}`, admin.token, { disabled: true }))
          .status,
      ).toBe(409);
      expect(
        (await apiCall(server.url, 'PATCH', `/admin/users/${admin.id}`, admin.token, { role: 'user' }))
          .status,
      ).toBe(409);
      await page.route(`**/api/v1/admin/users/${carol.id}`, (route) =>
        route.fulfill({
          status: 409,
          json: {
            success: false,
            error: {
              code: 'CONFLICT',
              message: 'You cannot disable your own account or take away your own admin role',
            },
          },
        }),
      );
      const carolRow = userRow(page, carol.email);
      await carolRow.getByRole('button', { name: 'Disable' }).click();
      await carolRow.getByRole('button', { name: 'Disable account' }).click();
      await carolRow
        .getByRole('alert')
        .filter({
          hasText: 'Not changed: You cannot disable your own account or take away your own admin role',
        })
        .waitFor();
      await carolRow.getByRole('button', { name: 'Cancel' }).click();
      await expect.poll(() => carolRow.getByRole('alert').count()).toBe(0);
      await carolRow.getByText('Active', { exact: true }).waitFor();
      await page.unroute(`**/api/v1/admin/users/${carol.id}`);

      expect(await axeViolations(page)).toEqual([]);
      await shoot(page, 'users-1280');
      expect(errors(REFUSED)).toEqual([]);
      expect(bobTab.errors(REFUSED)).toEqual([]);
    });

    /** Signs in through the API (a fresh token, e.g. after a role change). */
    const login = async (user: Account) => {
      const res = await fetch(`${server.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: user.email, password: user.password }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { data: { token: string } }).data;
    };

    it('sign-in and password forms show the new refusals: throttled, common passwords', async () => {
      const { page, errors } = await tab();
      // A failed sign-in for Carol, through the form (the audit log and her Settings show it).
      await page.goto(`${server.url}/login`);
      await logIn(page, carol.email, 'not her password');
      await page.getByRole('alert').filter({ hasText: 'Invalid email or password' }).waitFor();

      // Five failures for one address: the next attempt waits, and says for how long.
      const dave = await register('Dave');
      for (let i = 0; i < 5; i++) await failSignIn(dave.email);
      await logIn(page, dave.email, dave.password);
      await page
        .getByRole('alert')
        .filter({ hasText: /^Too many failed sign-ins for this account: try again in \d+ s$/ })
        .waitFor();
      await shoot(page, 'login-throttled-1280');

      // A common password: refused at sign-up, next to the field, and when changing one's password.
      await page.goto(`${server.url}/signup`);
      await page.getByLabel('Name').fill('Eve Tester');
      await page.getByLabel('Email').fill(`eve-${Date.now()}@example.com`);
      await page.getByLabel('Password').fill('baseball');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByText('Password is one of the most common passwords: choose another').waitFor();
      await page.getByRole('alert').filter({ hasText: 'Please check the fields marked below.' }).waitFor();
      await page.getByLabel('Password').fill('a much less common passphrase');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(/\/today$/);
      await nav(page).getByRole('link', { name: 'Settings' }).click();
      await page.getByLabel('Current password').fill('a much less common passphrase');
      await page.getByLabel('New password').fill('12345678');
      await page.getByRole('button', { name: 'Change password' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: 'New password is one of the most common passwords: choose another' })
        .waitFor();
      expect(errors(REFUSED)).toEqual([]);
    });

    it('the audit log: admin actions and failed sign-ins as sentences, filtered by kind, user and days, paged', async () => {
      // Enough entries for a second page: tasks made by Bob and the admin.
      const bobToken = (await login(bob)).token; // his first token ended when he was disabled
      for (let i = 1; i <= 14; i++) {
        expect(
          (await apiCall(server.url, 'POST', '/tasks', admin.token, { title: `Admin task ${i}` })).status,
        ).toBe(201);
        expect(
          (await apiCall(server.url, 'POST', '/tasks', bobToken, { title: `Bob task ${i}` })).status,
        ).toBe(201);
      }

      const { page, errors } = await tab();
      await signIn(page, admin);
      await nav(page).getByRole('link', { name: 'Audit log' }).click();
      await page.waitForURL(/\/audit$/);
      await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
      await entries(page).first().waitFor();
      // Newest first, a day heading over them.
      await page.getByRole('heading', { level: 2, name: 'Today' }).waitFor();
      const times = await page
        .locator('.audit-entry time')
        .evaluateAll((els) => els.map((e) => e.getAttribute('datetime')!));
      expect(times).toEqual([...times].sort().reverse());
      expect(await entries(page).count()).toBe(25);
      // The exact time on hover.
      expect(await page.locator('.audit-entry time').first().getAttribute('title')).toMatch(/\d{4}/);

      // The admin actions, by kind.
      await page.getByLabel('Show', { exact: true }).selectOption({ label: 'Admin' });
      await page.waitForURL((u) => u.searchParams.get('action') === 'admin.');
      await expect
        .poll(() => entryTexts(page))
        .toEqual([
          `${admin.name} removed ${bob.name}’s admin role`,
          `${admin.name} made ${bob.name} an admin`,
          `${admin.name} enabled ${bob.name}`,
          `${admin.name} disabled ${bob.name}`,
        ]);
      const disabled = entries(page).filter({ hasText: `${admin.name} disabled ${bob.name}` });
      await disabled.getByText('Admin', { exact: true }).waitFor(); // its kind
      await disabled.getByText('IP 127.0.0.1').waitFor();
      await disabled.getByText(/^Chrome \(headless\) \d+ on Linux$/).waitFor();
      const copy = disabled.getByRole('button', { name: /^Copy request ID [0-9a-f]{8}$/ });
      await copy.waitFor();
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
      await copy.click();
      await page.getByText('Request ID copied').waitFor();
      // The whole ID: the one the API answered the PATCH with (X-Request-Id), as its logs say.
      const requestId = (await copy.getAttribute('title'))!.match(/^Request ID (\S+) /)![1]!;
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(requestId);
      await shoot(page, 'audit-admin-1280');

      // Sign-ins: Carol's failed one (through the form), Bob's refused one while disabled.
      await page.getByLabel('Show', { exact: true }).selectOption({ label: 'Sign-ins' });
      await page.waitForURL((u) => u.searchParams.get('action') === 'auth.');
      const failed = entries(page).filter({ hasText: `Failed sign-in for ${carol.email}` });
      await failed.waitFor();
      expect(await failed.getAttribute('class')).toContain('audit-danger');
      await failed.getByText('Sign-in', { exact: true }).waitFor();
      await entries(page)
        .filter({ hasText: `Sign-in refused for ${bob.email}: the account is disabled` })
        .waitFor();
      await entries(page)
        .filter({ hasText: `${bob.name} signed in` })
        .first()
        .waitFor();
      await entries(page)
        .filter({ hasText: /paused for 15 s after 5 failed attempts/ })
        .waitFor();
      expect(await axeViolations(page)).toEqual([]);
      await shoot(page, 'audit-signins-1280');

      // One user's doings: from the Users page ("View activity").
      await nav(page).getByRole('link', { name: 'Users' }).click();
      await userRow(page, bob.email).getByRole('link', { name: 'View activity' }).click();
      await page.waitForURL((u) => u.pathname === '/audit' && u.searchParams.get('actor') === bob.id);
      expect(await page.getByLabel('Done by', { exact: true }).inputValue()).toBe(bob.id);
      expect(await page.getByLabel('Show', { exact: true }).inputValue()).toBe('');
      await entries(page).first().waitFor();
      const texts = await entryTexts(page);
      expect(texts.length).toBeGreaterThan(0);
      expect(texts.every((t) => t.startsWith(bob.name) || /^(Task|Project) /.test(t))).toBe(true);
      await entries(page).filter({ hasText: 'Task created' }).first().waitFor();
      // A task's entry names who did it (the sentence does not), linked to their log.
      await entries(page)
        .filter({ hasText: 'Task created' })
        .first()
        .getByRole('link', { name: bob.name })
        .waitFor();

      // Days: from tomorrow, nothing; a range the wrong way round is said, not asked.
      const today = await page.evaluate(() =>
        new Intl.DateTimeFormat('en-CA', { timeZone: 'UTC' }).format(new Date()),
      );
      const tomorrow = new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
      const yesterday = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
      await page.getByLabel('From', { exact: true }).fill(tomorrow);
      await page.getByRole('heading', { name: 'Nothing matches these filters' }).waitFor();
      await page.getByLabel('To', { exact: true }).fill(yesterday);
      await page.getByText('The last day must not be before the first').waitFor();
      await page.getByLabel('From', { exact: true }).fill(yesterday);
      await page.getByLabel('To', { exact: true }).fill(tomorrow);
      await entries(page).first().waitFor();
      await page.getByRole('button', { name: 'Clear filters' }).first().click();
      await page.waitForURL((u) => u.pathname === '/audit' && u.search === '');

      // Pages: 25 a page, newest first; Older, then Newer.
      const timesOf = () =>
        page.locator('.audit-entry time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime')!));
      await expect.poll(() => page.locator('.report-body.updating').count()).toBe(0);
      await expect.poll(() => entries(page).count()).toBe(25);
      const firstPage = await timesOf();
      await page.getByRole('button', { name: 'Older' }).click();
      await page.waitForURL((u) => u.searchParams.get('page') === '2');
      // Page 2 starts where page 1 ends: older (or as old) than its last entry.
      await expect
        .poll(async () => Date.parse((await timesOf())[0] ?? '') <= Date.parse(firstPage.at(-1)!))
        .toBe(true);
      await page.getByText(/^Page 2 of \d+$/).waitFor();
      await page.getByRole('button', { name: 'Newer' }).click();
      await page.waitForURL((u) => !u.searchParams.has('page'));

      // A reload (or a shared link) gets the app and the same filter, not the API's 404.
      await page.goto(`${server.url}/audit?action=admin.`);
      await expect.poll(() => entries(page).count()).toBe(4);
      expect(errors(REFUSED)).toEqual([]);
    });

    it('a user’s Settings list their activity, a failed sign-in to their account standing out', async () => {
      const { page, errors } = await tab();
      await signIn(page, carol);
      await nav(page).getByRole('link', { name: 'Settings' }).click();
      const section = page.getByRole('region', { name: 'Recent activity' });
      await section.waitFor();
      const failed = section
        .locator('.audit-entry')
        .filter({ hasText: 'Someone failed to sign in to your account from IP 127.0.0.1' });
      await failed.waitFor();
      expect(await failed.getAttribute('class')).toContain('audit-danger');
      await section.getByText('1 failed sign-in to your account').waitFor();
      await section
        .locator('.audit-text')
        .filter({ hasText: /^You signed in$/ })
        .first()
        .waitFor();
      await section
        .locator('.audit-text')
        .filter({ hasText: /^You created your account$/ })
        .waitFor();
      // Only sign-ins.
      await section.getByLabel('Show activity').selectOption({ label: 'Sign-ins' });
      await expect
        .poll(async () =>
          (
            await section
              .locator('.audit-entry')
              .evaluateAll((els) => els.map((e) => e.getAttribute('data-action')!))
          ).every((a) => a.startsWith('auth.')),
        )
        .toBe(true);
      await section.getByLabel('Show activity').selectOption({ label: 'All activity' });
      await failed.waitFor();
      expect(await axeViolations(page)).toEqual([]);
      await section.scrollIntoViewIfNeeded();
      await shoot(page, 'settings-activity-1280');

      // Bob's: what the admin did to his account.
      const b = await tab();
      await signIn(b.page, bob);
      await b.page.goto(`${server.url}/settings#activity`);
      const bobs = b.page.getByRole('region', { name: 'Recent activity' });
      // His own tasks fill the last 20 entries: the kinds narrow them.
      await bobs.getByLabel('Show activity').selectOption({ label: 'Admin' });
      await expect
        .poll(() => bobs.locator('.audit-text').allTextContents())
        .toEqual([
          'An admin removed your admin role',
          'An admin made you an admin',
          'An admin enabled your account',
          'An admin disabled your account',
        ]);
      await bobs.getByLabel('Show activity').selectOption({ label: 'Sign-ins' });
      await bobs
        .locator('.audit-text')
        .filter({ hasText: 'Someone tried to sign in to your disabled account from IP 127.0.0.1' })
        .waitFor();
      await bobs.scrollIntoViewIfNeeded();
      await shoot(b.page, 'settings-activity-bob-1280');
      expect(errors(REFUSED)).toEqual([]);
      expect(b.errors(REFUSED)).toEqual([]);
    });

    it('another user: no admin entries, and /users and /audit say they are for admins', async () => {
      const { page, errors } = await tab();
      const asked: string[] = [];
      page.on('request', (r) => {
        if (/\/api\/v1\/(admin\/|users(\?|$))/.test(r.url())) asked.push(r.url());
      });
      await signIn(page, carol);
      await nav(page).getByRole('link', { name: 'Settings' }).waitFor();
      for (const name of ['Operations', 'Users', 'Audit log'])
        expect(await nav(page).getByRole('link', { name }).count()).toBe(0);
      for (const [to, title] of [
        ['/users', 'Users'],
        ['/audit', 'Audit log'],
      ] as const) {
        // A cold load too: these paths are the app's.
        await page.goto(`${server.url}${to}`);
        await page.getByRole('heading', { level: 1, name: title }).waitFor();
        await page.getByRole('heading', { level: 2, name: 'Admins only' }).waitFor();
        expect(await axeViolations(page)).toEqual([]);
        await shoot(page, `denied-${to.slice(1)}-1280`);
      }
      await page.getByRole('link', { name: 'Settings › Recent activity' }).click();
      await page.waitForURL(/\/settings#activity$/);
      await page.getByRole('region', { name: 'Recent activity' }).waitFor();
      expect(asked).toEqual([]); // not even asked
      expect(errors()).toEqual([]);
    });

    it('a phone in dark mode and a desktop in light: no sideways scroll, no serious axe violation', async () => {
      const found: string[] = [];
      // Two of the four combinations: each size and each scheme once (a11y.e2e.test.ts checks the
      // pages every user sees in both schemes).
      for (const [name, options] of [
        ['360-dark', { ...phone, colorScheme: 'dark' }],
        ['1280', { colorScheme: 'light' }],
      ] as const) {
        const t = await tab(options);
        await signIn(t.page, admin);
        for (const [to, ready] of [
          ['/users', () => userRow(t.page, bob.email).waitFor()],
          ['/audit', () => entries(t.page).first().waitFor()],
          ['/audit?action=auth.', () => entries(t.page).first().waitFor()],
        ] as const) {
          await t.page.goto(`${server.url}${to}`);
          await ready();
          await t.page.waitForTimeout(300);
          for (const v of await axeViolations(t.page)) found.push(`${name} ${to}: ${v}`);
          expect({ name, to, fits: await fitsWidth(t.page) }).toEqual({ name, to, fits: true });
          const shotName = `${to.slice(1).replace(/\?action=auth\./, '-signins')}-${name}`;
          await shoot(t.page, shotName);
          await shootAll(t.page, shotName);
        }
        // A confirmation open in a row.
        await t.page.goto(`${server.url}/users`);
        await userRow(t.page, carol.email).getByRole('button', { name: 'Disable' }).click();
        await userRow(t.page, carol.email).getByRole('button', { name: 'Disable account' }).waitFor();
        expect(await fitsWidth(t.page)).toBe(true);
        await userRow(t.page, carol.email).scrollIntoViewIfNeeded();
        await shoot(t.page, `users-confirm-${name}`);
        await userRow(t.page, carol.email).getByRole('button', { name: 'Cancel' }).click();

        // Carol's Settings › Recent activity.
        const c = await tab(options);
        await signIn(c.page, carol);
        await c.page.goto(`${server.url}/settings#activity`);
        const section = c.page.getByRole('region', { name: 'Recent activity' });
        await section.locator('.audit-entry').first().waitFor();
        await c.page.waitForTimeout(300);
        for (const v of await axeViolations(c.page)) found.push(`${name} settings: ${v}`);
        expect(await fitsWidth(c.page)).toBe(true);
        await section.scrollIntoViewIfNeeded();
        await shoot(c.page, `settings-activity-${name}`);
        // The nav of a phone: the admin entries in the menu.
        if (name.startsWith('360')) {
          await t.page.getByRole('button', { name: 'Open the menu' }).click();
          await nav(t.page).getByRole('link', { name: 'Audit log' }).waitFor();
          await t.page.waitForTimeout(300);
          await shoot(t.page, `menu-${name}`);
        }
        expect(t.errors()).toEqual([]);
        expect(c.errors()).toEqual([]);
      }
      expect(found).toEqual([]);
    });

    it('a quick add still works for an account enabled again (its new session is whole)', async () => {
      const { page, errors } = await tab();
      await signIn(page, bob);
      await quickAdd(page, 'Back at work');
      expect(errors()).toEqual([]);
    });
  },
);
