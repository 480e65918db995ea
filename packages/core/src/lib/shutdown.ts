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
