// Starts the Taskman API: reads the configuration, opens and migrates the database, listens.
import {
  createCore,
  exitOnUnexpectedRejections,
  loadConfigOrExit,
  loggerOptions,
  onShutdown,
  startJobWorker,
} from '@taskman/core';
import pino from 'pino';
import { buildApp, readTlsFiles } from './app';

async function main(): Promise<void> {
  const config = loadConfigOrExit();

  // One logger for the core (cache warnings, …) and Fastify (requests).
  const logger = pino(loggerOptions(config));
  const core = await createCore(config, { log: logger });
  // HTTPS (TLS 1.3 only) when TLS_CERT_FILE and TLS_KEY_FILE are set.
  const https = readTlsFiles(config);
  const app = await buildApp({ core, https, loggerInstance: logger });
  // Embedded mode (and any deployment without Redis) runs the jobs here; cluster mode in apps/worker.
  const worker = config.jobsInProcess ? startJobWorker(core) : undefined;
  if (!worker)
    logger.info(
      { queue: core.queue.backend },
      'jobs (reminders, archiving) run in worker processes: start them with `npm run start:worker`',
    );

  onShutdown(
    async (signal) => {
      // An orchestrator's stop (SIGTERM) behind a load balancer: hand the connections over first
      // (plugins/drain.ts). Ctrl-C at a terminal stops at once.
      if (signal === 'SIGTERM' && config.shutdownDrainMs > 0) {
        app.log.info({ signal, drainMs: config.shutdownDrainMs }, 'stopping: draining connections');
        app.draining = true;
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
      }
      app.log.info({ signal }, 'stopping: finishing in-flight requests');
      // Fastify stops accepting connections and waits for in-flight requests; running jobs finish;
      // then the pools close.
      await app.close();
      await worker?.stop();
      await core.sampler.stop();
      await core.close();
      app.log.info({}, 'stopped');
    },
    app.log,
    // The drain, then as long as the longest request may take (the request timeout) and a margin.
    config.shutdownDrainMs + config.requestTimeoutMs + 10_000,
  );
  exitOnUnexpectedRejections(app.log);
  process.on('uncaughtException', (err) => {
    app.log.fatal({ err }, 'uncaught exception: exiting');
    process.exit(1);
  });

  await app.listen({ port: config.port, host: config.host });
  // This process's figures for the operations dashboard, every METRICS_SAMPLE_MS.
  core.sampler.start();
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
