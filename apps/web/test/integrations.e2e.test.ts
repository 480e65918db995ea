// Settings › API keys and webhooks, end to end: the real API process (embedded, with
// WEBHOOK_ALLOW_PRIVATE so it may deliver to this machine) serving the built app, driven in Chromium,
// and a real HTTP receiver on 127.0.0.1 that the webhooks are delivered to.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server as HttpServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiCall,
  axeViolations,
  DIST_INDEX,
  HTTP_401,
  launchBrowser,
  newUser,
  openTab,
  type Server,
  SHOTS,
  signUp,
  startServer,
  type Tab,
  tokenOf,
} from './helpers';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver: records every POST; /gone answers 410 (Taskman then switches the webhook off). */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: HttpServer = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url === '/gone') {
        res.writeHead(410).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const settingsShots = process.env.SETTINGS_SHOTS ?? SHOTS;

describe.skipIf(process.env.TEST_DB !== 'pglite')(
  'Settings: API keys and webhooks',
  { timeout: 90_000 },
  () => {
    let server: Server;
    let browser: Browser;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    const tabs: Tab[] = [];
    const tab = async (options?: Parameters<typeof openTab>[1]) => {
      const t = await openTab(browser, options);
      tabs.push(t);
      return t;
    };

    beforeAll(async () => {
      if (!existsSync(DIST_INDEX))
        throw new Error(`${DIST_INDEX} is missing: run \`npm run build:web\` first.`);
      [server, browser, receiver] = await Promise.all([
        startServer({ WEBHOOK_ALLOW_PRIVATE: 'true' }),
        launchBrowser(),
        startReceiver(),
      ]);
      await mkdir(settingsShots, { recursive: true });
    });
    afterAll(async () => {
      await Promise.all(tabs.map((t) => t.close().catch(() => {})));
      await browser?.close();
      await server?.stop();
      await receiver?.close();
    });

    const apiKeys = (page: Page) => page.getByRole('region', { name: 'API keys' });
    const webhooks = (page: Page) => page.getByRole('region', { name: 'Webhooks' });
    const webhookItem = (page: Page, url: string) =>
      webhooks(page)
        .getByRole('listitem')
        .filter({ has: page.getByText(url, { exact: true }) });

    it('API keys: create with two scopes, see the key once and copy it, use it, revoke it', async () => {
      const { page, errors } = await tab({ permissions: ['clipboard-read', 'clipboard-write'] });
      await signUp(page, server.url, newUser('Keys'));
      await page.goto(`${server.url}/settings`);
      const section = apiKeys(page);
      await section.getByText('No API keys yet').waitFor();
      await section.getByText('Use API keys for scripts and the taskman CLI', { exact: false }).waitFor();

      // Create: a name, two scopes, 30 days.
      await section.getByRole('button', { name: 'Create an API key' }).click();
      const form = section.getByRole('form', { name: 'New API key' });
      // Nothing chosen: the form says so next to the fields, without asking the server.
      await form.getByRole('button', { name: 'Create key' }).click();
      await form.getByText('Give the key a name').waitFor();
      await form.getByText('Choose at least one scope').waitFor();
      expect(await form.getByLabel('Name').getAttribute('aria-invalid')).toBe('true');
      await form.getByLabel('Name').fill('CI script');
      await form.getByRole('checkbox', { name: 'tasks:read', exact: true }).check();
      await form.getByRole('checkbox', { name: 'projects:write', exact: true }).check();
      await form.getByLabel('Expires').selectOption({ label: 'In 30 days' });
      const created = page.waitForResponse(
        (r) => r.url().endsWith('/api/v1/api-keys') && r.request().method() === 'POST',
      );
      await form.getByRole('button', { name: 'Create key' }).click();
      expect((await created).status()).toBe(201);

      // The key, once: selected in a read-only field, with a Copy button and a plain warning.
      const reveal = section.getByRole('region', { name: 'Your new API key “CI script”' });
      await reveal.waitFor();
      const keyField = reveal.getByLabel('API key');
      const key = await keyField.inputValue();
      expect(key).toMatch(/^tm_/);
      expect(await keyField.getAttribute('readonly')).not.toBeNull();
      expect(await page.evaluate(() => document.activeElement?.getAttribute('readonly'))).not.toBeNull();
      expect(await reveal.textContent()).toContain('it won’t be shown again');
      await reveal.getByRole('button', { name: 'Copy' }).click();
      await reveal.getByRole('button', { name: 'Copied' }).waitFor();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);

      // The key works against the API, within its scopes.
      const tasks = await apiCall(server.url, 'GET', '/tasks', key);
      expect(tasks.status).toBe(200);
      expect((await apiCall(server.url, 'POST', '/tasks', key, { title: 'Not allowed' })).status).toBe(403);

      // Saved: the key leaves the page for good; the list tells the key by its prefix and scopes.
      await reveal.getByRole('button', { name: 'I’ve saved it' }).click();
      await reveal.waitFor({ state: 'detached' });
      expect(await page.content()).not.toContain(key);
      await page.reload();
      const item = section.getByRole('listitem').filter({ hasText: 'CI script' });
      await item.waitFor();
      const text = await item.textContent();
      expect(text).toContain(`${key.slice(0, 9)}…`);
      expect(text).toMatch(/Expires in (30|29) days/);
      expect(
        await item.getByRole('list', { name: 'Scopes' }).getByRole('listitem').allTextContents(),
      ).toEqual(['tasks:read', 'projects:write']);

      // Revoke, after a confirmation: refused at once.
      await item.getByRole('button', { name: 'Revoke' }).click();
      const confirm = item.getByRole('group', { name: 'Revoke “CI script”?' });
      await confirm.getByText('Anything that uses it is refused from its next request').waitFor();
      const revoked = page.waitForResponse((r) => r.request().method() === 'DELETE');
      await confirm.getByRole('button', { name: 'Revoke key' }).click();
      expect((await revoked).status()).toBe(204);
      await page.getByRole('status').filter({ hasText: 'Revoked “CI script”' }).waitFor();
      await item.waitFor({ state: 'detached' });
      await section.getByText('No API keys yet').waitFor();
      expect((await apiCall(server.url, 'GET', '/tasks', key)).status).toBe(401);
      expect(errors()).toEqual([]);
    });

    it('webhooks: a bad URL is refused by the field, then create, secret once, ping, deliveries, redeliver', async () => {
      const { page, errors } = await tab({ permissions: ['clipboard-read', 'clipboard-write'] });
      await signUp(page, server.url, newUser('Hooks'));
      await page.goto(`${server.url}/settings`);
      const section = webhooks(page);
      await section.getByText('No webhooks yet').waitFor();
      await section.getByText('see the README for verifying signatures', { exact: false }).waitFor();
      await section.getByRole('button', { name: 'Add a webhook' }).click();
      const form = section.getByRole('form', { name: 'New webhook' });

      // The server's validation error, next to the field it is about.
      await form.getByLabel('Payload URL').fill('not a url');
      const refused = page.waitForResponse(
        (r) => r.url().endsWith('/api/v1/webhooks') && r.request().method() === 'POST',
      );
      await form.getByRole('button', { name: 'Add webhook' }).click();
      expect((await refused).status()).toBe(400);
      const urlField = form.getByLabel('Payload URL');
      await form.getByText('Must be an absolute URL').waitFor();
      expect(await urlField.getAttribute('aria-invalid')).toBe('true');
      const errorId = (await urlField.getAttribute('aria-describedby'))!.split(' ').at(-1)!;
      expect(await page.locator(`[id="${errorId}"]`).textContent()).toBe('Must be an absolute URL');
      await form.getByRole('alert').filter({ hasText: 'Please check the fields marked below.' }).waitFor();

      // Every event ("Select all"), a description, the receiver's URL.
      const hookUrl = `${receiver.url}/hooks/taskman`;
      await urlField.fill(hookUrl);
      await form.getByLabel('Description (optional)').fill('Test receiver');
      const selectAll = form.getByRole('checkbox', { name: 'Select all' });
      expect(await selectAll.evaluate((el: HTMLInputElement) => el.indeterminate)).toBe(true);
      await selectAll.check();
      for (const event of ['task.created', 'task.deleted', 'project.updated'])
        expect(await form.getByRole('checkbox', { name: event, exact: true }).isChecked()).toBe(true);
      const created = page.waitForResponse(
        (r) => r.url().endsWith('/api/v1/webhooks') && r.request().method() === 'POST',
      );
      await form.getByRole('button', { name: 'Add webhook' }).click();
      expect((await created).status()).toBe(201);

      // The signing secret, once, in the new webhook's item.
      const item = webhookItem(page, hookUrl);
      const reveal = item.getByRole('region', { name: 'Your signing secret' });
      const secret = await reveal.getByLabel('Signing secret').inputValue();
      expect(secret).toMatch(/^whsec_/);
      await reveal.getByRole('button', { name: 'Copy' }).waitFor();
      expect(await reveal.textContent()).toContain('it won’t be shown again');
      expect(await item.getByRole('list', { name: 'Events' }).getByRole('listitem').count()).toBe(7);
      await item.getByText('Test receiver').waitFor();
      expect(await item.getByRole('switch', { name: 'Send events' }).getAttribute('aria-checked')).toBe(
        'true',
      );
      await reveal.getByRole('button', { name: 'I’ve saved it' }).click();
      await reveal.waitFor({ state: 'detached' });

      // Send ping: the receiver gets it, signed with that secret; the deliveries show it succeeded.
      await item.getByRole('button', { name: 'Send ping' }).click();
      await expect.poll(() => receiver.received.length, { timeout: 15_000 }).toBe(1);
      const ping = receiver.received[0]!;
      expect(ping.path).toBe('/hooks/taskman');
      const verified = new StandardWebhook(secret).verify(ping.body, {
        'webhook-id': String(ping.headers['webhook-id']),
        'webhook-timestamp': String(ping.headers['webhook-timestamp']),
        'webhook-signature': String(ping.headers['webhook-signature']),
      }) as { type: string };
      expect(verified.type).toBe('ping');
      const deliveries = item.getByRole('region', { name: 'Deliveries' });
      // Its summary: state, event, status, duration, attempts, when.
      const delivery = deliveries.getByRole('button', {
        name: /^Succeeded ping HTTP 200 \d+ ms 1 attempt just now$/,
      });
      await delivery.waitFor({ timeout: 15_000 });

      // Its bodies: what was sent (what the signature covers) and what the receiver answered.
      await delivery.click();
      expect(await delivery.getAttribute('aria-expanded')).toBe('true');
      const detail = deliveries.locator('.delivery-detail');
      await detail.getByText('"type": "ping"', { exact: false }).waitFor();
      await detail.getByText('"received": true', { exact: false }).waitFor();

      // Redeliver: the receiver gets the same delivery again (same webhook-id), the log counts 2 attempts.
      await detail.getByRole('button', { name: 'Redeliver' }).click();
      await expect.poll(() => receiver.received.length, { timeout: 15_000 }).toBe(2);
      expect(receiver.received[1]!.headers['webhook-id']).toBe(ping.headers['webhook-id']);
      expect(receiver.received[1]!.body).toBe(ping.body);
      await deliveries
        .getByRole('button', { name: /^Succeeded ping.*2 attempts/ })
        .waitFor({ timeout: 15_000 });

      // Rotate the secret, after a confirmation that explains the overlap: a new one, shown once.
      await item.getByRole('button', { name: 'Rotate secret' }).click();
      const confirm = item.getByRole('group', { name: 'Rotate the signing secret?' });
      expect(await confirm.textContent()).toContain('24 hours');
      await confirm.getByRole('button', { name: 'Rotate secret' }).click();
      const rotated = item.getByRole('region', { name: 'Your new signing secret' });
      const newSecret = await rotated.getByLabel('Signing secret').inputValue();
      expect(newSecret).toMatch(/^whsec_/);
      expect(newSecret).not.toBe(secret);
      await item.getByText('The previous secret also signs deliveries until', { exact: false }).waitFor();
      await rotated.getByRole('button', { name: 'I’ve saved it' }).click();

      // Edit: the same field errors, then saved.
      await item.getByRole('button', { name: 'Edit' }).click();
      const edit = section.getByRole('form', { name: 'Edit webhook' });
      expect(await edit.getByLabel('Payload URL').inputValue()).toBe(hookUrl);
      await edit.getByRole('checkbox', { name: 'Select all' }).uncheck();
      await edit.getByRole('button', { name: 'Save' }).click();
      await edit.getByText('Choose at least one event').waitFor();
      await edit.getByRole('checkbox', { name: 'task.completed', exact: true }).check();
      await edit.getByRole('button', { name: 'Save' }).click();
      await edit.waitFor({ state: 'detached' });
      expect(
        await item.getByRole('list', { name: 'Events' }).getByRole('listitem').allTextContents(),
      ).toEqual(['task.completed']);

      // Off and on again with the switch.
      const toggle = item.getByRole('switch', { name: 'Send events' });
      await toggle.click();
      await expect.poll(() => toggle.getAttribute('aria-checked')).toBe('false');
      await toggle.click();
      await expect.poll(() => toggle.getAttribute('aria-checked')).toBe('true');

      // Delete, after a confirmation.
      await item.getByRole('button', { name: 'Delete', exact: true }).click();
      await item
        .getByRole('group', { name: 'Delete this webhook?' })
        .getByRole('button', { name: 'Delete webhook' })
        .click();
      await item.waitFor({ state: 'detached' });
      await section.getByText('No webhooks yet').waitFor();
      expect(errors([/status of 400/])).toEqual([]);
    });

    it('/settings#webhooks: scrolls to the webhooks; one Taskman switched off says why and turns back on; axe; screenshots', async () => {
      const { page, errors } = await tab();
      await signUp(page, server.url, newUser('Shots'));
      const token = await tokenOf(page);
      const key = await apiCall(server.url, 'POST', '/api-keys', token, {
        name: 'Laptop CLI',
        scopes: ['tasks:read', 'tasks:write', 'projects:read'],
        expires_at: new Date(Date.now() + 90 * 86_400_000).toISOString(),
      });
      expect(key.status).toBe(201);
      await apiCall(server.url, 'GET', '/tasks', key.body.data.key);
      const good = await apiCall(server.url, 'POST', '/webhooks', token, {
        url: `${receiver.url}/hooks/dashboard`,
        description: 'Team dashboard',
        events: ['task.created', 'task.updated', 'task.completed'],
      });
      expect(good.status).toBe(201);
      // An endpoint that answers 410 Gone: Taskman switches the webhook off.
      const gone = await apiCall(server.url, 'POST', '/webhooks', token, {
        url: `${receiver.url}/gone`,
        events: ['project.created'],
      });
      expect(gone.status).toBe(201);
      const goneActive = async () =>
        (await apiCall(server.url, 'GET', `/webhooks/${gone.body.data.id}`, token)).body.data.active;
      expect((await apiCall(server.url, 'POST', `/webhooks/${good.body.data.id}/ping`, token)).status).toBe(
        202,
      );
      expect((await apiCall(server.url, 'POST', `/webhooks/${gone.body.data.id}/ping`, token)).status).toBe(
        202,
      );
      await expect.poll(goneActive, { timeout: 15_000 }).toBe(false);

      // The link of the "webhook disabled" email: the page opens on the webhooks, their heading focused.
      await page.goto(`${server.url}/settings#webhooks`);
      const heading = page.getByRole('heading', { level: 2, name: 'Webhooks' });
      await webhookItem(page, `${receiver.url}/gone`).waitFor();
      await expect.poll(() => heading.evaluate((el) => el === document.activeElement)).toBe(true);
      const box = await heading.boundingBox();
      expect(box!.y).toBeGreaterThanOrEqual(0);
      expect(box!.y).toBeLessThan(200);

      const off = webhookItem(page, `${receiver.url}/gone`);
      await off.getByText('Taskman turned this webhook off.').waitFor();
      await off.getByText('The endpoint answered 410 Gone').waitFor();
      expect(await off.getByRole('switch', { name: 'Send events' }).getAttribute('aria-checked')).toBe(
        'false',
      );
      const on = webhookItem(page, `${receiver.url}/hooks/dashboard`);
      await on.getByRole('button', { name: 'Deliveries' }).click();
      await on.getByRole('button', { name: /^Succeeded ping/ }).click({ timeout: 15_000 });
      await on.locator('.delivery-detail').getByText('"type": "ping"', { exact: false }).waitFor();

      const found: string[] = [];
      for (const v of await axeViolations(page)) found.push(`desktop: ${v}`);
      await shoot(page, 'settings-webhooks-1280');
      await page.getByRole('heading', { level: 2, name: 'API keys' }).scrollIntoViewIfNeeded();
      await shoot(page, 'settings-api-keys-1280');

      // Turn back on: the notice goes.
      await off.getByRole('button', { name: 'Turn back on' }).click();
      await off.getByText('Taskman turned this webhook off.').waitFor({ state: 'detached' });
      expect(await off.getByRole('switch', { name: 'Send events' }).getAttribute('aria-checked')).toBe(
        'true',
      );
      // Off again for the phone's pictures.
      await apiCall(server.url, 'POST', `/webhooks/${gone.body.data.id}/ping`, token);
      await expect.poll(goneActive, { timeout: 15_000 }).toBe(false);

      // A phone, dark: the same page at 360 px.
      const phone = await tab({
        viewport: { width: 360, height: 740 },
        isMobile: true,
        hasTouch: true,
        colorScheme: 'dark',
      });
      await phone.page.goto(`${server.url}/login`);
      await phone.page.evaluate(
        (t) => localStorage.setItem('taskman.session', t),
        JSON.stringify({
          token,
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      );
      await phone.page.goto(`${server.url}/settings#webhooks`);
      const phoneOn = webhookItem(phone.page, `${receiver.url}/hooks/dashboard`);
      await webhookItem(phone.page, `${receiver.url}/gone`)
        .getByText('Taskman turned this webhook off.')
        .waitFor();
      for (const v of await axeViolations(phone.page)) found.push(`phone: ${v}`);
      await shoot(phone.page, 'settings-webhooks-360');
      await phoneOn.getByRole('button', { name: 'Deliveries' }).click();
      await phoneOn.getByRole('button', { name: /^Succeeded ping/ }).click();
      await phoneOn.locator('.delivery-detail').getByText('"type": "ping"', { exact: false }).waitFor();
      await phoneOn.getByRole('region', { name: 'Deliveries' }).scrollIntoViewIfNeeded();
      for (const v of await axeViolations(phone.page)) found.push(`phone, deliveries: ${v}`);
      await shoot(phone.page, 'settings-deliveries-360');
      await phone.page.getByRole('heading', { level: 2, name: 'API keys' }).scrollIntoViewIfNeeded();
      await shoot(phone.page, 'settings-api-keys-360');
      // No sideways scrolling at 360 px.
      expect(
        await phone.page.evaluate(() => {
          const content = document.querySelector('.content')!;
          return content.scrollWidth <= content.clientWidth;
        }),
      ).toBe(true);
      expect(found).toEqual([]);
      expect(errors()).toEqual([]);
      expect(phone.errors([HTTP_401])).toEqual([]);
    });
  },
);

function shoot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(settingsShots, `${name}.png`) });
}
