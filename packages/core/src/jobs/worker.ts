import { setTimeout as sleep } from 'node:timers/promises';
import type { Core } from '../core';
import { errorSummary, type JobConsumer, type JobObserver } from './job.queue';

export interface JobWorker {
  /** Stops taking jobs, waits for the ones in hand, stops the relay. */
  stop(): Promise<void>;
}

/**
 * Runs the job side of Taskman: the outbox relay, the consumers of every queue, and the schedules
 * (registered idempotently, so N workers run a daily job once a day). `apps/worker` runs this in
 * cluster mode; the API process runs it in embedded mode.
 */
export function startJobWorker(core: Core): JobWorker {
  const { log, metrics, config } = core;
  const observe: JobObserver = (e) => {
    metrics.jobDuration.observe({ job_name: e.name, outcome: e.outcome }, e.seconds);
    if (e.outcome !== 'completed') metrics.jobFailures.inc({ job_name: e.name });
    const fields = {
      job: e.name,
      id: e.id,
      attempt: e.attempt,
      ms: Math.round(e.seconds * 1000),
      ...(e.requestId ? { request_id: e.requestId } : {}),
    };
    if (e.outcome === 'completed') log.info({ ...fields, result: e.result }, `job ${e.name} done`);
    else if (e.outcome === 'retry') log.warn({ ...fields, err: e.error }, `job ${e.name} failed; will retry`);
    else log.error({ ...fields, err: e.error }, `job ${e.name} failed for good`);
  };

  const stopping = new AbortController();
  // Registering schedules needs the queue; while it is unreachable, keep trying in the background
  // (a stop interrupts the wait).
  const scheduling = (async () => {
    for (let delay = 1000; !stopping.signal.aborted; delay = Math.min(delay * 2, 30_000)) {
      try {
        await core.queue.schedule(core.scheduledJobs);
        return;
      } catch (err) {
        log.warn({ err: errorSummary(err) }, 'could not register scheduled jobs yet; retrying');
        await sleep(delay, undefined, { signal: stopping.signal }).catch(() => {});
      }
    }
  })();

  const consumer: JobConsumer = core.queue.consume(core.jobs, {
    concurrency: config.workerConcurrency,
    observe,
  });
  core.relay.start();
  log.info(
    { queue: core.queue.backend, concurrency: config.workerConcurrency, mail: core.mailer.location },
    `job worker started (${core.queue.backend} queue, mail to ${core.mailer.kind === 'smtp' ? 'SMTP' : core.mailer.location})`,
  );

  return {
    async stop() {
      stopping.abort();
      await core.relay.stop();
      await consumer.stop();
      await scheduling;
    },
  };
}
