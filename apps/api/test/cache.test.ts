import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheAside } from '../../../packages/core/src/cache/cache-aside';
import { TaskCache } from '../../../packages/core/src/cache/task.cache';
import { silentLog } from '../../../packages/core/src/lib/log';
import { TaskRepository } from '../../../packages/core/src/repositories/task.repository';
import { type AppPair, appPair, createTestApp, redisEnv, TEST_REDIS_URL, type TestApp } from './helpers/app';
import { Client, signUp } from './helpers/client';

// One database for the whole file; every app below (its own config, cache and limiter) is an API
// process on it, so the file pays for a single fresh database.
let base: TestApp;
beforeAll(async () => {
  base = await createTestApp();
});
afterAll(() => base.close());
const newApp = (env: Record<string, string> = {}) => createTestApp({ env, shareDatabaseOf: base });

const API = '/api/v1';
type CacheName = 'task' | 'task_list' | 'project_tasks' | 'session';
type Mode = 'redis' | 'memory';
const MODES: Mode[] = ['redis', 'memory'];

/** The cache counters of one app, for one cache. */
async function stats(t: TestApp, cache: CacheName) {
  const value = async (c: typeof t.core.metrics.cacheHits) =>
    (await c.get()).values.find((v) => v.labels.cache === cache)?.value ?? 0;
  return {
    hits: await value(t.core.metrics.cacheHits),
    misses: await value(t.core.metrics.cacheMisses),
    errors: await value(t.core.metrics.cacheErrors),
  };
}

/** Runs `fn` and returns how the counters of `cache` on `t` moved meanwhile. */
async function delta(t: TestApp, cache: CacheName, fn: () => Promise<unknown>) {
  const before = await stats(t, cache);
  await fn();
  const after = await stats(t, cache);
  return {
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
    errors: after.errors - before.errors,
  };
}

async function ok(res: Promise<{ status: number; raw: string; body: any }>, status = 200) {
  const r = await res;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status} ${r.raw}`);
  return r.body;
}

const createTask = (c: Client, body: Record<string, unknown>) =>
  ok(c.post(`${API}/tasks`, body), 201).then((b) => b.data);
const createProject = (c: Client, name: string) =>
  ok(c.post(`${API}/projects`, { name }), 201).then((b) => b.data);
const ids = (body: any) => (body.data as { id: string }[]).map((x) => x.id);

/** A read that is served from the cache (the hit counter moves by exactly one, no miss). */
async function expectCachedRead(t: TestApp, c: Client, cache: CacheName, url: string) {
  let body: any;
  const d = await delta(t, cache, async () => {
    body = await ok(c.get(url));
  });
  expect(d).toEqual({ hits: 1, misses: 0, errors: 0 });
  return body;
}

/** Reads twice: the first may load, the second must be a hit. Returns the (cached) body. */
async function warm(t: TestApp, c: Client, cache: CacheName, url: string) {
  const first = await ok(c.get(url));
  const second = await expectCachedRead(t, c, cache, url);
  expect(second).toEqual(first);
  return second;
}

describe('cache: every key format, asserted in Redis', () => {
  let t: TestApp;
  let redis: Redis;
  let prefix: string;
  let ann: Client & { user: any };
  beforeAll(async () => {
    const env = redisEnv();
    prefix = env.REDIS_KEY_PREFIX;
    t = await newApp(env);
    redis = new Redis(TEST_REDIS_URL);
    ann = await signUp(t.app);
  });
  afterAll(async () => {
    await t.close();
    await redis.quit();
  });

  const expectTtl = async (key: string, max = 300) => {
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(max);
  };

  it('task:{task_id}:{user_id}, with a TTL of at most 300 s, after a GET', async () => {
    const task = await createTask(ann, { title: 'keyed' });
    const key = `${prefix}task:${task.id}:${ann.user.id}`;
    expect(await redis.exists(key)).toBe(0);
    await ok(ann.get(`${API}/tasks/${task.id}`));
    expect(await redis.type(key)).toBe('string');
    await expectTtl(key);
  });

  it('user:{user_id}:tasks:page:{page}:{16 hex}, one per page and per filter/sort', async () => {
    await createTask(ann, { title: 'second' });
    const pages = () => redis.keys(`${prefix}user:${ann.user.id}:tasks:page:*`);
    const shape = new RegExp(`^${prefix}user:${ann.user.id}:tasks:page:(\\d+):[0-9a-f]{16}$`);
    expect(await pages()).toEqual([]);

    await ok(ann.get(`${API}/tasks?page=1&limit=1`));
    const [first, ...more] = await pages();
    expect(more).toEqual([]);
    expect(first).toMatch(shape);
    expect(shape.exec(first!)![1]).toBe('1');
    await expectTtl(first!);

    await ok(ann.get(`${API}/tasks?page=2&limit=1`));
    const second = (await pages()).filter((k) => k !== first);
    expect(second).toHaveLength(1);
    expect(shape.exec(second[0]!)![1]).toBe('2');
    // Same page and limit: the hash is the same, whatever the position of the parameters.
    expect(second[0]!.slice(-16)).toBe(first!.slice(-16));

    // Another sort on page 1: another hash.
    await ok(ann.get(`${API}/tasks?limit=1&page=1&sort=priority`));
    const all = await pages();
    expect(all).toHaveLength(3);
    const page1 = all.filter((k) => shape.exec(k)![1] === '1');
    expect(new Set(page1.map((k) => k.slice(-16))).size).toBe(2);
    // Parameters in another order: no new entry.
    await ok(ann.get(`${API}/tasks?sort=priority&page=1&limit=1`));
    expect(await pages()).toHaveLength(3);
  });

  it('project:{project_id}:tasks is a hash with a field page:{n}:{16 hex}, after GET /projects/:id/tasks', async () => {
    const project = await createProject(ann, 'Keyed project');
    await createTask(ann, { title: 'in project', project_id: project.id });
    const key = `${prefix}project:${project.id}:tasks`;
    expect(await redis.exists(key)).toBe(0);
    await ok(ann.get(`${API}/projects/${project.id}/tasks`));
    expect(await redis.type(key)).toBe('hash');
    const fields = await redis.hkeys(key);
    expect(fields).toHaveLength(1);
    expect(fields[0]).toMatch(/^page:1:[0-9a-f]{16}$/);
    await expectTtl(key);
    await ok(ann.get(`${API}/projects/${project.id}/tasks?page=2&limit=1`));
    const more = await redis.hkeys(key);
    expect(more).toHaveLength(2);
    expect(more.filter((f) => f !== fields[0])[0]).toMatch(/^page:2:[0-9a-f]{16}$/);
  });

  it('every key the app wrote carries REDIS_KEY_PREFIX', async () => {
    const other = await signUp(t.app);
    const task = await createTask(other, { title: 'prefix' });
    await ok(other.get(`${API}/tasks/${task.id}`));
    expect(await redis.exists(`task:${task.id}:${other.user.id}`)).toBe(0);
    expect(await redis.exists(`${prefix}task:${task.id}:${other.user.id}`)).toBe(1);
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.some((k) => k.startsWith(`${prefix}ratelimit:`))).toBe(true);
  });

  it('CACHE_TTL sets the TTL of the entries', async () => {
    const env = redisEnv();
    const short = await newApp({ ...env, CACHE_TTL: '120' });
    try {
      const bob = await signUp(short.app);
      const task = await createTask(bob, { title: 'short-lived' });
      await ok(bob.get(`${API}/tasks/${task.id}`));
      const ttl = await redis.ttl(`${env.REDIS_KEY_PREFIX}task:${task.id}:${bob.user.id}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(120);
    } finally {
      await short.close();
    }
  });
});

describe.each(MODES)('cache-aside (%s)', (mode) => {
  let t: TestApp;
  let ann: Client & { user: any };
  let project: any;
  let redis: Redis | undefined;
  let prefix = '';
  beforeAll(async () => {
    const env = mode === 'redis' ? redisEnv() : undefined;
    prefix = env?.REDIS_KEY_PREFIX ?? '';
    t = await newApp(env ?? {});
    if (mode === 'redis') redis = new Redis(TEST_REDIS_URL);
    expect(t.core.cacheStore.kind).toBe(mode);
    ann = await signUp(t.app);
    project = await createProject(ann, 'Aside');
    await createTask(ann, { title: 'one', project_id: project.id });
    await createTask(ann, { title: 'two' });
  });
  afterAll(async () => {
    await t.close();
    await redis?.quit();
  });

  it('GET /tasks/:id: a miss loads and stores, the next GET is a hit with the same body', async () => {
    const task = await createTask(ann, {
      title: 'aside',
      due_date: new Date(Date.now() + 86_400_000).toISOString(),
    });
    let first: any;
    const miss = await delta(t, 'task', async () => {
      first = await ok(ann.get(`${API}/tasks/${task.id}`));
    });
    expect(miss).toEqual({ hits: 0, misses: 1, errors: 0 });
    expect(first.data).toEqual(task);
    const second = await expectCachedRead(t, ann, 'task', `${API}/tasks/${task.id}`);
    // Dates and every other field survive the trip through the cache.
    expect(second.data).toEqual(task);
  });

  it('a missing task is not cached: each GET is a miss and a 404', async () => {
    const id = '01900000-0000-7000-8000-000000000000';
    for (let i = 0; i < 2; i++) {
      const d = await delta(t, 'task', async () => {
        expect((await ann.get(`${API}/tasks/${id}`)).status).toBe(404);
      });
      expect(d).toEqual({ hits: 0, misses: 1, errors: 0 });
    }
  });

  it('list pages: a miss then a hit; another query is another entry', async () => {
    const url = `${API}/tasks?limit=5&sort=priority&order=asc`;
    let first: any;
    const miss = await delta(t, 'task_list', async () => {
      first = await ok(ann.get(url));
    });
    expect(miss).toEqual({ hits: 0, misses: 1, errors: 0 });
    const second = await expectCachedRead(t, ann, 'task_list', url);
    expect(second).toEqual(first);
    expect(second.meta.total).toBe(first.data.length);
    const other = await delta(t, 'task_list', () =>
      ok(ann.get(`${API}/tasks?limit=5&sort=priority&order=desc`)),
    );
    expect(other).toEqual({ hits: 0, misses: 1, errors: 0 });
  });

  it('project task lists: a miss then a hit', async () => {
    const url = `${API}/projects/${project.id}/tasks`;
    let first: any;
    const miss = await delta(t, 'project_tasks', async () => {
      first = await ok(ann.get(url));
    });
    expect(miss).toEqual({ hits: 0, misses: 1, errors: 0 });
    expect(first.data.map((x: any) => x.title)).toEqual(['one']);
    expect(await expectCachedRead(t, ann, 'project_tasks', url)).toEqual(first);
  });

  it('a list with `overdue` is never cached', async () => {
    const keysBefore = redis
      ? (await redis.keys(`${prefix}*`)).filter((k) => !k.includes('ratelimit:')).sort()
      : [];
    for (const url of [`${API}/tasks?overdue=true`, `${API}/tasks?overdue=false&limit=3`]) {
      for (let i = 0; i < 2; i++) {
        const d = await delta(t, 'task_list', () => ok(ann.get(url)));
        expect(d).toEqual({ hits: 0, misses: 0, errors: 0 });
      }
    }
    const purl = `${API}/projects/${project.id}/tasks?overdue=false`;
    for (let i = 0; i < 2; i++) {
      const d = await delta(t, 'project_tasks', async () => {
        expect((await ok(ann.get(purl))).data.map((x: any) => x.title)).toEqual(['one']);
      });
      expect(d).toEqual({ hits: 0, misses: 0, errors: 0 });
    }
    if (redis) {
      const keysAfter = (await redis.keys(`${prefix}*`)).filter((k) => !k.includes('ratelimit:')).sort();
      expect(keysAfter).toEqual(keysBefore);
    }
  });
});

describe.each(MODES)('invalidation after every write (%s)', (mode) => {
  // With Redis, writes go to app A and reads to app B: two API processes sharing the cache.
  // In embedded mode there is one process: A is also the reader.
  let pair: AppPair;
  let a: TestApp;
  let b: TestApp;
  let annA: Client & { user: any };
  let annB: Client;
  let redis: Redis | undefined;
  let prefix = '';
  beforeAll(async () => {
    pair = await appPair(mode, newApp);
    ({ a, b, redis, prefix } = pair);
    annA = await signUp(a.app);
    annB = new Client(b.app, annA.token);
  });
  afterAll(() => pair.close());

  it('task update: B sees the new task, list page and project list at once', async () => {
    const project = await createProject(annA, 'Update');
    const task = await createTask(annA, { title: 'before', project_id: project.id });
    const one = `${API}/tasks/${task.id}`;
    const list = `${API}/tasks?limit=100`;
    const plist = `${API}/projects/${project.id}/tasks`;
    expect((await warm(b, annB, 'task', one)).data.title).toBe('before');
    expect((await warm(b, annB, 'task_list', list)).data.find((x: any) => x.id === task.id).title).toBe(
      'before',
    );
    expect((await warm(b, annB, 'project_tasks', plist)).data[0].title).toBe('before');

    const patched = (await ok(annA.patch(one, { title: 'after', status: 'done' }))).data;
    expect(patched.version).toBe(task.version + 1);

    expect((await ok(annB.get(one))).data).toEqual(patched);
    expect((await ok(annB.get(list))).data.find((x: any) => x.id === task.id)).toEqual(patched);
    expect((await ok(annB.get(plist))).data).toEqual([patched]);
  });

  it('task create: B lists it at once, in the task list and in its project', async () => {
    const project = await createProject(annA, 'Create');
    const list = `${API}/tasks?limit=100`;
    const plist = `${API}/projects/${project.id}/tasks`;
    const before = await warm(b, annB, 'task_list', list);
    expect((await warm(b, annB, 'project_tasks', plist)).data).toEqual([]);

    const created = await createTask(annA, { title: 'new one', project_id: project.id });

    const after = await ok(annB.get(list));
    expect(after.meta.total).toBe(before.meta.total + 1);
    expect(after.data[0]).toEqual(created);
    expect((await ok(annB.get(plist))).data).toEqual([created]);
  });

  it('task delete: B answers 404 and lists it no more', async () => {
    const project = await createProject(annA, 'Delete');
    const task = await createTask(annA, { title: 'doomed', project_id: project.id });
    const one = `${API}/tasks/${task.id}`;
    const list = `${API}/tasks?limit=100`;
    const plist = `${API}/projects/${project.id}/tasks`;
    await warm(b, annB, 'task', one);
    expect(ids(await warm(b, annB, 'task_list', list))).toContain(task.id);
    expect(ids(await warm(b, annB, 'project_tasks', plist))).toEqual([task.id]);

    expect((await annA.delete(one)).status).toBe(204);

    expect((await annB.get(one)).status).toBe(404);
    expect(ids(await ok(annB.get(list)))).not.toContain(task.id);
    expect((await ok(annB.get(plist))).data).toEqual([]);
  });

  it('task archive and unarchive: B sees the task leave and rejoin the default lists at once', async () => {
    const project = await createProject(annA, 'Archive');
    const task = await createTask(annA, { title: 'shelved', project_id: project.id });
    const one = `${API}/tasks/${task.id}`;
    const list = `${API}/tasks?limit=100`;
    const archivedList = `${API}/tasks?archived=true&limit=100`;
    const plist = `${API}/projects/${project.id}/tasks`;
    expect((await warm(b, annB, 'task', one)).data.archived_at).toBeNull();
    expect(ids(await warm(b, annB, 'task_list', list))).toContain(task.id);
    expect(ids(await warm(b, annB, 'task_list', archivedList))).not.toContain(task.id);
    expect(ids(await warm(b, annB, 'project_tasks', plist))).toEqual([task.id]);

    const archived = (await ok(annA.post(`${one}/archive`))).data;
    expect(archived.archived_at).not.toBeNull();

    expect((await ok(annB.get(one))).data).toEqual(archived);
    expect(ids(await ok(annB.get(list)))).not.toContain(task.id);
    expect(ids(await ok(annB.get(archivedList)))).toContain(task.id);
    expect((await ok(annB.get(plist))).data).toEqual([]);
    // Warm again, then unarchive on A.
    await warm(b, annB, 'task', one);
    await warm(b, annB, 'task_list', list);
    await warm(b, annB, 'project_tasks', plist);

    const restored = (await ok(annA.post(`${one}/unarchive`))).data;
    expect(restored.archived_at).toBeNull();

    expect((await ok(annB.get(one))).data).toEqual(restored);
    expect(ids(await ok(annB.get(list)))).toContain(task.id);
    expect(ids(await ok(annB.get(archivedList)))).not.toContain(task.id);
    expect((await ok(annB.get(plist))).data).toEqual([restored]);
  });

  it('task moved to another project: B sees it leave one project list and join the other', async () => {
    const from = await createProject(annA, 'From');
    const to = await createProject(annA, 'To');
    const task = await createTask(annA, { title: 'mover', project_id: from.id });
    expect(ids(await warm(b, annB, 'project_tasks', `${API}/projects/${from.id}/tasks`))).toEqual([task.id]);
    expect(ids(await warm(b, annB, 'project_tasks', `${API}/projects/${to.id}/tasks`))).toEqual([]);
    await warm(b, annB, 'task', `${API}/tasks/${task.id}`);

    const moved = (await ok(annA.patch(`${API}/tasks/${task.id}`, { project_id: to.id }))).data;

    expect((await ok(annB.get(`${API}/projects/${from.id}/tasks`))).data).toEqual([]);
    expect((await ok(annB.get(`${API}/projects/${to.id}/tasks`))).data).toEqual([moved]);
    expect((await ok(annB.get(`${API}/tasks/${task.id}`))).data.project_id).toBe(to.id);
  });

  it('project update: B reads the new project, and its task list entry is dropped', async () => {
    const project = await createProject(annA, 'Old name');
    const task = await createTask(annA, { title: 'stays', project_id: project.id });
    const plist = `${API}/projects/${project.id}/tasks`;
    await warm(b, annB, 'project_tasks', plist);
    const key = `${prefix}project:${project.id}:tasks`;
    if (redis) expect(await redis.exists(key)).toBe(1);

    expect((await ok(annA.patch(`${API}/projects/${project.id}`, { name: 'New name' }))).data.name).toBe(
      'New name',
    );

    if (redis) expect(await redis.exists(key)).toBe(0);
    expect((await ok(annB.get(`${API}/projects/${project.id}`))).data.name).toBe('New name');
    expect(ids(await ok(annB.get(plist)))).toEqual([task.id]);
  });

  it('project delete: B sees its tasks detached (project_id null, version + 1) and the project gone', async () => {
    const project = await createProject(annA, 'Going');
    const task = await createTask(annA, { title: 'detached', project_id: project.id });
    const one = `${API}/tasks/${task.id}`;
    const filtered = `${API}/tasks?project_id=${project.id}`;
    const loose = `${API}/tasks?project_id=none&limit=100`;
    expect((await warm(b, annB, 'task', one)).data.project_id).toBe(project.id);
    expect(ids(await warm(b, annB, 'task_list', filtered))).toEqual([task.id]);
    expect(ids(await warm(b, annB, 'task_list', loose))).not.toContain(task.id);
    await warm(b, annB, 'project_tasks', `${API}/projects/${project.id}/tasks`);

    expect((await annA.delete(`${API}/projects/${project.id}`)).status).toBe(204);

    const after = (await ok(annB.get(one))).data;
    expect(after).toMatchObject({
      id: task.id,
      title: 'detached',
      project_id: null,
      version: task.version + 1,
    });
    expect((await ok(annB.get(filtered))).data).toEqual([]);
    expect(ids(await ok(annB.get(loose)))).toContain(task.id);
    expect((await annB.get(`${API}/projects/${project.id}/tasks`)).status).toBe(404);
  });

  it("account deletion: B refuses the token at once, and the user's cached tasks are stale", async () => {
    const zoe = await signUp(a.app);
    const zoeB = new Client(b.app, zoe.token);
    const task = await createTask(zoe, { title: 'mine' });
    await warm(b, zoeB, 'task', `${API}/tasks/${task.id}`);
    await warm(b, zoeB, 'session', `${API}/users/me`);

    expect((await zoe.delete(`${API}/users/me`, { password: zoe.password })).status).toBe(204);

    expect((await zoeB.get(`${API}/tasks/${task.id}`)).status).toBe(401);
    expect((await zoeB.get(`${API}/users/me`)).status).toBe(401);
    // The cache itself no longer serves the deleted user's task: a read goes to the loader.
    const cache = new TaskCache(new CacheAside(b.core.cacheStore, b.core.metrics, silentLog), 300);
    let loads = 0;
    const read = await cache.task(zoe.user.id, task.id, async () => {
      loads++;
      return undefined;
    });
    expect(read).toBeUndefined();
    expect(loads).toBe(1);
  });
});

describe.each(MODES)('a slow reader cannot put back a stale row (%s)', (mode) => {
  let t: TestApp;
  let ann: Client & { user: any };
  let redis: Redis | undefined;
  let prefix = '';
  let cache: TaskCache;
  let repo: TaskRepository;
  beforeAll(async () => {
    const env = mode === 'redis' ? redisEnv() : undefined;
    prefix = env?.REDIS_KEY_PREFIX ?? '';
    t = await newApp(env ?? {});
    expect(t.core.cacheStore.kind).toBe(mode);
    if (mode === 'redis') redis = new Redis(TEST_REDIS_URL);
    ann = await signUp(t.app);
    // A second cache-aside over the app's own store: the same entries and counters the API uses.
    cache = new TaskCache(new CacheAside(t.core.cacheStore, t.core.metrics, silentLog), 300);
    repo = new TaskRepository(t.core.database.db);
  });
  afterAll(async () => {
    await t.close();
    await redis?.quit();
  });

  /** Starts a read whose database load is held after it has read the row, until released. */
  function slowRead(taskId: string) {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let loaded!: () => void;
    const hasLoaded = new Promise<void>((r) => {
      loaded = r;
    });
    const result = cache.task(ann.user.id, taskId, async () => {
      const row = await repo.findById(ann.user.id, taskId);
      loaded();
      await gate;
      return row;
    });
    return { hasLoaded, release, result };
  }

  const countingRead = async (taskId: string) => {
    let loads = 0;
    const row = await cache.task(ann.user.id, taskId, async () => {
      loads++;
      return repo.findById(ann.user.id, taskId);
    });
    return { row, loads };
  };

  it('control: without a write in between, the slow read is stored and served next time', async () => {
    const task = await createTask(ann, { title: 'steady' });
    const slow = slowRead(task.id);
    await slow.hasLoaded;
    slow.release();
    expect((await slow.result)?.title).toBe('steady');
    expect(await countingRead(task.id)).toMatchObject({ row: { title: 'steady' }, loads: 0 });
  });

  it('an update that lands while the reader holds the old row wins: the next read returns the new row', async () => {
    const task = await createTask(ann, { title: 'old' });
    const slow = slowRead(task.id);
    await slow.hasLoaded;

    // The write commits and invalidates while the reader still holds the old row.
    const patched = await ok(ann.patch(`${API}/tasks/${task.id}`, { title: 'new' }));
    expect(patched.data.title).toBe('new');

    slow.release();
    expect((await slow.result)?.title).toBe('old'); // it answered what it read, but must not store it
    if (redis) expect(await redis.exists(`${prefix}task:${task.id}:${ann.user.id}`)).toBe(0);

    const next = await countingRead(task.id);
    expect(next.row?.title).toBe('new');
    expect(next.loads).toBe(1);
    expect((await ok(ann.get(`${API}/tasks/${task.id}`))).data).toEqual(patched.data);
    // And that fresh row is what the cache serves from now on.
    expect(await countingRead(task.id)).toMatchObject({ row: { title: 'new', version: 2 }, loads: 0 });
  });

  it('a delete that lands while the reader holds the row wins: the next read is a 404', async () => {
    const task = await createTask(ann, { title: 'short-lived' });
    const slow = slowRead(task.id);
    await slow.hasLoaded;
    expect((await ann.delete(`${API}/tasks/${task.id}`)).status).toBe(204);
    slow.release();
    expect((await slow.result)?.title).toBe('short-lived');
    const next = await countingRead(task.id);
    expect(next).toEqual({ row: undefined, loads: 1 });
    expect((await ann.get(`${API}/tasks/${task.id}`)).status).toBe(404);
  });
});

describe.each(MODES)('never wrong: no user sees another user’s cached data (%s)', (mode) => {
  let t: TestApp;
  let ann: Client & { user: any };
  let bob: Client & { user: any };
  beforeAll(async () => {
    t = await newApp(mode === 'redis' ? redisEnv() : {});
    ann = await signUp(t.app);
    bob = await signUp(t.app);
  });
  afterAll(() => t.close());

  it('the same task id, project id, page and filters give each user only their own data', async () => {
    const project = await createProject(ann, 'Private');
    const annTask = await createTask(ann, { title: 'ann secret', project_id: project.id, tags: ['x'] });
    const bobTask = await createTask(bob, { title: 'bob task', tags: ['x'] });

    // Ann's entries are cached first…
    await warm(t, ann, 'task', `${API}/tasks/${annTask.id}`);
    await warm(t, ann, 'project_tasks', `${API}/projects/${project.id}/tasks`);
    const annList = await warm(t, ann, 'task_list', `${API}/tasks?tag=x&page=1&limit=20`);
    expect(ids(annList)).toEqual([annTask.id]);

    // …then Bob asks for the very same things.
    expect((await bob.get(`${API}/tasks/${annTask.id}`)).status).toBe(404);
    expect((await bob.get(`${API}/projects/${project.id}/tasks`)).status).toBe(404);
    let bobList: any;
    const d = await delta(t, 'task_list', async () => {
      bobList = await ok(bob.get(`${API}/tasks?tag=x&page=1&limit=20`));
    });
    expect(d).toEqual({ hits: 0, misses: 1, errors: 0 });
    expect(ids(bobList)).toEqual([bobTask.id]);
    expect(bobList.meta.total).toBe(1);
    // Bob's now-cached page does not leak back to Ann either.
    expect(ids(await expectCachedRead(t, ann, 'task_list', `${API}/tasks?tag=x&page=1&limit=20`))).toEqual([
      annTask.id,
    ]);
  });

  it("the cache itself never hands one user's project list to another, even for a guessed project id", async () => {
    const project = await createProject(ann, 'Guessed');
    await createTask(ann, { title: 'hidden', project_id: project.id });
    await warm(t, ann, 'project_tasks', `${API}/projects/${project.id}/tasks`);
    const cache = new TaskCache(new CacheAside(t.core.cacheStore, t.core.metrics, silentLog), 300);
    const query = { page: 1, limit: 20, filter: {}, sort: 'created_at', order: 'desc' } as never;
    let loads = 0;
    const page = await cache.projectList(bob.user.id, project.id, query, async () => {
      loads++;
      return { items: [], total: 0 };
    });
    expect(loads).toBe(1);
    expect(page).toEqual({ items: [], total: 0 });
    // Ann's entry is still hers.
    await expectCachedRead(t, ann, 'project_tasks', `${API}/projects/${project.id}/tasks`);
  });
});

describe('CACHE_ENABLED=false', () => {
  let t: TestApp;
  let redis: Redis;
  let prefix: string;
  beforeAll(async () => {
    const env = redisEnv();
    prefix = env.REDIS_KEY_PREFIX;
    t = await newApp({ ...env, CACHE_ENABLED: 'false' });
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await t.close();
    await redis.quit();
  });

  it('writes no cache key (only the rate limiter counts), counts nothing, and serves every read from the database', async () => {
    const ann = await signUp(t.app);
    const project = await createProject(ann, 'Uncached');
    const task = await createTask(ann, { title: 'uncached', project_id: project.id });
    const urls = [
      `${API}/tasks/${task.id}`,
      `${API}/tasks`,
      `${API}/projects/${project.id}/tasks`,
      `${API}/users/me`,
    ];
    for (const url of [...urls, ...urls]) await ok(ann.get(url));
    await ok(ann.patch(`${API}/tasks/${task.id}`, { title: 'changed' }));
    expect((await ok(ann.get(`${API}/tasks/${task.id}`))).data.title).toBe('changed');
    expect((await ann.post(`${API}/auth/logout`)).status).toBe(204);
    expect((await ann.get(`${API}/users/me`)).status).toBe(401);

    const keys = await redis.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    // The rate limiter's counters and the job queue's own keys are not the cache.
    expect(
      keys.filter((k) => !k.startsWith(`${prefix}ratelimit:`) && !k.startsWith(`${prefix}bull:`)),
    ).toEqual([]);
    for (const name of ['task', 'task_list', 'project_tasks', 'session'] as const)
      expect(await stats(t, name)).toEqual({ hits: 0, misses: 0, errors: 0 });
  });
});
