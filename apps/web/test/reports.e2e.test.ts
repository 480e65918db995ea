// Reports, the weekly report setting and the calendar feed, end to end: the real API process
// (embedded PGlite) serving the built app, driven in Chromium; the figures on screen are checked
// against the API's own JSON, the CSV download against its summary, the feed URL fetched from here.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiCall,
  axeViolations,
  DIST_INDEX,
  HTTP_401,
  launchBrowser,
  nav,
  newUser,
  openTab,
  quickAdd,
  type Server,
  SHOTS,
  signUp,
  startServer,
  type Tab,
  tokenOf,
} from './helpers';

const shots = process.env.REPORT_SHOTS ?? SHOTS;
const DAY = 86_400_000;

type Report = {
  from: string;
  to: string;
  timezone: string;
  created: number;
  completed: number;
  completion_rate: number | null;
  overdue: number;
  average_seconds_to_complete: number | null;
  median_seconds_to_complete: number | null;
  days: { date: string; created: number; completed: number }[];
};

const addDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);

describe.skipIf(process.env.TEST_DB !== 'pglite')(
  'Reports, weekly report and calendar feed',
  { timeout: 120_000 },
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
      [server, browser] = await Promise.all([startServer(), launchBrowser()]);
      await mkdir(shots, { recursive: true });
    });
    afterAll(async () => {
      await Promise.all(tabs.map((t) => t.close().catch(() => {})));
      await browser?.close();
      await server?.stop();
    });

    const report = async (token: string, query: Record<string, string> = {}): Promise<Report> => {
      const res = await apiCall(
        server.url,
        'GET',
        `/reports/productivity?${new URLSearchParams(query)}`,
        token,
      );
      expect(res.status).toBe(200);
      return res.body.data;
    };
    const stat = (page: Page, label: string) =>
      page
        .locator('.stat')
        .filter({ has: page.getByRole('term').filter({ hasText: new RegExp(`^${label}$`) }) })
        .locator('.stat-value');
    /** What a card shows (its duration may have a spoken form for screen readers beside). */
    const shown = (value: Locator) =>
      value.evaluate((el) => (el.querySelector('[aria-hidden="true"]') ?? el).textContent);
    const bars = (page: Page) => page.getByRole('figure').locator('.chart-day');

    /** A session of the same account in a new tab (a phone, dark mode…). */
    const sameAccount = async (token: string, options: Parameters<typeof openTab>[1], to: string) => {
      const t = await tab(options);
      await t.page.goto(`${server.url}/login`);
      await t.page.evaluate(
        (s) => localStorage.setItem('taskman.session', s),
        JSON.stringify({ token, expiresAt: new Date(Date.now() + 3_600_000).toISOString() }),
      );
      await t.page.goto(`${server.url}${to}`);
      return t;
    };
    const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } as const;

    it('Reports: the figures match the API, a bar group per day, Last 30 days, a project, the CSV, axe', async () => {
      const { page, errors } = await tab();
      await signUp(page, server.url, newUser('Report'));
      const token = await tokenOf(page);

      // Nothing yet: the page says so.
      await page.keyboard.press('g');
      await page.keyboard.press('r');
      await page.waitForURL(/\/reports$/);
      await page.getByRole('heading', { level: 1, name: 'Reports' }).waitFor();
      await page.getByRole('heading', { name: 'Nothing added or completed in this period' }).waitFor();

      // Three tasks through the app (quick add on Today: due today), three through the API.
      await nav(page).getByRole('link', { name: 'Today' }).click();
      for (const title of ['Write the report', 'Call the bank', 'Water the plants'])
        await quickAdd(page, title);
      await page.getByRole('button', { name: 'Complete “Write the report”' }).click();
      await page.getByRole('button', { name: 'Reopen “Write the report”' }).waitFor();
      const work = await apiCall(server.url, 'POST', '/projects', token, { name: 'Work' });
      expect(work.status).toBe(201);
      const create = async (body: object) => {
        const res = await apiCall(server.url, 'POST', '/tasks', token, body);
        expect(res.status).toBe(201);
        return res.body.data.id as string;
      };
      const bug = await create({
        title: 'Fix the login bug',
        priority: 'urgent',
        project_id: work.body.data.id,
        tags: ['bug'],
      });
      const sprint = await create({
        title: 'Plan the sprint',
        priority: 'high',
        project_id: work.body.data.id,
        tags: ['planning'],
      });
      // Due in a moment: overdue by the time the report is read.
      await create({
        title: 'Pay the invoice',
        priority: 'low',
        tags: ['money'],
        due_date: new Date(Date.now() + 1500).toISOString(),
      });
      for (const id of [bug, sprint])
        expect((await apiCall(server.url, 'PATCH', `/tasks/${id}`, token, { status: 'done' })).status).toBe(
          200,
        );
      await new Promise((r) => setTimeout(r, 2000));

      await nav(page).getByRole('link', { name: 'Reports' }).click();
      await page.waitForURL(/\/reports$/);
      const week = await report(token);
      expect(week).toMatchObject({ created: 6, completed: 3, completion_rate: 0.5, overdue: 1 });
      expect(week.days).toHaveLength(7);

      // The cards say what the API says.
      await expect.poll(() => stat(page, 'Added').textContent()).toBe(String(week.created));
      expect(await stat(page, 'Completed').textContent()).toBe(String(week.completed));
      expect(await stat(page, 'Completion rate').textContent()).toBe(
        `${Math.round(week.completion_rate! * 100)}%`,
      );
      expect(await stat(page, 'Overdue now').textContent()).toBe(String(week.overdue));
      // Done seconds after being added.
      expect(week.average_seconds_to_complete).toBeLessThan(60);
      // Shown short ("< 1 min"), spelt out for a screen reader.
      expect(await shown(stat(page, 'Avg. time to complete'))).toBe('< 1 min');
      expect(await shown(stat(page, 'Median time to complete'))).toBe('< 1 min');
      expect(await stat(page, 'Median time to complete').locator('.sr-only').textContent()).toBe(
        'under a minute',
      );
      await page.getByText(`Days in ${week.timezone}`).waitFor();
      expect(week.timezone).toBe('Europe/Paris');

      // One bar group per day, the last being today; the table has the same figures.
      expect(await bars(page).count()).toBe(7);
      expect(await bars(page).first().getAttribute('data-date')).toBe(week.from);
      expect(await bars(page).last().getAttribute('data-date')).toBe(week.to);
      await page.getByRole('button', { name: 'Show as a table' }).click();
      const table = page.getByRole('figure').getByRole('table');
      expect(await table.locator('tbody tr').count()).toBe(7);
      const todayRow = table.locator('tbody tr').last();
      expect(await todayRow.locator('td').allTextContents()).toEqual([
        String(week.days.at(-1)!.created),
        String(week.days.at(-1)!.completed),
      ]);

      // Breakdowns.
      const breakdown = (name: string) => page.getByRole('region', { name });
      const rowOf = (name: string, label: string) =>
        breakdown(name).getByRole('listitem').filter({ hasText: label }).locator('.bar-figures');
      expect(await rowOf('By priority', 'Urgent').textContent()).toBe('1 added · 1 completed');
      expect(await rowOf('By priority', 'Medium').textContent()).toBe('3 added · 1 completed');
      expect(await rowOf('By priority', 'Low').textContent()).toBe('1 added · 0 completed');
      expect(await rowOf('By project', 'Work').textContent()).toBe('2 added · 2 completed');
      expect(await rowOf('By project', 'No project').textContent()).toBe('4 added · 1 completed');
      expect(await rowOf('By tag', 'money').textContent()).toBe('1 added · 0 completed');

      const found: string[] = [];
      for (const v of await axeViolations(page)) found.push(`desktop: ${v}`);
      await page.getByRole('button', { name: 'Hide the table' }).click();
      await shoot(page, 'reports-1280');
      await page.getByRole('region', { name: 'By priority' }).scrollIntoViewIfNeeded();
      await shoot(page, 'reports-1280-breakdowns');

      // Last 30 days: 30 bar groups, and the figures of that period.
      await page.getByLabel('Period', { exact: true }).selectOption({ label: 'Last 30 days' });
      await page.waitForURL(/period=30d/);
      await expect.poll(() => bars(page).count()).toBe(30);
      const month = await report(token, { from: addDays(week.to, -29), to: week.to });
      expect(await bars(page).first().getAttribute('data-date')).toBe(month.from);
      expect(await stat(page, 'Added').textContent()).toBe(String(month.created));

      // The CSV: a file named for the period whose summary is the API's.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download CSV' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe(`taskman-productivity-${month.from}-${month.to}.csv`);
      const csv = await readFile((await download.path())!, 'utf8');
      const rows = csv
        .trim()
        .split(/\r?\n/)
        .map((line) => line.split(','));
      expect(rows[0]).toEqual(['section', 'key', 'metric', 'value']);
      const summary = Object.fromEntries(rows.filter((r) => r[0] === 'summary').map((r) => [r[2], r[3]]));
      expect(summary).toMatchObject({
        from: month.from,
        to: month.to,
        timezone: month.timezone,
        created: String(month.created),
        completed: String(month.completed),
        completion_rate: String(month.completion_rate),
        overdue: String(month.overdue),
      });
      expect(rows.filter((r) => r[0] === 'day' && r[2] === 'created')).toHaveLength(30);
      await page.getByText(/^Downloaded taskman-productivity-/).waitFor();

      // One project: its own figures; the project breakdown goes.
      await page.getByLabel('Project', { exact: true }).selectOption({ label: 'Work' });
      await page.waitForURL(/project=/);
      const workOnly = await report(token, {
        from: month.from,
        to: month.to,
        project_id: work.body.data.id,
      });
      expect(workOnly).toMatchObject({ created: 2, completed: 2, completion_rate: 1 });
      await expect.poll(() => stat(page, 'Added').textContent()).toBe('2');
      expect(await stat(page, 'Completion rate').textContent()).toBe('100%');
      await breakdown('By project').waitFor({ state: 'detached' });
      await page.getByLabel('Project', { exact: true }).selectOption({ label: 'All projects' });
      await page.waitForURL((u) => !u.searchParams.has('project'));

      // Custom: the dates start from the period shown; a period that ends before it starts is refused.
      await page.getByLabel('Period', { exact: true }).selectOption({ label: 'Custom…' });
      expect(await page.getByLabel('From', { exact: true }).inputValue()).toBe(month.from);
      expect(await page.getByLabel('To', { exact: true }).inputValue()).toBe(month.to);
      await page.getByLabel('From', { exact: true }).fill(addDays(week.to, 1));
      await page.getByText('The last day must not be before the first').waitFor();
      expect(await page.getByRole('button', { name: 'Download CSV' }).isDisabled()).toBe(true);
      await page.getByLabel('From', { exact: true }).fill(addDays(week.to, -2));
      await expect.poll(() => bars(page).count()).toBe(3);
      await page.getByRole('button', { name: 'Show as a table' }).click();
      await shoot(page, 'reports-1280-custom');
      await page.setViewportSize({ width: 360, height: 740 });
      await page.waitForTimeout(400); // the menu drawer slides away
      await shoot(page, 'reports-360-custom');
      await page.getByRole('figure').scrollIntoViewIfNeeded();
      await shoot(page, 'reports-360-custom-table');
      await page.setViewportSize({ width: 1280, height: 800 });
      // A reload keeps the report.
      await page.reload();
      await expect.poll(() => bars(page).count()).toBe(3);
      expect(await page.getByLabel('Period', { exact: true }).inputValue()).toBe('custom');

      // Last month: the account did not exist, so nothing happened.
      await page.getByLabel('Period', { exact: true }).selectOption({ label: 'Last month' });
      await page.getByRole('heading', { name: 'Nothing added or completed in this period' }).waitFor();
      expect(await stat(page, 'Overdue now').textContent()).toBe('1');
      for (const v of await axeViolations(page)) found.push(`desktop, empty: ${v}`);
      await shoot(page, 'reports-1280-empty');

      // Dark desktop, and a phone in light and dark: the last 30 days.
      for (const [name, options] of [
        ['reports-1280-dark', { colorScheme: 'dark' }],
        ['reports-360', { ...phone, colorScheme: 'light' }],
        ['reports-360-dark', { ...phone, colorScheme: 'dark' }],
      ] as const) {
        const t = await sameAccount(token, options, '/reports?period=30d');
        await expect.poll(() => bars(t.page).count()).toBe(30);
        for (const v of await axeViolations(t.page)) found.push(`${name}: ${v}`);
        await shoot(t.page, name);
        if (name.startsWith('reports-360')) {
          // No sideways scrolling at 360 px.
          expect(
            await t.page.evaluate(() => {
              const content = document.querySelector('.content')!;
              return content.scrollWidth <= content.clientWidth;
            }),
          ).toBe(true);
          await t.page.getByRole('figure').scrollIntoViewIfNeeded();
          await shoot(t.page, `${name}-chart`);
          await t.page.getByRole('region', { name: 'By tag' }).scrollIntoViewIfNeeded();
          await shoot(t.page, `${name}-breakdowns`);
        }
        expect(t.errors([HTTP_401])).toEqual([]);
      }
      expect(found).toEqual([]);
      expect(errors()).toEqual([]);
    });

    it('Settings: the weekly report (Friday 17:00) and the calendar feed (create, fetch, replace, turn off)', async () => {
      const { page, errors } = await tab({ permissions: ['clipboard-read', 'clipboard-write'] });
      await signUp(page, server.url, newUser('Feed'));
      const token = await tokenOf(page);
      const home = await apiCall(server.url, 'POST', '/projects', token, { name: 'Home' });
      const soon = (days: number) => new Date(Date.now() + days * DAY).toISOString();
      for (const body of [
        { title: 'Dentist appointment', due_date: soon(1), project_id: home.body.data.id },
        { title: 'File the taxes', due_date: soon(3), priority: 'high' },
        { title: 'Someday read a book' },
      ])
        expect((await apiCall(server.url, 'POST', '/tasks', token, body)).status).toBe(201);

      await nav(page).getByRole('link', { name: 'Settings' }).click();
      const weekly = page.getByRole('region', { name: 'Weekly report' });
      const toggle = weekly.getByRole('switch', { name: 'Email me a weekly report' });
      expect(await toggle.getAttribute('aria-checked')).toBe('false');
      expect(await weekly.getByLabel('Day').count()).toBe(0);

      // On, then Friday at 17:00: each change is saved at once.
      const saved = () =>
        page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith('/users/me'));
      let answer = saved();
      await toggle.click();
      await answer;
      expect(await toggle.getAttribute('aria-checked')).toBe('true');
      await page.getByText('Weekly report on: every Monday at 08:00').waitFor();
      answer = saved();
      await weekly.getByLabel('Day').selectOption({ label: 'Friday' });
      await answer;
      answer = saved();
      await weekly.getByLabel('Time (Europe/Paris)').selectOption({ label: '17:00' });
      await answer;
      await page.getByText('Weekly report: every Friday at 17:00').waitFor();
      await weekly.getByText(/^Next one: Friday \d+ \w+ at 17:00/).waitFor();
      const me = await apiCall(server.url, 'GET', '/users/me', token);
      expect(me.body.data).toMatchObject({ weekly_report_day: 'friday', weekly_report_hour: 17 });
      // Off, then on again: the same day and hour come back.
      answer = saved();
      await toggle.click();
      await answer;
      expect((await apiCall(server.url, 'GET', '/users/me', token)).body.data.weekly_report_day).toBeNull();
      answer = saved();
      await toggle.click();
      await answer;
      expect((await apiCall(server.url, 'GET', '/users/me', token)).body.data).toMatchObject({
        weekly_report_day: 'friday',
        weekly_report_hour: 17,
      });
      await page.reload();
      expect(await weekly.getByLabel('Day').inputValue()).toBe('friday');
      expect(await weekly.getByLabel('Time (Europe/Paris)').inputValue()).toBe('17');

      // The calendar feed: none yet; create one, shown once.
      const feed = page.getByRole('region', { name: 'Calendar feed' });
      await feed.getByText('No calendar feed').waitFor();
      await feed.getByRole('button', { name: 'Create feed URL' }).click();
      const reveal = feed.getByRole('region', { name: 'Your calendar feed URL' });
      const url = await reveal.getByLabel('Feed URL').inputValue();
      expect(url).toMatch(/\/api\/v1\/calendar\/feed\/tmcal_[\w-]{32}\.ics$/);
      expect(await page.evaluate(() => document.activeElement?.getAttribute('class'))).toBe('secret-input');
      await reveal.getByRole('button', { name: 'Copy' }).click();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
      await feed.getByText(/^Active since /).waitFor();
      // The server's APP_URL is not this test's address: fetch the same path here.
      const fetchFeed = (feedUrl: string) => {
        const { pathname, search } = new URL(feedUrl);
        return fetch(`${server.url}${pathname}${search}`);
      };
      const res = await fetchFeed(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/calendar/);
      const ics = await res.text();
      expect(ics).toContain('BEGIN:VCALENDAR');
      expect(ics).toContain('SUMMARY:Dentist appointment');
      expect(ics).toContain('SUMMARY:File the taxes');
      expect(ics).not.toContain('Someday read a book');
      // Limited to a project: the same URL with ?project_id=.
      await reveal.getByLabel('Tasks from').selectOption({ label: 'Home' });
      const homeUrl = await reveal.getByLabel('Feed URL').inputValue();
      expect(homeUrl).toBe(`${url}?project_id=${home.body.data.id}`);
      const homeIcs = await (await fetchFeed(homeUrl)).text();
      expect(homeIcs).toContain('SUMMARY:Dentist appointment');
      expect(homeIcs).not.toContain('File the taxes');

      const found: string[] = [];
      await reveal.getByText('How to subscribe').click();
      for (const v of await axeViolations(page)) found.push(`desktop, reveal: ${v}`);
      await page
        .getByRole('heading', { level: 2, name: 'Weekly report' })
        .evaluate((el) => el.scrollIntoView());
      await shoot(page, 'settings-weekly-feed-1280');
      await page.setViewportSize({ width: 360, height: 740 });
      await page.waitForTimeout(400); // the menu drawer slides away
      await reveal.scrollIntoViewIfNeeded();
      await shoot(page, 'settings-feed-reveal-360');
      await page.setViewportSize({ width: 1280, height: 800 });
      await reveal.getByRole('button', { name: 'I’ve saved it' }).click();
      await reveal.waitFor({ state: 'detached' });
      // The URL is not shown again.
      await page.reload();
      await feed.getByText(/^Active since /).waitFor();
      expect(await feed.getByLabel('Feed URL').count()).toBe(0);

      // Replace: asked first; the old URL stops working, the new one works.
      await feed.getByRole('button', { name: 'Replace URL' }).click();
      const confirmReplace = feed.getByRole('group', { name: 'Replace the feed URL?' });
      await confirmReplace.getByText('the current one stops working at once', { exact: false }).waitFor();
      for (const v of await axeViolations(page)) found.push(`desktop, confirm: ${v}`);
      await page
        .getByRole('heading', { level: 2, name: 'Calendar feed' })
        .evaluate((el) => el.scrollIntoView());
      await shoot(page, 'settings-feed-replace-1280');
      await confirmReplace.getByRole('button', { name: 'Replace URL' }).click();
      const replaced = feed.getByRole('region', { name: 'Your new calendar feed URL' });
      const newUrl = await replaced.getByLabel('Feed URL').inputValue();
      expect(newUrl).not.toBe(url);
      expect((await fetchFeed(url)).status).toBe(404);
      expect((await fetchFeed(newUrl)).status).toBe(200);
      await replaced.getByRole('button', { name: 'I’ve saved it' }).click();

      // A phone, dark, then light: the two sections.
      for (const [name, scheme] of [
        ['settings-weekly-feed-360-dark', 'dark'],
        ['settings-weekly-feed-360', 'light'],
      ] as const) {
        const t = await sameAccount(token, { ...phone, colorScheme: scheme }, '/settings#weekly-report');
        const tFeed = t.page.getByRole('region', { name: 'Calendar feed' });
        await tFeed.getByText(/^Active since /).waitFor();
        await expect
          .poll(() =>
            t.page
              .getByRole('heading', { level: 2, name: 'Weekly report' })
              .evaluate((el) => el === document.activeElement),
          )
          .toBe(true);
        for (const v of await axeViolations(t.page)) found.push(`${name}: ${v}`);
        await shoot(t.page, name);
        await tFeed.getByRole('button', { name: 'Replace URL' }).scrollIntoViewIfNeeded();
        await shoot(t.page, `${name}-feed`);
        expect(
          await t.page.evaluate(() => {
            const content = document.querySelector('.content')!;
            return content.scrollWidth <= content.clientWidth;
          }),
        ).toBe(true);
        expect(t.errors([HTTP_401])).toEqual([]);
      }

      // Turn off: asked first; the URL then answers 404 and the section offers a new one.
      await feed.getByRole('button', { name: 'Turn off' }).click();
      const confirmOff = feed.getByRole('group', { name: 'Turn off the calendar feed?' });
      await confirmOff.getByRole('button', { name: 'Turn off' }).click();
      await feed.getByText('No calendar feed').waitFor();
      await page.getByText('Calendar feed turned off: its URL no longer works').waitFor();
      expect((await fetchFeed(newUrl)).status).toBe(404);
      expect((await apiCall(server.url, 'GET', '/calendar/feed', token)).body.data).toEqual({
        active: false,
        created_at: null,
      });
      expect(found).toEqual([]);
      expect(errors()).toEqual([]);
    });
  },
);

function shoot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(shots, `${name}.png`) });
}
