import { setTimeout as sleep } from 'node:timers/promises';
import type { Executor } from '../db/client';
import type { JobRow } from '../db/schema';
import type { Clock } from '../lib/clock';
import { isUuid } from '../lib/ids';
import type { Log } from '../lib/log';
import type { JobRepository } from '../repositories/job.repository';
import {
  isJobName,
  JOB_NAMES,
  type JobHandler,
  type JobHandlers,
  type JobName,
  PermanentJobError,
} from './job.catalogue';
import {
  backoffDelay,
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
import { nextRun } from './schedule';

export interface DatabaseQueueOptions {
  retry: RetryPolicy;
  /** How long a claimed job stays locked without a heartbeat; a runner that dies releases it after this. */
  lockMs: number;
  /** How often an idle runner looks for due jobs. */
  pollMs: number;
  /** Completed jobs are kept this long, failed ones `failedRetentionMs`. */
  completedRetentionMs: number;
  failedRetentionMs: number;
}

const scheduleKey = (name: string, at: Date) => `schedule:${name}:${at.toISOString()}`;

/**
 * The job queue in the database (embedded mode, or PostgreSQL without Redis): jobs survive a
 * restart, any number of runners share the table, and a runner that dies mid-job leaves the job
 * to the next one once its lock runs out.
 */
export class DatabaseJobQueue implements JobQueue {
  readonly backend = 'database';
  private readonly wakers = new Set<() => void>();
  private schedules: ScheduledJob[] = [];

  constructor(
    private readonly repo: JobRepository,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly opts: DatabaseQueueOptions,
  ) {}

  async enqueue(requests: JobRequest[], tx?: Executor): Promise<void> {
    const now = this.clock.now();
    await (tx ? this.repo.withTx(tx) : this.repo).insert(
      requests.map((r) => ({
        name: r.name,
        payload: storedPayload(r),
        key: r.key,
        runAt: r.runAt && r.runAt > now ? r.runAt : now,
        maxAttempts: this.opts.retry.attempts,
      })),
    );
    for (const wake of this.wakers) wake();
  }

  cancel(name: JobName, key: string, tx?: Executor): Promise<void> {
    return (tx ? this.repo.withTx(tx) : this.repo).deleteWaiting(name, key);
  }

  /** Keeps one pending run of each scheduled job; its key (name and time) makes this idempotent. */
  async schedule(jobs: ScheduledJob[]): Promise<void> {
    this.schedules = jobs;
    for (const job of jobs) await this.scheduleNext(job);
  }

  private async scheduleNext(job: ScheduledJob): Promise<void> {
    const at = nextRun(job.pattern, this.clock.now());
    await this.repo.insert([
      {
        name: job.name,
        payload: job.payload,
        key: scheduleKey(job.name, at),
        runAt: at,
        maxAttempts: this.opts.retry.attempts,
      },
    ]);
  }

  consume(handlers: JobHandlers, opts: ConsumeOptions): JobConsumer {
    let stopping = false;
    let wake: () => void = () => {};
    const running = new Set<Promise<void>>();
    const waker = () => wake();
    this.wakers.add(waker);

    const loop = async () => {
      let failures = 0;
      let schedulesCheckedAt = Date.now();
      while (!stopping) {
        let claimed: JobRow | undefined;
        if (running.size < opts.concurrency) {
          try {
            const now = this.clock.now();
            claimed = await this.repo.claim(now, new Date(now.getTime() + this.opts.lockMs));
            failures = 0;
          } catch (err) {
            // Once, then every 30th time: a database outage must not flood the log.
            if (failures++ % 30 === 0)
              this.log.warn(
                { err: errorSummary(err), failures },
                'job queue: could not claim a job; retrying',
              );
          }
        }
        // The next run of a scheduled job is added when a run ends; a process killed in between
        // would leave none, so every minute the schedules are asserted again (idempotent).
        if (Date.now() - schedulesCheckedAt > 60_000) {
          schedulesCheckedAt = Date.now();
          await this.schedule(this.schedules).catch(() => {});
        }
        if (claimed) {
          const run = this.run(claimed, handlers, opts).finally(() => {
            running.delete(run);
            wake();
          });
          running.add(run);
          continue;
        }
        const ac = new AbortController();
        wake = () => ac.abort();
        await sleep(this.opts.pollMs, undefined, { signal: ac.signal }).catch(() => {});
      }
    };
    const looping = loop();

    return {
      stop: async () => {
        stopping = true;
        this.wakers.delete(waker);
        wake();
        await looping;
        await Promise.allSettled([...running]);
      },
    };
  }

  private async run(job: JobRow, handlers: JobHandlers, opts: ConsumeOptions): Promise<void> {
    const started = performance.now();
    const attempt = job.attempts;
    const heartbeat = setInterval(
      () => {
        const until = new Date(this.clock.now().getTime() + this.opts.lockMs);
        this.repo.extendLock(job.id, attempt, until).catch(() => {});
      },
      Math.max(50, Math.floor(this.opts.lockMs / 3)),
    );
    const report = (outcome: 'completed' | 'failed' | 'retry', extra: { error?: string; result?: object }) =>
      opts.observe?.({
        name: job.name as JobName,
        id: job.id,
        requestId: requestIdOf(job.payload),
        outcome,
        attempt,
        seconds: (performance.now() - started) / 1000,
        ...(extra as object),
      });
    try {
      if (!isJobName(job.name)) throw new PermanentJobError(`unknown job ${job.name}`);
      // A job whose runners keep dying on it must not be taken up for ever.
      if (attempt > job.maxAttempts) throw new PermanentJobError('interrupted too many times');
      const handler = handlers[job.name] as JobHandler<JobName>;
      const result = await handler(job.payload as never, { attempt, attempts: job.maxAttempts });
      await this.repo.complete(job.id, attempt, result, this.clock.now());
      report('completed', { result });
    } catch (err) {
      const error = errorSummary(err);
      const final = err instanceof PermanentJobError || attempt >= job.maxAttempts;
      const now = this.clock.now();
      const retryAt = final ? undefined : new Date(now.getTime() + backoffDelay(this.opts.retry, attempt));
      await this.repo.fail(job.id, attempt, error, retryAt, now).catch(() => {});
      report(final ? 'failed' : 'retry', { error });
    } finally {
      clearInterval(heartbeat);
    }
    const schedule = this.schedules.find((s) => s.name === job.name);
    if (schedule && job.key?.startsWith(`schedule:${job.name}:`)) {
      await this.scheduleNext(schedule).catch((err) =>
        this.log.error(
          { err: errorSummary(err), job: job.name },
          'job queue: could not schedule the next run',
        ),
      );
    }
  }

  async counts(): Promise<Record<JobName, QueueCounts>> {
    const out = Object.fromEntries(
      JOB_NAMES.map((n) => [n, { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 }]),
    ) as Record<JobName, QueueCounts>;
    for (const row of await this.repo.counts(this.clock.now())) {
      if (!isJobName(row.name)) continue;
      const counts = out[row.name];
      if (row.delayed) counts.delayed += row.n;
      else counts[row.state] += row.n;
    }
    return out;
  }

  async failed(limit: number): Promise<FailedJob[]> {
    return (await this.repo.failed(limit)).map((j) => ({
      id: j.id,
      name: j.name,
      payload: j.payload,
      error: j.lastError ?? '',
      attempts: j.attempts,
      failedAt: j.finishedAt ?? undefined,
    }));
  }

  async retry(id: string): Promise<boolean> {
    // Not one of ours (e.g. a BullMQ id pasted here): no such job, rather than a SQL error.
    if (!isUuid(id)) return false;
    const ok = await this.repo.retry(id, this.clock.now());
    if (ok) for (const wake of this.wakers) wake();
    return ok;
  }

  /** Deletes finished jobs past their retention (run by cleanup_tasks). */
  purge(): Promise<number> {
    const now = this.clock.now().getTime();
    return this.repo.purgeFinished(
      new Date(now - this.opts.completedRetentionMs),
      new Date(now - this.opts.failedRetentionMs),
    );
  }

  async close(): Promise<void> {}
}
