// Live updates: changes made elsewhere (here: the API, as another device would) show without a reload.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiCall,
  launchBrowser,
  newUser,
  openTab,
  row,
  type Server,
  signUp,
  startServer,
  type Tab,
  tokenOf,
} from './helpers';

describe.skipIf(process.env.TEST_DB !== 'pglite')('live updates', { timeout: 60_000 }, () => {
  let server: Server;
  let browser: Browser;
  let tab: Tab | undefined;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer({ JOB_POLL_MS: '100' }), launchBrowser()]);
  });
  afterAll(async () => {
    await tab?.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  it('tasks created, renamed and deleted elsewhere show, change and go without a reload', async () => {
    tab = await openTab(browser);
    const { page } = tab;
    await signUp(page, server.url, newUser('Live'));
    await page.goto(`${server.url}/tasks`);
    await page.getByRole('heading', { level: 1, name: 'All tasks' }).waitFor();
    const live = page.getByRole('img', { name: 'Live updates on' });
    await live.waitFor();
    const token = await tokenOf(page);
    // A marker: the page is never reloaded while the changes come in.
    await page.evaluate(() => {
      (window as unknown as { marker: boolean }).marker = true;
    });

    const created = await apiCall(server.url, 'POST', '/tasks', token, { title: 'From elsewhere' });
    expect(created.status).toBe(201);
    const id = created.body.data.id as string;
    await row(page, 'From elsewhere').waitFor({ timeout: 5_000 });

    const renamed = await apiCall(server.url, 'PATCH', `/tasks/${id}`, token, { title: 'Renamed elsewhere' });
    expect(renamed.status).toBe(200);
    await row(page, 'Renamed elsewhere').waitFor({ timeout: 5_000 });
    await row(page, 'From elsewhere').waitFor({ state: 'detached', timeout: 5_000 });

    const deleted = await apiCall(server.url, 'DELETE', `/tasks/${id}`, token);
    expect(deleted.status).toBe(204);
    await row(page, 'Renamed elsewhere').waitFor({ state: 'detached', timeout: 5_000 });

    expect(await page.evaluate(() => (window as unknown as { marker?: boolean }).marker)).toBe(true);
    expect(tab.errors()).toEqual([]);
  });

  it('offline, the stream stops; back online, it reconnects and catches up on what was missed', async () => {
    const { page } = tab!;
    const context = page.context();
    const token = await tokenOf(page);
    const live = page.getByRole('img', { name: 'Live updates on' });
    await live.waitFor();
    await context.setOffline(true);
    await live.waitFor({ state: 'detached' });
    await apiCall(server.url, 'POST', '/tasks', token, { title: 'Made while offline' });
    await page.waitForTimeout(500);
    expect(await row(page, 'Made while offline').count()).toBe(0);
    const reconnect = page.waitForRequest((r) => r.url().endsWith('/api/v1/events'));
    await context.setOffline(false);
    // It says where it left off (the events of the first test were seen).
    expect(Number((await reconnect).headers()['last-event-id'])).toBeGreaterThan(0);
    await live.waitFor();
    await row(page, 'Made while offline').waitFor({ timeout: 5_000 });
    expect(tab!.errors([/net::ERR_INTERNET_DISCONNECTED/])).toEqual([]);
  });

  it('a signed-out tab closes its stream', async () => {
    const { page } = tab!;
    const opened: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/api/v1/events')) opened.push(r.url());
    });
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    // No reconnection attempts once signed out (the first would come after about a second).
    await page.waitForTimeout(2_500);
    expect(opened).toEqual([]);
    expect(await page.getByRole('img', { name: 'Live updates on' }).count()).toBe(0);
  });
});
