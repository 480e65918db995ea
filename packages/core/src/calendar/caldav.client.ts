import { type DAVCalendar, type DAVCalendarObject, DAVClient } from 'tsdav';
import { Agent } from 'undici';
import { guardedLookup } from '../lib/ssrf';

export interface CalDavCredentials {
  serverUrl: string;
  username: string;
  password: string;
}

const TIMEOUT_MS = 15_000;

// Connections to loopback, private and metadata addresses are refused on the address actually
// connected to (the SSRF guard of webhooks), unless CALDAV_ALLOW_PRIVATE.
const guardedAgent = new Agent({ connect: { lookup: guardedLookup as never } });

/** A CalDAV session (tsdav) with a timeout on every request and, unless allowed, the SSRF guard. */
export async function openCalDav(creds: CalDavCredentials, allowPrivate: boolean): Promise<DAVClient> {
  const guardedFetch: typeof fetch = (input, init) =>
    fetch(input, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
      ...(allowPrivate ? {} : { dispatcher: guardedAgent }),
    } as RequestInit);
  const client = new DAVClient({
    serverUrl: creds.serverUrl,
    credentials: { username: creds.username, password: creds.password },
    authMethod: 'Basic',
    defaultAccountType: 'caldav',
    fetch: guardedFetch,
  });
  await client.login();
  return client;
}

/** Calendars that can hold tasks (VTODO); a server that does not say is taken at its word. */
export function taskCalendars(calendars: DAVCalendar[]): DAVCalendar[] {
  return calendars.filter((c) => !c.components || c.components.includes('VTODO'));
}

export type { DAVCalendar, DAVCalendarObject, DAVClient };

/** A failed CalDAV request as one line for the user (never the password or a stack). */
export function calDavError(err: unknown): string {
  const e = err as { message?: string; name?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `The calendar server did not answer within ${TIMEOUT_MS / 1000} s`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  const message = (e?.message ?? String(err)).replace(/\s+/g, ' ').slice(0, 300);
  return cause ? `${message} (${cause})` : message;
}
