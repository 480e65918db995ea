// The figures of the job queues, kept in the metrics registry for the metrics endpoint: counts per
// queue and state read at scrape time, the outbox backlog, and job durations by outcome.
import { startJobWorker } from '@taskman/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app';
import { signUp } from './helpers/client';
import { RedisServer } from './helpers/redis-server';
import { until } from './helpers/wait';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close();
});

/** The value of one sample of the registry's text output, e.g. taskman_jobs{queue="x",state="y"}. */
async function sample(
  t: TestApp,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const text = await t.core.metrics.registry.metrics();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length).split(' ')[0] ?? '';
    if (want.every((w) => labelPart.includes(w))) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('job metrics', () => {
  it('count jobs per queue and state, the outbox backlog, and durations by outcome', async () => {
    const t = await createTestApp({ env: { JOB_POLL_MS: '50', JOB_LOCK_MS: '1000' } });
    cleanups.push(() => t.close());
    const ann = await signUp(t.app);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    for (const title of ['One', 'Two']) {
      expect((await ann.post('/api/v1/tasks', { title, remind_at: later })).status).toBe(201);
    }
    // Written, not yet published: the backlog shows.
    expect(await sample(t, 'taskman_outbox_pending')).toBe(2);

    const worker = startJobWorker(t.core);
    cleanups.push(() => worker.stop());
    // Published: two reminders wait an hour.
    await until('two delayed reminders', async () =>
      (await sample(t, 'taskman_jobs', { queue: 'send_reminder', state: 'delayed' })) === 2
        ? true
        : undefined,
    );
    expect(await sample(t, 'taskman_outbox_pending')).toBe(0);
    expect(await sample(t, 'taskman_job_queue_up')).toBe(1);
    expect(await sample(t, 'taskman_jobs', { queue: 'cleanup_tasks', state: 'delayed' })).toBe(1);

    // One run of a job: its duration is observed under its outcome.
    await t.core.queue.enqueue([{ name: 'cleanup_tasks', payload: {}, key: 'now' }]);
    await until('a completed cleanup', async () =>
      (await sample(t, 'taskman_job_duration_seconds_count', {
        job_name: 'cleanup_tasks',
        outcome: 'completed',
      })) === 1
        ? true
        : undefined,
    );
    expect(await sample(t, 'taskman_jobs', { queue: 'cleanup_tasks', state: 'completed' })).toBe(1);
  });

  it('say the queue is down, rather than repeat old figures, while Redis is away', async () => {
    const redis = await RedisServer.start();
    cleanups.push(() => redis.stop());
    const t = await createTestApp({ env: { REDIS_URL: redis.url, JOBS_IN_PROCESS: 'false' } });
    cleanups.push(() => t.close());
    await until('the queue', async () =>
      (await sample(t, 'taskman_job_queue_up')) === 1 ? true : undefined,
    );
    expect(await sample(t, 'taskman_jobs', { queue: 'send_reminder', state: 'waiting' })).toBe(0);

    await redis.stop();
    await until('the queue to be down', async () =>
      (await sample(t, 'taskman_job_queue_up')) === 0 ? true : undefined,
    );
    expect(await sample(t, 'taskman_jobs', { queue: 'send_reminder' })).toBeUndefined();
    await redis.restart();
    await until('the queue to be back', async () =>
      (await sample(t, 'taskman_job_queue_up')) === 1 ? true : undefined,
    );
  });
});
