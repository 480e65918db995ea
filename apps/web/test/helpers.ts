// End-to-end helpers: the real API process serving the built web app, and Debian's Chromium.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContextOptions, chromium, type Locator, type Page } from 'playwright-core';
import { ROOT, startApi } from '../../api/test/helpers/process';

export const SHOTS = path.join(ROOT, 'test-results/web');
export const DIST_INDEX = path.join(ROOT, 'apps/web/dist/index.html');

export interface Server {
  url: string;
  stop(): Promise<void>;
}

/** `npm start` in embedded mode (PGlite) in a fresh data directory; `env` adds or overrides settings. */
export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  await mkdir(SHOTS, { recursive: true });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'taskman-web-'));
  try {
    const api = await startApi({
      DATA_DIR: dataDir,
      JWT_SECRET: randomBytes(24).toString('hex'),
      NODE_ENV: 'test',
      BCRYPT_COST: '4',
      RATE_LIMIT_MAX: '100000',
      AUTH_RATE_LIMIT_MAX: '100000',
      // Not 'warn': startApi waits for the "Taskman is running at" line, which is logged at info level.
      LOG_LEVEL: 'info',
      ...env,
    });
    return {
      url: api.url,
      stop: async () => {
        await api.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface Tab {
  page: Page;
  /** Console errors and uncaught exceptions seen so far, minus the `allowed` ones. */
  errors(allowed?: RegExp[]): string[];
  close(): Promise<void>;
}

/** A fresh browser context (its own storage and service worker) with one page. */
export async function openTab(browser: Browser, options: BrowserContextOptions = {}): Promise<Tab> {
  const context = await browser.newContext({
    locale: 'en-GB',
    timezoneId: 'Europe/Paris',
    viewport: { width: 1280, height: 800 },
    ...options,
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const seen: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') seen.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.push(`pageerror: ${e.message}`));
  return {
    page,
    errors: (allowed = []) => seen.filter((e) => !allowed.some((re) => re.test(e))),
    close: () => context.close(),
  };
}

/** A 401 the browser logs by itself when a session ends or a password is wrong. */
export const HTTP_401 = /Failed to load resource: the server responded with a status of 401/;

let counter = 0;
export function newUser(prefix: string) {
  counter += 1;
  return {
    name: `${prefix} Tester`,
    email: `${prefix.toLowerCase()}-${counter}-${Date.now()}@example.com`,
    password: 'correct horse battery',
  };
}

/** Creates an account through the sign-up form (Log in → Create an account) and lands on /today. */
export async function signUp(page: Page, url: string, user: ReturnType<typeof newUser>): Promise<void> {
  await page.goto(`${url}/login`);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.waitForURL(/\/signup/);
  await page.getByLabel('Name').fill(user.name);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/\/today$/);
  await page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
}

/** Fills and submits the log-in form of the current page. */
export async function logIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

/** Adds a task with the quick-add box and waits until the list shows it. */
export async function quickAdd(page: Page, title: string): Promise<void> {
  const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/tasks') && r.status() === 201);
  await page.getByLabel('Add a task').fill(title);
  await page.getByLabel('Add a task').press('Enter');
  await created;
  await page.getByRole('button', { name: `Complete “${title}”` }).waitFor();
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The button that opens a task (its name is the title followed by the row's details). */
export const openButton = (page: Page, title: string) =>
  page.getByRole('button', { name: new RegExp(`^${escapeRe(title)}`) });
export const panel = (page: Page) => page.getByRole('complementary', { name: 'Task details' });
export const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });

/** The row of the task titled `title` in the current list. */
export function row(page: Page, title: string): Locator {
  return page.getByRole('listitem').filter({ has: page.getByRole('button', { name: `“${title}”` }) });
}

/** Resolves when the next PATCH of a task has been answered (the panel saves field by field). */
export function patched(page: Page): Promise<unknown> {
  return page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/tasks/'));
}

/** The session token the app keeps in localStorage. */
export async function tokenOf(page: Page): Promise<string> {
  return page.evaluate(() => JSON.parse(localStorage.getItem('taskman.session') ?? '{}').token as string);
}

/** Calls the API from the test process, as another client of the same account would. */
export async function apiCall(url: string, method: string, route: string, token: string, body?: unknown) {
  const res = await fetch(`${url}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export function shot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let axeSource: string | undefined;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Serious and critical violations on the page as it is now. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated rather than added as a <script>: the app's Content-Security-Policy refuses inline scripts.
  axeSource ??= await readFile(AXE, 'utf8');
  await page.evaluate(axeSource);
  const found = (await page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: unknown[] }> } }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations;
  })) as AxeViolation[];
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
