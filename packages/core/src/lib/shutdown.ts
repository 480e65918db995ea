/**
 * Graceful stop on SIGINT/SIGTERM: finish in-flight requests, close pools, exit 0.
 *
 * A terminal's Ctrl-C reaches every process of the group (npm, the shell, node), and npm also
 * forwards it: one keypress can arrive two or three times within milliseconds. Signals in the
 * first second are one request to stop; a signal after that means "stop now".
 */
export function onShutdown(
  stop: (signal: string) => Promise<void>,
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void },
  timeoutMs = 10_000,
): void {
  let startedAt = 0;
  const handle = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (startedAt) {
      if (now - startedAt > 1_000) {
        log.error({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      return;
    }
    startedAt = now;
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop(signal).then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

/** What ioredis says when Redis is away: a command refused or cut off, not a bug of ours. */
const REDIS_OUTAGE =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Command timed out|Redis is not reachable/;

/**
 * A process (API or worker) lives through a Redis outage: a command BullMQ or ioredis issued in
 * the background and nobody awaited fails with a connection error while Redis is away; that is
 * logged and the process keeps running (it reconnects by itself). Any other unhandled rejection is
 * a bug: it is logged and the process exits, as Node would.
 */
export function exitOnUnexpectedRejections(log: {
  warn(o: object, m: string): void;
  fatal(o: object, m: string): void;
}): void {
  process.on('unhandledRejection', (reason) => {
    const message = reason instanceof Error ? reason.message : String(reason);
    if (REDIS_OUTAGE.test(message)) {
      log.warn({ err: { message } }, 'Redis command failed in the background (Redis is away); carrying on');
      return;
    }
    log.fatal({ err: reason instanceof Error ? reason : { message } }, 'unhandled rejection: exiting');
    process.exit(1);
  });
}
