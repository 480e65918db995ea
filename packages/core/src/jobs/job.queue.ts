import type { Executor } from '../db/client';
import { currentRequestId } from '../lib/request-context';
import type { JobHandlers, JobName, JobPayloads, JobResult } from './job.catalogue';

/** A job to run, now or at `runAt`. Jobs with the same `key` are one job: adding it again does nothing. */
export interface JobRequest<N extends JobName = JobName> {
  name: N;
  payload: JobPayloads[N];
  key?: string | undefined;
  runAt?: Date | undefined;
  /** The request the job is done for (default: the one being served, if any), for its logs. */
  requestId?: string | undefined;
}

/** Where a job's request id rides along with its payload (the handlers ignore it). */
export const REQUEST_ID_FIELD = 'request_id';

/** The payload as stored: with the request id of the request it is done for, if any. */
export function storedPayload(r: JobRequest): object {
  const requestId = r.requestId ?? currentRequestId();
  return requestId ? { ...(r.payload as object), [REQUEST_ID_FIELD]: requestId } : (r.payload as object);
}

/** The request id a stored payload carries. */
export const requestIdOf = (payload: unknown): string | undefined => {
  const v = (payload as Record<string, unknown> | null)?.[REQUEST_ID_FIELD];
  return typeof v === 'string' ? v : undefined;
};

export function jobRequest<N extends JobName>(
  name: N,
  payload: JobPayloads[N],
  opts: { key?: string; runAt?: Date } = {},
): JobRequest<N> {
  return { name, payload, ...opts };
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface FailedJob {
  id: string;
  name: string;
  payload: unknown;
  error: string;
  attempts: number;
  failedAt: Date | undefined;
}

/** A job run on a schedule (cron pattern, UTC); registering it again changes nothing. */
export interface ScheduledJob<N extends JobName = JobName> {
  name: N;
  pattern: string;
  payload: JobPayloads[N];
}

export type JobOutcome = 'completed' | 'failed' | 'retry';

/** What a consumer reports after every run: metrics and logs hang off this. */
export type JobObserver = (event: {
  name: JobName;
  id: string;
  /** The request that led to the job, if one did. */
  requestId?: string | undefined;
  outcome: JobOutcome;
  seconds: number;
  attempt: number;
  result?: JobResult;
  error?: string;
}) => void;

export interface ConsumeOptions {
  concurrency: number;
  observe?: JobObserver;
}

/** Consumes jobs until stopped; stop waits for the jobs in hand to finish. */
export interface JobConsumer {
  stop(): Promise<void>;
}

/**
 * The queue port (DESIGN.md): BullMQ on Redis in cluster mode, the database otherwise. Producers
 * (the outbox relay, `npm run job`) enqueue; workers consume with the handlers of the catalogue.
 */
export interface JobQueue {
  readonly backend: 'bullmq' | 'database';
  /**
   * Adds jobs. `tx`: the database transaction the caller is in; a queue kept in the database
   * writes in it (the job exists if and only if the transaction commits), others ignore it.
   */
  enqueue(requests: JobRequest[], tx?: Executor): Promise<void>;
  /** Drops a job that has not started yet; a running or finished one is left alone. */
  cancel(name: JobName, key: string, tx?: Executor): Promise<void>;
  schedule(jobs: ScheduledJob[]): Promise<void>;
  consume(handlers: JobHandlers, opts: ConsumeOptions): JobConsumer;
  counts(): Promise<Record<JobName, QueueCounts>>;
  /** Jobs that used up their attempts, newest first. */
  failed(limit: number): Promise<FailedJob[]>;
  /** Puts a failed job back in the queue with fresh attempts; false if there is no such failed job. */
  retry(id: string): Promise<boolean>;
  /** The BullMQ queues behind this port (for Bull Board); absent when jobs live in the database. */
  bullQueues?(): import('bullmq').Queue[];
  /** Deletes finished jobs past their retention, where the backend does not do so itself. */
  purge(): Promise<number>;
  close(): Promise<void>;
}

export interface RetryPolicy {
  attempts: number;
  /** The first retry waits this long; each further one twice as long as the one before. */
  backoffMs: number;
}

/** Delay before attempt `attempt + 1` after `attempt` failed (1-based), as BullMQ's exponential backoff. */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return policy.backoffMs * 2 ** Math.max(0, attempt - 1);
}

/** An error's message for logs and the failed-job view: one line, no stack, bounded. */
export function errorSummary(err: unknown): string {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return message.replace(/\s+/g, ' ').slice(0, 500);
}
