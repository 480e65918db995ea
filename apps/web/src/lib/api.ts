// The app's one API client (the SDK), the session it sends, and what happens when it expires.
import { createTaskmanClient, TaskmanError } from '@taskman/sdk';

export interface StoredSession {
  token: string;
  expiresAt: string;
}

const SESSION_KEY = 'taskman.session';
const listeners = new Set<() => void>();

export function loadSession(): StoredSession | undefined {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    if (!raw) return undefined;
    const session = JSON.parse(raw) as StoredSession;
    return Date.parse(session.expiresAt) > Date.now() ? session : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: StoredSession | undefined): void {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
  for (const listener of listeners) listener();
}

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Forgets the session and what the service worker kept of this user's data. */
export async function forgetSession(): Promise<void> {
  saveSession(undefined);
  if ('caches' in window) await caches.delete('taskman-api').catch(() => {});
}

export const api = createTaskmanClient({
  baseUrl: window.location.origin,
  token: () => loadSession()?.token,
});

// A 401 on an authenticated call means the session ended (expired, revoked): back to log in.
api.use({
  onResponse({ response, request }) {
    if (response.status === 401 && request.headers.has('authorization')) saveSession(undefined);
    return response;
  },
});

/** One sentence for a person, from whatever went wrong. */
const FIELD_LABELS: Record<string, string> = {
  title: 'Title',
  description: 'Description',
  due_date: 'Due date',
  remind_at: 'Reminder',
  reminder_mode: 'Reminder',
  tags: 'Tags',
  project_id: 'Project',
  recurrence: 'Repeat',
  'recurrence.rule': 'Repeat rule',
  name: 'Name',
  email: 'Email',
  password: 'Password',
  timezone: 'Time zone',
  current_password: 'Current password',
  new_password: 'New password',
  reminder_lead_minutes: 'Reminder time',
  scopes: 'Scopes',
  expires_at: 'Expiry date',
  url: 'URL',
  events: 'Events',
  server_url: 'Server URL',
  username: 'Username',
  calendar_url: 'Calendar URL',
};

/** "due_date" → "Due date": a field as the form calls it. */
export const fieldLabel = (field: string) => FIELD_LABELS[field] ?? field.replace(/_/g, ' ');

export function messageOf(err: unknown): string {
  if (err instanceof TaskmanError) {
    if (err.code === 'VALIDATION_ERROR' && err.details.length)
      return err.details.map((d) => `${fieldLabel(d.field)} ${d.message}`).join('. ');
    return err.message;
  }
  if (err instanceof TypeError) return 'Cannot reach Taskman. Check your connection.';
  return 'Something went wrong. Try again.';
}

/** The message of one field of a validation error, if any. */
export function fieldError(err: unknown, field: string): string | undefined {
  return err instanceof TaskmanError ? err.details.find((d) => d.field === field)?.message : undefined;
}
