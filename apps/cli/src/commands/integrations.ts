// API keys, webhooks and the calendar feed.
import { expectOk, unwrap, unwrapBody } from '@taskman/sdk';
import { type Command, Option } from 'commander';
import { abbreviate, Context } from '../context';
import { ago } from '../dates';
import { CliError, EXIT } from '../errors';
import { note, paint, printFields, printJson, println, printTable } from '../output';
import { confirm } from '../prompt';
import { withSession } from './auth';
import { collect, examples } from './util';

const SCOPES = [
  'tasks:read',
  'tasks:write',
  'projects:read',
  'projects:write',
  'webhooks:manage',
  'reports:read',
] as const;
const EVENTS = [
  'task.created',
  'task.updated',
  'task.completed',
  'task.deleted',
  'project.created',
  'project.updated',
  'project.deleted',
] as const;

export function registerIntegrationCommands(program: Command): void {
  // --- API keys -------------------------------------------------------------------------------
  const keys = program
    .command('api-key')
    .alias('api-keys')
    .summary('list, create and revoke API keys (asks for your password)')
    .description(
      'API keys let scripts and other apps use your account. API keys cannot manage API keys, so\n' +
        'these commands ask for your password when you signed in with `taskman login`.',
    );
  keys
    .command('list', { isDefault: true })
    .alias('ls')
    .summary('your API keys')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const list = await withSession(ctx, (api) =>
        unwrapBody(api.GET('/api/v1/api-keys', { params: { query: { limit: 100 } } })),
      );
      if (ctx.out.json) return printJson(list.data);
      if (list.data.length === 0)
        return note(ctx.out, 'No API keys. Create one: taskman api-key create NAME');
      const ids = abbreviate(list.data.map((k) => k.id));
      printTable(
        ctx.out,
        list.data.map((k, i) => ({ k, id: ids[i]! })),
        [
          { header: 'id', value: (r) => r.id, plain: (r) => r.k.id, style: () => 'yellow' },
          { header: 'name', value: (r) => r.k.name, flexible: true },
          { header: 'key', value: (r) => `${r.k.prefix}…` },
          {
            header: 'scopes',
            value: (r) => r.k.scopes.join(' '),
            plain: (r) => r.k.scopes.join(','),
            style: () => 'dim',
          },
          {
            header: 'last used',
            value: (r) => (r.k.last_used_at ? ago(r.k.last_used_at) : 'never'),
            plain: (r) => r.k.last_used_at ?? '',
          },
          {
            header: 'expires',
            value: (r) => (r.k.expired ? 'expired' : r.k.expires_at ? ago(r.k.expires_at) : 'never'),
            plain: (r) => r.k.expires_at ?? '',
            style: (r) => (r.k.expired ? 'red' : undefined),
          },
        ],
      );
    });
  keys
    .command('create')
    .summary('create an API key (shown once)')
    .argument('<name...>', 'what it is for')
    .addOption(
      new Option('--scope <scope>', `what it may do (repeat for more): ${SCOPES.join(', ')}`)
        .argParser(collect)
        .makeOptionMandatory(),
    )
    .option('--expires <day>', 'the day it stops working (YYYY-MM-DD)')
    .addHelpText(
      'after',
      examples(['taskman api-key create Backup script --scope tasks:read --scope projects:read']),
    )
    .action(async (words: string[], o: { scope: string[]; expires?: string }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const scopes = o.scope.flatMap((s) => s.split(',')).map((s) => s.trim());
      const bad = scopes.filter((s) => !SCOPES.includes(s as never));
      if (bad.length)
        throw new CliError(`unknown scope ${bad.join(', ')}; scopes: ${SCOPES.join(', ')}`, EXIT.usage);
      if (
        o.expires !== undefined &&
        (!/^\d{4}-\d{2}-\d{2}$/.test(o.expires) || Number.isNaN(Date.parse(o.expires)))
      )
        throw new CliError(`--expires takes a day as YYYY-MM-DD, not "${o.expires}"`, EXIT.usage);
      const created = await withSession(ctx, (api) =>
        unwrap(
          api.POST('/api/v1/api-keys', {
            body: {
              name: words.join(' '),
              scopes: scopes as (typeof SCOPES)[number][],
              ...(o.expires ? { expires_at: new Date(`${o.expires}T23:59:59Z`).toISOString() } : {}),
            },
          }),
        ),
      );
      if (ctx.out.json) return printJson(created);
      println(created.key);
      note(
        ctx.out,
        `Created "${created.name}". This is the only time the key is shown: keep it somewhere safe.`,
      );
    });
  keys
    .command('revoke')
    .summary('revoke an API key (it stops working at once)')
    .argument('<id>', 'the key: its id (or the start of its id, as `taskman api-key list` shows)')
    .option('-y, --yes', 'do not ask')
    .action(async (ref: string, o: { yes?: boolean }, cmd: Command) => {
      const ctx = Context.of(cmd);
      await withSession(ctx, async (api) => {
        const list = await unwrapBody(api.GET('/api/v1/api-keys', { params: { query: { limit: 100 } } }));
        const key = pick(list.data, ref, 'API key');
        if (
          !o.yes &&
          !(await confirm(`Revoke "${key.name}" (${key.prefix}…)? Whatever uses it stops working.`))
        ) {
          note(ctx.out, 'Nothing revoked.');
          process.exitCode = EXIT.error;
          return;
        }
        await expectOk(api.DELETE('/api/v1/api-keys/{id}', { params: { path: { id: key.id } } }));
        if (ctx.out.json) return printJson({ id: key.id, revoked: true });
        println(`${paint(ctx.out, 'red', 'Revoked')} ${key.name}`);
      });
    });

  // --- Webhooks -------------------------------------------------------------------------------
  const hooks = program
    .command('webhook')
    .alias('webhooks')
    .summary('list webhooks, their deliveries; add, ping, remove');
  hooks
    .command('list', { isDefault: true })
    .alias('ls')
    .summary('your webhooks')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const list = await ctx.call(
        'Loading…',
        unwrapBody(ctx.api.GET('/api/v1/webhooks', { params: { query: { limit: 100 } } })),
      );
      if (ctx.out.json) return printJson(list.data);
      if (list.data.length === 0) return note(ctx.out, 'No webhooks. Add one: taskman webhook add URL');
      const ids = abbreviate(list.data.map((w) => w.id));
      printTable(
        ctx.out,
        list.data.map((w, i) => ({ w, id: ids[i]! })),
        [
          { header: 'id', value: (r) => r.id, plain: (r) => r.w.id, style: () => 'yellow' },
          { header: 'url', value: (r) => r.w.url, flexible: true },
          {
            header: 'events',
            value: (r) => r.w.events.join(' '),
            plain: (r) => r.w.events.join(','),
            style: () => 'dim',
          },
          {
            header: 'state',
            value: (r) =>
              r.w.active ? 'active' : r.w.disabled_reason ? `disabled: ${r.w.disabled_reason}` : 'paused',
            style: (r) => (r.w.active ? 'green' : 'red'),
          },
        ],
      );
    });
  hooks
    .command('deliveries')
    .summary("a webhook's recent deliveries")
    .argument('<webhook>', 'the webhook: its id, the start of it, or its URL')
    .option('--failed', 'only failed ones')
    .option('-n, --limit <n>', 'how many (at most 100)', '20')
    .action(async (ref: string, o: { failed?: boolean; limit: string }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw new CliError('--limit takes 1 to 100', EXIT.usage);
      const hook = await findWebhook(ctx, ref);
      const list = await ctx.call(
        'Loading…',
        unwrapBody(
          ctx.api.GET('/api/v1/webhooks/{id}/deliveries', {
            params: {
              path: { id: hook.id },
              query: { limit, ...(o.failed ? { state: 'failed' } : {}) } as never,
            },
          }),
        ),
      );
      if (ctx.out.json) return printJson(list.data);
      if (list.data.length === 0) return note(ctx.out, `No deliveries to ${hook.url} yet.`);
      printTable(ctx.out, list.data, [
        { header: 'when', value: (d) => ago(d.created_at), plain: (d) => d.created_at },
        { header: 'event', value: (d) => d.event_type },
        {
          header: 'state',
          value: (d) => d.state,
          style: (d) => (d.state === 'succeeded' ? 'green' : d.state === 'failed' ? 'red' : 'yellow'),
        },
        {
          header: 'http',
          value: (d) => (d.response_status === null ? '' : String(d.response_status)),
          align: 'right',
        },
        { header: 'tries', value: (d) => String(d.attempts), align: 'right' },
        { header: 'error', value: (d) => d.error ?? '', flexible: true, style: () => 'dim' },
      ]);
    });
  hooks
    .command('add')
    .summary('register a webhook (prints its signing secret once)')
    .argument('<url>', 'the http(s) URL that receives events')
    .option(
      '-e, --event <event>',
      `an event to send (repeat for more; default all): ${EVENTS.join(', ')}`,
      collect,
      undefined,
    )
    .option('-d, --description <text>', 'a label')
    .action(async (url: string, o: { event?: string[]; description?: string }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const events = (o.event ?? [...EVENTS]).flatMap((e) => e.split(',')).map((e) => e.trim());
      const bad = events.filter((e) => !EVENTS.includes(e as never));
      if (bad.length)
        throw new CliError(`unknown event ${bad.join(', ')}; events: ${EVENTS.join(', ')}`, EXIT.usage);
      const created = await ctx.call(
        'Registering…',
        unwrap(
          ctx.api.POST('/api/v1/webhooks', {
            body: { url, events: events as never, ...(o.description ? { description: o.description } : {}) },
          }),
        ),
      );
      if (ctx.out.json) return printJson(created);
      println(`${paint(ctx.out, 'green', 'Registered')} ${created.url}`);
      printFields(ctx.out, [['Signing secret', created.secret]]);
      note(ctx.out, 'The secret is shown only now: verify each delivery with it (Standard Webhooks).');
    });
  hooks
    .command('ping')
    .summary('send a ping event to a webhook')
    .argument('<webhook>', 'the webhook: its id, the start of it, or its URL')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const hook = await findWebhook(ctx, ref);
      const delivery = await ctx.call(
        'Pinging…',
        unwrap(ctx.api.POST('/api/v1/webhooks/{id}/ping', { params: { path: { id: hook.id } } })),
      );
      if (ctx.out.json) return printJson(delivery);
      println(`Ping queued for ${hook.url}: taskman webhook deliveries ${ref}`);
    });
  hooks
    .command('rm')
    .alias('delete')
    .summary('remove a webhook')
    .argument('<webhook>', 'the webhook: its id, the start of it, or its URL')
    .option('-y, --yes', 'do not ask')
    .action(async (ref: string, o: { yes?: boolean }, cmd: Command) => {
      const ctx = Context.of(cmd);
      const hook = await findWebhook(ctx, ref);
      if (!o.yes && !(await confirm(`Remove the webhook to ${hook.url}?`))) {
        note(ctx.out, 'Nothing removed.');
        process.exitCode = EXIT.error;
        return;
      }
      await ctx.call(
        'Removing…',
        expectOk(ctx.api.DELETE('/api/v1/webhooks/{id}', { params: { path: { id: hook.id } } })),
      );
      if (ctx.out.json) return printJson({ id: hook.id, deleted: true });
      println(`${paint(ctx.out, 'red', 'Removed')} ${hook.url}`);
    });

  // --- Calendar feed --------------------------------------------------------------------------
  const calendar = program
    .command('calendar')
    .summary('the calendar feed URL (for Google Calendar, Apple Calendar, …)');
  calendar
    .command('feed', { isDefault: true })
    .summary('create, replace or revoke your calendar feed URL (asks for your password)')
    .description(
      'Your tasks with due dates as a calendar to subscribe to. The URL is a secret, shown once\n' +
        'when created: --new creates it (or replaces it: the old one stops working); --revoke ends it.',
    )
    .option('--new', 'create the URL (replacing the old one)')
    .option('--revoke', 'revoke the URL')
    .action(async (o: { new?: boolean; revoke?: boolean }, cmd: Command) => {
      const ctx = Context.of(cmd);
      if (o.new && o.revoke) throw new CliError('--new or --revoke, not both', EXIT.usage);
      if (!o.new && !o.revoke) {
        const state = await withSession(ctx, (api) => unwrap(api.GET('/api/v1/calendar/feed')));
        if (ctx.out.json) return printJson(state);
        if (state.active && state.created_at)
          println(
            `You have a calendar feed (created ${ago(state.created_at)}). Its URL was shown once; \`taskman calendar feed --new\` makes a new one.`,
          );
        else println('No calendar feed. `taskman calendar feed --new` creates one.');
        return;
      }
      if (o.revoke) {
        await withSession(ctx, (api) => expectOk(api.DELETE('/api/v1/calendar/feed')));
        if (ctx.out.json) return printJson({ revoked: true });
        println('Revoked: the calendar feed URL no longer works.');
        return;
      }
      const feed = await withSession(ctx, (api) => unwrap(api.POST('/api/v1/calendar/feed')));
      if (ctx.out.json) return printJson(feed);
      println(feed.url);
      note(
        ctx.out,
        'Subscribe to this URL in your calendar app. Keep it secret: it shows your tasks to whoever has it.',
      );
    });
}

async function findWebhook(ctx: Context, ref: string) {
  const list = await ctx.call(
    'Loading…',
    unwrapBody(ctx.api.GET('/api/v1/webhooks', { params: { query: { limit: 100 } } })),
  );
  const byUrl = list.data.filter((w) => w.url === ref);
  if (byUrl.length === 1) return byUrl[0]!;
  return pick(list.data, ref, 'webhook');
}

/** One of a short list by full id or the start of its short id. */
function pick<T extends { id: string }>(items: T[], ref: string, what: string): T {
  const value = ref.trim().toLowerCase();
  const matches = items.filter((x) => x.id === value || x.id.slice(-12).startsWith(value));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CliError(`no ${what} has the id ${ref}`, EXIT.notFound);
  throw new CliError(
    `the id ${ref} is ambiguous: ${matches.length} ${what}s start with it; type more of it`,
    EXIT.usage,
  );
}
