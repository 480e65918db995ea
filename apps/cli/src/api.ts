// The API as the CLI uses it: the SDK's typed client over fetch, with a timeout, a User-Agent, and
// network failures turned into one line that names the URL.
import { createTaskmanClient, type TaskmanClient } from '@taskman/sdk';
import { CliError, EXIT, NetworkError } from './errors';

export const VERSION = '0.1.0';
const TIMEOUT_MS = Number(process.env.TASKMAN_TIMEOUT_MS) || 30_000;

export function makeFetch(): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = request.url.split('?')[0]!;
    request.headers.set('user-agent', `taskman-cli/${VERSION} node/${process.versions.node}`);
    try {
      return await fetch(request, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new NetworkError(url, err);
    }
  };
}

export function apiClient(baseUrl: string, token: string | undefined): TaskmanClient {
  return createTaskmanClient({ baseUrl, token, fetch: makeFetch() });
}

/** A client for a command that needs a signed-in user. */
export function signedInClient(baseUrl: string, token: string | undefined): TaskmanClient {
  if (!token) throw new CliError('not signed in: run `taskman login` (or set TASKMAN_TOKEN)', EXIT.auth);
  return apiClient(baseUrl, token);
}
