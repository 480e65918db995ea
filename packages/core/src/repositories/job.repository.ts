import { and, asc, desc, eq, inArray, lt, lte, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type JobRow, jobs } from '../db/schema';
import { newId } from '../lib/ids';

export interface NewJob {
  name: string;
  payload: unknown;
  key?: string | undefined;
  runAt: Date;
  maxAttempts: number;
}

export interface JobCountRow {
  name: string;
  state: JobRow['state'];
  delayed: boolean;
  n: number;
}

/**
 * The `jobs` table behind the database queue. Every state change of a running job is fenced on
 * (id, attempts): a runner that lost its lock (it stalled and another took over) changes nothing.
 */
export class JobRepository {
  constructor(private readonly db: Executor) {}

  withTx(tx: Executor): JobRepository {
    return new JobRepository(tx);
  }

  /** Adds jobs; one whose key already exists is skipped. */
  async insert(list: NewJob[]): Promise<void> {
    if (list.length === 0) return;
    await this.db
      .insert(jobs)
      .values(
        list.map((j) => ({
          id: newId(),
          name: j.name,
          key: j.key ?? null,
          payload: j.payload,
          runAt: j.runAt,
          maxAttempts: j.maxAttempts,
        })),
      )
      .onConflictDoNothing({ target: jobs.key });
  }

  async deleteWaiting(name: string, key: string): Promise<void> {
    await this.db.delete(jobs).where(and(eq(jobs.name, name), eq(jobs.key, key), eq(jobs.state, 'waiting')));
  }

  /**
   * Takes the next due job, else one whose runner's lock ran out (it died), and locks it until
   * `lockUntil`. Two queries, each walking its own partial index, so a claim costs the same with a
   * long backlog; SKIP LOCKED lets any number of runners claim side by side without waiting.
   */
  async claim(now: Date, lockUntil: Date): Promise<JobRow | undefined> {
    const due = this.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.state, 'waiting'), lte(jobs.runAt, now)))
      .orderBy(asc(jobs.runAt), asc(jobs.id))
      .limit(1)
      .for('update', { skipLocked: true });
    const abandoned = this.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.state, 'active'), lt(jobs.lockedUntil, now)))
      .orderBy(asc(jobs.lockedUntil))
      .limit(1)
      .for('update', { skipLocked: true });
    for (const next of [due, abandoned]) {
      const [row] = await this.db
        .update(jobs)
        .set({ state: 'active', attempts: sql`${jobs.attempts} + 1`, lockedUntil: lockUntil })
        .where(sql`${jobs.id} = (${next})`)
        .returning();
      if (row) return row;
    }
    return undefined;
  }

  private fenced(id: string, attempt: number): SQL {
    return and(eq(jobs.id, id), eq(jobs.state, 'active'), eq(jobs.attempts, attempt))!;
  }

  /** Extends the lock of a running job; false if it is no longer ours. */
  async extendLock(id: string, attempt: number, lockUntil: Date): Promise<boolean> {
    const rows = await this.db
      .update(jobs)
      .set({ lockedUntil: lockUntil })
      .where(this.fenced(id, attempt))
      .returning({ id: jobs.id });
    return rows.length > 0;
  }

  async complete(id: string, attempt: number, result: unknown, now: Date): Promise<void> {
    await this.db
      .update(jobs)
      .set({ state: 'completed', result, finishedAt: now, lockedUntil: null, lastError: null })
      .where(this.fenced(id, attempt));
  }

  /** Records a failed attempt: back to waiting until `retryAt`, or failed for good without one. */
  async fail(
    id: string,
    attempt: number,
    error: string,
    retryAt: Date | undefined,
    now: Date,
  ): Promise<void> {
    await this.db
      .update(jobs)
      .set(
        retryAt
          ? { state: 'waiting', runAt: retryAt, lastError: error, lockedUntil: null }
          : { state: 'failed', lastError: error, finishedAt: now, lockedUntil: null },
      )
      .where(this.fenced(id, attempt));
  }

  async counts(now: Date): Promise<JobCountRow[]> {
    return this.db
      .select({
        name: jobs.name,
        state: jobs.state,
        delayed: sql<boolean>`${jobs.state} = 'waiting' and ${jobs.runAt} > ${now}`,
        n: sql<number>`count(*)::int`,
      })
      .from(jobs)
      .groupBy(jobs.name, jobs.state, sql`3`);
  }

  failed(limit: number): Promise<JobRow[]> {
    return this.db
      .select()
      .from(jobs)
      .where(eq(jobs.state, 'failed'))
      .orderBy(desc(jobs.finishedAt), desc(jobs.id))
      .limit(limit);
  }

  async retry(id: string, now: Date): Promise<boolean> {
    const rows = await this.db
      .update(jobs)
      .set({ state: 'waiting', attempts: 0, runAt: now, finishedAt: null })
      .where(and(eq(jobs.id, id), eq(jobs.state, 'failed')))
      .returning({ id: jobs.id });
    return rows.length > 0;
  }

  /** Deletes finished jobs: completed ones finished before `completedBefore`, failed ones before `failedBefore`. */
  async purgeFinished(completedBefore: Date, failedBefore: Date): Promise<number> {
    const rows = await this.db
      .delete(jobs)
      .where(
        sql`(${jobs.state} = 'completed' and ${jobs.finishedAt} < ${completedBefore}) or (${jobs.state} = 'failed' and ${jobs.finishedAt} < ${failedBefore})`,
      )
      .returning({ id: jobs.id });
    return rows.length;
  }

  /** Jobs by key (tests and the admin view). */
  byKeys(keys: string[]): Promise<JobRow[]> {
    return keys.length ? this.db.select().from(jobs).where(inArray(jobs.key, keys)) : Promise.resolve([]);
  }
}
