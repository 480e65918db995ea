// What every command works with: the output settings, the API client, and the lookups that turn
// what a person types (a short id, a project name) into the API's ids.
import {
  expectOk,
  type Project,
  type Task,
  type TaskmanClient,
  type User,
  unwrap,
  unwrapBody,
} from '@taskman/sdk';
import type { Command } from 'commander';
import { signedInClient } from './api';
import { type Effective, effective } from './config';
import { CliError, EXIT } from './errors';
import { detectOutput, type Output, withSpinner } from './output';

export interface GlobalOptions {
  json?: boolean;
  color?: boolean;
  apiUrl?: string;
}

export class Context {
  readonly out: Output;
  readonly config: Effective;
  private clientValue?: TaskmanClient;
  private meValue?: Promise<User>;
  private projectsValue?: Promise<Project[]>;

  constructor(readonly opts: GlobalOptions) {
    this.out = detectOutput(opts);
    this.config = effective(opts.apiUrl);
  }

  static of(cmd: Command): Context {
    return new Context(cmd.optsWithGlobals<GlobalOptions>());
  }

  get api(): TaskmanClient {
    this.clientValue ??= signedInClient(this.config.apiUrl, this.config.token);
    return this.clientValue;
  }

  /** Runs an API call with a spinner when it is slow. */
  call<T>(label: string, work: Promise<T>): Promise<T> {
    return withSpinner(this.out, label, work);
  }

  /** The signed-in user (for their time zone), fetched once. */
  me(): Promise<User> {
    this.meValue ??= unwrap(this.api.GET('/api/v1/users/me'));
    return this.meValue;
  }

  async timeZone(): Promise<string> {
    return (await this.me()).timezone;
  }

  /** All the user's projects, fetched once (every page). */
  projects(): Promise<Project[]> {
    this.projectsValue ??= (async () => {
      const all: Project[] = [];
      for (let page = 1; ; page++) {
        const body = await unwrapBody(
          this.api.GET('/api/v1/projects', { params: { query: { page, limit: 100 } } }),
        );
        all.push(...body.data);
        if (page >= body.meta.total_pages) return all;
      }
    })();
    return this.projectsValue;
  }

  /** A task by its full id or the start of its short id (`3fa9`), archived ones included. */
  async task(ref: string): Promise<Task> {
    const value = ref.trim().toLowerCase();
    if (UUID.test(value))
      return unwrap(this.api.GET('/api/v1/tasks/{id}', { params: { path: { id: value } } }));
    if (!/^[0-9a-f]{1,12}$/.test(value))
      throw new CliError(
        `"${ref}" is not a task id: use the ID that \`taskman list\` shows (or its first characters)`,
        EXIT.usage,
      );
    const body = await unwrapBody(
      this.api.GET('/api/v1/tasks', {
        params: {
          query: { short_id: value, include_archived: true, limit: 10, sort: 'created_at', order: 'asc' },
        },
      }),
    );
    if (body.meta.total === 0) throw new CliError(`no task has the id ${value}`, EXIT.notFound);
    if (body.meta.total > 1) {
      const ids = abbreviate(body.data.map((t) => t.id));
      const more = body.meta.total - body.data.length;
      throw new CliError(
        `the id ${value} is ambiguous: ${body.meta.total} tasks start with it; type more of it`,
        EXIT.usage,
        [...body.data.map((t, i) => `${ids[i]}  ${t.title}`), ...(more > 0 ? [`… and ${more} more`] : [])],
      );
    }
    return body.data[0]!;
  }

  /** A project by name (any case; a unique start of it will do), id or the start of its short id. */
  async project(ref: string): Promise<Project> {
    const value = ref.trim();
    const all = await this.projects();
    const lower = value.toLowerCase();
    const exact = all.filter((p) => p.id === lower || p.name.toLowerCase() === lower);
    if (exact.length === 1) return exact[0]!;
    const candidates = all.filter(
      (p) =>
        p.name.toLowerCase().startsWith(lower) ||
        (/^[0-9a-f]{1,12}$/.test(lower) && shortId(p.id).startsWith(lower)),
    );
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length === 0)
      throw new CliError(`no project is called "${value}"`, EXIT.notFound, [
        all.length
          ? `projects: ${all.map((p) => p.name).join(', ')}`
          : 'you have no projects yet: `taskman project add NAME`',
      ]);
    throw new CliError(
      `"${value}" could be ${candidates.length} projects: ${candidates.map((p) => p.name).join(', ')}`,
      EXIT.usage,
    );
  }

  /** Resolves every reference first, so that a typo in the third id changes nothing. */
  async tasks(refs: string[]): Promise<Task[]> {
    const found = await this.call('Finding tasks…', Promise.all(refs.map((r) => this.task(r))));
    const seen = new Set<string>();
    return found.filter((t) => !seen.has(t.id) && seen.add(t.id));
  }

  /** DELETE-like calls (204). */
  expectOk = expectOk;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The short id of a task or project: the last 12 hex digits of its id (the random end of a UUIDv7). */
export const shortId = (id: string) => id.slice(-12);

/** Short ids as shown: 7 characters, more where two of them would look alike (as git abbreviates). */
export function abbreviate(ids: string[], min = 7): string[] {
  const shorts = ids.map(shortId);
  let len = min;
  while (len < 12 && new Set(shorts.map((s) => s.slice(0, len))).size < new Set(shorts).size) len++;
  return shorts.map((s) => s.slice(0, len));
}
