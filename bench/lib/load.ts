// The load generator: autocannon in this process, rotating over a list of paths.
import autocannon from 'autocannon';

export interface LoadResult {
  /** 2xx responses per second over the measured duration. */
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  /** Latency percentiles of 2xx responses, in milliseconds (from every response, not a histogram). */
  p50: number;
  p95: number;
  p975: number;
  p99: number;
  mean: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** What one request sends, when it is not a GET of the next path (`request`, below). */
export interface RequestSpec {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * `connections` keep-alive connections for `seconds`, each request to the next path in turn, or
 * the n-th request as `request(n)` says (e.g. another user's token each time).
 */
export async function load(opts: {
  url: string;
  paths: string[];
  headers?: Record<string, string>;
  request?: (n: number) => RequestSpec;
  connections: number;
  seconds: number;
}): Promise<LoadResult> {
  let next = 0;
  const samples: number[] = [];
  let non2xx = 0;
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    timeout: 10,
    headers: opts.headers ?? {},
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => {
          const n = next++;
          if (!opts.request) {
            request.path = opts.paths[n % opts.paths.length]!;
            return request;
          }
          const spec = opts.request(n);
          request.method = spec.method;
          request.path = spec.path;
          request.headers = { ...request.headers, ...spec.headers };
          if (spec.body !== undefined) request.body = spec.body;
          return request;
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) samples.push(ms);
    else non2xx++;
  });
  const result = await instance;
  const sorted = Float64Array.from(samples).sort();
  const sum = samples.reduce((a, b) => a + b, 0);
  return {
    rps: samples.length / result.duration,
    ok: samples.length,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p975: percentile(sorted, 97.5),
    p99: percentile(sorted, 99),
    mean: samples.length ? sum / samples.length : Number.NaN,
  };
}
