// Where the CLI keeps its settings and token: $XDG_CONFIG_HOME/taskman/config.json (by default
// ~/.config/taskman/config.json), mode 0600 in a 0700 folder. TASKMAN_API_URL and TASKMAN_TOKEN
// override what is stored.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { CliError, EXIT } from './errors';

export const DEFAULT_API_URL = 'http://localhost:3000';

export interface StoredConfig {
  api_url?: string;
  /** An API key (or a token given to `login --with-token`). */
  token?: string;
  /** The id of the API key `taskman login` created, revoked by `taskman logout`. */
  token_key_id?: string;
  /** Who signed in, to prompt for the password again when a command needs a session. */
  email?: string;
}

/** The settings `taskman config` reads and writes, as typed on the command line. */
export const SETTINGS = { 'api-url': 'api_url' } as const;
export type SettingName = keyof typeof SETTINGS;

export function configDir(env = process.env): string {
  const base = env.XDG_CONFIG_HOME?.trim() || path.join(homedir(), '.config');
  return path.join(base, 'taskman');
}

export function configPath(env = process.env): string {
  return path.join(configDir(env), 'config.json');
}

export function readConfig(env = process.env): StoredConfig {
  let text: string;
  try {
    text = readFileSync(configPath(env), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${configPath(env)}: ${(err as Error).message}`, EXIT.error);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as StoredConfig) : {};
  } catch {
    throw new CliError(`${configPath(env)} is not valid JSON: fix or delete it`, EXIT.error);
  }
}

/** Writes the whole file atomically (a temporary file renamed over it), readable by its owner only. */
export function writeConfig(config: StoredConfig, env = process.env): void {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = configPath(env);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function updateConfig(change: (c: StoredConfig) => StoredConfig, env = process.env): StoredConfig {
  const next = change(readConfig(env));
  writeConfig(next, env);
  return next;
}

/** The API URL and token in effect, and where each came from. */
export interface Effective {
  apiUrl: string;
  apiUrlFrom: 'flag' | 'env' | 'config' | 'default';
  token?: string;
  tokenFrom?: 'env' | 'config';
  stored: StoredConfig;
}

export function effective(flagUrl: string | undefined, env = process.env): Effective {
  const stored = readConfig(env);
  const envUrl = env.TASKMAN_API_URL?.trim();
  const envToken = env.TASKMAN_TOKEN?.trim();
  const [apiUrl, apiUrlFrom] = flagUrl
    ? [flagUrl, 'flag' as const]
    : envUrl
      ? [envUrl, 'env' as const]
      : stored.api_url
        ? [stored.api_url, 'config' as const]
        : [DEFAULT_API_URL, 'default' as const];
  return {
    apiUrl: normalizeUrl(apiUrl),
    apiUrlFrom,
    ...(envToken
      ? { token: envToken, tokenFrom: 'env' as const }
      : stored.token
        ? { token: stored.token, tokenFrom: 'config' as const }
        : {}),
    stored,
  };
}

/** "tasks.example.com/" → "https://tasks.example.com", "localhost:3000" → "http://localhost:3000". */
export function normalizeUrl(value: string): string {
  // Without a scheme: http on this machine (what `npm start` serves), https anywhere else.
  const local = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/i.test(value);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
    ? value
    : `${local ? 'http' : 'https'}://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`"${value}" is not a URL (e.g. https://tasks.example.com)`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`"${value}" is not an http or https URL`, EXIT.usage);
  // The API's own path is added per request; a pasted …/api/v1 is dropped.
  const pathname = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${url.protocol}//${url.host}${pathname}`;
}
