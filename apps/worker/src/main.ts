// The Taskman job worker: publishes the outbox to the queue, runs jobs, keeps the schedules.
// Run as many as you like (`npm run start:worker`); they share the work through the queue.
import {
  createCore,
  exitOnUnexpectedRejections,
  loadConfigOrExit,
  loggerOptions,
  onShutdown,
  serveMetrics,
  startJobWorker,
} from '@taskman/core';
import pino from 'pino';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!config.databaseUrl) {
    console.error(
      'The worker needs DATABASE_URL (and REDIS_URL for BullMQ). In embedded mode `npm start` runs the jobs itself.',
    );
    process.exit(78);
  }

  const logger = pino({ ...loggerOptions(config), base: { process: 'worker' } });
  // Emails link to APP_URL; a worker does not know where the API listens unless told.
  if (!process.env.APP_URL)
    logger.warn(
      { appUrl: config.appUrl },
      `APP_URL is not set: links in emails will point to ${config.appUrl}`,
    );
  // The API processes migrate; a worker started first waits for nothing and migrates too (under a lock).
  const core = await createCore(config, { log: logger, processKind: 'worker' });
  const worker = startJobWorker(core);
  core.sampler.start();
  // Prometheus scrapes a worker on METRICS_PORT (an API process serves /metrics on its own port).
  const metricsServer = config.metricsPort ? await serveMetrics(core, config.metricsPort, logger) : undefined;

  onShutdown(
    async (signal) => {
      logger.info({ signal }, 'stopping: finishing the jobs in hand');
      await worker.stop();
      await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
      await core.sampler.stop();
      await core.close();
      logger.info({}, 'stopped');
    },
    logger,
    // Jobs in hand get as long as their lock to finish; after that another worker may take them.
    config.jobLockMs + 5_000,
  );
  exitOnUnexpectedRejections(logger);
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: exiting');
    process.exit(1);
  });
  logger.info(
    { queue: core.queue.backend, database: core.database.location },
    `Taskman worker is running (${core.queue.backend} queue, database ${core.database.location})`,
  );
}

main().catch((err) => {
  console.error(`Taskman worker failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
