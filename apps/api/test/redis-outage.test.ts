import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheAside } from '../../../packages/core/src/cache/cache-aside';
import { TaskCache } from '../../../packages/core/src/cache/task.cache';
import type { Log } from '../../../packages/core/src/lib/log';
import { createTestApp, type TestApp } from './helpers/app';
import { Client, signUp } from './helpers/client';
import { RedisServer } from './helpers/redis-server';
import { until } from './helpers/wait';

const API = '/api/v1';
const PREFIX = 'outage:';
type CacheName = 'task' | 'task_list' | 'project_tasks' | 'session';

async function count(t: TestApp, kind: 'cacheHits' | 'cacheMisses' | 'cacheErrors', cache: CacheName) {
  return (await t.core.metrics[kind].get()).values.find((v) => v.labels.cache === cache)?.value ?? 0;
}
async function totalErrors(t: TestApp) {
  return (await t.core.metrics.cacheErrors.get()).values.reduce((sum, v) => sum + v.value, 0);
}

async function ok(res: Promise<{ status: number; raw: string; body: any }>, status = 200) {
  const r = await res;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status} ${r.raw}`);
  return r.body.data;
}

/** Runs fn with a plain client (no prefix) on the private server. */
async function inspect<T>(server: RedisServer, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  try {
    return await fn(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

describe('Redis outage: never wrong, only slower', () => {
  let server: RedisServer;
  let t: TestApp;
  let ann: Client & { user: any };
  beforeAll(async () => {
    server = await RedisServer.start();
    t = await createTestApp({ env: { REDIS_URL: server.url, REDIS_KEY_PREFIX: PREFIX } });
    expect(t.core.redis?.status).toBe('ready');
    ann = await signUp(t.app);
  });
  afterAll(async () => {
    await t?.close();
    await server?.stop();
  });

  it('Redis stopped: requests are served from the database and errors are counted; restarted on the same port: the cache is used again without restarting the app', async () => {
    const task = await ok(ann.post(`${API}/tasks`, { title: 'before the outage' }), 201);
    await ok(ann.get(`${API}/tasks/${task.id}`));
    const hits = await count(t, 'cacheHits', 'task');
    expect(await ok(ann.get(`${API}/tasks/${task.id}`))).toEqual(task);
    expect(await count(t, 'cacheHits', 'task')).toBe(hits + 1);
    expect(await inspect(server, (r) => r.exists(`${PREFIX}task:${task.id}:${ann.user.id}`))).toBe(1);

    await server.stop();
    await until('the client to notice', async () => (t.core.redis?.status !== 'ready' ? true : undefined));

    const errors = await totalErrors(t);
    const taskErrors = await count(t, 'cacheErrors', 'task');
    expect(await ok(ann.get(`${API}/tasks/${task.id}`))).toEqual(task);
    expect(await count(t, 'cacheErrors', 'task')).toBeGreaterThan(taskErrors);
    const list = await ann.get(`${API}/tasks`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((x: any) => x.id)).toEqual([task.id]);
    // Writes work too, and the next read sees them (from the database).
    const patched = await ok(ann.patch(`${API}/tasks/${task.id}`, { title: 'during the outage' }));
    expect(patched.title).toBe('during the outage');
    expect(await ok(ann.get(`${API}/tasks/${task.id}`))).toEqual(patched);
    // Signing up and in works (the session cache and the rate limiter step aside).
    const bob = await signUp(t.app);
    expect((await bob.get(`${API}/users/me`)).status).toBe(200);
    expect(await totalErrors(t)).toBeGreaterThan(errors);

    // And the failure is logged as a warning.
    const warnings: string[] = [];
    const log: Log = { info() {}, warn: (_o, msg) => warnings.push(msg), error() {} };
    const cache = new TaskCache(new CacheAside(t.core.cacheStore, t.core.metrics, log), 300);
    const row = await cache.task(ann.user.id, task.id, async () => undefined);
    expect(row).toBeUndefined();
    expect(warnings).toEqual(['cache store unavailable: serving from the database']);

    await server.restart();
    // The client reconnects by itself: poll until reads are served from the cache again.
    const hitsBefore = await count(t, 'cacheHits', 'task');
    await until('a cache hit after the restart', async () => {
      expect(await ok(ann.get(`${API}/tasks/${task.id}`))).toEqual(patched);
      return (await count(t, 'cacheHits', 'task')) > hitsBefore ? true : undefined;
    });
    expect(await inspect(server, (r) => r.exists(`${PREFIX}task:${task.id}:${ann.user.id}`))).toBe(1);
    // …and invalidation works again.
    const again = await ok(ann.patch(`${API}/tasks/${task.id}`, { title: 'after the outage' }));
    expect(await ok(ann.get(`${API}/tasks/${task.id}`))).toEqual(again);
  });

  it('Redis frozen (SIGSTOP) during a write: the invalidation fails; after SIGCONT the next read returns the new task, not the cached one', async () => {
    await until('the cache to be ready', async () => (t.core.redis?.status === 'ready' ? true : undefined));
    const task = await ok(ann.post(`${API}/tasks`, { title: 'cached' }), 201);
    await ok(ann.get(`${API}/tasks/${task.id}`));
    const hits = await count(t, 'cacheHits', 'task');
    expect(await ok(ann.get(`${API}/tasks/${task.id}`))).toEqual(task);
    expect(await count(t, 'cacheHits', 'task')).toBe(hits + 1);

    // What Redis holds before the write: the cached entry and the generation counters it was read under.
    const entryKey = `${PREFIX}task:${task.id}:${ann.user.id}`;
    const genKey = `${PREFIX}user:${ann.user.id}:tasks:gen`;
    const epochKey = `${PREFIX}cache:epoch`;
    const before = await inspect(server, async (r) => ({
      entry: await r.get(entryKey),
      gen: await r.get(genKey),
      epoch: await r.get(epochKey),
    }));
    expect(before.entry).not.toBeNull();
    expect(before.gen).not.toBeNull();
    expect(before.epoch).not.toBeNull();

    const errors = await totalErrors(t);
    server.freeze();
    let patched: any;
    try {
      patched = await ok(ann.patch(`${API}/tasks/${task.id}`, { title: 'changed while frozen' }));
    } finally {
      server.thaw();
    }
    expect(patched.title).toBe('changed while frozen');
    expect(await totalErrors(t)).toBeGreaterThan(errors);

    // The frozen server may still apply the invalidation it received before it stopped; wait for
    // that, then put back exactly what it held before the write, as if the invalidation had been
    // lost. Only the epoch bump can now keep the old entry from being served.
    await until(
      'the delayed invalidation',
      () => inspect(server, async (r) => ((await r.get(genKey)) !== before.gen ? true : undefined)),
      3_000,
    ).catch(() => {});
    await inspect(server, async (r) => {
      await r.set(genKey, before.gen!);
      await r.set(entryKey, before.entry!, 'EX', 300);
    });

    expect(await ok(ann.get(`${API}/tasks/${task.id}`))).toEqual(patched);
    const epochAfter = await inspect(server, (r) => r.get(epochKey));
    expect(Number(epochAfter)).toBeGreaterThan(Number(before.epoch));
    // The cache is trusted again afterwards: the fresh row is cached and served.
    const hitsAfter = await count(t, 'cacheHits', 'task');
    expect(await ok(ann.get(`${API}/tasks/${task.id}`))).toEqual(patched);
    expect(await ok(ann.get(`${API}/tasks/${task.id}`))).toEqual(patched);
    expect(await count(t, 'cacheHits', 'task')).toBeGreaterThan(hitsAfter);
  });

  it('an API process started while Redis is down serves from the database, and uses the cache once Redis is up', async () => {
    await server.stop();
    const late = await createTestApp({
      env: { REDIS_URL: server.url, REDIS_KEY_PREFIX: PREFIX },
      shareDatabaseOf: t,
    });
    try {
      const annLate = new Client(late.app, ann.token);
      const task = await ok(annLate.post(`${API}/tasks`, { title: 'late start' }), 201);
      expect(await ok(annLate.get(`${API}/tasks/${task.id}`))).toEqual(task);
      expect(await count(late, 'cacheErrors', 'task')).toBeGreaterThan(0);

      await server.restart();
      await until('a cache hit once Redis is up', async () => {
        expect(await ok(annLate.get(`${API}/tasks/${task.id}`))).toEqual(task);
        return (await count(late, 'cacheHits', 'task')) > 0 ? true : undefined;
      });
    } finally {
      await late.close();
    }
  });
});
