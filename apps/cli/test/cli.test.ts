// The `taskman` command line, end to end: the built bundle run as a subprocess against a real API
// server (listening on a loopback port) on a fresh database.
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { dayRange } from '@taskman/sdk/dates';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../api/test/helpers/app';
import { Client, signUp } from '../../api/test/helpers/client';
import { BUNDLE, buildCli, CliUser, hasColour, NO_STACK, visible } from './helpers';

const API = '/api/v1';
let t: TestApp;
let url: string;

beforeAll(async () => {
  await buildCli();
  t = await createTestApp();
  url = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await t?.close();
});

/** A new account, and a CLI user signed in to it with `login --password-stdin`. */
async function signedIn(timezone = 'Europe/Berlin') {
  const account = await signUp(t.app, { name: 'Cli User', timezone });
  const cli = await CliUser.create();
  const r = await cli.run(['--api-url', url, 'login', '--email', account.user.email, '--password-stdin'], {
    input: `${account.password}\n`,
  });
  expect(r.code, r.stderr).toBe(0);
  return { account, cli };
}

const json = (r: { stdout: string }) => JSON.parse(r.stdout);

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('help and version', () => {
  it('--help lists every command with examples; each command has its own --help with examples', async () => {
    const cli = await CliUser.create();
    const help = await cli.run(['--help']);
    expect(help.code).toBe(0);
    for (const c of [
      'login',
      'add',
      'list',
      'show',
      'edit',
      'done',
      'reopen',
      'rm',
      'archive',
      'project',
      'report',
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(help.stdout).toContain('Exit codes');
    // Every command and subcommand, found from the help itself: each has examples.
    const commandsIn = (text: string) =>
      [...(text.split('\nCommands:\n')[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)/gm)]
        .map((m) => m[1]!)
        .filter((c) => c !== 'help');
    const seen: string[] = [];
    const visit = async (path: string[]) => {
      const r = await cli.run([...path, '--help']);
      expect(r.code, path.join(' ')).toBe(0);
      if (path.length) {
        seen.push(path.join(' '));
        expect(r.stdout, path.join(' ')).toContain('Examples:\n  $ ');
      }
      for (const sub of commandsIn(r.stdout)) await visit([...path, sub]);
    };
    await visit([]);
    expect(seen).toEqual(
      expect.arrayContaining(['add', 'project add', 'webhook deliveries', 'calendar feed', 'config set']),
    );
    expect(seen.length).toBeGreaterThan(35);
    const version = await cli.run(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  });

  it('is one file with nothing to resolve at start-up (npm pack ships it alone)', async () => {
    const bundle = await readFile(BUNDLE, 'utf8');
    // Only Node's own modules are imported: commander, the SDK and the rest are inside.
    const imports = [...bundle.matchAll(/^import .* from ["']([^"']+)["'];?$/gm)].map((m) => m[1]);
    expect(imports.every((m) => m!.startsWith('node:'))).toBe(true);
    const pack = JSON.parse(
      (
        await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
          cwd: path.dirname(path.dirname(BUNDLE)),
        })
      ).stdout,
    );
    expect(pack[0].files.map((f: { path: string }) => f.path).sort()).toEqual(
      ['bin/taskman.mjs', 'dist/taskman.mjs', 'package.json'].sort(),
    );
  });

  it('usage errors exit 2 with one line, and suggest the right spelling', async () => {
    const cli = await CliUser.create();
    const typo = await cli.run(['lsit']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown command 'lsit'");
    expect(typo.stderr).toContain('list');
    const flag = await cli.run(['list', '--bogus']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--bogus'");
    const choice = await cli.run(['add', 'x', '--priority', 'huge']);
    expect(choice.code).toBe(2);
    expect(choice.stderr).toMatch(/Allowed choices are low, medium, high, urgent/);
    for (const r of [typo, flag, choice]) expect(r.stderr).not.toMatch(NO_STACK);
  });
});

describe('login, whoami, logout, config', () => {
  it('login stores an API key in a 0600 file in a 0700 folder; whoami; logout revokes the key', async () => {
    const { account, cli } = await signedIn();
    const file = await stat(cli.configFile);
    expect(file.mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(cli.configFile))).mode & 0o777).toBe(0o700);
    const config = JSON.parse(await readFile(cli.configFile, 'utf8'));
    expect(config).toMatchObject({ api_url: url, email: account.user.email });
    expect(config.token).toMatch(/^tm_/);
    // The password is never stored.
    expect(await readFile(cli.configFile, 'utf8')).not.toContain(account.password);

    const keys = await account.get(`${API}/api-keys`);
    expect(keys.body.data).toHaveLength(1);
    expect(keys.body.data[0].name).toMatch(/^taskman CLI on /);

    const who = await cli.run(['whoami']);
    expect(who.code).toBe(0);
    expect(who.stdout).toContain(`Cli User <${account.user.email}>`);
    expect(who.stdout).toContain('Europe/Berlin');
    expect(who.stdout).toContain(url);
    expect(json(await cli.run(['whoami', '--json']))).toMatchObject({
      email: account.user.email,
      api_url: url,
    });

    const out = await cli.run(['logout']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('revoked');
    expect(JSON.parse(await readFile(cli.configFile, 'utf8')).token).toBeUndefined();
    // The key no longer works anywhere.
    const keyClient = new Client(t.app, config.token);
    expect((await keyClient.get(`${API}/users/me`)).status).toBe(401);
    expect((await account.get(`${API}/api-keys`)).body.data).toHaveLength(0);
    const after = await cli.run(['list']);
    expect(after.code).toBe(3);
    expect(after.stderr).toContain('not signed in');
  });

  it('a wrong password exits 3 and stores nothing; login without a terminal asks for --with-token', async () => {
    const account = await signUp(t.app);
    const cli = await CliUser.create();
    const wrong = await cli.run(['--api-url', url, 'login', '-e', account.user.email, '--password-stdin'], {
      input: 'not the password',
    });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('wrong email or password');
    await expect(stat(cli.configFile)).rejects.toThrow();
    expect((await account.get(`${API}/api-keys`)).body.data).toHaveLength(0);
    const noTty = await cli.run(['--api-url', url, 'login']);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toContain('--with-token');
  });

  it('login --with-token stores the given key; logout forgets it without revoking it', async () => {
    const account = await signUp(t.app);
    const key = (await account.post(`${API}/api-keys`, { name: 'mine', scopes: ['tasks:read'] })).body.data
      .key;
    const cli = await CliUser.create();
    const r = await cli.run(['--api-url', url, 'login', '--with-token'], { input: `${key}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(cli.configFile, 'utf8')).token).toBe(key);
    expect((await cli.run(['logout'])).code).toBe(0);
    expect((await new Client(t.app, key).get(`${API}/tasks`)).status).toBe(200);

    const bad = await cli.run(['--api-url', url, 'login', '--with-token'], { input: 'tm_not_a_key' });
    expect(bad.code).toBe(3);
  });

  it('TASKMAN_TOKEN and TASKMAN_API_URL override the file; config set/get api-url', async () => {
    const account = await signUp(t.app, { name: 'Env User' });
    const cli = await CliUser.create();
    expect((await cli.run(['config', 'set', 'api-url', 'tasks.example.com/api/v1/'])).code).toBe(0);
    expect((await cli.run(['config', 'get', 'api-url'])).stdout).toBe('https://tasks.example.com\n');
    const who = await cli.run(['whoami'], { env: { TASKMAN_TOKEN: account.token!, TASKMAN_API_URL: url } });
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toContain('Env User');
    expect(who.stdout).toContain('TASKMAN_TOKEN');
    const bad = await cli.run(['config', 'set', 'api-url', 'ftp://x']);
    expect(bad.code).toBe(2);
    const unknown = await cli.run(['config', 'set', 'colour', 'red']);
    expect(unknown.code).toBe(2);
  });
});

describe('tasks', () => {
  it('add reads quick-add text and flags; list prints plain rows when piped and JSON with --json', async () => {
    const { account, cli } = await signedIn('America/New_York');
    const finance = (await account.post(`${API}/projects`, { name: 'Finance' })).body.data;
    const a = await cli.run(['add', 'Pay rent tomorrow 9am !high #home +Finance']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(
      /^Added [0-9a-f]{7} {2}Pay rent {2}\(tomorrow 09:00 · high · #home · Finance\)\n$/,
    );
    const b = await cli.run([
      'add',
      'Write',
      'report',
      '--due',
      '2031-03-04 17:30',
      '-p',
      'urgent',
      '-t',
      'work,Writing',
      '-t',
      'q1',
    ]);
    expect(b.code, b.stderr).toBe(0);
    const c = await cli.run(['add', 'Undated thing', '--json']);
    const undated = json(c);
    expect(undated).toMatchObject({ title: 'Undated thing', due_date: null, priority: 'medium' });

    const tasks = (await account.get(`${API}/tasks?sort=created_at&order=asc`)).body.data;
    expect(tasks.map((x: any) => x.title)).toEqual(['Pay rent', 'Write report', 'Undated thing']);
    expect(tasks[0]).toMatchObject({ priority: 'high', tags: ['home'], project_id: finance.id });
    // 17:30 in New York (EST in March 2031 is UTC-5 until the 9th).
    expect(tasks[1]).toMatchObject({
      priority: 'urgent',
      tags: ['work', 'writing', 'q1'],
      due_date: '2031-03-04T22:30:00.000Z',
    });

    const list = await cli.run(['list']);
    expect(list.code).toBe(0);
    const rows = list.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    // Soonest due first, undated last; full ids and ISO dates for scripts.
    expect(rows.map((r) => r[4])).toEqual(['Pay rent', 'Write report', 'Undated thing']);
    expect(rows[0]).toEqual([tasks[0].id, 'todo', tasks[0].due_date, 'high', 'Pay rent', 'Finance', 'home']);
    expect(hasColour(list.stdout)).toBe(false);
    expect(list.stdout).toBe(stripVTControlCharacters(list.stdout));

    const asJson = json(await cli.run(['list', '--json', '--priority', 'high,urgent', '--sort', 'priority']));
    expect(asJson.map((x: any) => x.title)).toEqual(['Write report', 'Pay rent']);
    expect(json(await cli.run(['list', '--json', '--project', 'fin'])).map((x: any) => x.title)).toEqual([
      'Pay rent',
    ]);
    expect(json(await cli.run(['list', '--json', '--tag', 'q1'])).map((x: any) => x.title)).toEqual([
      'Write report',
    ]);
    expect(json(await cli.run(['list', '--json', '--search', 'repo'])).map((x: any) => x.title)).toEqual([
      'Write report',
    ]);
    expect(
      json(await cli.run(['list', '--json', '--project', 'none', '--limit', '1'])).map((x: any) => x.title),
    ).toHaveLength(1);

    const noProject = await cli.run(['add', 'x', '--project', 'Nope']);
    expect(noProject.code).toBe(4);
    expect(noProject.stderr).toContain('no project is called "Nope"');
    const badDate = await cli.run(['add', 'x', '--due', 'whenever']);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain('cannot read --due "whenever"');
    const past = await cli.run(['add', 'x', '--due', '2001-01-01']);
    expect(past.code).toBe(1);
    expect(past.stderr).toContain('must not be in the past');
    // Nothing was added by the refused commands.
    expect((await account.get(`${API}/tasks`)).body.meta.total).toBe(3);
  });

  it('views today, overdue, upcoming in the user time zone', async () => {
    const { account, cli } = await signedIn('Asia/Tokyo');
    // The last second of today in Tokyo.
    const soon = new Date(Date.parse(dayRange(new Date(), 'Asia/Tokyo').to) - 1000).toISOString();
    await account.post(`${API}/tasks`, { title: 'Very soon', due_date: soon });
    await account.post(`${API}/tasks`, {
      title: 'In four days',
      due_date: new Date(Date.now() + 4 * 86_400_000).toISOString(),
    });
    await account.post(`${API}/tasks`, {
      title: 'Next month',
      due_date: new Date(Date.now() + 40 * 86_400_000).toISOString(),
    });
    const titles = async (view: string) =>
      json(await cli.run(['list', view, '--json'])).map((x: any) => x.title);
    expect(await titles('today')).toContain('Very soon');
    expect(await titles('today')).not.toContain('In four days');
    expect(await titles('upcoming')).toContain('In four days');
    expect(await titles('upcoming')).not.toContain('Next month');
    expect(await titles('all')).toHaveLength(3);
    const bad = await cli.run(['list', 'someday']);
    expect(bad.code).toBe(2);
  });

  it('show, edit (with If-Match), done, reopen, archive, unarchive, rm', async () => {
    const { account, cli } = await signedIn('UTC');
    const created = json(
      await cli.run(['add', 'Call the bank', '--due', '2031-05-06 10:00', '--tag', 'money', '--json']),
    );
    const short = created.id.slice(-12, -8);

    const show = await cli.run(['show', short]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('Call the bank');
    expect(show.stdout).toContain(created.id);
    expect(show.stdout).toMatch(/Due\s+Tue, May 6, 2031 10:00/);
    expect(show.stdout).toContain('#money');

    const edit = await cli.run([
      'edit',
      short,
      '--title',
      'Call the bank again',
      '--priority',
      'high',
      '--add-tag',
      'urgent-ish',
      '--remove-tag',
      'money',
      '--description',
      'Ask about the fee',
      '--repeat',
      'every monday',
    ]);
    expect(edit.code, edit.stderr).toBe(0);
    let now = (await account.get(`${API}/tasks/${created.id}`)).body.data;
    expect(now).toMatchObject({
      title: 'Call the bank again',
      priority: 'high',
      tags: ['urgent-ish'],
      description: 'Ask about the fee',
      recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO', basis: 'due' },
      version: 2,
    });
    expect(now.due_date).toBe(created.due_date);

    const clear = await cli.run(['edit', short, '--no-due', '--no-repeat', '--no-description']);
    expect(clear.code, clear.stderr).toBe(0);
    now = (await account.get(`${API}/tasks/${created.id}`)).body.data;
    expect(now).toMatchObject({ due_date: null, recurrence: null, description: null });

    const nothing = await cli.run(['edit', short]);
    expect(nothing.code).toBe(2);
    const badRepeat = await cli.run(['edit', short, '--repeat', 'sometimes maybe']);
    expect(badRepeat.code).toBe(2);
    expect((await account.get(`${API}/tasks/${created.id}`)).body.data.version).toBe(now.version);

    const done = await cli.run(['done', short]);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/^Done /);
    expect((await account.get(`${API}/tasks/${created.id}`)).body.data.status).toBe('done');
    expect(json(await cli.run(['list', '--json'])).map((x: any) => x.id)).not.toContain(created.id);
    expect((await cli.run(['reopen', short])).code).toBe(0);
    expect((await account.get(`${API}/tasks/${created.id}`)).body.data.status).toBe('todo');

    expect((await cli.run(['archive', short])).code).toBe(0);
    expect((await account.get(`${API}/tasks/${created.id}`)).body.data.archived_at).not.toBeNull();
    expect(json(await cli.run(['list', 'archived', '--json'])).map((x: any) => x.id)).toEqual([created.id]);
    // An archived task is still found by its id.
    expect((await cli.run(['unarchive', short])).code).toBe(0);
    expect((await account.get(`${API}/tasks/${created.id}`)).body.data.archived_at).toBeNull();

    // rm asks; without a terminal and without --yes it deletes nothing.
    const ask = await cli.run(['rm', short]);
    expect(ask.code).toBe(2);
    expect(ask.stderr).toContain('--yes');
    expect((await account.get(`${API}/tasks/${created.id}`)).status).toBe(200);
    const rm = await cli.run(['rm', short, '--yes']);
    expect(rm.code).toBe(0);
    expect((await account.get(`${API}/tasks/${created.id}`)).status).toBe(404);
    const gone = await cli.run(['show', short]);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toContain(`no task has the id ${short}`);
  });

  it('a repeating task moves to its next date when done', async () => {
    const { account, cli } = await signedIn('UTC');
    const task = json(await cli.run(['add', 'Water the plants', '--due', '2031-01-06', '--json']));
    expect((await cli.run(['edit', task.id, '--repeat', 'every 3 days'])).code).toBe(0);
    const done = await cli.run(['done', task.id, '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(json(done)[0]).toMatchObject({ status: 'todo', due_date: '2031-01-09T23:59:00.000Z' });
    expect((await account.get(`${API}/tasks/${task.id}/completions`)).body.data).toHaveLength(1);
  });

  it('ids: a prefix two tasks share is ambiguous (exit 2, both listed); not a hex id is a usage error; a typo in one of several ids changes nothing', async () => {
    const { account, cli } = await signedIn();
    const made: { id: string; title: string }[] = [];
    for (let i = 0; i < 20; i++)
      made.push((await account.post(`${API}/tasks`, { title: `Task ${i}` })).body.data);
    // Two tasks whose short ids (the last 12 hex digits) begin with the same digit: 20 tasks, 16 digits.
    const byFirst = new Map<string, typeof made>();
    for (const task of made) {
      const first = task.id.slice(-12, -11);
      byFirst.set(first, [...(byFirst.get(first) ?? []), task]);
    }
    const [prefix, pair] = [...byFirst.entries()].find(([, list]) => list.length >= 2)!;
    const amb = await cli.run(['done', prefix]);
    expect(amb.code).toBe(2);
    expect(amb.stderr).toContain(`the id ${prefix} is ambiguous`);
    for (const task of pair!) expect(amb.stderr).toContain(task.title);
    const none = await cli.run(['show', 'zz!']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('is not a task id');

    const [first, second] = made;
    const mixed = await cli.run([
      'done',
      first!.id.slice(-12, -4),
      'fffffffffff0',
      second!.id.slice(-12, -4),
    ]);
    expect(mixed.code).toBe(4);
    const statuses = (await account.get(`${API}/tasks?status=done`)).body.meta.total;
    expect(statuses).toBe(0);
    // Full ids and upper-case prefixes work too.
    expect((await cli.run(['done', first!.id, second!.id.slice(-12, -4).toUpperCase()])).code).toBe(0);
    expect((await account.get(`${API}/tasks?status=done`)).body.meta.total).toBe(2);
  });

  it("another user's task is not found by id or prefix", async () => {
    const { cli } = await signedIn();
    const other = await signUp(t.app);
    const theirs = (await other.post(`${API}/tasks`, { title: 'Private' })).body.data;
    for (const ref of [theirs.id, theirs.id.slice(-12)]) {
      const r = await cli.run(['show', ref]);
      expect(r.code).toBe(4);
      expect(r.stdout + r.stderr).not.toContain('Private');
    }
    expect((await cli.run(['rm', theirs.id, '--yes'])).code).toBe(4);
    expect((await other.get(`${API}/tasks/${theirs.id}`)).status).toBe(200);
  });
});

describe('projects, report, webhooks, calendar feed, api keys', () => {
  it('project add, list, show, edit, rm', async () => {
    const { account, cli } = await signedIn();
    expect((await cli.run(['project', 'add', 'Garden', '-d', 'Spring planting'])).code).toBe(0);
    expect((await cli.run(['project', 'add', 'Garage'])).code).toBe(0);
    await cli.run(['add', 'Plant tulips +Garden']);
    const list = json(await cli.run(['project', '--json']));
    expect(list.map((p: any) => p.name).sort()).toEqual(['Garage', 'Garden']);
    const ambiguous = await cli.run(['project', 'show', 'gar']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('Garage, Garden');
    const show = await cli.run(['project', 'show', 'garden']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('Spring planting');
    expect(show.stdout).toContain('Plant tulips');
    expect((await cli.run(['project', 'edit', 'Garden', '--name', 'Backyard'])).code).toBe(0);
    const rm = await cli.run(['project', 'rm', 'backyard', '--yes']);
    expect(rm.code, rm.stderr).toBe(0);
    const projects = (await account.get(`${API}/projects`)).body.data.map((p: any) => p.name);
    expect(projects).toEqual(['Garage']);
    // Its task is kept, in no project.
    const tasks = (await account.get(`${API}/tasks`)).body.data;
    expect(tasks).toMatchObject([{ title: 'Plant tulips', project_id: null }]);
  });

  it('report --week (text, JSON and CSV) counts what was created and completed', async () => {
    const { account, cli } = await signedIn('UTC');
    for (const title of ['a', 'b', 'c']) await account.post(`${API}/tasks`, { title, priority: 'high' });
    const done = (await account.post(`${API}/tasks`, { title: 'd' })).body.data;
    await account.patch(`${API}/tasks/${done.id}`, { status: 'done' });
    const text = await cli.run(['report', '--week']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/Created\s+4/);
    expect(text.stdout).toMatch(/Completed\s+1/);
    const report = json(await cli.run(['report', '--json']));
    expect(report).toMatchObject({ created: 4, completed: 1, timezone: 'UTC' });
    expect(report.days).toHaveLength(7);
    expect(json(await cli.run(['report', '--month', '--json'])).days).toHaveLength(30);
    const csv = await cli.run(['report', '--csv']);
    expect(csv.stdout.split(/\r?\n/)[0]).toBe('section,key,metric,value');
    const bad = await cli.run(['report', '--from', 'last tuesday']);
    expect(bad.code).toBe(2);
  });

  it('webhook add, list, ping, deliveries, rm', async () => {
    const { account, cli } = await signedIn();
    const add = await cli.run(['webhook', 'add', 'https://hooks.example.com/taskman', '-e', 'task.created']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/whsec_/);
    const [hook] = json(await cli.run(['webhook', 'list', '--json']));
    expect(hook).toMatchObject({ url: 'https://hooks.example.com/taskman', events: ['task.created'] });
    expect((await cli.run(['webhook', 'ping', hook.id.slice(-12, -6)])).code).toBe(0);
    const deliveries = json(
      await cli.run(['webhook', 'deliveries', 'https://hooks.example.com/taskman', '--json']),
    );
    expect(deliveries.map((d: any) => d.event_type)).toEqual(['ping']);
    expect((await cli.run(['webhook', 'rm', hook.id, '--yes'])).code).toBe(0);
    expect((await account.get(`${API}/webhooks`)).body.data).toEqual([]);
    const badEvent = await cli.run(['webhook', 'add', 'https://x.example.com', '-e', 'task.exploded']);
    expect(badEvent.code).toBe(2);
  });

  it('API keys and the calendar feed need a session: with a session token they work; with an API key and no terminal, exit 3', async () => {
    const { account, cli } = await signedIn();
    const session = { TASKMAN_TOKEN: account.token!, TASKMAN_API_URL: url };
    const created = await cli.run(['api-key', 'create', 'Backup', '--scope', 'tasks:read', '--json'], {
      env: session,
    });
    expect(created.code, created.stderr).toBe(0);
    const key = json(created);
    expect(key.key).toMatch(/^tm_/);
    const listed = json(await cli.run(['api-key', 'list', '--json'], { env: session }));
    expect(listed.map((k: any) => k.name)).toContain('Backup');
    expect(
      (await cli.run(['api-key', 'revoke', key.id.slice(-12, -6), '--yes'], { env: session })).code,
    ).toBe(0);
    expect((await new Client(t.app, key.key).get(`${API}/tasks`)).status).toBe(401);

    const feed = await cli.run(['calendar', 'feed', '--new'], { env: session });
    expect(feed.code, feed.stderr).toBe(0);
    expect(feed.stdout.trim()).toMatch(/^http:\/\/.+\.ics$/);

    // Signed in with the API key `login` made, and no terminal to ask for the password on.
    const withKey = await cli.run(['api-key', 'list']);
    expect(withKey.code).toBe(3);
    expect(withKey.stderr).toContain('API keys cannot manage API keys');
  });
});

describe('errors', () => {
  it('a bad token exits 3, a server that is down exits 5 naming the URL; never a stack trace', async () => {
    const cli = await CliUser.create();
    const bad = await cli.run(['list'], { env: { TASKMAN_TOKEN: 'tm_nope', TASKMAN_API_URL: url } });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^taskman: .*\(run `taskman login`\)\n$/);
    const port = await closedPort();
    const down = await cli.run(['list'], {
      env: { TASKMAN_TOKEN: 'tm_nope', TASKMAN_API_URL: `http://127.0.0.1:${port}` },
    });
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(
      new RegExp(
        `^taskman: cannot reach http://127\\.0\\.0\\.1:${port}/api/v1/[a-z/]+: connection refused \\(is the server running\\?\\)\\n$`,
      ),
    );
    const notTaskman = await cli.run(['--api-url', `http://127.0.0.1:${port}`, 'login', '--with-token'], {
      input: 'tm_x',
    });
    expect(notTaskman.code).toBe(5);
    for (const r of [bad, down, notTaskman]) expect(r.stderr).not.toMatch(NO_STACK);
  });
});

describe('on a terminal', () => {
  it('login prompts for the email and a hidden password, then signs in', async () => {
    const account = await signUp(t.app, { name: 'Pty User' });
    const cli = await CliUser.create();
    const term = cli.terminal(['--api-url', url, 'login']);
    await term.waitFor(/Email: /);
    term.type(`${account.user.email}\r`);
    await term.waitFor(/Password: /);
    term.type(`${account.password}\r`);
    expect(await term.exit()).toBe(0);
    const screen = visible(term.output());
    expect(screen).toContain(account.user.email); // typed text is echoed …
    expect(screen).not.toContain(account.password); // … but not the password
    expect(screen).toContain('Signed in to');
    expect(JSON.parse(await readFile(cli.configFile, 'utf8')).token).toMatch(/^tm_/);

    // A command API keys may not run asks for the password again, hidden, and works.
    const keys = cli.terminal(['api-key', 'list']);
    await keys.waitFor(/Password: /);
    keys.type(`${account.password}\r`);
    expect(await keys.exit()).toBe(0);
    expect(visible(keys.output())).toMatch(/taskman CLI on /);
    expect(keys.output()).not.toContain(account.password);
  });

  it('tables are aligned with a header and coloured (urgent and overdue stand out); NO_COLOR turns colour off', async () => {
    const { account, cli } = await signedIn('UTC');
    const endOfToday = new Date(Date.parse(dayRange(new Date(), 'UTC').to) - 120_000).toISOString();
    await account.post(`${API}/tasks`, { title: 'Urgent one', priority: 'urgent', due_date: endOfToday });
    await account.post(`${API}/tasks`, { title: 'A much longer title that goes on', tags: ['x'] });
    const term = cli.terminal(['list']);
    expect(await term.exit()).toBe(0);
    const raw = term.output();
    expect(hasColour(raw)).toBe(true);
    expect(raw).toContain(`${String.fromCharCode(27)}[31m`); // red: urgent
    const lines = visible(raw).trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+DUE\s+PRIORITY\s+TITLE\s+PROJECT\s+TAGS$/);
    // Aligned: the TITLE column starts at the same place on every line.
    const at = lines[0]!.indexOf('TITLE');
    expect(lines[1]!.slice(at)).toMatch(/^Urgent one/);
    expect(lines[2]!.slice(at)).toMatch(/^A much longer title/);
    expect(lines[1]).toMatch(/^[0-9a-f]{7} {2}todo {4}today 23:58 {2}urgent/);

    const plain = cli.terminal(['list'], { NO_COLOR: '1' });
    expect(await plain.exit()).toBe(0);
    expect(hasColour(plain.output())).toBe(false);
    expect(visible(plain.output())).toContain('Urgent one');
  });

  it('rm asks for a confirmation; anything but yes keeps the task', async () => {
    const { account, cli } = await signedIn();
    const task = (await account.post(`${API}/tasks`, { title: 'Keep me' })).body.data;
    const no = cli.terminal(['rm', task.id]);
    await no.waitFor(/Delete "Keep me"\? This cannot be undone\. \[y\/N\]/);
    no.type('n\r');
    expect(await no.exit()).toBe(1);
    expect((await account.get(`${API}/tasks/${task.id}`)).status).toBe(200);
    const yes = cli.terminal(['rm', task.id]);
    await yes.waitFor(/\[y\/N\]/);
    yes.type('y\r');
    expect(await yes.exit()).toBe(0);
    expect((await account.get(`${API}/tasks/${task.id}`)).status).toBe(404);
  });
});

describe('shell completion', () => {
  it('bash: the sourced script completes commands, flags, values and task ids', async () => {
    const { account, cli } = await signedIn();
    const task = (await account.post(`${API}/tasks`, { title: 'Complete me' })).body.data;
    const script = (await cli.run(['completion', 'bash'])).stdout;
    const complete = async (...words: string[]) => {
      const program = `
        taskman() { '${process.execPath}' '${BUNDLE}' "$@"; }
        source /dev/stdin <<'EOF'
${script}
EOF
        COMP_WORDS=(taskman ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}
        _taskman_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const { stdout } = await promisify(execFile)('bash', ['-c', program], {
        env: { PATH: process.env.PATH ?? '', ...cli.env },
      });
      return stdout.trim().split('\n');
    };
    expect(await complete('li')).toEqual(['list']);
    expect(await complete('list', '--pri')).toEqual(['--priority']);
    expect(await complete('add', 'x', '--priority', 'u')).toEqual(['urgent']);
    expect(await complete('project', '')).toEqual(
      expect.arrayContaining(['list', 'add', 'show', 'edit', 'rm']),
    );
    expect(await complete('done', '')).toEqual([task.id.slice(-12, -5)]);
  });

  it('zsh: the script defines the completion function (and parses, where zsh is installed)', async () => {
    const cli = await CliUser.create();
    const script = (await cli.run(['completion', 'zsh'])).stdout;
    expect(script).toContain('#compdef taskman');
    expect(script).toContain('compdef _taskman taskman');
    const zsh = await promisify(execFile)('sh', ['-c', 'command -v zsh || true']);
    if (zsh.stdout.trim()) await promisify(execFile)('zsh', ['-n', '-c', script]);
    const zshItems = await cli.run(['__complete', 'zsh', 'pro']);
    expect(zshItems.stdout).toMatch(/^project:list, add, show/m);
    const fish = await cli.run(['completion', 'fish']);
    expect(fish.code).toBe(2);
  });
});
