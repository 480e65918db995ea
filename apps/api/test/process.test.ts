// The real entry point as a user runs it: a child process, a TCP port, signals, restarts.
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase, testDb } from './helpers/app';
import { exitOf, type RunningProcess, spawnTs, startApi } from './helpers/process';

async function json(url: string, init: RequestInit & { token?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(url, {
    ...init,
    headers: { ...headers, ...(init.headers as Record<string, string>) },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

// Child processes start slowly on a busy 2-core machine (tsx, PGlite's first initdb): generous timeouts.
describe(`the API process (${testDb})`, { timeout: 180_000 }, () => {
  let dataDir: string;
  let db: TestDatabase | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'taskman-proc-'));
    env = { DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    if (testDb === 'postgres') {
      db = await createTestDatabase();
      await db.database.close();
      env = { ...env, DATABASE_URL: db.url!, JWT_SECRET: 'process-test-secret-0123456789-abcdefghijklmnop' };
    }
  });
  afterAll(async () => {
    await db?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts, serves, stops on SIGTERM and keeps data and tokens across a restart', async () => {
    let api: RunningProcess = await startApi(env);
    const where = testDb === 'pglite' ? path.join(dataDir, 'pgdata') : 'postgres://';
    expect(api.output()).toContain(`data in ${where}`);
    expect(api.output()).toMatch(/Taskman is running at http:\/\/localhost:\d+/);

    const reg = await json(`${api.url}/api/v1/auth/register`, {
      method: 'POST',
      body: JSON.stringify({ email: 'proc@example.com', password: 'lantern-orchid-42', name: 'Proc' }),
    });
    expect(reg.status).toBe(201);
    const token = reg.body.data.token as string;
    const task = await json(`${api.url}/api/v1/tasks`, {
      method: 'POST',
      token,
      body: JSON.stringify({ title: 'Survive' }),
    });
    expect(task.status).toBe(201);
    expect(reg.headers.get('x-request-id')).toBeTruthy();

    expect(await api.stop('SIGTERM')).toBe(0);
    expect(api.output()).toContain('stopped');

    if (testDb === 'pglite') {
      const mode = statSync(path.join(dataDir, 'jwt-secret')).mode & 0o777;
      expect(mode).toBe(0o600);
    }

    api = await startApi(env);
    let login: Awaited<ReturnType<typeof json>>;
    try {
      // Same secret after the restart: the token issued before it still works.
      const got = await json(`${api.url}/api/v1/tasks/${task.body.data.id}`, { token });
      expect(got.status).toBe(200);
      expect(got.body.data.title).toBe('Survive');
      login = await json(`${api.url}/api/v1/auth/login`, {
        method: 'POST',
        body: JSON.stringify({ email: 'proc@example.com', password: 'lantern-orchid-42' }),
      });
      expect(login.status).toBe(200);

      // Logged out before a restart stays logged out after it.
      const loggedOut = login.body.data.token as string;
      expect((await json(`${api.url}/api/v1/auth/logout`, { method: 'POST', token: loggedOut })).status).toBe(
        204,
      );
    } finally {
      expect(await api.stop()).toBe(0);
    }
    api = await startApi(env);
    try {
      expect((await json(`${api.url}/api/v1/users/me`, { token: login.body.data.token })).status).toBe(401);
      expect((await json(`${api.url}/api/v1/users/me`, { token })).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  it('lets an in-flight request finish on SIGTERM, then exits cleanly', async () => {
    const api = await startApi(env);
    const { port } = new URL(api.url);
    const body = JSON.stringify({
      email: 'inflight@example.com',
      password: 'lantern-orchid-42',
      name: 'In Flight',
    });
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let response = '';
    socket.on('data', (d) => {
      response += d;
    });
    const closed = new Promise((r) => socket.once('close', r));
    // Headers and half the body now; SIGTERM while the request is in flight; the rest afterwards.
    socket.write(
      `POST /api/v1/auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((r) => setTimeout(r, 500));
    api.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    socket.write(body.slice(10));
    await closed;
    expect(response).toMatch(/^HTTP\/1\.1 201/);
    expect(await exitOf(api.child)).toBe(0);
  });

  it('SIGTERM with SHUTDOWN_DRAIN_MS: serves on with Connection: close and readiness 503, then exits; SIGINT stops at once', async () => {
    const api = await startApi({ ...env, SHUTDOWN_DRAIN_MS: '2000' });
    const { port } = new URL(api.url);
    const signup = await json(`${api.url}/api/v1/auth/register`, {
      method: 'POST',
      body: JSON.stringify({ email: 'draining@example.com', password: 'lantern-orchid-42', name: 'D' }),
    });
    expect(signup.status).toBe(201);
    // A kept-alive connection (as nginx keeps them), open before the signal.
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let response = '';
    socket.on('data', (d) => {
      response += d;
    });
    const closed = new Promise((r) => socket.once('close', r));
    const signalledAt = Date.now();
    api.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    // Still serving: a new request is answered, but told to close its connection.
    const live = await fetch(`${api.url}/health/live`);
    expect(live.status).toBe(200);
    expect(live.headers.get('connection')).toBe('close');
    const ready = await fetch(`${api.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('5');
    expect(await ready.json()).toEqual({ status: 'unavailable' });
    // No new live stream: it would be cut at once; the client reconnects (to another process).
    const stream = await json(`${api.url}/api/v1/events`, { token: signup.body.data.token });
    expect(stream.status).toBe(503);
    expect(stream.headers.get('retry-after')).toBe('1');
    expect(stream.body.error.code).toBe('UNAVAILABLE');
    // The kept-alive connection's next request is served too, and the server then closes it.
    socket.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await closed;
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(response.toLowerCase()).toContain('connection: close');
    expect(await exitOf(api.child)).toBe(0);
    // It waited out the drain before closing.
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(2_000);
    expect(api.output()).toContain('stopping: draining connections');

    // Ctrl-C at a terminal is a person waiting: no drain.
    const again = await startApi({ ...env, SHUTDOWN_DRAIN_MS: '60000' });
    const interruptedAt = Date.now();
    expect(await again.stop('SIGINT')).toBe(0);
    expect(Date.now() - interruptedAt).toBeLessThan(30_000);
    expect(again.output()).not.toContain('draining');
  });

  it.runIf(testDb === 'pglite')('refuses a second process on the same embedded DATA_DIR', async () => {
    const api = await startApi(env);
    try {
      const second = spawnTs('apps/api/src/main.ts', { ...env, PORT: '0' });
      let err = '';
      second.stderr?.on('data', (d) => {
        err += d;
      });
      expect(await exitOf(second)).toBe(1);
      expect(err).toContain('in use by another Taskman process');
      // The first one is unharmed.
      expect((await fetch(`${api.url}/health/ready`)).status).toBe(200);
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });

  it('refuses to start with an invalid setting, naming it in one line', async () => {
    const child = spawnTs('apps/api/src/main.ts', { ...env, PORT: 'eighty' });
    let err = '';
    child.stderr?.on('data', (d) => {
      err += d;
    });
    expect(await exitOf(child)).toBe(78);
    const lines = err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('PORT');
  });

  it('runs one job now with `npm run job` (job.cli.ts), and refuses an unknown one', async () => {
    const child = spawnTs('packages/core/src/jobs/job.cli.ts', env, ['cleanup_tasks']);
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    expect(await exitOf(child)).toBe(0);
    expect(JSON.parse(out.trim().split('\n').pop()!)).toMatchObject({ job: 'cleanup_tasks', archived: 0 });
    const unknown = spawnTs('packages/core/src/jobs/job.cli.ts', env, ['send_fax']);
    expect(await exitOf(unknown)).toBe(2);
  });

  it('applies migrations with `npm run migrate` (migrate.cli.ts)', async () => {
    const child = spawnTs('packages/core/src/db/migrate.cli.ts', env);
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    expect(await exitOf(child)).toBe(0);
    expect(out).toContain('Migrations applied');
  });
});
