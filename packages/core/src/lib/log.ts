import type { Config } from '../config';
import { describeError } from '../db/errors';

/** The slice of a pino logger the core writes to; the entry point passes its own. */
export interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLog: Log = { info() {}, warn() {}, error() {} };

/** Log redaction: credentials never reach a log line, whatever a plugin decides to log. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.token',
  '*.password_hash',
  '*.passwordHash',
  // API keys, webhook signing secrets, calendar feed tokens, session tokens under other names.
  '*.key',
  '*.api_key',
  '*.apiKey',
  '*.secret',
  '*.signing_secret',
  '*.feed_token',
  '*.authorization',
  '*.cookie',
  'req.headers["x-api-key"]',
];

/** JSON lines (for log shippers) unless asked for, or writing to a terminal: then readable lines. */
export function loggerOptions(config: Config) {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === undefined && process.stdout.isTTY);
  const debug = config.logLevel === 'debug' || config.logLevel === 'trace';
  return {
    level: config.logLevel,
    redact: { paths: REDACT, censor: '[redacted]' },
    // Errors are logged by type, code and message; stack traces only when debugging.
    serializers: {
      // Fastify's type insists on a stack; leaving it out outside debugging is the point.
      // A failed query is described by its driver error only: its own message lists every parameter.
      err: (e: Error & { statusCode?: number }) =>
        ({
          ...describeError(e),
          statusCode: e.statusCode,
          ...(debug ? { stack: e.stack } : {}),
        }) as { type: string; message: string; stack: string },
    },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true },
          },
        }
      : {}),
  };
}
