// Quick add, repeats and lost-update protection in the web app, end to end: the real API process
// serving the built app, driven through Chromium. The user's zone (New York) differs from the
// browser's (Paris): dates must be read in the profile's zone, as the server reads them.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiCall,
  axeViolations,
  DIST_INDEX,
  launchBrowser,
  newUser,
  openButton,
  openTab,
  panel,
  row,
  type Server,
  startServer,
  type Tab,
} from './helpers';

const SHOTS = '/tmp/shots';
const ZONE = 'America/New_York';
const TEXT = 'Pay rent tomorrow 9am !high #home +Finance every month';
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
/** What the browser logs by itself for the refusals these tests provoke on purpose. */
const REFUSALS = /Failed to load resource: the server responded with a status of (400|412)/;

describe.skipIf(process.env.TEST_DB !== 'pglite')(
  'quick add, repeats, no lost updates',
  { timeout: 90_000 },
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
      await mkdir(SHOTS, { recursive: true });
      [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    });
    afterAll(async () => {
      await Promise.all(tabs.map((t) => t.close().catch(() => {})));
      await browser?.close();
      await server?.stop();
    });

    /** An account made through the API (its zone set at sign-up), signed in in `page`, on All tasks. */
    async function account(page: Page, prefix: string) {
      const user = newUser(prefix);
      const res = await fetch(`${server.url}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...user, timezone: ZONE }),
      });
      expect(res.status).toBe(201);
      const { data } = (await res.json()) as { data: { token: string; expires_at: string } };
      await page.goto(`${server.url}/login`);
      await page.evaluate(
        ([token, expiresAt]) => localStorage.setItem('taskman.session', JSON.stringify({ token, expiresAt })),
        [data.token, data.expires_at],
      );
      await page.goto(`${server.url}/tasks`);
      await page.getByRole('heading', { level: 1, name: 'All tasks' }).waitFor();
      const call = (method: string, route: string, body?: unknown) =>
        apiCall(server.url, method, route, data.token, body);
      return { token: data.token, call };
    }

    /** An instant as the app shows an absolute date ("Sat 28 Nov, 09:00"), in the browser's own locale. */
    const absolute = (page: Page, iso: string, withTime = true) =>
      page.evaluate(
        ([at, zone, time]) => {
          const year = (d: Date) =>
            new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric' }).format(d);
          return new Intl.DateTimeFormat(undefined, {
            timeZone: zone,
            weekday: 'short',
            day: 'numeric',
            month: 'short',
            ...(year(new Date(at)) === year(new Date()) ? {} : { year: 'numeric' }),
            ...(time ? { hour: 'numeric', minute: '2-digit' } : {}),
          }).format(new Date(at));
        },
        [iso, ZONE, withTime] as const,
      );

    /** The answer to the next PATCH of a task. */
    const patched = (page: Page): Promise<Response> =>
      page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/tasks/'));

    const recognised = (page: Page) => page.getByRole('list', { name: 'Recognised in the text' });

    it('quick add: highlights as you type, lists what it read, creates from the text on Enter', async () => {
      const { page, errors } = await tab();
      const { call } = await account(page, 'Quick');
      const finance = await call('POST', '/projects', { name: 'Finance' });
      expect(finance.status).toBe(201);
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'All tasks' }).waitFor();

      // The q shortcut, then typing as a person does, key by key.
      await page.getByRole('heading', { level: 1 }).click();
      await page.keyboard.press('q');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('quick-add');
      await page.keyboard.type(TEXT, { delay: 5 });

      // What the server would read, right now, in the user's zone.
      const parse = await call('POST', '/tasks/parse', { text: TEXT });
      expect(parse.status).toBe(200);
      const expected = parse.body.data;
      expect(expected).toMatchObject({
        title: 'Pay rent',
        priority: 'high',
        tags: ['home'],
        project_name: 'Finance',
      });

      // In the text: each recognised part marked, with its kind.
      const marks = page.locator('.qa-mirror mark');
      await expect
        .poll(() => marks.allTextContents())
        .toEqual(expected.spans.map((s: { text: string }) => s.text));
      expect(await marks.evaluateAll((els) => els.map((e) => e.className))).toEqual(
        expected.spans.map((s: { kind: string }) => `qa-mark qa-k-${s.kind}`),
      );
      // Under it: what will be created, the due date as the API reads it, in the profile's zone.
      const due = await absolute(page, expected.due_date);
      await expect
        .poll(() => recognised(page).getByRole('listitem').allTextContents())
        .toEqual([
          'Title: Pay rent',
          `Due: ${due}`,
          'Priority: High',
          'Tag: #home',
          'Project: Finance',
          'Repeats: every month',
        ]);
      // Announced politely, as one.
      const live = page.locator('[aria-live="polite"]').filter({ has: recognised(page) });
      expect(await live.getAttribute('aria-atomic')).toBe('true');
      expect(await page.getByLabel('Add a task').inputValue()).toBe(TEXT);
      await page.screenshot({ path: `${SHOTS}/quickadd-desktop-typing.png` });
      expect(await axeViolations(page)).toEqual([]);

      // The grammar, behind "?": open, checked, closed with Escape (focus stays in the box).
      const help = page.getByRole('button', { name: 'Quick add help' });
      await help.click();
      expect(await help.getAttribute('aria-expanded')).toBe('true');
      await page.getByRole('region', { name: 'Quick add' }).getByText('every! 3 days').waitFor();
      await page.screenshot({ path: `${SHOTS}/quickadd-desktop-help.png` });
      expect(await axeViolations(page)).toEqual([]);
      await page.getByLabel('Add a task').focus();
      await page.keyboard.press('Escape');
      await page.getByRole('region', { name: 'Quick add' }).waitFor({ state: 'detached' });
      expect(await help.getAttribute('aria-expanded')).toBe('false');

      // Enter: the text goes to the server, which creates the task from it.
      const created = page.waitForResponse(
        (r) => r.url().endsWith('/api/v1/tasks') && r.request().method() === 'POST',
      );
      await page.keyboard.press('Enter');
      const response = await created;
      expect(response.status()).toBe(201);
      expect(response.request().postDataJSON()).toEqual({ text: TEXT });
      const task = (await response.json()).data;
      expect(task).toMatchObject({
        title: 'Pay rent',
        due_date: expected.due_date,
        priority: 'high',
        tags: ['home'],
        project_id: finance.body.data.id,
        recurrence: { rule: 'FREQ=MONTHLY', basis: 'due', description: 'every month' },
      });
      const stored = await call('GET', `/tasks/${task.id}`);
      expect(stored.body.data).toMatchObject({
        title: 'Pay rent',
        priority: 'high',
        project_id: finance.body.data.id,
      });
      await page.getByRole('button', { name: 'Complete “Pay rent”' }).waitFor();
      expect(await page.getByLabel('Add a task').inputValue()).toBe('');
      expect(await recognised(page).count()).toBe(0);
      // The row: its repeat, its project, its tag.
      const text = await row(page, 'Pay rent').textContent();
      for (const part of ['Repeats every month', '#Finance', 'home', 'High']) expect(text).toContain(part);
      await page.screenshot({ path: `${SHOTS}/quickadd-desktop-created.png` });

      // Plain text still adds a plain task; markup stays text.
      await page.getByLabel('Add a task').fill('Buy milk <b>bold</b>');
      expect(await recognised(page).count()).toBe(0);
      await page.getByLabel('Add a task').press('Enter');
      await page.getByRole('button', { name: 'Complete “Buy milk <b>bold</b>”' }).waitFor();
      expect(await page.locator('b').count()).toBe(0);
      expect(errors()).toEqual([]);
    });

    it('quick add on a phone (390×844, dark): the box, the list under it and the help fit', async () => {
      const { page, errors } = await tab({ ...PHONE, colorScheme: 'dark' });
      const { call } = await account(page, 'QuickPhone');
      await call('POST', '/projects', { name: 'Finance' });
      await page.reload();
      await page.getByLabel('Add a task').tap();
      await page.getByLabel('Add a task').fill(TEXT);
      await recognised(page).getByText('Repeats: every month').waitFor();
      // The marks line up with the text they mark: the mirror scrolls with the input.
      const box = await page.getByLabel('Add a task').boundingBox();
      expect(box!.height).toBeGreaterThanOrEqual(44);
      for (const b of ['Quick add help', 'Add'])
        expect(
          (await page.getByRole('button', { name: b, exact: true }).boundingBox())!.height,
        ).toBeGreaterThanOrEqual(44);
      await page.screenshot({ path: `${SHOTS}/quickadd-phone-typing.png` });
      expect(await axeViolations(page)).toEqual([]);
      await page.getByRole('button', { name: 'Quick add help' }).tap();
      const help = page.getByRole('region', { name: 'Quick add' });
      await help.waitFor();
      const helpBox = (await help.boundingBox())!;
      expect(helpBox.x).toBeGreaterThanOrEqual(0);
      expect(helpBox.x + helpBox.width).toBeLessThanOrEqual(390);
      await page.screenshot({ path: `${SHOTS}/quickadd-phone-help.png` });
      expect(await axeViolations(page)).toEqual([]);
      await help.getByRole('button', { name: 'Close the help' }).tap();
      await help.waitFor({ state: 'detached' });
      // Open again, then a tap elsewhere closes it.
      await page.getByRole('button', { name: 'Quick add help' }).tap();
      await help.waitFor();
      await page.getByRole('heading', { level: 1 }).tap();
      await help.waitFor({ state: 'detached' });
      await page.getByLabel('Add a task').press('Enter');
      await page.getByRole('button', { name: 'Complete “Pay rent”' }).waitFor();
      await page.screenshot({ path: `${SHOTS}/quickadd-phone-created.png` });
      expect(errors()).toEqual([]);
    });

    it('repeats: set in the panel, completing moves the task to its next date and keeps it listed', async () => {
      const { page, errors } = await tab();
      const { call } = await account(page, 'Repeat');
      const firstDue = new Date(Date.now() + 2 * 86_400_000);
      firstDue.setUTCHours(22, 0, 0, 0); // 17:00 or 18:00 in New York
      const plants = await call('POST', '/tasks', {
        title: 'Water the plants',
        due_date: firstDue.toISOString(),
      });
      const undated = await call('POST', '/tasks', { title: 'Someday task' });
      await page.reload();
      await openButton(page, 'Water the plants').click();
      await panel(page).waitFor();

      // Weekly on the due date's weekday: sent with If-Match (the version the panel loaded).
      const repeat = panel(page).getByLabel('Repeat', { exact: true });
      expect(await repeat.inputValue()).toBe('none');
      let saved = page.waitForRequest((r) => r.method() === 'PATCH');
      let answered = patched(page);
      await repeat.selectOption('weekly');
      let request = await saved;
      expect(request.postDataJSON()).toEqual({ recurrence: { rule: 'FREQ=WEEKLY', basis: 'due' } });
      expect(request.headers()['if-match']).toBe(`"${plants.body.data.version}"`);
      await answered;
      await panel(page).getByText('Repeats every week. Completing it moves it to the next date.').waitFor();
      const dayName = await page.evaluate(
        ([at, zone]) =>
          new Intl.DateTimeFormat(undefined, { timeZone: zone, weekday: 'long' }).format(new Date(at)),
        [firstDue.toISOString(), ZONE] as const,
      );
      expect(await repeat.locator('option:checked').textContent()).toBe(`Every week on ${dayName}`);

      // Counting from completion, and back (the second edit follows the first one's version).
      answered = patched(page);
      await panel(page).getByLabel('Count from completion').check();
      expect((await answered).status()).toBe(200);
      await panel(page).getByText('Repeats every week after completion.', { exact: false }).waitFor();
      answered = patched(page);
      await panel(page).getByLabel('Count from completion').uncheck();
      expect((await answered).status()).toBe(200);
      await panel(page).getByText('Repeats every week.', { exact: false }).waitFor();

      // A custom rule: a refused one shows why, in the field; a good one is described.
      await repeat.selectOption('custom');
      const rule = panel(page).getByLabel('Repeat rule (RRULE)');
      await expect.poll(() => rule.evaluate((el) => el === document.activeElement)).toBe(true);
      answered = patched(page);
      await rule.fill('FREQ=HOURLY');
      await rule.press('Enter');
      expect((await answered).status()).toBe(400);
      await panel(page).getByText('FREQ=HOURLY is not supported: tasks repeat at most daily').waitFor();
      expect(await rule.getAttribute('aria-invalid')).toBe('true');
      answered = patched(page);
      await rule.fill('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH');
      await rule.press('Enter');
      expect((await answered).status()).toBe(200);
      await panel(page).getByText('Repeats every 2 weeks on Monday, Thursday.', { exact: false }).waitFor();
      expect(await panel(page).getByText('is not supported').count()).toBe(0);
      // Back to a plain weekly repeat for the completion below.
      answered = patched(page);
      await repeat.selectOption('weekly');
      expect((await answered).status()).toBe(200);
      await panel(page).getByText('Repeats every week.', { exact: false }).waitFor();
      await panel(page).getByText('Not completed yet.').waitFor();
      expect(await axeViolations(page)).toEqual([]);
      await page.getByRole('button', { name: 'Close the task' }).click();
      await panel(page).waitFor({ state: 'detached' });
      await expect.poll(() => row(page, 'Water the plants').textContent()).toContain('Repeats every week');

      // Complete from the list (with If-Match): done, and open again at the next date.
      const before = (await call('GET', `/tasks/${plants.body.data.id}`)).body.data;
      saved = page.waitForRequest((r) => r.method() === 'PATCH');
      await page.getByRole('button', { name: 'Complete “Water the plants”' }).click();
      request = await saved;
      expect(request.headers()['if-match']).toBe(`"${before.version}"`);
      const after = (await call('GET', `/tasks/${plants.body.data.id}`)).body.data;
      expect(after.status).toBe('todo');
      expect(Date.parse(after.due_date) - Date.parse(before.due_date)).toBe(7 * 86_400_000);
      const nextDay = await absolute(page, after.due_date, false);
      const toast = page.getByRole('status').filter({ hasText: 'Completed “Water the plants” — next:' });
      await toast.waitFor();
      expect(await toast.textContent()).toContain(nextDay);
      // Still listed, not struck through, with its new date.
      const plantsRow = row(page, 'Water the plants');
      await page.getByRole('button', { name: 'Complete “Water the plants”' }).waitFor();
      expect(await page.getByRole('button', { name: 'Reopen “Water the plants”' }).count()).toBe(0);
      expect(await plantsRow.getAttribute('class')).not.toContain('done');
      await expect.poll(() => plantsRow.textContent()).toContain(nextDay);
      await page.screenshot({ path: `${SHOTS}/quickadd-desktop-completed.png` });

      // The panel's history.
      await openButton(page, 'Water the plants').click();
      await panel(page)
        .getByText(/^Completed once, last on /)
        .waitFor();
      const beforeDue = await absolute(page, before.due_date, false);
      expect(await panel(page).getByRole('region', { name: 'History' }).textContent()).toContain(beforeDue);
      await panel(page).getByRole('region', { name: 'History' }).scrollIntoViewIfNeeded();
      await page.screenshot({ path: `${SHOTS}/quickadd-desktop-panel.png` });

      // No due date: the API refuses a repeat, the field says why and the choice goes back.
      await openButton(page, 'Someday task').click();
      await expect.poll(() => panel(page).getByLabel('Title').inputValue()).toBe('Someday task');
      await panel(page).getByText('A repeat needs a due date: the first occurrence.').waitFor();
      answered = patched(page);
      await repeat.selectOption('daily');
      expect((await answered).status()).toBe(400);
      await panel(page)
        .getByText(/^needs a due date to repeat from$/)
        .waitFor();
      expect(await repeat.getAttribute('aria-invalid')).toBe('true');
      await expect.poll(() => repeat.inputValue()).toBe('none');
      expect((await call('GET', `/tasks/${undated.body.data.id}`)).body.data.recurrence).toBeNull();

      // Removing the repeat.
      await openButton(page, 'Water the plants').click();
      await expect.poll(() => repeat.inputValue()).toBe('weekly');
      answered = patched(page);
      await repeat.selectOption('none');
      expect((await answered).request().postDataJSON()).toEqual({ recurrence: null });
      expect((await call('GET', `/tasks/${plants.body.data.id}`)).body.data.recurrence).toBeNull();
      expect(errors([REFUSALS])).toEqual([]);
    });

    it('the panel and the history on a phone (390×844)', async () => {
      const { page, errors } = await tab(PHONE);
      const { call } = await account(page, 'RepeatPhone');
      const due = new Date(Date.now() + 86_400_000).toISOString();
      const task = await call('POST', '/tasks', {
        title: 'Stretch',
        due_date: due,
        recurrence: { rule: 'FREQ=DAILY', basis: 'completion' },
      });
      expect(task.status).toBe(201);
      await call('PATCH', `/tasks/${task.body.data.id}`, { status: 'done' });
      await page.reload();
      await expect
        .poll(() => row(page, 'Stretch').textContent())
        .toContain('Repeats every day after completion');
      await page.screenshot({ path: `${SHOTS}/quickadd-phone-list.png` });
      await openButton(page, 'Stretch').tap();
      await panel(page)
        .getByText(/^Completed once, last on /)
        .waitFor();
      expect(await panel(page).getByLabel('Count from completion').isChecked()).toBe(true);
      await panel(page).getByLabel('Repeat', { exact: true }).scrollIntoViewIfNeeded();
      await page.screenshot({ path: `${SHOTS}/quickadd-phone-panel.png` });
      expect(await axeViolations(page)).toEqual([]);
      expect(errors()).toEqual([]);
    });

    for (const [label, options] of [
      ['desktop', {}],
      ['phone', PHONE],
    ] as const) {
      it(`a change made elsewhere is not overwritten: the panel says so and keeps what was typed (${label})`, async () => {
        const { page, errors } = await tab(options);
        // What is tested is a change made elsewhere that this tab has not heard of: its live event
        // stream is held (never answered), or it would reload the task before the edit is sent.
        await page.route('**/api/v1/events', () => {});
        const { call } = await account(page, `Conflict${label}`);
        const task = (await call('POST', '/tasks', { title: 'Plan the trip' })).body.data;
        const other = (await call('POST', '/tasks', { title: 'Book the hotel' })).body.data;
        await page.reload();
        await openButton(page, 'Plan the trip').click();
        const title = panel(page).getByLabel('Title');
        await expect.poll(() => title.inputValue()).toBe('Plan the trip');

        // Meanwhile, on another device.
        const elsewhere = await call('PATCH', `/tasks/${task.id}`, { title: 'Plan the trip to Rome' });
        expect(elsewhere.status).toBe(200);

        // This tab's edit names the version it loaded: refused, nothing overwritten.
        await title.fill('Plan the trip to Lisbon');
        const answered = patched(page);
        await title.press('Enter');
        const res = await answered;
        expect(res.status()).toBe(412);
        expect(res.request().headers()['if-match']).toBe(`"${task.version}"`);
        expect((await res.json()).error).toMatchObject({
          code: 'PRECONDITION_FAILED',
          current_version: elsewhere.body.data.version,
        });
        const alert = panel(page).getByRole('alert');
        await alert
          .getByText('This task was changed elsewhere — reloaded; your edit was not saved.')
          .waitFor();
        expect((await call('GET', `/tasks/${task.id}`)).body.data.title).toBe('Plan the trip to Rome');
        // What was typed is kept in the field.
        await expect.poll(() => title.inputValue()).toBe('Plan the trip to Lisbon');
        await page.screenshot({ path: `${SHOTS}/quickadd-${label}-conflict.png` });
        expect(await axeViolations(page)).toEqual([]);

        // Saved again, knowingly: against the reloaded version, it applies.
        const again = patched(page);
        await title.focus();
        await title.press('Enter');
        expect((await again).status()).toBe(200);
        await alert.waitFor({ state: 'detached' });
        expect((await call('GET', `/tasks/${task.id}`)).body.data.title).toBe('Plan the trip to Lisbon');

        // Several edits in a row from the panel are not conflicts with each other.
        for (const priority of ['High', 'Urgent', 'Low']) {
          const next = patched(page);
          await panel(page).getByLabel('Priority', { exact: true }).selectOption({ label: priority });
          expect((await next).status()).toBe(200);
        }
        expect((await call('GET', `/tasks/${task.id}`)).body.data.priority).toBe('low');
        await page.getByRole('button', { name: 'Close the task' }).click();
        await panel(page).waitFor({ state: 'detached' });

        // Completing from the list names the version too: a task changed elsewhere stays as it is.
        await call('PATCH', `/tasks/${other.id}`, { priority: 'urgent' });
        const completed = patched(page);
        await page.getByRole('button', { name: 'Complete “Book the hotel”' }).click();
        expect((await completed).status()).toBe(412);
        await page
          .getByRole('alert')
          .filter({ hasText: '“Book the hotel” was changed elsewhere — reloaded; your change was not saved' })
          .waitFor();
        await page.getByRole('button', { name: 'Complete “Book the hotel”' }).waitFor();
        expect((await call('GET', `/tasks/${other.id}`)).body.data).toMatchObject({
          status: 'todo',
          priority: 'urgent',
        });
        await expect.poll(() => row(page, 'Book the hotel').textContent()).toContain('Urgent');
        expect(errors([REFUSALS])).toEqual([]);
      });
    }
  },
);
