// Changes show at once and roll back, with a message, when the server refuses them.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchBrowser,
  newUser,
  openTab,
  quickAdd,
  row,
  type Server,
  signUp,
  startServer,
  type Tab,
} from './helpers';

describe.skipIf(process.env.TEST_DB !== 'pglite')('optimistic updates', { timeout: 60_000 }, () => {
  let server: Server;
  let browser: Browser;
  let tab: Tab | undefined;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  });
  afterAll(async () => {
    await tab?.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  it('a completion the server refuses is undone on screen and explained', async () => {
    tab = await openTab(browser);
    const { page } = tab;
    await signUp(page, server.url, newUser('Opt'));
    await quickAdd(page, 'Refused change');
    await page.goto(`${server.url}/tasks`);
    await row(page, 'Refused change').waitFor();

    // The server answers the next change with an error, slowly enough to see the optimistic state.
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    await page.route('**/api/v1/tasks/*', async (route) => {
      if (route.request().method() !== 'PATCH') return route.continue();
      await held;
      await route.fulfill({
        status: 409,
        contentType: 'application/json',
        body: JSON.stringify({
          success: false,
          error: { code: 'CONFLICT', message: 'The task changed meanwhile' },
        }),
      });
    });
    await page.getByRole('button', { name: 'Complete “Refused change”' }).click();
    // At once: shown as done.
    await page.getByRole('button', { name: 'Reopen “Refused change”' }).waitFor();
    release();
    // Refused: back to open, with the server's reason.
    await page.getByRole('button', { name: 'Complete “Refused change”' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'Not saved: The task changed meanwhile' }).waitFor();
    await page.unroute('**/api/v1/tasks/*');
    await page.reload();
    await page.getByRole('button', { name: 'Complete “Refused change”' }).waitFor();
    expect(await page.getByRole('button', { name: 'Reopen “Refused change”' }).count()).toBe(0);
  });
});
