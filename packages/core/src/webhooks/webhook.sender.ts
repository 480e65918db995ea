import http from 'node:http';
import https from 'node:https';
import { guardedLookup, isForbiddenAddress } from '../lib/ssrf';
import { signWebhook } from './webhook.payload';

export interface SendResult {
  status: number | null;
  durationMs: number;
  error: string | null;
  /** The start of the response body (at most maxResponseBytes), as text. */
  body: string | null;
}

export interface SenderOptions {
  timeoutMs: number;
  /** Deliver to loopback and private addresses too (development and tests only). */
  allowPrivate: boolean;
  /** How much of a response body is read (and kept for the delivery log). */
  maxResponseBytes: number;
}

/** Why a URL may not receive webhooks, or undefined if it may (checked at registration and at send time). */
export function urlProblem(raw: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use http or https';
  if (url.username || url.password) return 'must not contain credentials';
  // The URL parser has already turned decimal, octal and hex spellings into dotted IPv4.
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (!allowPrivate && (host === 'localhost' || host.endsWith('.localhost')))
    return 'must not point to this host';
  if (!allowPrivate && /^[\d.]+$|:/.test(host) && isForbiddenAddress(host))
    return 'must not point to a private, loopback or link-local address';
  return undefined;
}

/**
 * POSTs a signed body: Standard Webhooks headers, a hard timeout, no redirects followed, at most
 * maxResponseBytes of the answer read, and the connection refused when the name resolves to a
 * forbidden address (unless allowPrivate). With several secrets (during a rotation) the signature
 * header carries one signature per secret, space-separated, as the specification allows.
 */
export function sendWebhook(
  url: string,
  secrets: readonly string[],
  messageId: string,
  body: string,
  now: Date,
  opts: SenderOptions,
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const problem = urlProblem(url, opts.allowPrivate);
  if (problem) return Promise.resolve({ status: null, durationMs: 0, error: `URL ${problem}`, body: null });
  const timestamp = Math.floor(now.getTime() / 1000);
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = client.request(
      target,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'Taskman-Webhooks/1',
          'webhook-id': messageId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': secrets.map((s) => signWebhook(s, messageId, timestamp, body)).join(' '),
        },
        ...(opts.allowPrivate ? {} : { lookup: guardedLookup as never }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          if (read < opts.maxResponseBytes) chunks.push(chunk.subarray(0, opts.maxResponseBytes - read));
          read += chunk.length;
          if (read > opts.maxResponseBytes) res.destroy();
        });
        const done = () =>
          finish({
            status: res.statusCode ?? null,
            durationMs: elapsed(),
            error: null,
            body: read
              ? Buffer.concat(chunks)
                  .toString('utf8')
                  .replace(/\uFFFD+$/, '')
              : null,
          });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    req.on('error', (err) =>
      finish({ status: null, durationMs: elapsed(), error: err.message.slice(0, 300), body: null }),
    );
    req.end(body);
  });
}
