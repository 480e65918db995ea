import { type DAVCalendar, type DAVCalendarObject, DAVClient } from 'tsdav';
import { Agent } from 'undici';
import { guardedLookup } from '../lib/ssrf';
import { urlProblem } from '../webhooks/webhook.sender';

export interface CalDavCredentials {
  serverUrl: string;
  username: string;
  password: string;
}

const TIMEOUT_MS = 15_000;
/** The most of one answer that is read: a broken or hostile server could send without end. */
export const MAX_CALDAV_RESPONSE_BYTES = 10 * 1024 * 1024;

// Connections to loopback, private and metadata addresses are refused on the address actually
// connected to (the SSRF guard of webhooks), unless CALDAV_ALLOW_PRIVATE.
const guardedAgent = new Agent({ connect: { lookup: guardedLookup as never } });

const tooLarge = () =>
  new Error(`The calendar server's answer is larger than ${MAX_CALDAV_RESPONSE_BYTES / 1024 / 1024} MB`);

/** The response, its body cut off (and the connection dropped) past MAX_CALDAV_RESPONSE_BYTES. */
function bounded(res: Response, abort: () => void): Response {
  if (Number(res.headers.get('content-length') ?? 0) > MAX_CALDAV_RESPONSE_BYTES) {
    abort();
    throw tooLarge();
  }
  if (!res.body) return res;
  let read = 0;
  const body = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        read += chunk.byteLength;
        if (read > MAX_CALDAV_RESPONSE_BYTES) {
          controller.error(tooLarge());
          abort();
        } else controller.enqueue(chunk);
      },
    }),
  );
  const out = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  Object.defineProperty(out, 'url', { value: res.url });
  return out;
}

/**
 * A CalDAV session (tsdav) with a timeout and a size limit on every request and, unless allowed,
 * the SSRF guard on every URL it requests: not only the server URL given at connect time, as the
 * server's answers lead to others (a redirect at discovery, the principal, the calendar home, the
 * calendars), and an address literal never reaches the agent's lookup (Node does not resolve it).
 */
export async function openCalDav(creds: CalDavCredentials, allowPrivate: boolean): Promise<DAVClient> {
  const guardedFetch: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const problem = urlProblem(url, allowPrivate);
    if (problem) throw new Error(`The calendar server led to a URL that ${problem}`);
    const abort = new AbortController();
    const res = await fetch(input, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(TIMEOUT_MS), abort.signal]),
      ...(allowPrivate ? {} : { dispatcher: guardedAgent }),
    } as RequestInit);
    return bounded(res, () => abort.abort());
  };
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
