// Failure tests of cluster mode (issue #12): the whole cluster from deploy/local-cluster — a
// PostgreSQL primary and streaming replica, Redis, three API processes, two workers, nginx with TLS
// — on loopback ports of its own, under a steady mixed load through nginx, while its parts are
// broken on purpose: an API process SIGKILLed, a rolling restart, a worker killed mid-job, Redis
// restarted, the replica stopped, the primary restarted. Each scenario prints its figures and
// asserts them; the load is bounded (a fixed pace per virtual user) and stops by itself.
import { mkdtempSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../../deploy/local-cluster/cluster';
import { Load, type LoadUser, report } from './helpers/load';
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp';
import { sleep, until } from './helpers/wait';

// Away from the defaults of `deploy/local-cluster/up` (8443…), so a developer's cluster can run too.
const BASE_PORT = 28443;
const MINUTE = 60_000;

let cluster: LocalCluster;
let smtp: TestSmtpServer;
let users: LoadUser[];
let primary: pg.Pool;

/** Sums a counter over the API processes' /metrics (each serves its own). */
async function apiMetric(name: string, labels = ''): Promise<number> {
  let total = 0;
  for (const port of cluster.ports.apis) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const line of text.split('\n'))
      if (
        line.startsWith(`${name}${labels}`) &&
        (labels || line[name.length] === ' ' || line[name.length] === '{')
      )
        total += Number(line.split(' ').at(-1));
  }
  return total;
}

/** Runs `during` under the load, with `settleMs` of load before and after; returns the load. */
async function underLoad(during: (load: Load) => Promise<void>, settleMs = 2_000): Promise<Load> {
  const load = new Load(cluster.url, cluster.certificate, users, 8);
  load.start();
  try {
    await sleep(settleMs);
    await during(load);
    await sleep(settleMs);
  } finally {
    await load.stop();
    load.close();
  }
  // Whatever broke, no writer was ever shown an older state of a task than its own last write.
  expect(load.stale).toEqual([]);
  return load;
}

/** Creates the client saw succeed that the database does not have (must be none). */
async function lostWrites(load: Load): Promise<number> {
  if (!load.created.length) return 0;
  const { rows } = await primary.query<{ n: number }>(
    'select count(*)::int as n from tasks where id = any($1::uuid[])',
    [load.created],
  );
  return load.created.length - rows[0]!.n;
}

const describeFailures = (load: Load) =>
  load
    .failures()
    .slice(0, 10)
    .map((f) => `${f.method} ${f.path} → ${f.status}${f.error ? ` (${f.error})` : ''}`)
    .join('; ');

beforeAll(async () => {
  smtp = await startSmtpServer();
  cluster = await LocalCluster.up({
    dir: mkdtempSync(path.join(tmpdir(), 'taskman-cluster-')),
    basePort: BASE_PORT,
    env: {
      // The load is many requests per user: the limits are tested elsewhere.
      RATE_LIMIT_MAX: '1000000',
      AUTH_RATE_LIMIT_MAX: '1000',
      SMTP_URL: smtp.url,
      SIGNUP_VERIFY_EMAIL: 'false',
      // A dead worker's job is taken over after its lock runs out: short, to keep the test short.
      JOB_LOCK_MS: '3000',
      JOB_BACKOFF_MS: '500',
    },
  });
  primary = new pg.Pool({ connectionString: cluster.primaryUrl, max: 2 });
  primary.on('error', () => {});
  // Three users who write (and read their writes) and three who only read (from the replica).
  const setup = new Load(cluster.url, cluster.certificate, []);
  users = [];
  for (let i = 0; i < 6; i++) {
    const res = await setup.send({ token: '' }, 'POST', '/api/v1/auth/register', {
      email: `load${i}.${Date.now()}@example.com`,
      password: 'a long enough load-test passphrase',
      name: `Load ${i}`,
    });
    expect(res.status).toBe(201);
    const token = (res.body as { data: { token: string } }).data.token;
    const user: LoadUser = { token, kind: i < 3 ? 'writer' : 'reader', taskIds: [] };
    for (let j = 0; j < 3; j++) {
      const task = await setup.send(user, 'POST', '/api/v1/tasks', { title: `seed ${j}` });
      expect(task.status).toBe(201);
      user.taskIds.push((task.body as { data: { id: string } }).data.id);
    }
    users.push(user);
  }
  setup.close();
}, 5 * MINUTE);

afterAll(async () => {
  await primary?.end();
  await cluster?.down({ purge: true });
  await smtp?.close();
}, 2 * MINUTE);

describe('scale-out: the local cluster under load, broken on purpose', () => {
  it('nginx serves the web app: the page from an API process (its CSP, revalidated), hashed assets from disk (gzip, immutable)', async () => {
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
        (resolve, reject) => {
          const req = httpsRequest(`${cluster.url}${path}`, { ca: cluster.certificate, headers }, (res) => {
            let body = '';
            res.setEncoding('latin1');
            res.on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          });
          req.on('error', reject);
          req.end();
        },
      );
    const page = await get('/today', { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers.etag).toBeDefined();
    const asset = /src="(\/assets\/index-[\w-]+\.js)"/.exec(page.body)?.[1];
    expect(asset).toBeDefined();
    const js = await get(asset!, { 'accept-encoding': 'gzip' });
    expect(js.status).toBe(200);
    expect(js.headers['content-encoding']).toBe('gzip');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    // A file of a build that is not here (a rollout in progress) is not cached as missing.
    const missing = await get('/assets/index-00000000.js');
    expect(missing.status).toBe(404);
    expect(missing.headers['cache-control']).toBeUndefined();
    // nginx's own liveness, and process metrics kept off the public entrance.
    expect((await get('/nginx-health')).status).toBe(200);
    expect((await get('/metrics')).status).toBe(404);
  });

  it('nginx tells the API the address it saw, never one the client claims (X-Forwarded-For)', async () => {
    const client = new Load(cluster.url, cluster.certificate, []);
    try {
      // A forged header on the way in: with TRUST_PROXY the API would believe a passed-on one.
      const res = await client.send(
        users[0]!,
        'PATCH',
        '/api/v1/users/me',
        { name: 'Forwarded' },
        {
          'x-forwarded-for': '203.0.113.7',
        },
      );
      expect(res.status).toBe(200);
      const activity = await client.send(users[0]!, 'GET', '/api/v1/users/me/activity');
      const entries = (activity.body as { data: { action: string; ip: string | null }[] }).data;
      const update = entries.find((e) => e.action === 'user.updated');
      expect(update?.ip).toBe('127.0.0.1');
      expect(JSON.stringify(entries)).not.toContain('203.0.113.7');
    } finally {
      client.close();
    }
  });

  it(
    'an API process SIGKILLed and restarted: no read fails, every create the clients saw is stored',
    async () => {
      const load = await underLoad(async () => {
        await cluster.signal('api-2', 'SIGKILL');
        await sleep(2_000);
        await cluster.start('api-2');
      });
      const f = load.figures();
      const lost = await lostWrites(load);
      report('api SIGKILL + restart', { ...f, lostWrites: lost });
      expect(f.requests).toBeGreaterThan(100);
      // nginx retries a GET whose process died under it on another one.
      expect(f.failedReads, describeFailures(load)).toBe(0);
      expect(f.createsSeen).toBeGreaterThan(5);
      expect(lost).toBe(0);
      // A create or update cut off mid-request is an error to its client (never retried by nginx,
      // it may have been committed): a 502, or nothing. Never anything else.
      for (const fail of load.failures()) expect([0, 502]).toContain(fail.status);
    },
    3 * MINUTE,
  );

  it(
    'a rolling restart (SIGTERM, one process at a time) loses no request at all',
    async () => {
      const load = await underLoad(async () => {
        for (const name of cluster.apiNames) {
          // Drains for SHUTDOWN_DRAIN_MS (5 s) with "Connection: close", then closes and exits.
          await cluster.signal(name, 'SIGTERM');
          await cluster.start(name);
        }
      });
      const f = load.figures();
      const lost = await lostWrites(load);
      report('rolling restart', { ...f, lostWrites: lost });
      expect(f.requests).toBeGreaterThan(300);
      expect(f.failures, describeFailures(load)).toBe(0);
      expect(lost).toBe(0);
    },
    5 * MINUTE,
  );

  it(
    'read-your-writes: with the replica frozen, a writer reads each write at once; past the lag threshold no process reads from it',
    async () => {
      const replica = new pg.Client({ connectionString: cluster.replicaUrl });
      await replica.connect();
      const writer = users[0]!;
      const client = new Load(cluster.url, cluster.certificate, []);
      const ids: string[] = [];
      try {
        // The replica stops replaying the primary's WAL: from now on it shows an older state.
        await replica.query('select pg_wal_replay_pause()');
        for (let i = 0; i < 10; i++) {
          const created = await client.send(writer, 'POST', '/api/v1/tasks', { title: `Read me back ${i}` });
          expect(created.status).toBe(201);
          const id = (created.body as { data: { id: string } }).data.id;
          ids.push(id);
          // At once, through nginx, on whichever process: the write is there (read on the primary).
          const read = await client.send(writer, 'GET', `/api/v1/tasks/${id}`);
          expect(read.status).toBe(200);
          expect((read.body as { data: { title: string } }).data.title).toBe(`Read me back ${i}`);
          // An uncached read too (the project list comes from the database on every request): it
          // would go to the frozen replica but for the writer's recent write.
          const project = await client.send(writer, 'POST', '/api/v1/projects', { name: `Read back ${i}` });
          expect(project.status).toBe(201);
          const list = await client.send(writer, 'GET', '/api/v1/projects?limit=100');
          expect(list.status).toBe(200);
          const names = (list.body as { data: { name: string }[] }).data.map((p) => p.name);
          expect(names).toContain(`Read back ${i}`);
        }
        const onReplica = await replica.query<{ n: number }>(
          'select count(*)::int as n from tasks where id = any($1::uuid[])',
          [ids],
        );
        expect(onReplica.rows[0]!.n).toBe(0);
        // The replica falls further behind; past DATABASE_REPLICA_MAX_LAG_MS (2 s) every API process
        // stops sending reads to it, and says so.
        await until(
          'every API process to give up the frozen replica',
          async () => (await apiMetric('taskman_db_replica_up')) === 0,
          20_000,
          250,
        );
        // Each process says how far behind it is, and the figure keeps growing while replay waits.
        await until(
          'every API process to report the replica over 2 s behind',
          async () => {
            for (const port of cluster.ports.apis) {
              const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
              const lag = Number(/^taskman_db_replica_lag_seconds (\S+)$/m.exec(text)?.[1]);
              if (!(lag > 2)) return false;
            }
            return true;
          },
          10_000,
          250,
        );
      } finally {
        await replica.query('select pg_wal_replay_resume()');
        await replica.end();
        client.close();
      }
      await until(
        'every API process to use the replica again',
        async () => (await apiMetric('taskman_db_replica_up')) === 3,
        30_000,
        250,
      );
      report('read-your-writes, replica frozen', { writes: ids.length, readBack: ids.length });
    },
    2 * MINUTE,
  );

  it(
    'a worker killed mid-job: another finishes the job, and its email is sent once',
    async () => {
      // One worker left, so the job is certainly its.
      await cluster.signal('worker-2', 'SIGTERM');
      const sentBefore = smtp.received.length;
      smtp.behaviour.stallMs = 60_000;
      const midSend = new Promise<void>((resolve) => {
        smtp.onMailFrom = () => resolve();
      });
      let taskId = '';
      const load = await underLoad(async (l) => {
        const res = await l.send(users[0]!, 'POST', '/api/v1/tasks', {
          title: 'Remind me, once',
          remind_at: new Date(Date.now() + 1_000).toISOString(),
        });
        expect(res.status).toBe(201);
        taskId = (res.body as { data: { id: string } }).data.id;
        await midSend;
        await cluster.signal('worker-1', 'SIGKILL');
        smtp.onMailFrom = undefined;
        smtp.behaviour.stallMs = 0;
        await cluster.start('worker-2');
        await smtp.waitFor(sentBefore + 1, 30_000);
      });
      await cluster.start('worker-1');
      await sleep(3_000);
      const mails = smtp.received.slice(sentBefore);
      const { rows } = await primary.query<{ n: number }>(
        `select count(*)::int as n from reminder_deliveries where task_id = $1 and sent_at is not null`,
        [taskId],
      );
      report('worker SIGKILL mid-job', { ...load.figures(), emails: mails.length, deliveries: rows[0]!.n });
      expect(mails).toHaveLength(1);
      expect(mails[0]!.parsed.text).toContain('Remind me, once');
      expect(rows[0]!.n).toBe(1);
      expect(load.figures().failures, describeFailures(load)).toBe(0);
    },
    3 * MINUTE,
  );

  it(
    'Redis restarted: the API keeps answering, and the cache and the rate limits come back',
    async () => {
      const load = await underLoad(async () => {
        await cluster.stopRedis();
        await sleep(3_000);
        await cluster.startRedis();
        await sleep(3_000);
      });
      const f = load.figures();
      report('redis restart', f);
      expect(f.failures, describeFailures(load)).toBe(0);
      // Back in use: the cache serves hits again, and rate-limit counters are kept in Redis again.
      const hits = await apiMetric('taskman_cache_hits_total');
      await underLoad(async () => sleep(1_000), 500);
      expect(await apiMetric('taskman_cache_hits_total')).toBeGreaterThan(hits);
      const keys = await cluster.redisKeys('ratelimit:*');
      expect(keys.length).toBeGreaterThan(0);
    },
    3 * MINUTE,
  );

  it(
    'the replica stopped: reads move to the primary without an error, and come back when it returns',
    async () => {
      const replicaReads = () => apiMetric('taskman_db_reads_total', '{target="replica"}');
      // Readers' reads are on the replica while it is up.
      const before = await replicaReads();
      await underLoad(async () => sleep(1_000), 500);
      expect(await replicaReads()).toBeGreaterThan(before);

      const load = await underLoad(async () => {
        cluster.stopPostgres('replica', 'immediate');
        await sleep(4_000);
      });
      const f = load.figures();
      report('replica stopped', f);
      expect(f.failures, describeFailures(load)).toBe(0);

      await cluster.startPostgres('replica');
      await until(
        'every API process to use the replica again',
        async () => (await apiMetric('taskman_db_replica_up')) === 3,
        30_000,
        250,
      );
      const after = await replicaReads();
      await underLoad(async () => sleep(1_000), 500);
      expect(await replicaReads()).toBeGreaterThan(after);
    },
    3 * MINUTE,
  );

  it(
    'the primary restarts: writes get 503 with Retry-After meanwhile, and the API recovers by itself',
    async () => {
      let restartedAt = 0;
      const load = await underLoad(async () => {
        cluster.stopPostgres('primary', 'fast');
        await sleep(3_000);
        await cluster.startPostgres('primary');
        restartedAt = Date.now();
        await sleep(4_000);
      });
      const failures = load.failures();
      const f = load.figures();
      report('primary restart', { ...f, lostWrites: await lostWrites(load) });
      // The outage was seen, and answered properly: 503 with Retry-After, nothing else.
      expect(failures.length).toBeGreaterThan(0);
      for (const fail of failures) {
        expect(fail.status, `${fail.method} ${fail.path}: ${fail.error ?? ''}`).toBe(503);
        expect(fail.retryAfter).toBeDefined();
      }
      // Users who had not written read from the replica all along: the outage never reached them.
      expect(failures.filter((fail) => fail.by === 'reader')).toEqual([]);
      // Recovered without anyone's help: everything succeeds a moment after the restart.
      expect(load.failures(restartedAt + 2_000)).toEqual([]);
      expect(await lostWrites(load)).toBe(0);
    },
    3 * MINUTE,
  );
});
