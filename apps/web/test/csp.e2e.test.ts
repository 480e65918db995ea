// The Content-Security-Policy, end to end: the real API process (embedded PGlite) serving the built
// app, in Chromium. Every page of the app (and /docs, which has Swagger UI's policy) renders with
// no `securitypolicyviolation` event and no CSP error in the console; the service worker, the live
// event stream and the API all work under the policy; and an injected inline script is refused.
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiCall,
  DIST_INDEX,
  launchBrowser,
  nav,
  newUser,
  openButton,
  openTab,
  panel,
  quickAdd,
  type Server,
  shot,
  signUp,
  startServer,
  type Tab,
  tokenOf,
} from './helpers';

interface Violation {
  page: string;
  directive: string;
  blocked: string;
  sample: string;
}

/** Records every CSP violation of every page of the context (each navigation gets the listener). */
async function recordViolations(context: BrowserContext): Promise<Violation[]> {
  const seen: Violation[] = [];
  await context.exposeBinding('__reportCsp', (_source, v: Violation) => {
    seen.push(v);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __reportCsp(v: unknown): void }).__reportCsp({
        page: location.pathname,
        directive: e.effectiveDirective,
        blocked: e.blockedURI,
        sample: e.sample,
      });
    });
  });
  return seen;
}

const CSP_CONSOLE = /Content Security Policy|Refused to (load|execute|apply|connect|frame|create)/i;

describe.skipIf(process.env.TEST_DB !== 'pglite')(
  'Content-Security-Policy in the browser',
  { timeout: 120_000 },
  () => {
    let server: Server;
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
      [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    });
    afterAll(async () => {
      await Promise.all(tabs.map((t) => t.close().catch(() => {})));
      await browser?.close();
      await server?.stop();
    });

    const h1 = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name }).waitFor();

    it('every page renders with zero violations: an admin goes everywhere', async () => {
      const { page, errors } = await tab();
      const violations = await recordViolations(page.context());

      // Log in and sign up (the first account is the admin).
      const first = await page.goto(`${server.url}/login`);
      const csp = first?.headers()['content-security-policy'] ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      await h1(page, 'Log in');
      const admin = newUser('Csp');
      await signUp(page, server.url, admin);
      const token = await tokenOf(page);
      const project = await apiCall(server.url, 'POST', '/projects', token, { name: 'Garden' });
      expect(project.status).toBe(201);
      const tulips = await apiCall(server.url, 'POST', '/tasks', token, {
        title: 'Plant the tulips',
        project_id: project.body.data.id,
        due_date: new Date(Date.now() + 3 * 86_400_000).toISOString(),
      });
      expect(tulips.status).toBe(201);

      // Today, with a task added here and opened in the panel.
      await quickAdd(page, 'Water the lemon tree');
      await openButton(page, 'Water the lemon tree').click();
      await panel(page).getByLabel('Title').waitFor();
      await shot(page, 'csp-today-task');
      await page.keyboard.press('Escape');

      // Every entry of the menu.
      for (const [link, heading] of [
        ['Upcoming', 'Upcoming'],
        ['Overdue', 'Overdue'],
        ['All tasks', 'All tasks'],
        ['Archived', 'Archived'],
        ['Reports', 'Reports'],
        ['Settings', 'Settings'],
        ['Operations', 'Operations'],
        ['Garden', 'Garden'],
        ['Today', 'Today'],
      ] as const) {
        await nav(page)
          .getByRole('link', { name: new RegExp(`^${link}( \\d+)?$`) })
          .click();
        await h1(page, heading);
      }
      await nav(page).getByRole('link', { name: 'Manage projects' }).click();
      await h1(page, 'Projects');
      await nav(page).getByRole('link', { name: 'Calendar' }).click();
      await page.getByRole('button', { name: 'Next month' }).waitFor();
      // The operations dashboard with its figures and chart, and Settings with its sections.
      await nav(page).getByRole('link', { name: 'Operations' }).click();
      await page.getByRole('region', { name: 'Business', exact: true }).waitFor();
      await page
        .getByRole('region', { name: 'Task trend', exact: true })
        .locator('.chart-day')
        .first()
        .waitFor();
      await shot(page, 'csp-admin');
      await nav(page).getByRole('link', { name: 'Reports' }).click();
      await h1(page, 'Reports');
      // Its bars are sized with style={{ width }} (set through the CSSOM, which the policy allows).
      await page.getByRole('region', { name: 'By priority' }).waitFor();
      await expect
        .poll(() =>
          page
            .locator('.bar-added')
            .evaluateAll((bars) => bars.some((b) => b.getBoundingClientRect().width > 0)),
        )
        .toBe(true);
      await shot(page, 'csp-reports');

      // Cold loads of client routes (index.html from the 404 handler) and of a task's link.
      for (const [path, heading] of [
        ['/settings', 'Settings'],
        ['/upcoming', 'Upcoming'],
        [`/projects/${project.body.data.id}`, 'Garden'],
        ['/admin', 'Operations'],
      ] as const) {
        const res = await page.goto(`${server.url}${path}`);
        expect(res?.headers()['content-security-policy'], path).toBe(csp);
        await h1(page, heading);
      }
      await page.goto(`${server.url}/today`);
      await h1(page, 'Today');
      await page.goto(`${server.url}/tasks/${tulips.body.data.id}`);
      await panel(page).getByLabel('Title').waitFor();
      expect(await panel(page).getByLabel('Title').inputValue()).toBe('Plant the tulips');

      // The service worker (worker-src, and its own policy for its fetches) and the live stream (connect-src).
      expect(
        await page.evaluate(async () => {
          const registration = await navigator.serviceWorker.ready;
          return registration.active?.scriptURL;
        }),
      ).toBe(`${server.url}/sw.js`);
      await page.reload();
      await panel(page).getByLabel('Title').waitFor();
      await nav(page).getByLabel('Live updates on').waitFor();

      // The API reference, under Swagger UI's own policy.
      await page.goto(`${server.url}/docs`);
      await page
        .getByRole('heading', { name: /Taskman API/ })
        .first()
        .waitFor();
      await page.locator('.opblock').first().waitFor();
      await shot(page, 'csp-docs');

      expect(violations).toEqual([]);
      expect(errors().filter((e) => CSP_CONSOLE.test(e))).toEqual([]);
      expect(errors()).toEqual([]);
    });

    it('the policy is in force: an injected inline script and a foreign image are refused and reported', async () => {
      const { page, errors } = await tab();
      const violations = await recordViolations(page.context());
      await page.goto(`${server.url}/login`);
      await h1(page, 'Log in');
      const ran = await page.evaluate(async () => {
        const script = document.createElement('script');
        script.textContent = 'window.__injected = true';
        document.body.append(script);
        const img = document.createElement('img');
        img.src = 'https://tracker.example.com/pixel.gif';
        document.body.append(img);
        await new Promise((r) => setTimeout(r, 200));
        return (window as unknown as { __injected?: boolean }).__injected === true;
      });
      expect(ran).toBe(false);
      await expect
        .poll(() => violations.map((v) => v.directive).sort())
        .toEqual(['img-src', 'script-src-elem']);
      expect(errors().filter((e) => CSP_CONSOLE.test(e)).length).toBeGreaterThan(0);
    });
  },
);
