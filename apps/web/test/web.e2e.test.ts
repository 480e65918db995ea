// The web app end to end: the real API process (embedded PGlite, as `npm start` runs it) serving the
// built app, driven through Debian's Chromium by role and accessible name, as a person would use it.
import { existsSync } from 'node:fs';
import type { Browser, Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiCall,
  DIST_INDEX,
  HTTP_401,
  launchBrowser,
  logIn,
  nav,
  newUser,
  openButton,
  openTab,
  panel,
  patched,
  quickAdd,
  row,
  type Server,
  shot,
  signUp,
  startServer,
  type Tab,
  tokenOf,
} from './helpers';

describe.skipIf(process.env.TEST_DB !== 'pglite')('the web app', { timeout: 60_000 }, () => {
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
    browser = await launchBrowser();
    server = await startServer();
  });
  afterAll(async () => {
    await Promise.all(tabs.map((t) => t.close().catch(() => {})));
    await browser?.close();
    await server?.stop();
  });

  it('desktop: sign up, add, edit, filter, search, complete, projects, delete with undo, log out and in', async () => {
    const { page, errors } = await tab();
    const user = newUser('Desk');
    await page.goto(`${server.url}/today`);
    await page.waitForURL(/\/login\?next=%2Ftoday$/);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await shot(page, 'login');
    await signUp(page, server.url, user);

    // Quick add: a title with markup is text, never HTML.
    const html = 'Buy milk <b>bold</b>';
    const report = 'Write the quarterly report';
    await quickAdd(page, html);
    await quickAdd(page, report);
    expect(await page.getByLabel('Add a task').inputValue()).toBe('');
    expect(await page.getByText(html, { exact: true }).count()).toBe(1);
    expect(await page.locator('b').count()).toBe(0);
    expect(await page.getByRole('list', { name: 'Today: tasks' }).getByRole('listitem').count()).toBe(2);
    await shot(page, 'today');

    // The panel, on All tasks (a due date next year takes the task out of Today).
    await nav(page).getByRole('link', { name: 'All tasks' }).click();
    await page.waitForURL(/\/tasks$/);
    await openButton(page, report).click();
    await panel(page).waitFor();
    expect(await panel(page).getByLabel('Title').inputValue()).toBe(report);
    let saved = patched(page);
    await panel(page).getByLabel('Priority', { exact: true }).selectOption({ label: 'Urgent' });
    await saved;
    saved = patched(page);
    await panel(page).getByLabel('Tags').fill('Work, errands');
    await panel(page).getByLabel('Tags').press('Enter');
    await saved;
    saved = patched(page);
    await panel(page).getByLabel('Description').fill('Numbers for Q3, then send it to Ann.');
    await panel(page).getByLabel('Title').click();
    await saved;
    // A date and time are saved together, on Enter or when the pair loses focus (not digit by digit).
    saved = patched(page);
    await panel(page).getByLabel('Due date', { exact: true }).fill('2030-01-15');
    await panel(page).getByLabel('Due time', { exact: true }).fill('17:00');
    await panel(page).getByLabel('Due time', { exact: true }).press('Enter');
    await saved;
    await panel(page).getByText('Automatic: 30 minutes before the due time.').waitFor();
    await shot(page, 'task-panel');
    await page.getByRole('button', { name: 'Close the task' }).click();
    await panel(page).waitFor({ state: 'detached' });
    const reportRow = row(page, report);
    await expect.poll(() => reportRow.textContent()).toMatch(/Tue,? 15 Jan 2030 17:00/);
    const rowText = await reportRow.textContent();
    // An automatic reminder is not flagged on the row (only one you set yourself is).
    for (const part of ['Urgent', 'work', 'errands']) expect(rowText).toContain(part);
    await openButton(page, report).click();
    expect(await panel(page).getByLabel('Description').inputValue()).toBe(
      'Numbers for Q3, then send it to Ann.',
    );
    expect(await panel(page).getByLabel('Tags').inputValue()).toBe('work, errands');
    await page.keyboard.press('Escape');
    await panel(page).waitFor({ state: 'detached' });

    // Filter by priority, then search with the `/` shortcut.
    const list = page.getByRole('list', { name: 'All tasks: tasks' });
    await page.getByLabel('Filter by priority').selectOption({ label: 'Urgent' });
    await page.waitForURL(/priority=urgent/);
    await expect.poll(() => list.getByRole('listitem').count()).toBe(1);
    expect(await row(page, report).count()).toBe(1);
    await page.getByLabel('Filter by priority').selectOption({ label: 'Any priority' });
    await expect.poll(() => list.getByRole('listitem').count()).toBe(2);
    await page.getByRole('heading', { level: 1 }).click(); // out of the select: shortcuts are off in fields
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('type'))).toBe('search');
    await page.keyboard.type('quarter');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/tasks\?q=quarter$/);
    await expect.poll(() => list.getByRole('listitem').count()).toBe(1);
    expect(await row(page, report).count()).toBe(1);
    await page.getByRole('button', { name: 'Clear the search quarter' }).click();
    await expect.poll(() => list.getByRole('listitem').count()).toBe(2);
    const searchBox = page.getByRole('searchbox', { name: 'Search tasks' });
    expect.soft(await searchBox.inputValue(), 'the search box shows no cleared search').toBe('');

    // Complete with the circle, then reopen.
    await page.getByRole('button', { name: `Complete “${html}”` }).click();
    const reopen = page.getByRole('button', { name: `Reopen “${html}”` });
    await reopen.waitFor();
    expect(await reopen.getAttribute('aria-pressed')).toBe('true');
    await reopen.click();
    await page.getByRole('button', { name: `Complete “${html}”` }).waitFor();

    // Projects: create, move a task in, its page lists it, rename, delete (the task stays).
    await nav(page).getByRole('link', { name: 'Manage projects' }).click();
    await page.waitForURL(/\/projects$/);
    const newProject = page.getByRole('form', { name: 'New project' });
    await newProject.getByLabel('Name', { exact: true }).fill('Home');
    await newProject.getByRole('button', { name: 'Create project' }).click();
    const projects = page.getByRole('list', { name: 'Your projects' });
    await projects.getByRole('link', { name: 'Home' }).waitFor();
    await nav(page).getByRole('link', { name: 'Home' }).waitFor();
    await shot(page, 'projects');
    await nav(page).getByRole('link', { name: 'All tasks' }).click();
    await openButton(page, html).click();
    saved = patched(page);
    await panel(page).getByLabel('Project', { exact: true }).selectOption({ label: 'Home' });
    await saved;
    await page.getByRole('button', { name: 'Close the task' }).click();
    await expect.poll(() => row(page, html).textContent()).toContain('#Home');
    await nav(page).getByRole('link', { name: 'Home' }).click();
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    // (the previous view's rows stay on screen while the project's load: wait for the project's own list)
    await expect
      .poll(() => page.getByRole('list', { name: 'Home: tasks' }).getByRole('listitem').count())
      .toBe(1);
    await row(page, html).waitFor();

    await nav(page).getByRole('link', { name: 'Manage projects' }).click();
    const rename = projects.getByRole('button', { name: 'Edit Home' });
    // WCAG 2.5.3 (label in name): "click Edit" must find it by voice.
    expect('Edit Home', 'the accessible name contains the visible label').toContain(
      await rename.textContent(),
    );
    await rename.click();
    const edit = page.getByRole('form', { name: 'Edit Home' });
    await edit.getByLabel('Name', { exact: true }).fill('House');
    await edit.getByRole('button', { name: 'Save' }).click();
    await projects.getByRole('link', { name: 'House' }).waitFor();
    await nav(page).getByRole('link', { name: 'House' }).waitFor();
    await projects.getByRole('button', { name: 'Delete House' }).click();
    await projects.getByRole('button', { name: 'Delete', exact: true }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Deleted the project “House”; its tasks are kept.' })
      .waitFor();
    await page.getByRole('heading', { name: 'No projects yet' }).waitFor();
    expect(await nav(page).getByRole('link', { name: 'House' }).count()).toBe(0);
    await nav(page).getByRole('link', { name: 'All tasks' }).click();
    await row(page, html).waitFor();
    expect(await row(page, html).textContent()).not.toContain('#House');

    // Delete with Undo: the task comes back, and stays after a reload.
    await openButton(page, html).click();
    await panel(page).getByRole('button', { name: 'Delete', exact: true }).click();
    await row(page, html).waitFor({ state: 'detached' });
    const undoToast = page.getByRole('status').filter({ hasText: `Deleted “${html}”` });
    await undoToast.getByRole('button', { name: 'Undo' }).click();
    await row(page, html).waitFor();
    // Delete the other one and dismiss the toast: it is deleted for good.
    await openButton(page, report).click();
    await panel(page).getByRole('button', { name: 'Delete', exact: true }).click();
    const deleted = page.waitForResponse((r) => r.request().method() === 'DELETE');
    await page
      .getByRole('status')
      .filter({ hasText: `Deleted “${report}”` })
      .getByRole('button', { name: 'Dismiss' })
      .click();
    expect((await deleted).status()).toBe(204);
    await page.reload();
    await row(page, html).waitFor();
    expect(await row(page, report).count()).toBe(0);

    // Log out, log in again: the task is there.
    await nav(page).getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    await logIn(page, user.email, user.password);
    await page.waitForURL(/\/tasks$/);
    await row(page, html).waitFor();
    expect(errors()).toEqual([]);
  });

  it('phone (360×740, touch): sign up, add, full-screen panel, edit, complete, menu; touch targets ≥ 44 px', async () => {
    const { page, errors } = await tab({
      viewport: { width: 360, height: 740 },
      isMobile: true,
      hasTouch: true,
    });
    const user = newUser('Phone');
    const small: string[] = [];
    const measure = async (what: string, target: Locator) => {
      const box = await target.boundingBox();
      if (!box || box.height < 44)
        small.push(`${what}: ${box ? `${Math.round(box.height)} px` : 'not shown'}`);
    };

    await page.goto(`${server.url}/login`);
    await measure('log in: Email', page.getByLabel('Email'));
    await measure('log in: Log in', page.getByRole('button', { name: 'Log in', exact: true }));
    await signUp(page, server.url, user);
    const title = 'Call the plumber';
    await page.getByLabel('Add a task').tap();
    await quickAdd(page, title);
    await quickAdd(page, 'Water the plants');
    await shot(page, 'phone-list');

    await measure('menu button', page.getByRole('button', { name: 'Open the menu' }));
    await measure('search', page.getByRole('searchbox', { name: 'Search tasks' }));
    await measure('quick add', page.getByLabel('Add a task'));
    await measure('Add', page.getByRole('button', { name: 'Add', exact: true }));
    // On a phone the filters fold behind a button.
    const filters = page.getByRole('button', { name: /^Filters/ });
    await measure('Filters', filters);
    await filters.tap();
    expect(await filters.getAttribute('aria-expanded')).toBe('true');
    for (const f of [
      'Filter by status',
      'Filter by priority',
      'Filter by project',
      'Filter by tag',
      'Sort by',
    ])
      await measure(f, page.getByLabel(f));
    await measure('task: open', openButton(page, title));
    await measure('task: complete', page.getByRole('button', { name: `Complete “${title}”` }));

    // The panel opens full screen.
    await openButton(page, title).tap();
    await panel(page).waitFor();
    const box = await panel(page).boundingBox();
    expect(box).toMatchObject({ x: 0, y: 0, width: 360, height: 740 });
    await measure('panel: close', page.getByRole('button', { name: 'Close the task' }));
    for (const f of ['Title', 'Status', 'Priority', 'Due date', 'Project', 'Tags'])
      await measure(`panel: ${f}`, panel(page).getByLabel(f, { exact: true }));
    await measure('panel: Delete', panel(page).getByRole('button', { name: 'Delete', exact: true }));
    const saved = patched(page);
    await panel(page).getByLabel('Priority', { exact: true }).selectOption({ label: 'High' });
    await saved;
    await shot(page, 'phone-panel');
    await page.getByRole('button', { name: 'Close the task' }).tap();
    await panel(page).waitFor({ state: 'detached' });
    await expect.poll(() => row(page, title).textContent()).toContain('High');

    // Complete: Today lists open tasks only, so it leaves the list.
    await page.getByRole('button', { name: `Complete “${title}”` }).tap();
    await row(page, title).waitFor({ state: 'detached' });

    // The menu: closed, it is off screen; open, it navigates and closes.
    // The menu button toggles (its name says what it does); the drawer has its own Close button.
    const menu = page.getByRole('button', { name: /^(Open|Close) the menu$/ }).last();
    const allTasks = nav(page).getByRole('link', { name: 'All tasks' });
    expect(await menu.getAttribute('aria-expanded')).toBe('false');
    expect(await allTasks.isVisible()).toBe(false);
    await menu.tap();
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    await expect.poll(async () => (await allTasks.boundingBox())?.x).toBeGreaterThanOrEqual(0);
    // Today and Overdue carry a count after their name ("Today 2").
    for (const name of ['Today', 'Upcoming', 'All tasks', 'Calendar', 'Settings'])
      await measure(`menu: ${name}`, nav(page).getByRole('link', { name: new RegExp(`^${name}( \\d+)?$`) }));
    await measure('menu: Manage projects', nav(page).getByRole('link', { name: 'Manage projects' }));
    await measure('menu: Log out', nav(page).getByRole('button', { name: 'Log out' }));
    // Escape closes it (the overlay is aria-hidden and covers the menu button: no other way out but a link).
    await page.keyboard.press('Escape');
    await expect
      .poll(() => menu.getAttribute('aria-expanded'), { message: 'Escape closes the open menu' })
      .toBe('false');
    await menu.tap();
    await allTasks.tap();
    await page.waitForURL(/\/tasks$/);
    await expect.poll(() => menu.getAttribute('aria-expanded')).toBe('false');
    await page.getByRole('button', { name: `Reopen “${title}”` }).waitFor();
    // Closed, the drawer's links must not take the keyboard focus off screen.
    await page.reload();
    await page.getByRole('button', { name: `Reopen “${title}”` }).waitFor();
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const r = el.getBoundingClientRect();
      return { focused: el.textContent?.trim(), onScreen: r.right > 0 && r.left < window.innerWidth };
    });
    expect.soft(first, 'the first Tab stop is on screen').toMatchObject({ onScreen: true });
    await measure('task: reopen', page.getByRole('button', { name: `Reopen “${title}”` }));

    expect(errors()).toEqual([]);
    expect(small, 'touch targets under 44 px high').toEqual([]);
  });

  it('offline: the app shell opens with the last loaded tasks and says it is offline', async () => {
    const { page, errors } = await tab();
    await signUp(page, server.url, newUser('Offline'));
    await quickAdd(page, 'Pack the tent');
    await quickAdd(page, 'Buy batteries');
    await page.goto(`${server.url}/tasks`);
    // The service worker takes control (clientsClaim); then a reload goes through it and fills its cache.
    const controlled = () =>
      page.evaluate(async () => {
        await navigator.serviceWorker.ready;
        return !!navigator.serviceWorker.controller;
      });
    if (!(await controlled())) await page.waitForFunction(() => !!navigator.serviceWorker.controller);
    await page.reload();
    expect(await controlled()).toBe(true);
    await row(page, 'Buy batteries').waitFor();

    // Added elsewhere while this device is offline: it cannot show up here. (Offline first: added
    // while the page is online, the live stream would announce it and the page would load it.)
    const token = await tokenOf(page);
    await page.context().setOffline(true);
    const later = await apiCall(server.url, 'POST', '/tasks', token, { title: 'Added elsewhere' });
    expect(later.status).toBe(201);
    await page.reload();
    await page.getByRole('status').filter({ hasText: 'You are offline' }).waitFor();
    await page.getByRole('heading', { level: 1, name: 'All tasks' }).waitFor();
    await row(page, 'Pack the tent').waitFor();
    await row(page, 'Buy batteries').waitFor();
    expect(await row(page, 'Added elsewhere').count()).toBe(0);
    await shot(page, 'offline');
    await page.context().setOffline(false);
    await page.getByRole('status').filter({ hasText: 'You are offline' }).waitFor({ state: 'detached' });
    expect(errors([/Failed to load resource: net::ERR_INTERNET_DISCONNECTED/])).toEqual([]);
  });

  it('an expired session sends to log in and back, with what was typed still there', async () => {
    const { page, errors } = await tab();
    const user = newUser('Expiry');
    await signUp(page, server.url, user);
    await page.getByLabel('Add a task').fill('Half-typed idea');
    // The session is revoked elsewhere (the token logged out through the API).
    const out = await apiCall(server.url, 'POST', '/auth/logout', await tokenOf(page));
    expect(out.status).toBe(204);
    // The next request finds the session gone: the click, or a refresh in the background first.
    await nav(page)
      .getByRole('link', { name: 'Upcoming' })
      .click({ timeout: 3000 })
      .catch(() => {});
    await page.waitForURL(/\/login\?next=%2F(upcoming|today)$/);
    const back = new URL(page.url()).searchParams.get('next') === '/upcoming' ? 'Upcoming' : 'Today';
    await logIn(page, user.email, user.password);
    await page.getByRole('heading', { level: 1, name: back }).waitFor();
    expect(await page.getByLabel('Add a task').inputValue()).toBe('Half-typed idea');
    expect(errors([HTTP_401])).toEqual([]);
  });

  it('settings: profile persists, the password changes, the account can be deleted', async () => {
    const { page, errors } = await tab();
    const user = newUser('Settings');
    await signUp(page, server.url, user);
    await nav(page).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    const profile = page.getByRole('form', { name: 'Profile' });
    expect(await profile.getByLabel('Time zone').inputValue()).toBe('Europe/Paris');
    await profile.getByLabel('Name', { exact: true }).fill('Renamed Person');
    await profile.getByLabel('Time zone').selectOption('Asia/Tokyo');
    await profile.getByLabel('Email reminder before a task is due').selectOption({ label: '1 hour before' });
    await profile.getByRole('button', { name: 'Save profile' }).click();
    await page.getByRole('status').filter({ hasText: 'Profile saved' }).waitFor();
    await shot(page, 'settings');
    await page.reload();
    expect(await profile.getByLabel('Name', { exact: true }).inputValue()).toBe('Renamed Person');
    expect(await profile.getByLabel('Time zone').inputValue()).toBe('Asia/Tokyo');
    expect(await profile.getByLabel('Email reminder before a task is due').inputValue()).toBe('60');

    const password = page.getByRole('form', { name: 'Password' });
    const newPassword = 'another long passphrase';
    await password.getByLabel('Current password').fill(user.password);
    await password.getByLabel('New password').fill(newPassword);
    await password.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').filter({ hasText: 'Password changed' }).waitFor();
    await nav(page).getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    await logIn(page, user.email, user.password);
    await page.getByRole('alert').waitFor();
    expect(page.url()).toMatch(/\/login/);
    await logIn(page, user.email, newPassword);
    await page.waitForURL(/\/settings$/);

    await page.getByRole('button', { name: 'Delete my account…' }).click();
    const confirm = page.getByRole('form', { name: 'Confirm account deletion' });
    await confirm.getByLabel('Type your password to confirm').fill(newPassword);
    await confirm.getByRole('button', { name: 'Delete my account for good' }).click();
    await page.waitForURL(/\/login/);
    await logIn(page, user.email, newPassword);
    await page.getByRole('alert').waitFor();
    expect(page.url()).toMatch(/\/login/);
    expect(errors([HTTP_401])).toEqual([]);
  });

  it('keyboard: ? help, q quick add, g u, j/k and x', async () => {
    const { page, errors } = await tab();
    await signUp(page, server.url, newUser('Keys'));
    await nav(page).getByRole('link', { name: 'All tasks' }).click();
    for (const t of ['Alpha', 'Beta', 'Gamma']) await quickAdd(page, t); // newest first: Gamma, Beta, Alpha
    await page.getByRole('heading', { level: 1 }).click(); // out of the quick-add box: shortcuts are off in fields

    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.waitFor();
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });

    await page.keyboard.press('q');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('quick-add');
    expect(await page.getByLabel('Add a task').inputValue()).toBe('');
    await page.getByRole('heading', { level: 1 }).click();

    await page.keyboard.press('g');
    await page.keyboard.press('u');
    await page.waitForURL(/\/upcoming$/);
    await page.keyboard.press('g');
    await page.keyboard.press('a');
    await page.waitForURL(/\/tasks$/);
    await row(page, 'Alpha').waitFor();

    // Nothing is selected at first: j picks the first task, then moves down; k moves up.
    for (const key of ['j', 'j', 'j', 'k']) await page.keyboard.press(key);
    await expect.poll(() => row(page, 'Beta').getAttribute('aria-current')).toBe('true');
    expect(await row(page, 'Gamma').getAttribute('aria-current')).toBeNull();
    await page.keyboard.press('x');
    await page.getByRole('button', { name: 'Reopen “Beta”' }).waitFor();
    expect(await page.getByRole('button', { name: /^Reopen/ }).count()).toBe(1);
    expect(errors()).toEqual([]);
  });

  it('deleting five tasks in a row (Delete key) deletes all five', async () => {
    const { page, errors } = await tab();
    await signUp(page, server.url, newUser('Bulk'));
    const token = await tokenOf(page);
    for (let i = 1; i <= 5; i++)
      await apiCall(server.url, 'POST', '/tasks', token, { title: `Old note ${i}` });
    await nav(page).getByRole('link', { name: 'All tasks' }).click();
    await row(page, 'Old note 1').waitFor();
    await page.getByRole('heading', { level: 1 }).click();
    const rows = page.getByRole('list', { name: 'All tasks: tasks' }).getByRole('listitem');
    // j selects the first task; after each deletion the next one is selected.
    await page.keyboard.press('j');
    for (let i = 5; i > 0; i--) {
      await page.keyboard.press('Delete');
      await expect.poll(() => rows.count()).toBe(i - 1);
    }
    await page.getByRole('heading', { name: 'No tasks yet' }).waitFor();
    // Each deletion has its Undo toast; closing them (or letting them expire) deletes for good.
    const dismiss = page.getByRole('button', { name: 'Dismiss' });
    while ((await dismiss.count()) > 0) await dismiss.first().click();
    const left = async () => (await apiCall(server.url, 'GET', '/tasks', token)).body.meta.total as number;
    await expect.poll(left, { timeout: 3000, message: 'tasks left on the server' }).toBe(0);
    expect(errors()).toEqual([]);
  });

  it('deep links reload (the server sends the app for client routes); API 404s stay JSON', async () => {
    // No service worker: every navigation reaches the server.
    const { page, errors } = await tab({ serviceWorkers: 'block' });
    await signUp(page, server.url, newUser('Links'));
    // Added on Today: due today (a title saying "today" would be read as the date by quick add).
    await quickAdd(page, 'Renew the parking permit');
    const token = await tokenOf(page);
    const project = await apiCall(server.url, 'POST', '/projects', token, { name: 'Garden' });
    expect(project.status).toBe(201);

    const cal = await page.goto(`${server.url}/calendar`);
    expect(cal?.status()).toBe(200);
    const month = new Intl.DateTimeFormat('en-GB', {
      month: 'long',
      year: 'numeric',
      timeZone: 'Europe/Paris',
    });
    const heading = page.getByRole('heading', { level: 1, name: month.format(new Date()) });
    await heading.waitFor();
    await page.getByRole('button', { name: 'Renew the parking permit' }).waitFor();
    await shot(page, 'calendar');
    await page.reload();
    await heading.waitFor();

    const projectUrl = `${server.url}/projects/${project.body.data.id}`;
    expect((await page.goto(projectUrl))?.status()).toBe(200);
    await page.getByRole('heading', { level: 1, name: 'Garden' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Garden' }).waitFor();
    await page.getByRole('heading', { name: 'This project has no tasks' }).waitFor();

    const res = await page.goto(`${server.url}/api/v1/nope`);
    expect(res?.status()).toBe(404);
    expect(res?.headers()['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse((await res?.text()) ?? '')).toMatchObject({
      success: false,
      error: { code: 'NOT_FOUND' },
    });
    expect(errors([/status of 404/])).toEqual([]);
  });
});
