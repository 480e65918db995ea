// Operations (/admin), end to end: the real API process (embedded PGlite) serving the built app,
// driven in Chromium. An admin sees the dashboard of GET /admin/dashboard (health, alerts, the cards,
// the 30-day trend, the processes), refreshed by hand and every 10 s; on a phone and in dark mode
// too; axe-core finds no serious violation. Another user has no Operations entry and is told the
// page is for admins.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiCall,
  axeViolations,
  DIST_INDEX,
  launchBrowser,
  logIn,
  nav,
  newUser,
  openTab,
  type Server,
  SHOTS,
  startServer,
  type Tab,
} from './helpers';

type Dashboard = {
  generated_at: string;
  health: { status: 'ok' | 'degraded' | 'unavailable'; uptime_seconds: number };
  processes: { kind: 'api' | 'worker'; host: string; pid: number }[];
  business: { tasks_created_today: number; tasks_completed_today: number; active_users_24h: number };
  trend: { date: string; created: number; completed: number }[];
  alerts: { id: string; severity: 'warning' | 'critical'; message: string }[];
};

const BADGE = { ok: 'OK', degraded: 'Degraded', unavailable: 'Down' } as const;
const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } as const;

describe.skipIf(process.env.TEST_DB !== 'pglite')(
  'Operations dashboard (admins)',
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
    });
    afterAll(async () => {
      await Promise.all(tabs.map((t) => t.close().catch(() => {})));
      await browser?.close();
      await server?.stop();
    });

    const register = async (user: ReturnType<typeof newUser>) => {
      const res = await fetch(`${server.url}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(user),
      });
      expect(res.status).toBe(201);
      const { data } = (await res.json()) as { data: { token: string; user: { role: string } } };
      return { token: data.token, role: data.user.role };
    };
    const createTask = async (token: string, title: string) => {
      const res = await apiCall(server.url, 'POST', '/tasks', token, { title });
      expect(res.status).toBe(201);
      return res.body.data.id as string;
    };
    const dashboard = async (token: string): Promise<Dashboard> => {
      const res = await apiCall(server.url, 'GET', '/admin/dashboard', token);
      expect(res.status).toBe(200);
      return res.body.data;
    };

    /** Signs in with the form and lands on Today. */
    const signIn = async (page: Page, user: ReturnType<typeof newUser>) => {
      await page.goto(`${server.url}/login`);
      await logIn(page, user.email, user.password);
      await page.waitForURL(/\/today$/);
      await page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
    };
    /**
     * Opens a path of the app as a link inside it does. A cold load of /admin does not reach the app
     * yet: the API's 404 handler (apps/api/src/plugins/errors.ts, NOT_WEB_APP) keeps every path under
     * /admin for itself, so it answers a JSON 404 there.
     */
    const openInApp = async (page: Page, to: string) => {
      await page.evaluate((p) => {
        history.pushState(null, '', p);
        dispatchEvent(new PopStateEvent('popstate'));
      }, to);
      await page.waitForURL((u) => u.pathname === to);
    };

    const region = (page: Page, name: string) => page.getByRole('region', { name, exact: true });
    /** The value of a figure of a card ("Tasks created today" of "Business"). */
    const figure = (page: Page, card: string, label: string) =>
      region(page, card)
        .locator('.ops-figure')
        .filter({ has: page.getByRole('term').filter({ hasText: new RegExp(`^${label}`) }) })
        .getByRole('definition');
    const bars = (page: Page) => region(page, 'Task trend').locator('.chart-day');

    /** A screenshot of the whole page: the viewport grows to the height of the content, then comes back. */
    const shootAll = async (page: Page, name: string) => {
      const size = page.viewportSize()!;
      const height = await page.evaluate(() => {
        const content = document.querySelector('.content')!;
        return content.scrollHeight + content.getBoundingClientRect().top;
      });
      await page.setViewportSize({ width: size.width, height: Math.max(size.height, Math.ceil(height)) });
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(SHOTS, `${name}-full.png`) });
      // A phone's long page also in screens of its height, to be looked at in full size.
      if (size.width < 500)
        for (let top = 0, part = 1; top < height; top += size.height, part += 1)
          await page.screenshot({
            path: path.join(SHOTS, `${name}-part${part}.png`),
            clip: { x: 0, y: top, width: size.width, height: Math.min(size.height, Math.ceil(height) - top) },
          });
      await page.setViewportSize(size);
      await page.waitForTimeout(200);
    };
    const shoot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });

    let admin: ReturnType<typeof newUser>;
    let adminToken: string;
    let member: ReturnType<typeof newUser>;
    let memberToken: string;

    it('the first account is an admin, the second is not; only the admin gets the dashboard', async () => {
      admin = newUser('Ops');
      member = newUser('Member');
      const first = await register(admin);
      const second = await register(member);
      expect(first.role).toBe('admin');
      expect(second.role).toBe('user');
      adminToken = first.token;
      memberToken = second.token;
      expect((await apiCall(server.url, 'GET', '/admin/dashboard', memberToken)).status).toBe(403);
      await dashboard(adminToken);
    });

    it('an admin: health, alerts, the cards, the trend, the processes; Refresh and every 10 s; phone, dark, axe', async () => {
      // Tasks of both accounts, today (UTC): the dashboard counts the whole instance's.
      let created = 0;
      for (const title of ['Deploy the release', 'Rotate the logs', 'Check the backups']) {
        await createTask(adminToken, title);
        created += 1;
      }
      for (const title of ['Buy milk', 'Call mum']) {
        await createTask(memberToken, title);
        created += 1;
      }
      const done = await createTask(adminToken, 'Renew the certificate');
      created += 1;
      expect(
        (await apiCall(server.url, 'PATCH', `/tasks/${done}`, adminToken, { status: 'done' })).status,
      ).toBe(200);

      const { page, errors } = await tab();
      await signIn(page, admin);
      const link = nav(page).getByRole('link', { name: 'Operations' });
      await link.waitFor();
      // The ? help lists g d for an admin.
      await page.getByRole('heading', { level: 1 }).click();
      await page.keyboard.press('?');
      const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
      await help.getByText('Operations (the dashboard)').waitFor();
      await page.keyboard.press('Escape');
      await help.waitFor({ state: 'detached' });

      await link.click();
      await page.waitForURL(/\/admin$/);
      await page.getByRole('heading', { level: 1, name: 'Operations' }).waitFor();
      expect(await link.getAttribute('aria-current')).toBe('page');
      const api = await dashboard(adminToken);

      // Health: the badge says the status in words.
      const health = region(page, 'System health');
      await health.getByText(BADGE[api.health.status], { exact: true }).waitFor();
      expect(await health.locator('.health-badge').getAttribute('data-status')).toBe(api.health.status);
      expect(await health.getByRole('term').allTextContents()).toEqual(['Uptime', 'Version', 'Updated']);
      await health.getByRole('list', { name: 'Dependencies' }).getByText('Database: up').waitFor();

      // Alerts: "No alerts", or the alerts, critical first. Alerts are live (a busy machine may
      // raise or clear one between the API read above and the page's own), so the page is checked
      // against itself, not against that earlier read.
      const alerts = region(page, 'Alerts');
      await alerts.waitFor();
      const shown = alerts.getByRole('listitem');
      const none = alerts.getByText('No alerts');
      await expect.poll(async () => (await none.count()) + (await shown.count())).toBeGreaterThan(0);
      if ((await shown.count()) > 0) {
        expect(await none.count()).toBe(0);
        const severities = await shown.locator('.alert-severity').allTextContents();
        expect(severities).toEqual([...severities].sort((a, b) => (a === b ? 0 : a === 'Critical' ? -1 : 1)));
      }

      // The cards.
      for (const card of ['API', 'Database', 'Cache', 'Disk', 'Business', 'Jobs'])
        await region(page, card).getByRole('heading', { level: 2, name: card }).waitFor();
      expect(await region(page, 'API').getByRole('term').allTextContents()).toEqual([
        expect.stringMatching(/^Requests per second/),
        'Average response',
        expect.stringMatching(/^p95 response/),
        expect.stringMatching(/^Error rate/),
      ]);
      expect(await figure(page, 'Database', 'Connections').textContent()).toBe('1 / 1'); // PGlite: one
      expect(await figure(page, 'Database', 'Size').textContent()).toMatch(/^\d+(\.\d)? (KB|MB|GB)$/);
      expect(await region(page, 'Database').getByText('Replica lag').count()).toBe(0); // no replica
      expect(await figure(page, 'Cache', 'Hit rate').textContent()).toMatch(/^(—|[<\d][\d. <]*%)$/);
      expect(await figure(page, 'Disk', 'Used').textContent()).toMatch(/^\d+(\.\d)?%$/);
      expect(await figure(page, 'Jobs', 'Queue').textContent()).toBe('Reachable');
      // The business figures: what this test did.
      expect(api.business.tasks_created_today).toBe(created);
      await expect
        .poll(() => figure(page, 'Business', 'Tasks created today').textContent())
        .toBe(String(created));
      expect(await figure(page, 'Business', 'Tasks completed today').textContent()).toBe('1');
      // Both accounts made requests today.
      expect(await figure(page, 'Business', 'Active users').textContent()).toBe(
        String((await dashboard(adminToken)).business.active_users_24h),
      );
      // Completed seconds after it was made: less than a minute, said in words to a screen reader.
      expect(
        await figure(page, 'Business', 'Average completion time').locator('.sr-only').textContent(),
      ).toMatch(/^(under a second|\d+ seconds?)$/);

      // The processes: this one API process.
      const processes = region(page, 'Processes').getByRole('table');
      const rows = processes.locator('tbody tr');
      expect(await rows.count()).toBe(1);
      expect(await rows.first().getAttribute('data-kind')).toBe('api');
      expect(await rows.first().getByRole('rowheader').textContent()).toBe(
        `${api.processes[0]!.host}:${api.processes[0]!.pid}`,
      );
      expect(await processes.getByRole('columnheader').allTextContents()).toEqual([
        'Process',
        'Kind',
        'Uptime',
        'Memory (RSS)',
        'Heap',
        'CPU',
        'Event-loop lag',
        'In flight',
      ]);

      // The trend: 30 UTC days, today last, with a table beside.
      await expect.poll(() => bars(page).count()).toBe(30);
      const today = new Date().toISOString().slice(0, 10);
      expect(await bars(page).last().getAttribute('data-date')).toBe(today);
      await region(page, 'Task trend')
        .getByRole('img', { name: /^Bar chart of tasks created and completed/ })
        .waitFor();
      await region(page, 'Task trend').getByRole('button', { name: 'Show as a table' }).click();
      const trendTable = region(page, 'Task trend').getByRole('table');
      expect(await trendTable.locator('tbody tr').count()).toBe(30);
      expect(await trendTable.locator('tbody tr').last().locator('td').allTextContents()).toEqual([
        String(created),
        '1',
      ]);
      await region(page, 'Task trend').getByRole('button', { name: 'Hide the table' }).click();

      // Refresh: a task made meanwhile shows, and the time moves on.
      const updated = await health.locator('time').getAttribute('datetime');
      await createTask(memberToken, 'Water the plants');
      created += 1;
      const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/admin/dashboard') && r.ok());
      await page.getByRole('button', { name: 'Refresh' }).click();
      await answered;
      await expect
        .poll(() => figure(page, 'Business', 'Tasks created today').textContent())
        .toBe(String(created));
      expect(await health.locator('time').getAttribute('datetime')).not.toBe(updated);
      await page
        .getByRole('status')
        .filter({ hasText: /^Refreshed at / })
        .waitFor({ state: 'attached' });

      // And by itself, within 10 s (and a little).
      await createTask(adminToken, 'Plan the next sprint');
      created += 1;
      await expect
        .poll(() => figure(page, 'Business', 'Tasks created today').textContent(), { timeout: 15_000 })
        .toBe(String(created));

      const found: string[] = [];
      for (const v of await axeViolations(page)) found.push(`desktop: ${v}`);
      await shoot(page, 'ops-1280');
      await shootAll(page, 'ops-1280');

      // Keyboard: g d comes back here from elsewhere.
      await nav(page).getByRole('link', { name: 'Today' }).click();
      await page.waitForURL(/\/today$/);
      await page.getByRole('heading', { level: 1 }).click();
      await page.keyboard.press('g');
      await page.keyboard.press('d');
      await page.waitForURL(/\/admin$/);
      await region(page, 'Business').waitFor();
      // A reload (or a link opened in a new tab) gets the app, not the API's 404.
      await page.reload();
      await region(page, 'Business').waitFor();

      // A phone (light and dark) and a dark desktop: the cards stack, only the table scrolls sideways.
      for (const [name, options] of [
        ['ops-360', { ...phone, colorScheme: 'light' }],
        ['ops-360-dark', { ...phone, colorScheme: 'dark' }],
        ['ops-1280-dark', { colorScheme: 'dark' }],
      ] as const) {
        const t = await tab(options);
        await signIn(t.page, admin);
        await openInApp(t.page, '/admin');
        await expect
          .poll(() => figure(t.page, 'Business', 'Tasks created today').textContent())
          .toBe(String(created));
        await expect.poll(() => bars(t.page).count()).toBe(30);
        for (const v of await axeViolations(t.page)) found.push(`${name}: ${v}`);
        await shoot(t.page, name);
        await shootAll(t.page, name);
        if (name.startsWith('ops-360')) {
          const layout = await t.page.evaluate(() => {
            const content = document.querySelector('.content')!;
            const cards = [...document.querySelectorAll('.ops-grid > .ops-card')].map((c) =>
              Math.round(c.getBoundingClientRect().left),
            );
            const scroller = document.querySelector('.ops-table-scroll')!;
            return {
              fits: content.scrollWidth <= content.clientWidth,
              columns: new Set(cards).size,
              tableScrolls: scroller.scrollWidth > scroller.clientWidth,
            };
          });
          expect(layout).toEqual({ fits: true, columns: 1, tableScrolls: true });
          // The table scrolls by keyboard too.
          await t.page.getByRole('region', { name: 'Processes table' }).focus();
          await t.page.keyboard.press('ArrowRight');
          await expect
            .poll(() => t.page.locator('.ops-table-scroll').evaluate((el) => el.scrollLeft))
            .toBeGreaterThan(0);
        }
        expect(t.errors()).toEqual([]);
      }
      expect(found).toEqual([]);
      expect(errors()).toEqual([]);
    });

    it('alerts (critical first), a degraded fleet, PostgreSQL, no disk, a worker: the API answer altered in the browser', async () => {
      const { page, errors } = await tab();
      await signIn(page, admin);
      // What a troubled cluster would answer, on the real answer's shape.
      await page.route('**/api/v1/admin/dashboard', async (route) => {
        const response = await route.fetch();
        const body = await response.json();
        const d = body.data;
        d.health.status = 'degraded';
        d.health.checks.redis = { status: 'down', latency_ms: 0 };
        d.health.uptime_seconds = 3 * 3600 + 12 * 60 + 5;
        d.alerts = [
          {
            id: 'heap',
            severity: 'warning',
            message: 'Heap at 87% of its limit on api-2',
            value: 87,
            threshold: 85,
          },
          {
            id: 'errors',
            severity: 'critical',
            message: '7.5% of answers are 5xx',
            value: 0.075,
            threshold: 0.05,
          },
        ];
        d.requests = { ...d.requests, per_second: 1234, error_rate: 0.002, errors: 3 };
        d.database = {
          ...d.database,
          kind: 'postgres',
          connections_used: 45,
          connections_max: 100,
          size_bytes: 1.4 * 1024 ** 3,
          replica_lag_seconds: 2.5,
        };
        d.disk = null;
        d.jobs = { reachable: false, failed: 2, outbox_pending: 1500 };
        d.business.average_completion_seconds = 2 * 86_400 + 4 * 3600;
        d.processes.push({ ...d.processes[0], id: 'worker-1:42', kind: 'worker', host: 'worker-1', pid: 42 });
        await route.fulfill({ response, json: body });
      });
      await nav(page).getByRole('link', { name: 'Operations' }).click();
      await page.waitForURL(/\/admin$/);

      const health = region(page, 'System health');
      await health.getByText('Degraded', { exact: true }).waitFor();
      await health.getByText('Redis: down').waitFor();
      expect(await health.getByRole('definition').first().locator('.sr-only').textContent()).toBe(
        '3 hours 12 minutes',
      );
      expect(await health.getByRole('definition').first().locator('[aria-hidden="true"]').textContent()).toBe(
        '3 h 12 min',
      );
      const alerts = region(page, 'Alerts').getByRole('listitem');
      expect(await alerts.allTextContents()).toEqual([
        'Critical7.5% of answers are 5xx',
        'WarningHeap at 87% of its limit on api-2',
      ]);
      expect(await figure(page, 'API', 'Requests per second').textContent()).toBe('1.2k');
      expect(await figure(page, 'API', 'Error rate').textContent()).toBe('0.2%');
      expect(await figure(page, 'Database', 'Connections').textContent()).toBe('45 / 100');
      expect(await figure(page, 'Database', 'Size').textContent()).toBe('1.4 GB');
      expect(await figure(page, 'Database', 'Replica lag').textContent()).toBe('2.5 s');
      expect(await figure(page, 'Disk', 'Used').textContent()).toBe('—');
      await region(page, 'Disk').getByText('Not measured here').waitFor();
      expect(await figure(page, 'Jobs', 'Failed jobs').textContent()).toBe('2');
      expect(await figure(page, 'Jobs', 'Outbox backlog').textContent()).toBe('1.5k');
      expect(await figure(page, 'Jobs', 'Queue').textContent()).toBe('Unreachable');
      expect(
        await figure(page, 'Business', 'Average completion time')
          .locator('[aria-hidden="true"]')
          .textContent(),
      ).toBe('2 d 4 h');
      const rows = region(page, 'Processes').getByRole('table').locator('tbody tr');
      expect(await rows.locator('td:nth-child(2)').allTextContents()).toEqual(['API', 'Worker']);

      expect(await axeViolations(page)).toEqual([]);
      await shoot(page, 'ops-1280-alerts');
      await page.setViewportSize({ width: 360, height: 740 });
      await page.waitForTimeout(400); // the menu drawer slides away
      await shoot(page, 'ops-360-alerts');
      expect(await axeViolations(page)).toEqual([]);

      // An admin the server refuses (from an address ADMIN_IP_ALLOWLIST leaves out): its reason, no crash.
      await page.unroute('**/api/v1/admin/dashboard');
      await page.route('**/api/v1/admin/dashboard', (route) =>
        route.fulfill({
          status: 403,
          json: {
            success: false,
            error: { code: 'FORBIDDEN', message: 'Admin operations are not allowed from this address' },
          },
        }),
      );
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.getByRole('heading', { level: 2, name: 'Admins only' }).waitFor();
      await page.getByText('Admin operations are not allowed from this address.').waitFor();
      expect(errors([/status of 403/])).toEqual([]);
    });

    it('another user: no Operations entry, no g d, and /admin says it is for admins', async () => {
      const { page, errors } = await tab();
      const asked: string[] = [];
      page.on('request', (r) => {
        if (r.url().includes('/api/v1/admin/')) asked.push(r.url());
      });
      await signIn(page, member);
      await nav(page).getByRole('link', { name: 'Settings' }).waitFor();
      expect(await nav(page).getByRole('link', { name: 'Operations' }).count()).toBe(0);
      await page.getByRole('heading', { level: 1 }).click();
      await page.keyboard.press('?');
      const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
      await help.waitFor();
      expect(await help.getByText('Operations (the dashboard)').count()).toBe(0);
      await page.keyboard.press('Escape');
      await page.keyboard.press('g');
      await page.keyboard.press('d');
      await page.waitForTimeout(300);
      expect(new URL(page.url()).pathname).toBe('/today');

      await openInApp(page, '/admin');
      await page.getByRole('heading', { level: 1, name: 'Operations' }).waitFor();
      await page.getByRole('heading', { level: 2, name: 'Admins only' }).waitFor();
      await page.getByText('The operations dashboard is for the administrators of this Taskman.').waitFor();
      expect(await region(page, 'Business').count()).toBe(0);
      expect(asked).toEqual([]); // not even asked
      expect(await axeViolations(page)).toEqual([]);
      await shoot(page, 'ops-denied-1280');
      await page.getByRole('link', { name: 'Go to Today' }).click();
      await page.waitForURL(/\/today$/);
      expect(errors()).toEqual([]);
    });
  },
);
