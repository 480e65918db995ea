// One readable line and an exit code a script can act on; never a stack trace.
import { TaskmanError } from '@taskman/sdk';

/** Exit codes (README "Command line"). */
export const EXIT = {
  ok: 0,
  /** The API refused the request (validation, a conflict, …) or something else went wrong. */
  error: 1,
  /** The command line is wrong: an unknown flag, a bad value, an ambiguous id. */
  usage: 2,
  /** Not signed in, a token that is wrong, expired or revoked, or lacks a permission. */
  auth: 3,
  /** No such task, project or other thing. */
  notFound: 4,
  /** The server could not be reached, or did not answer (timeouts, 502/503/504). */
  network: 5,
  /** Stopped with Ctrl-C. */
  interrupted: 130,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
    /** More lines for a person: field errors, a hint. */
    readonly hints: string[] = [],
  ) {
    super(message);
  }
}

/** A network failure, with the URL that failed. */
export class NetworkError extends CliError {
  constructor(url: string, cause: unknown) {
    super(`cannot reach ${url}: ${describeCause(cause)}`, EXIT.network);
  }
}

function describeCause(cause: unknown): string {
  const err = cause as {
    code?: string;
    cause?: { code?: string; message?: string };
    name?: string;
    message?: string;
  };
  if (err?.name === 'TimeoutError') return 'no answer in time';
  const code = err?.cause?.code ?? err?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'ECONNRESET':
      return 'the connection was reset';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'the connection timed out';
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      return `its TLS certificate is not trusted (${code})`;
    default:
      return code ?? err?.cause?.message ?? err?.message ?? 'unknown error';
  }
}

/** An API error → the CLI's message and exit code. */
export function fromApiError(err: TaskmanError): CliError {
  // Field errors, unless the message already is the only one.
  const hints = err.details.map((d) => `${d.field}: ${d.message}`).filter((h) => h !== err.message);
  switch (err.status) {
    case 401:
      return new CliError(`${err.message} (run \`taskman login\`)`, EXIT.auth);
    case 403:
      return new CliError(err.message, EXIT.auth);
    case 404:
      return new CliError(err.message, EXIT.notFound);
    case 412:
      return new CliError(`${err.message}: it changed since it was read; run the command again`, EXIT.error);
    case 429:
      return new CliError(`${err.message} (too many requests; wait a moment)`, EXIT.error);
    case 502:
    case 503:
    case 504:
      return new CliError(err.message, EXIT.network);
    default:
      return new CliError(err.message, EXIT.error, hints);
  }
}

export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof TaskmanError) return fromApiError(err);
  // commander's own errors carry an exit code; everything else is unexpected.
  return new CliError((err as Error)?.message ?? String(err), EXIT.error);
}
