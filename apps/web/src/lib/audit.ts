// The audit log and account administration (admins), and one's own account activity (Settings):
// their queries, the action families they filter on, and the wording of an entry as a sentence.
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { type Schemas, type User, unwrap, unwrapBody } from '@taskman/sdk';
import { dayKey, formatDay, fromInputs } from '@taskman/sdk/dates';
import { api, fieldLabel } from './api';
import { duration } from './dashboard';
import { addDays, isDate } from './reports';

export type AuditEntry = Schemas['AuditEntry'];
export type PageMeta = { page: number; limit: number; total: number; total_pages: number };
export type AuditPage = { data: AuditEntry[]; meta: PageMeta };
export type UserPage = { data: User[]; meta: PageMeta };
export type Role = User['role'];

/** Entries per page of the audit log; the Settings section shows the last ACTIVITY_LIMIT. */
export const AUDIT_PAGE_SIZE = 25;
export const ACTIVITY_LIMIT = 20;
export const USERS_PAGE_SIZE = 20;

/** The families an entry belongs to (the part of its action before the dot), as the filters offer them. */
export const ACTION_FAMILIES: { value: string; label: string; kind: string }[] = [
  { value: 'auth.', label: 'Sign-ins', kind: 'Sign-in' },
  { value: 'user.', label: 'Account', kind: 'Account' },
  { value: 'admin.', label: 'Admin', kind: 'Admin' },
  { value: 'task.', label: 'Tasks', kind: 'Task' },
  { value: 'project.', label: 'Projects', kind: 'Project' },
  { value: 'api_key.', label: 'API keys', kind: 'API key' },
  { value: 'webhook.', label: 'Webhooks', kind: 'Webhook' },
  { value: 'calendar.', label: 'Calendar', kind: 'Calendar' },
];
/** The audit log of what one user did (from the Users page, and the names in the log). */
export const actorLog = (id: string) => `/audit?actor=${encodeURIComponent(id)}`;

export const isFamily = (v: string | null): v is string => ACTION_FAMILIES.some((f) => f.value === v);

// ---------------------------------------------------------------------------------------------
// Queries

export type AuditQuery = {
  action?: string;
  actor_id?: string;
  from?: string;
  to?: string;
  page: number;
};

/** GET /admin/audit: a page of the whole log, newest first (admins). */
export function useAuditLog(query: AuditQuery | undefined) {
  return useQuery({
    queryKey: ['admin', 'audit', query],
    enabled: !!query,
    queryFn: () =>
      unwrapBody(
        api.GET('/api/v1/admin/audit', { params: { query: { limit: AUDIT_PAGE_SIZE, ...query! } } }),
      ) as Promise<AuditPage>,
    // Another filter or page keeps the entries on screen (dimmed) until the new ones arrive.
    placeholderData: keepPreviousData,
    staleTime: 0,
  });
}

/** GET /users/me/activity: the caller's last entries (what they did, and what was done to their account). */
export function useMyActivity(action: string | undefined) {
  return useQuery({
    queryKey: ['activity', action ?? ''],
    queryFn: () =>
      unwrapBody(
        api.GET('/api/v1/users/me/activity', {
          params: { query: { limit: ACTIVITY_LIMIT, ...(action ? { action } : {}) } },
        }),
      ) as Promise<AuditPage>,
    placeholderData: keepPreviousData,
    staleTime: 0,
  });
}

export type UsersQuery = { q?: string; page: number; limit?: number };

/** GET /users: accounts, those matching `q` (part of an email or name) when given (admins). */
export function useUsers(query: UsersQuery | undefined) {
  return useQuery({
    queryKey: ['admin', 'users', query],
    enabled: !!query,
    queryFn: () =>
      unwrapBody(
        api.GET('/api/v1/users', { params: { query: { limit: USERS_PAGE_SIZE, ...query! } } }),
      ) as Promise<UserPage>,
    placeholderData: keepPreviousData,
    staleTime: 0,
  });
}

/**
 * The names of accounts, for sentences and the user filter: the first hundred accounts, plus any
 * met on a page of the Users screen. An id not among them is shown shortened.
 */
export function useUserNames(enabled: boolean): {
  users: User[];
  nameOf: (id: string) => string | undefined;
} {
  const qc = useQueryClient();
  const list = useUsers(enabled ? { page: 1, limit: 100 } : undefined);
  const byId = new Map<string, User>();
  for (const [, page] of qc.getQueriesData<UserPage>({ queryKey: ['admin', 'users'] }))
    for (const u of page?.data ?? []) byId.set(u.id, u);
  for (const u of list.data?.data ?? []) byId.set(u.id, u);
  const users = [...byId.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { users, nameOf: (id) => byId.get(id)?.name };
}

/** PATCH /admin/users/{id}: disable or enable an account, or change its role. */
export const updateUser = (id: string, body: { disabled?: boolean; role?: Role }) =>
  unwrap(api.PATCH('/api/v1/admin/users/{id}', { params: { path: { id } }, body }));

/**
 * The instants of a range of whole days in the user's zone ("2026-03-01" to "2026-03-07", both
 * included): from the first day's midnight to the midnight after the last (the API's `to` is
 * exclusive). A missing or malformed day leaves its end open.
 */
export function dayRangeOf(from: string | undefined, to: string | undefined, timeZone: string) {
  return {
    ...(isDate(from) ? { from: fromInputs(from, '00:00', timeZone)! } : {}),
    ...(isDate(to) ? { to: fromInputs(addDays(to, 1), '00:00', timeZone)! } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Wording

/** Whose eyes: an admin reading the whole log, or a user reading their own activity. */
export type Viewpoint =
  | { kind: 'admin'; nameOf: (id: string) => string | undefined }
  | { kind: 'self'; userId: string; nameOf?: (id: string) => string | undefined };

export type Tone = 'danger' | 'warn' | undefined;

export interface Described {
  /** "Ann signed in", "Failed sign-in for ann@example.com", "Task updated: title, priority". */
  text: string;
  /** The family, as a word: "Sign-in", "Admin", "Task". */
  kind: string;
  /** Failed and throttled sign-ins are `danger`; a disabled account `warn`. Never the colour alone: the text says it. */
  tone: Tone;
  /** Whether the sentence names who acted (else the entry says "by …" beside it). */
  namesActor: boolean;
  /** Whether the sentence gives the IP address (else the entry shows it beside). */
  namesIp: boolean;
}

/** "0190c3e4": the start of an id, enough to tell accounts apart. */
export const shortId = (id: string) => id.replace(/-/g, '').slice(0, 8);

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** "User 0190c3e4" for an account whose name is unknown here (deleted, or beyond the first hundred). */
export function nameFor(id: string | null, nameOf: ((id: string) => string | undefined) | undefined): string {
  if (!id) return 'Someone';
  return nameOf?.(id) ?? `User ${shortId(id)}`;
}

const possessive = (name: string) => (name.endsWith('s') ? `${name}’` : `${name}’s`);

// Field names as a sentence says them; the rest as the forms label them (lib/api.ts), lower-cased.
const CHANGED_WORDS: Record<string, string> = {
  completed_at: 'completion',
  archived_at: 'archive',
  recurrence_rule: 'repeat',
  recurrence_basis: 'repeat',
  weekly_report_day: 'weekly report',
  weekly_report_hour: 'weekly report',
  color: 'colour',
};

/** ["dueDate", "priority"] → "due date, priority" (camelCase from the core, snake_case from the API). */
export function changedList(details: AuditEntry['details']): string | undefined {
  const changed = details?.changed;
  if (!Array.isArray(changed)) return undefined;
  const words = changed
    .filter((f): f is string => typeof f === 'string')
    .map((f) => f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))
    .map((f) => CHANGED_WORDS[f] ?? fieldLabel(f).toLowerCase());
  return words.length ? [...new Set(words)].join(', ') : undefined;
}

const OBJECT_WORD: Record<string, string> = { task: 'Task', project: 'Project' };
const OBJECT_VERB: Record<string, string> = {
  created: 'created',
  updated: 'updated',
  completed: 'completed',
  deleted: 'deleted',
};

/** What the actor did, after their name ("signed in", "changed their password"), for actions by someone. */
function deed(action: string, details: AuditEntry['details'], their: string): string | undefined {
  switch (action) {
    case 'auth.register':
      return `created ${their === 'your' ? 'your' : 'an'} account`;
    case 'auth.login':
      return 'signed in';
    case 'auth.logout':
      return 'signed out';
    case 'user.updated': {
      const what = changedList(details);
      return `updated ${their} profile${what ? `: ${what}` : ''}`;
    }
    case 'user.password_changed':
      return `changed ${their} password`;
    case 'user.deleted':
      return `deleted ${their} account`;
    case 'api_key.created': {
      const scopes = Array.isArray(details?.scopes)
        ? details.scopes.filter((s) => typeof s === 'string')
        : [];
      return `created an API key${scopes.length ? ` (${scopes.join(', ')})` : ''}`;
    }
    case 'api_key.revoked':
      return 'revoked an API key';
    case 'webhook.created':
      return 'added a webhook';
    case 'webhook.updated':
      return 'changed a webhook';
    case 'webhook.deleted':
      return 'deleted a webhook';
    case 'webhook.secret_rotated':
      return 'rotated a webhook’s signing secret';
    case 'calendar.feed_created':
      return `created ${their} calendar feed link`;
    case 'calendar.feed_revoked':
      return `turned off ${their} calendar feed link`;
    case 'calendar.connection_created':
      return 'connected a CalDAV calendar';
    case 'calendar.connection_updated':
      return 'changed a CalDAV calendar connection';
    case 'calendar.connection_deleted':
      return 'disconnected a CalDAV calendar';
    case 'admin.job_retried':
      return 'retried a failed job';
    default:
      return undefined;
  }
}

/** The family word of an action ("auth.login" → "Sign-in"). */
export function kindOf(action: string): string {
  if (action === 'auth.register') return 'Account';
  const family = `${action.split('.')[0]}.`;
  return ACTION_FAMILIES.find((f) => f.value === family)?.kind ?? 'Other';
}

/** An audit entry as a sentence for a person, from an admin's viewpoint or the user's own. */
export function describe(entry: AuditEntry, view: Viewpoint): Described {
  const { action, details } = entry;
  const kind = kindOf(action);
  const self = view.kind === 'self';
  const me = self ? view.userId : undefined;
  const nameOf = view.nameOf;
  const out = (text: string, extra: Partial<Described> = {}): Described => ({
    text,
    kind,
    tone: undefined,
    namesActor: true,
    namesIp: false,
    ...extra,
  });

  // Sign-in failures have no actor: they are about an email address (and its account, if any).
  if (action === 'auth.login_failed' || action === 'auth.login_throttled') {
    const email = str(details?.email) ?? 'an unknown address';
    const failures = num(details?.failures);
    if (action === 'auth.login_throttled') {
      const wait = duration(num(details?.delay_seconds) ?? null);
      const after = failures ? ` after ${failures} failed attempts` : '';
      return out(
        self
          ? `Sign-ins to your account were paused for ${wait}${after}`
          : `Sign-ins for ${email} paused for ${wait}${after}`,
        { tone: 'danger' },
      );
    }
    const disabled = details?.reason === 'disabled';
    const streak = failures && failures > 1 ? ` (${failures} in a row)` : '';
    if (self) {
      const from = entry.ip ? ` from IP ${entry.ip}` : '';
      return out(
        disabled
          ? `Someone tried to sign in to your disabled account${from}`
          : `Someone failed to sign in to your account${from}${streak}`,
        { tone: 'danger', namesIp: !!entry.ip },
      );
    }
    return out(
      disabled
        ? `Sign-in refused for ${email}: the account is disabled`
        : `Failed sign-in for ${email}${entry.target_id ? '' : ' (no such account)'}${streak}`,
      { tone: 'danger' },
    );
  }

  const byMe = !!me && entry.actor_id === me;
  const actor = byMe ? 'You' : self && !entry.actor_id ? 'Taskman' : nameFor(entry.actor_id, nameOf);
  const their = byMe ? 'your' : 'their';

  // An admin's action on an account.
  if (action.startsWith('admin.user_') || action === 'admin.role_changed') {
    const aboutMe = !!me && entry.target_id === me;
    const who = self && !byMe ? 'An admin' : actor;
    const target = aboutMe ? 'you' : nameFor(entry.target_id, nameOf);
    const targets = aboutMe ? 'your' : possessive(target);
    const promoted = details?.to === 'admin';
    const text =
      action === 'admin.user_disabled'
        ? `${who} disabled ${aboutMe ? 'your account' : target}`
        : action === 'admin.user_enabled'
          ? `${who} enabled ${aboutMe ? 'your account' : target}`
          : action === 'admin.role_changed'
            ? promoted
              ? `${who} made ${target} an admin`
              : `${who} removed ${targets} admin role`
            : `${who}: ${action}`;
    return out(text, { tone: action === 'admin.user_disabled' ? 'warn' : undefined });
  }

  // Changes to tasks and projects: the object and what changed (the log never keeps their content).
  const [family = '', verb = ''] = action.split('.');
  const object = OBJECT_WORD[family];
  if (object && OBJECT_VERB[verb]) {
    const what = verb === 'updated' ? changedList(details) : undefined;
    return out(`${object} ${OBJECT_VERB[verb]}${what ? `: ${what}` : ''}`, { namesActor: false });
  }

  const did = deed(action, details, their);
  return out(did ? `${actor} ${did}` : `${actor}: ${action}`);
}

// ---------------------------------------------------------------------------------------------
// Where from

const BROWSERS: [RegExp, string][] = [
  [/Edg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/OPR\/(\d+)/, 'Opera'],
  [/(?:Firefox|FxiOS)\/(\d+)/, 'Firefox'],
  [/SamsungBrowser\/(\d+)/, 'Samsung Internet'],
  [/(?:Chrome|CriOS|Chromium)\/(\d+)/, 'Chrome'],
  [/Version\/(\d+)[\d.]* (?:Mobile\/\S+ )?Safari\//, 'Safari'],
];
const SYSTEMS: [RegExp, string][] = [
  [/iPhone/, 'iPhone'],
  [/iPad/, 'iPad'],
  [/Android/, 'Android'],
  [/Windows/, 'Windows'],
  [/CrOS/, 'ChromeOS'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Linux/, 'Linux'],
];

/**
 * "Chrome 126 on Windows", "Safari 17 on iPhone", "curl/8.5.0": a user agent short enough for a
 * line (the whole one goes in a tooltip).
 */
export function shortAgent(ua: string | null): string | undefined {
  if (!ua?.trim()) return undefined;
  const system = SYSTEMS.find(([re]) => re.test(ua))?.[1];
  for (const [re, name] of BROWSERS) {
    const match = re.exec(ua);
    if (match)
      return `${name}${/Headless/.test(ua) ? ' (headless)' : ''} ${match[1]}${system ? ` on ${system}` : ''}`;
  }
  // Not a browser: a script or a tool, which names itself first ("taskman-cli/0.3.0 (linux)").
  const first = ua.trim().split(/\s+/)[0]!;
  return first.length > 40 ? `${first.slice(0, 39)}…` : first;
}

/** "Today", "Yesterday", "Mon 15 Jan": the heading of a day's entries, in the user's zone. */
export function dayHeading(iso: string, timeZone: string, now = new Date()): string {
  const yesterday = dayKey(new Date(now.getTime() - 86_400_000), timeZone);
  return dayKey(new Date(iso), timeZone) === yesterday ? 'Yesterday' : formatDay(iso, timeZone, now);
}

/** Entries grouped by day in the user's zone, in their order (newest first). */
export function byDay(entries: AuditEntry[], timeZone: string): { day: string; entries: AuditEntry[] }[] {
  const groups: { day: string; entries: AuditEntry[] }[] = [];
  for (const e of entries) {
    const day = dayKey(new Date(e.at), timeZone);
    const last = groups.at(-1);
    if (last?.day === day) last.entries.push(e);
    else groups.push({ day, entries: [e] });
  }
  return groups;
}
