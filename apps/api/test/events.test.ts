import { startJobWorker } from '@taskman/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, redisEnv, type TestApp, testDb } from './helpers/app';
import { type Client, expectError, signUp } from './helpers/client';
import { type ApiPair, type RunningProcess, startApiPair } from './helpers/process';

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** An open SSE connection, read with fetch as a client without EventSource would. */
interface Stream {
  status: number;
  headers: Headers;
  events: SseEvent[];
  comments: number;
  next(count: number, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

async function openStream(
  base: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<Stream> {
  const ac = new AbortController();
  const res = await fetch(`${base}/api/v1/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers },
    signal: ac.signal,
  });
  const stream: Stream = {
    status: res.status,
    headers: res.headers,
    events: [],
    comments: 0,
    async next(count, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (stream.events.length < count) {
        if (Date.now() > until)
          throw new Error(
            `waited for ${count} events, got ${stream.events.length}: ${JSON.stringify(stream.events)}`,
          );
        await new Promise((r) => setTimeout(r, 20));
      }
      return stream.events.slice(0, count);
    },
    close: () => ac.abort(),
  };
  if (res.status !== 200 || !res.body) return stream;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const e: SseEvent = {};
          let data = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) stream.comments++;
            else if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              e.data = line.slice(6);
              data = true;
            }
          }
          if (data) stream.events.push(e);
          cut = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    }
  })();
  return stream;
}

describe('live events (SSE)', () => {
  let t: TestApp;
  let base: string;
  let ann: Client & { user: { id: string } };
  let bob: Client;
  let worker: { stop(): Promise<void> };
  beforeAll(async () => {
    t = await createTestApp({ env: { EVENTS_HEARTBEAT_MS: '200', JOB_POLL_MS: '50' } });
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    worker = startJobWorker(t.core);
    ann = await signUp(t.app);
    bob = await signUp(t.app);
  });
  afterAll(async () => {
    await worker.stop();
    await t.close();
  });

  it('streams the user’s changes with ids and the webhook body, and heartbeats', async () => {
    const s = await openStream(base, ann.token!);
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(s.headers.get('cache-control')).toMatch(/no-cache/);
    expect(s.headers.get('x-accel-buffering')).toBe('no');
    try {
      const task = (await ann.post('/api/v1/tasks', { title: 'Live' })).body.data;
      await ann.patch(`/api/v1/tasks/${task.id}`, { status: 'done' });
      const [created, updated, completed] = await s.next(3);
      expect([created!.event, updated!.event, completed!.event]).toEqual([
        'task.created',
        'task.updated',
        'task.completed',
      ]);
      const ids = [created, updated, completed].map((e) => Number(e!.id));
      expect(ids[0]).toBeGreaterThan(0);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      const body = JSON.parse(created!.data!);
      expect(body).toMatchObject({ type: 'task.created', data: { task: { id: task.id, title: 'Live' } } });
      expect(body.data.task.user_id).toBeUndefined();
      await new Promise((r) => setTimeout(r, 500));
      expect(s.comments).toBeGreaterThanOrEqual(2);
    } finally {
      s.close();
    }
  });

  it('Last-Event-ID replays what was missed, in order, then goes on live, with nothing twice', async () => {
    const first = await openStream(base, ann.token!);
    await ann.post('/api/v1/tasks', { title: 'Seen' });
    const [seen] = await first.next(1);
    first.close();
    // Offline: two changes.
    await ann.post('/api/v1/tasks', { title: 'Missed 1' });
    await ann.post('/api/v1/tasks', { title: 'Missed 2' });
    await new Promise((r) => setTimeout(r, 300)); // published by the relay
    const again = await openStream(base, ann.token!, { 'last-event-id': seen!.id! });
    try {
      await ann.post('/api/v1/tasks', { title: 'Live again' });
      const got = await again.next(3);
      expect(got.map((e) => JSON.parse(e.data!).data.task.title)).toEqual([
        'Missed 1',
        'Missed 2',
        'Live again',
      ]);
      await new Promise((r) => setTimeout(r, 300));
      expect(again.events).toHaveLength(3);
    } finally {
      again.close();
    }
    // The query parameter works too (for EventSource, which cannot set headers on the first request).
    const q = await fetch(`${base}/api/v1/events?last_event_id=${seen!.id}`, {
      headers: { authorization: `Bearer ${ann.token}` },
    });
    expect(q.status).toBe(200);
    await q.body?.cancel();
  });

  it('never carries another user’s events', async () => {
    const s = await openStream(base, bob.token!);
    try {
      await ann.post('/api/v1/tasks', { title: 'Ann only' });
      await bob.post('/api/v1/tasks', { title: 'Bob only' });
      const [e] = await s.next(1);
      expect(JSON.parse(e!.data!).data.task.title).toBe('Bob only');
      await new Promise((r) => setTimeout(r, 300));
      expect(s.events).toHaveLength(1);
    } finally {
      s.close();
    }
  });

  it('refuses without a token, with a bad Last-Event-ID, and with a key lacking the scopes', async () => {
    const anon = await fetch(`${base}/api/v1/events`);
    expect(anon.status).toBe(401);
    expectError(await ann.get('/api/v1/events', { 'last-event-id': 'abc' }), 400, 'VALIDATION_ERROR');
    const key = await ann.post('/api/v1/api-keys', { name: 'reports only', scopes: ['reports:read'] });
    const res = await fetch(`${base}/api/v1/events`, {
      headers: { authorization: `Bearer ${key.body.data.key}` },
    });
    expect(res.status).toBe(403);
  });
});

// Two real API processes on one PostgreSQL and one Redis: the change is made through A (whose
// in-process worker publishes it), the stream is open on B.
describe.skipIf(testDb !== 'postgres')(
  'live events across API processes (Redis pub/sub)',
  { timeout: 180_000 },
  () => {
    let pair: ApiPair;
    let a: RunningProcess;
    let b: RunningProcess;
    beforeAll(async () => {
      pair = await startApiPair(
        { ...redisEnv(), JOB_POLL_MS: '100' },
        { JOBS_IN_PROCESS: 'true' },
        { JOBS_IN_PROCESS: 'false' },
      );
      ({ a, b } = pair);
    }, 150_000);
    afterAll(() => pair?.stop());

    it('a change made on A reaches a stream open on B', async () => {
      const reg = await fetch(`${a.url}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'sse@example.com', password: 'lantern-orchid-42', name: 'Sse' }),
      });
      const token = ((await reg.json()) as { data: { token: string } }).data.token;
      const s = await openStream(b.url, token);
      try {
        expect(s.status).toBe(200);
        const made = await fetch(`${a.url}/api/v1/tasks`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ title: 'Across processes' }),
        });
        expect(made.status).toBe(201);
        const [e] = await s.next(1, 20_000);
        expect(e!.event).toBe('task.created');
        expect(JSON.parse(e!.data!).data.task.title).toBe('Across processes');
      } finally {
        s.close();
      }
    });
  },
);
