// Starts the Taskman API: reads the configuration, opens and migrates the database, listens.
import { readFileSync } from 'node:fs';
import { ConfigError, createCore, loadConfig } from '@taskman/core';
import pino from 'pino';
import { buildApp, loggerOptions } from './app';
import { onShutdown } from './shutdown';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }

  // One logger for the core (cache warnings, …) and Fastify (requests).
  const logger = pino(loggerOptions(config));
  const core = await createCore(config, { log: logger });
  const https = config.tlsCertFile
    ? { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile!) }
    : null;
  const app = await buildApp({ core, https, loggerInstance: logger });
  // Revocations outlive their tokens by nothing: drop the expired ones now and every hour.
  const purge = () =>
    core.services.auth.purgeExpiredRevocations().then(
      (n) => n > 0 && logger.info({ purged: n }, 'expired token revocations removed'),
      (err: Error) => logger.warn({ err }, 'could not purge expired token revocations'),
    );
  void purge();
  setInterval(purge, 3_600_000).unref();

  onShutdown(async (signal) => {
    app.log.info({ signal }, 'stopping: finishing in-flight requests');
    // Fastify stops accepting connections and waits for in-flight requests; then the pools close.
    await app.close();
    await core.close();
    app.log.info({}, 'stopped');
  }, app.log);
  process.on('uncaughtException', (err) => {
    app.log.fatal({ err }, 'uncaught exception: exiting');
    process.exit(1);
  });

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `${https ? 'https' : 'http'}://localhost:${port}`;
  app.log.info(
    { mode: config.mode, database: core.database.location, url },
    `Taskman is running at ${url} (${config.mode} mode, data in ${core.database.location}); API docs at ${url}/docs`,
  );
}

main().catch((err) => {
  console.error(`Taskman failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
