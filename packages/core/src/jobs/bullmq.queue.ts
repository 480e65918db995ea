import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Log } from '../lib/log';
import {
  JOB_NAMES,
  type JobHandler,
  type JobHandlers,
  type JobName,
  PermanentJobError,
} from './job.catalogue';
import {
  type ConsumeOptions,
  errorSummary,
  type FailedJob,
  type JobConsumer,
  type JobQueue,
  type JobRequest,
  type QueueCounts,
  type RetryPolicy,
  requestIdOf,
  type ScheduledJob,
  storedPayload,
} from './job.queue';

export interface BullJobQueueOptions {
  redisUrl: string;
  /** Key prefix of every BullMQ key (e.g. "taskman:bull"). */
  prefix: string;
  retry: RetryPolicy;
  /** Lock of a running job; a worker that dies releases its jobs to others after about this long. */
  lockMs: number;
  completedRetentionMs: number;
  failedRetentionMs: number;
  log: Log;
}

/** Logs a connection's errors at most once per 30 s: a Redis outage must not flood the log. */
function throttledErrorLog(log: Log, what: string): (err: unknown) => void {
  let last = 0;
  return (err) => {
    if (Date.now() - last < 30_000) return;
    last = Date.now();
    log.warn({ err: errorSummary(err) }, `${what}: Redis error (retrying)`);
  };
}

/**
 * The queue port on BullMQ (cluster mode): one BullMQ queue per job name, so each has its own
 * counts and workers. Job keys become BullMQ job ids, which BullMQ de-duplicates.
 */
export class BullJobQueue implements JobQueue {
  readonly backend = 'bullmq';
  private readonly producer: Redis;
  private readonly queues: Record<JobName, Queue>;

  constructor(private readonly opts: BullJobQueueOptions) {
    // Producers fail fast while Redis is away: the outbox relay keeps the events and tries again.
    // A frozen Redis must not hold the relay's transaction for long: commands give up after 5 s.
    this.producer = new Redis(opts.redisUrl, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      commandTimeout: 5_000,
    });
    this.producer.on('error', throttledErrorLog(opts.log, 'job queue'));
    const seconds = (ms: number) => Math.ceil(ms / 1000);
    this.queues = Object.fromEntries(
      JOB_NAMES.map((name) => {
        const queue = new Queue(name, {
          connection: this.producer,
          prefix: opts.prefix,
          defaultJobOptions: {
            attempts: opts.retry.attempts,
            backoff: { type: 'exponential', delay: opts.retry.backoffMs },
            removeOnComplete: { age: seconds(opts.completedRetentionMs) },
            removeOnFail: { age: seconds(opts.failedRetentionMs) },
          },
        });
        queue.on('error', () => {});
        return [name, queue];
      }),
    ) as Record<JobName, Queue>;
  }

  /**
   * BullMQ waits for its connection before each command; a Redis that has not been reachable
   * since start would make that wait endless. Wait a moment (a process that just started is still
   * connecting), then fail: callers retry (the relay) or report the queue unreachable (admin view).
   */
  private async ready(): Promise<void> {
    if (this.producer.status === 'ready') return;
    const producer = this.producer;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 1_000);
      function done() {
        clearTimeout(timer);
        producer.off('ready', done);
        resolve();
      }
      producer.on('ready', done);
    });
    const status: string = producer.status;
    if (status !== 'ready') throw new Error(`Redis is not reachable (${status})`);
  }

  /** The BullMQ queues, for the admin view. */
  bullQueues(): Queue[] {
    return Object.values(this.queues);
  }

  async enqueue(requests: JobRequest[]): Promise<void> {
    await this.ready();
    const now = Date.now();
    const byName = new Map<JobName, JobRequest[]>();
    for (const r of requests) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
    for (const [name, list] of byName) {
      await this.queues[name].addBulk(
        list.map((r) => ({
          name,
          data: storedPayload(r),
          opts: {
            ...(r.key ? { jobId: r.key } : {}),
            ...(r.runAt && r.runAt.getTime() > now ? { delay: r.runAt.getTime() - now } : {}),
          },
        })),
      );
    }
  }

  async cancel(name: JobName, key: string): Promise<void> {
    await this.ready();
    const job = await this.queues[name].getJob(key);
    if (job && ((await job.isDelayed()) || (await job.isWaiting()))) await job.remove().catch(() => {});
  }

  async schedule(jobs: ScheduledJob[]): Promise<void> {
    await this.ready();
    for (const job of jobs) {
      // Upserting under a fixed id is idempotent: N workers register one schedule, which runs once.
      await this.queues[job.name].upsertJobScheduler(
        `${job.name}-schedule`,
        { pattern: job.pattern, tz: 'UTC' },
        { name: job.name, data: job.payload },
      );
    }
  }

  consume(handlers: JobHandlers, opts: ConsumeOptions): JobConsumer {
    const workers = JOB_NAMES.map((name) => {
      const handler = handlers[name] as JobHandler<JobName>;
      const connection = new Redis(this.opts.redisUrl, { maxRetriesPerRequest: null });
      connection.on('error', throttledErrorLog(this.opts.log, `worker ${name}`));
      const worker = new Worker(
        name,
        async (job: Job) => {
          const started = performance.now();
          const attempt = job.attemptsMade + 1;
          const seconds = () => (performance.now() - started) / 1000;
          try {
            const result = await handler(job.data as never, { attempt, attempts: job.opts.attempts ?? 1 });
            opts.observe?.({
              name,
              id: job.id ?? '',
              requestId: requestIdOf(job.data),
              outcome: 'completed',
              attempt,
              seconds: seconds(),
              result,
            });
            return result;
          } catch (err) {
            const permanent = err instanceof PermanentJobError;
            const final = permanent || attempt >= (job.opts.attempts ?? 1);
            opts.observe?.({
              name,
              id: job.id ?? '',
              requestId: requestIdOf(job.data),
              outcome: final ? 'failed' : 'retry',
              attempt,
              seconds: seconds(),
              error: errorSummary(err),
            });
            throw permanent ? new UnrecoverableError(errorSummary(err)) : err;
          }
        },
        {
          connection,
          prefix: this.opts.prefix,
          concurrency: opts.concurrency,
          lockDuration: this.opts.lockMs,
          stalledInterval: this.opts.lockMs,
          maxStalledCount: 2,
        },
      );
      worker.on('error', throttledErrorLog(this.opts.log, `worker ${name}`));
      // A job can also fail outside the handler: its workers kept dying on it (stalled too often).
      worker.on('failed', (job, err) => {
        if (job && /stalled/i.test(err.message))
          this.opts.log.error(
            { job: name, id: job.id, err: errorSummary(err) },
            `job ${name} failed for good`,
          );
      });
      return { worker, connection };
    });
    return {
      stop: async () => {
        // close() waits for the jobs in hand; new ones are not taken.
        await Promise.all(workers.map((w) => w.worker.close()));
        await Promise.all(workers.map((w) => w.connection.quit().catch(() => w.connection.disconnect())));
      },
    };
  }

  async counts(): Promise<Record<JobName, QueueCounts>> {
    await this.ready();
    const entries = await Promise.all(
      JOB_NAMES.map(async (name) => {
        const c = await this.queues[name].getJobCounts(
          'waiting',
          'prioritized',
          'active',
          'delayed',
          'failed',
          'completed',
        );
        const counts: QueueCounts = {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          failed: c.failed ?? 0,
          completed: c.completed ?? 0,
        };
        return [name, counts] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<JobName, QueueCounts>;
  }

  async failed(limit: number): Promise<FailedJob[]> {
    await this.ready();
    const all = await Promise.all(
      JOB_NAMES.map(async (name) =>
        (await this.queues[name].getFailed(0, limit - 1)).map(
          (job): FailedJob => ({
            id: `${name}/${job.id}`,
            name,
            payload: job.data,
            error: job.failedReason ?? '',
            attempts: job.attemptsMade,
            failedAt: job.finishedOn ? new Date(job.finishedOn) : undefined,
          }),
        ),
      ),
    );
    return all
      .flat()
      .sort((a, b) => (b.failedAt?.getTime() ?? 0) - (a.failedAt?.getTime() ?? 0))
      .slice(0, limit);
  }

  async retry(id: string): Promise<boolean> {
    await this.ready();
    const [name, jobId] = id.split('/');
    if (!name || !jobId || !(JOB_NAMES as readonly string[]).includes(name)) return false;
    const job = await this.queues[name as JobName].getJob(jobId);
    if (!job || !(await job.isFailed())) return false;
    await job.retry('failed', { resetAttemptsMade: true });
    return true;
  }

  /** BullMQ removes finished jobs itself (removeOnComplete / removeOnFail ages). */
  async purge(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close().catch(() => {})));
    // Closing a connection in the middle of its handshake makes ioredis's ready check fail
    // unhandled (the offline queue is off): let the handshake finish first (briefly).
    if (this.producer.status === 'connecting' || this.producer.status === 'connect')
      await this.ready().catch(() => {});
    if (this.producer.status === 'ready') await this.producer.quit().catch(() => this.producer.disconnect());
    else this.producer.disconnect();
  }
}
