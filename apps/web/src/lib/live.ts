// Live updates: GET /events (Server-Sent Events) read with fetch, since EventSource cannot send the
// Authorization header. Each event invalidates what it touches (after any write in flight has
// settled, so an optimistic change on screen is never overwritten by an older server state);
// "resync" (events lost) reloads everything. Reconnects with backoff and Last-Event-ID; waits while
// the browser is offline.

import type { QueryClient } from '@tanstack/react-query';
import { useSyncExternalStore } from 'react';
import { loadSession, saveSession } from './api';

export type LiveStatus = 'off' | 'connecting' | 'live' | 'offline';

let status: LiveStatus = 'off';
const statusListeners = new Set<() => void>();
function setStatus(next: LiveStatus): void {
  if (next === status) return;
  status = next;
  for (const l of statusListeners) l();
}

/** Whether changes made elsewhere show here as they happen. */
export function useLiveStatus(): LiveStatus {
  return useSyncExternalStore(
    (l) => {
      statusListeners.add(l);
      return () => statusListeners.delete(l);
    },
    () => status,
  );
}

const MIN_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
/** Heartbeats come every 15 s: this long without a byte means the connection is dead. */
const SILENCE_MS = 45_000;
/** Events arriving together are applied together. */
const BATCH_MS = 100;

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Splits a text/event-stream into events; returns what is left of an unfinished one. */
export function parseSse(buffer: string, emit: (e: SseEvent) => void): string {
  let rest = buffer.replace(/\r\n?/g, '\n');
  let cut = rest.indexOf('\n\n');
  while (cut >= 0) {
    const block = rest.slice(0, cut);
    rest = rest.slice(cut + 2);
    const e: SseEvent = {};
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue; // a comment: the heartbeat
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') e.id = value;
      else if (field === 'event') e.event = value;
      else if (field === 'data') e.data = e.data === undefined ? value : `${e.data}\n${value}`;
    }
    if (e.event || e.data !== undefined) emit(e);
    cut = rest.indexOf('\n\n');
  }
  return rest;
}

/** The query keys an event makes stale (prefixes), or 'all'. */
function staleKeys(e: SseEvent): unknown[][] | 'all' {
  const type = e.event ?? 'message';
  if (type === 'resync') return 'all';
  let id: string | undefined;
  try {
    const body = JSON.parse(e.data ?? '{}') as {
      data?: { id?: string; task?: { id?: string }; project?: { id?: string } };
    };
    id = body.data?.task?.id ?? body.data?.project?.id ?? body.data?.id;
  } catch {
    // not JSON: invalidate by type alone
  }
  if (type.startsWith('task.')) {
    return [['tasks'], ['report'], ...(id ? [['task', id]] : [['task']])];
  }
  if (type.startsWith('project.')) {
    // A deleted or renamed project shows on its tasks too.
    return [['projects'], ['tasks'], ['task'], ['report']];
  }
  return [];
}

let current: (() => void) | undefined;

/**
 * Stops live updates at once: called before a sign-out's request, since an event arriving while
 * the session is being revoked would refetch with a token that no longer works.
 */
export function stopLive(): void {
  current?.();
}

/**
 * Opens the stream of the signed-in user's changes and keeps it open until the returned function
 * is called (sign-out). One per tab.
 */
export function startLive(qc: QueryClient): () => void {
  current?.();
  let stopped = false;
  let lastId: string | undefined;
  let attempt = 0;
  let connectedBefore = false;
  let controller: AbortController | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  // Invalidations wait for writes in flight: their own onSettled refetches, and a refetch started
  // before they settle would briefly show the task without the change being made.
  let pendingAll = false;
  const pending = new Map<string, unknown[]>();
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    flushTimer = undefined;
    if (stopped) return;
    if (qc.isMutating() > 0) {
      flushTimer = setTimeout(flush, 250);
      return;
    }
    if (pendingAll) void qc.invalidateQueries();
    else for (const key of pending.values()) void qc.invalidateQueries({ queryKey: key });
    pendingAll = false;
    pending.clear();
  };
  const schedule = (keys: unknown[][] | 'all') => {
    if (keys === 'all') pendingAll = true;
    else for (const k of keys) pending.set(JSON.stringify(k), k);
    flushTimer ??= setTimeout(flush, BATCH_MS);
  };

  const connect = async () => {
    retryTimer = undefined;
    if (stopped) return;
    if (!navigator.onLine) {
      setStatus('offline');
      return; // the online event reconnects
    }
    const token = loadSession()?.token;
    if (!token) return;
    setStatus('connecting');
    const ac = new AbortController();
    controller = ac;
    let silence: ReturnType<typeof setTimeout> | undefined;
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => ac.abort(), SILENCE_MS);
    };
    try {
      const res = await fetch('/api/v1/events', {
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'text/event-stream',
          ...(lastId ? { 'last-event-id': lastId } : {}),
        },
        cache: 'no-store',
        signal: ac.signal,
      });
      if (res.status === 401) {
        // The session ended: the app goes back to log in (and stops this).
        if (loadSession()?.token === token) saveSession(undefined);
        return;
      }
      if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
      // Reconnected without knowing what was missed (no event seen yet): reload what is shown.
      if (connectedBefore && !lastId) schedule([['tasks'], ['task'], ['projects'], ['report']]);
      connectedBefore = true;
      setStatus('live');
      attempt = 0;
      heard();
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        heard();
        buffer = parseSse(buffer + decoder.decode(value, { stream: true }), (e) => {
          if (e.id) lastId = e.id;
          schedule(staleKeys(e));
        });
      }
    } catch {
      // A network failure, an abort (offline, silence, sign-out): reconnect below unless stopped.
    } finally {
      clearTimeout(silence);
      if (controller === ac) controller = undefined;
    }
    if (stopped || !loadSession()) return;
    if (!navigator.onLine) {
      setStatus('offline');
      return;
    }
    setStatus('connecting');
    const delay = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** attempt);
    attempt++;
    // Full jitter over the upper half: tabs and devices do not all come back at the same moment.
    retryTimer = setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
  };

  const goOffline = () => {
    setStatus('offline');
    clearTimeout(retryTimer);
    retryTimer = undefined;
    controller?.abort();
  };
  const goOnline = () => {
    if (stopped || controller) return;
    clearTimeout(retryTimer);
    attempt = 0;
    void connect();
  };
  window.addEventListener('offline', goOffline);
  window.addEventListener('online', goOnline);
  void connect();

  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (current === stop) current = undefined;
    window.removeEventListener('offline', goOffline);
    window.removeEventListener('online', goOnline);
    clearTimeout(retryTimer);
    clearTimeout(flushTimer);
    controller?.abort();
    setStatus('off');
  };
  current = stop;
  return stop;
}
