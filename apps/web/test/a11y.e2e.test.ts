// Accessibility of the main screens, checked by axe-core (an independent WCAG 2.1 A/AA checker) in
// Chromium, in light and dark mode, on a desktop and a phone: no serious or critical violation.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  axeViolations,
  launchBrowser,
  newUser,
  openTab,
  quickAdd,
  type Server,
  signUp,
  startServer,
  type Tab,
} from './helpers';

describe.skipIf(process.env.TEST_DB !== 'pglite')('accessibility (axe-core)', { timeout: 90_000 }, () => {
  let server: Server;
  let browser: Browser;
  const tabs: Tab[] = [];
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await Promise.all(tabs.map((t) => t.close().catch(() => {})));
    await browser?.close();
    await server?.stop();
  });

  for (const [label, options] of [
    ['desktop, light', { colorScheme: 'light' }],
    ['desktop, dark', { colorScheme: 'dark' }],
    [
      'phone, dark',
      { colorScheme: 'dark', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true },
    ],
  ] as const) {
    it(`the main screens have no serious violation (${label})`, async () => {
      const tab = await openTab(browser, options);
      tabs.push(tab);
      const { page } = tab;
      const found: string[] = [];
      const check = async (screen: string) => {
        for (const v of await axeViolations(page)) found.push(`${screen}: ${v}`);
      };

      await page.goto(`${server.url}/login`);
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      await check('login');
      await signUp(page, server.url, newUser('A11y'));
      await quickAdd(page, 'An accessible task');
      await check('today');
      await page.getByRole('button', { name: /^An accessible task/ }).click();
      await page.getByRole('complementary', { name: 'Task details' }).getByLabel('Title').waitFor();
      await check('task panel');
      for (const [path, heading] of [
        ['/tasks', 'All tasks'],
        ['/projects', 'Projects'],
        ['/settings', 'Settings'],
      ] as const) {
        await page.goto(`${server.url}${path}`);
        await page.getByRole('heading', { level: 1, name: heading }).waitFor();
        await check(path);
      }
      await page.goto(`${server.url}/calendar`);
      await page.getByRole('button', { name: 'Next month' }).waitFor();
      await check('/calendar');
      await page.keyboard.press('?');
      await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
      await check('shortcuts');
      expect(found).toEqual([]);
    });
  }
});
