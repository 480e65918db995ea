// Signing in and out, whoami, and the config file.
import { hostname } from 'node:os';
import { type TaskmanClient, TaskmanError, unwrap } from '@taskman/sdk';
import type { Command } from 'commander';
import { apiClient } from '../api';
import {
  configPath,
  effective,
  normalizeUrl,
  readConfig,
  SETTINGS,
  type SettingName,
  updateConfig,
} from '../config';
import { Context } from '../context';
import { CliError, EXIT } from '../errors';
import { detectOutput, note, paint, printFields, printJson, println } from '../output';
import { ask, askHidden, interactive, readStdin } from '../prompt';
import { examples } from './util';

/** What the key `taskman login` creates may do: everything an API key can. */
const CLI_SCOPES = ['tasks:write', 'projects:write', 'webhooks:manage', 'reports:read'] as const;

async function passwordLogin(api: TaskmanClient, email: string, password: string): Promise<string> {
  try {
    const session = await unwrap(api.POST('/api/v1/auth/login', { body: { email, password } }));
    return session.token;
  } catch (err) {
    if (err instanceof TaskmanError && err.status === 401)
      throw new CliError('wrong email or password', EXIT.auth);
    throw err;
  }
}

/**
 * A short-lived session for what API keys may not do (managing API keys, the calendar feed): the
 * password is asked again, as GitHub asks before a sensitive change. With a session token in
 * TASKMAN_TOKEN (or given to `login --with-token`), that token is used as it is.
 */
export async function withSession<T>(ctx: Context, run: (api: TaskmanClient) => Promise<T>): Promise<T> {
  const token = ctx.config.token;
  if (!token) throw new CliError('not signed in: run `taskman login`', EXIT.auth);
  if (!token.startsWith('tm_')) return run(ctx.api);
  const email = ctx.config.stored.email;
  if (!interactive() || !email)
    throw new CliError(
      'API keys cannot manage API keys or the calendar feed: run this on a terminal to confirm your password',
      EXIT.auth,
    );
  note(ctx.out, `This needs your password (API keys cannot do it). Signed in as ${email}.`);
  const password = await askHidden('Password: ');
  const api = apiClient(ctx.config.apiUrl, undefined);
  const session = await passwordLogin(api, email, password);
  const sessionApi = apiClient(ctx.config.apiUrl, session);
  try {
    return await run(sessionApi);
  } finally {
    await sessionApi.POST('/api/v1/auth/logout').catch(() => undefined);
  }
}

export function registerAuthCommands(program: Command): void {
  program
    .command('login')
    .summary('sign in (stores an API key for this machine)')
    .description(
      'Signs in with your email and password and stores a new API key for this machine in the\n' +
        `config file (mode 0600); \`taskman logout\` revokes it. With --with-token, stores a token\n` +
        'you give on stdin instead (an API key from the web app: Settings → API keys).',
    )
    .option('-e, --email <email>', 'your email (asked when not given)')
    .option('--with-token', 'read a token (an API key) from stdin')
    .option('--password-stdin', 'read the password from stdin (for scripts)')
    .addHelpText(
      'after',
      examples([
        'taskman login',
        'taskman --api-url https://tasks.example.com login',
        'echo "$TASKMAN_KEY" | taskman login --with-token',
      ]),
    )
    .action(async (o: { email?: string; withToken?: boolean; passwordStdin?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ apiUrl?: string; json?: boolean; color?: boolean }>();
      const out = detectOutput(globals);
      // A URL given here is remembered: login is where a server is chosen.
      const apiUrl = effective(globals.apiUrl).apiUrl;
      const api = apiClient(apiUrl, undefined);
      if (o.withToken) {
        const token = await readStdin();
        if (!token) throw new CliError('no token on stdin', EXIT.usage);
        const me = await unwrap(apiClient(apiUrl, token).GET('/api/v1/users/me'));
        await forgetLogin();
        updateConfig((c) => ({ ...c, api_url: apiUrl, token, token_key_id: undefined, email: me.email }));
        if (out.json) return printJson({ api_url: apiUrl, email: me.email, name: me.name });
        println(`${paint(out, 'green', '✓')} Signed in to ${apiUrl} as ${me.name} <${me.email}>`);
        return;
      }
      let email = o.email?.trim();
      let password: string;
      if (o.passwordStdin) {
        if (!email) throw new CliError('--password-stdin needs --email', EXIT.usage);
        password = await readStdin();
      } else {
        if (!interactive())
          throw new CliError(
            'login asks for a password on a terminal; in scripts use --with-token or --password-stdin',
            EXIT.usage,
          );
        note(out, `Signing in to ${apiUrl}`);
        email ||= await ask('Email: ');
        password = await askHidden('Password: ');
      }
      if (!email || !password) throw new CliError('an email and a password are needed', EXIT.usage);
      const session = await passwordLogin(api, email, password);
      const sessionApi = apiClient(apiUrl, session);
      try {
        const key = await unwrap(
          sessionApi.POST('/api/v1/api-keys', {
            body: { name: `taskman CLI on ${hostname()}`.slice(0, 100), scopes: [...CLI_SCOPES] },
          }),
        );
        const me = await unwrap(sessionApi.GET('/api/v1/users/me'));
        await forgetLogin();
        updateConfig((c) => ({
          ...c,
          api_url: apiUrl,
          token: key.key,
          token_key_id: key.id,
          email: me.email,
        }));
        if (out.json) return printJson({ api_url: apiUrl, email: me.email, name: me.name });
        println(`${paint(out, 'green', '✓')} Signed in to ${apiUrl} as ${me.name} <${me.email}>`);
        note(out, `Your API key "${key.name}" is in ${configPath()}.`);
      } finally {
        await sessionApi.POST('/api/v1/auth/logout').catch(() => undefined);
      }
    });

  program
    .command('logout')
    .summary('sign out (revokes the API key login created)')
    .action(async (_o: unknown, cmd: Command) => {
      const out = detectOutput(cmd.optsWithGlobals());
      const stored = readConfig();
      if (!stored.token) {
        note(out, 'Not signed in.');
        return;
      }
      const revoked = await forgetLogin();
      updateConfig(({ token: _t, token_key_id: _k, ...rest }) => rest);
      println(revoked ? 'Signed out; the API key of this machine is revoked.' : 'Signed out.');
    });

  program
    .command('whoami')
    .summary('who is signed in, where')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = Context.of(cmd);
      const me = await ctx.call('Checking…', ctx.me());
      if (ctx.out.json) return printJson({ api_url: ctx.config.apiUrl, ...me });
      printFields(ctx.out, [
        ['User', `${me.name} <${me.email}>`],
        ['Server', ctx.config.apiUrl],
        ['Time zone', me.timezone],
        [
          'Token',
          ctx.config.tokenFrom === 'env'
            ? 'TASKMAN_TOKEN'
            : ctx.config.stored.token_key_id
              ? 'API key created by taskman login'
              : 'stored token',
        ],
        ['Role', me.role === 'admin' ? 'admin' : undefined],
      ]);
    });

  const config = program.command('config').summary('show or change settings (the API URL)');
  config
    .command('set')
    .summary('change a setting')
    .argument('<name>', Object.keys(SETTINGS).join(', '))
    .argument('<value>')
    .addHelpText('after', examples(['taskman config set api-url https://tasks.example.com']))
    .action((name: string, value: string) => {
      const key = settingKey(name);
      updateConfig((c) => ({ ...c, [key]: normalizeUrl(value) }));
    });
  config
    .command('get')
    .summary('print a setting')
    .argument('<name>', Object.keys(SETTINGS).join(', '))
    .action((name: string, _o: unknown, cmd: Command) => {
      settingKey(name);
      println(effective(cmd.optsWithGlobals<{ apiUrl?: string }>().apiUrl).apiUrl);
    });
  config
    .command('path')
    .summary('where the config file is')
    .action(() => println(configPath()));
}

function settingKey(name: string): (typeof SETTINGS)[SettingName] {
  const key = SETTINGS[name as SettingName];
  if (!key)
    throw new CliError(
      `unknown setting "${name}"; settings: ${Object.keys(SETTINGS).join(', ')}`,
      EXIT.usage,
    );
  return key;
}

/**
 * Revokes the API key a previous `taskman login` created (a token given to --with-token is the
 * user's own: it is forgotten, not revoked). True when one was revoked.
 */
async function forgetLogin(): Promise<boolean> {
  const stored = readConfig();
  if (!stored.token || !stored.token_key_id || !stored.api_url) return false;
  const api = apiClient(stored.api_url, stored.token);
  const result = await api.POST('/api/v1/auth/logout').catch(() => undefined);
  return result?.response.status === 204;
}
