import { Counter, Registry } from 'prom-client';

/** Counters kept by the core; the API's /metrics endpoint exposes this registry. */
export interface Metrics {
  registry: Registry;
  cacheHits: Counter<'cache'>;
  cacheMisses: Counter<'cache'>;
  cacheErrors: Counter<'cache'>;
  rateLimited: Counter<'scope'>;
}

/** One registry per core, so several apps in one process (tests) never share counters. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const cache = ['cache'] as const;
  return {
    registry,
    cacheHits: new Counter({
      name: 'taskman_cache_hits_total',
      help: 'Cache hits',
      labelNames: cache,
      registers: [registry],
    }),
    cacheMisses: new Counter({
      name: 'taskman_cache_misses_total',
      help: 'Cache misses',
      labelNames: cache,
      registers: [registry],
    }),
    cacheErrors: new Counter({
      name: 'taskman_cache_errors_total',
      help: 'Cache operations that failed or were skipped because the cache store was unreachable',
      labelNames: cache,
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'taskman_rate_limited_total',
      help: 'Requests refused with 429',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
  };
}
