// Webhook receivers for tests: real HTTP servers on loopback ports that record every request
// (headers, the exact bytes of the body) and answer as the test says. Signatures are checked with
// the `standardwebhooks` package, not with Taskman's own code.
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { isForbiddenAddress } from '@taskman/core';
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import { until } from './wait';

export interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The body exactly as it arrived. */
  bytes: Buffer;
  /** The same, as UTF-8 text. */
  body: string;
  /** When it arrived (Date.now()). */
  at: number;
}

/**
 * Answers the n-th request (1-based). It may return a promise (hold the answer until the test has
 * looked at something) or never answer at all (a receiver that hangs).
 */
export type Reply = (res: http.ServerResponse, n: number, req: Received) => void | Promise<void>;

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Resolves once `n` requests have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export const answer =
  (status: number, body = '') =>
  (res: http.ServerResponse) => {
    res.statusCode = status;
    res.end(body);
  };

/** Starts a receiver; the caller closes it (it also drops connections left hanging). */
export async function startReceiver(reply: Reply = answer(200, 'ok')): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const bytes = Buffer.concat(chunks);
      const r: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers,
        bytes,
        body: bytes.toString('utf8'),
        at: Date.now(),
      };
      received.push(r);
      Promise.resolve(reply(res, received.length, r)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    waitFor: (n, timeoutMs) =>
      until(`${n} request(s) at :${port}`, () => (received.length >= n ? received : undefined), timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Verifies with the standardwebhooks package (throws if no signature matches) and parses the body. */
export function verified(secret: string, r: Received): any {
  new Webhook(secret).verify(r.body, r.headers);
  return JSON.parse(r.body);
}

/** Proves a negative: the receiver's count stays at `count` for a short, bounded window. */
export async function expectNoMore(r: Receiver, count: number, ms = 400): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    expect(r.received.length).toBe(count);
    await sleep(25);
  }
  expect(r.received.length).toBe(count);
}

/** A promise the test resolves later (a receiver holding its answer until told). */
export function gate(): { opened: Promise<void>; open(): void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/**
 * A host name (not "localhost", not an IP literal) that resolves only to forbidden addresses on
 * this machine: a name /etc/hosts maps to 127.x, else this host's own name; undefined if none.
 */
export async function loopbackHostName(): Promise<string | undefined> {
  const candidates: string[] = [];
  const hosts = await readFile('/etc/hosts', 'utf8').catch(() => '');
  for (const line of hosts.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address && /^127\./.test(address)) candidates.push(...names);
  }
  candidates.push(hostname());
  for (const name of candidates.map((n) => n.toLowerCase())) {
    if (!name || name === 'localhost' || name.endsWith('.localhost') || isIP(name)) continue;
    const addresses = await lookup(name, { all: true }).catch(() => []);
    if (addresses.length && addresses.every((a) => isForbiddenAddress(a.address))) return name;
  }
  return undefined;
}
