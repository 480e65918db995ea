import { randomInt } from 'node:crypto';
import type { Log } from '../lib/log';
import { withPrimaryReads } from '../lib/request-context';
import type { Metrics } from '../metrics/metrics';
import { cacheEpochKey } from './cache.keys';
import type { CacheStore, Slot } from './cache.store';

export type CacheName = 'task' | 'task_list' | 'project_tasks' | 'session' | 'api_key';

/** Turns a value into JSON-ready data and back (e.g. reviving dates). */
export interface Codec<T> {
  encode(value: T): unknown;
  decode(data: unknown): T;
}

interface Stored {
  /** The generation counters (and the cache epoch) the value was loaded under. */
  g: string[];
  v: unknown;
}

const freshCounter = () => String(randomInt(2 ** 47));

/**
 * Cache-aside with generation counters, so that the cache is never wrong, only slower:
 * - a read checks the counters it depends on, in the same round trip as the value;
 * - an invalidation increments those counters (after the database commit);
 * - a value loaded from the database is stored only if the counters did not move meanwhile, so a
 *   slow reader cannot put back a row that a concurrent write made stale;
 * - if the store is unreachable, reads go to the database; an invalidation that could not be
 *   made bumps a global epoch as soon as the store is back, before the cache is trusted again.
 */
export class CacheAside {
  private dirty = false;
  private lastWarning = 0;

  constructor(
    private readonly store: CacheStore,
    private readonly metrics: Metrics,
    private readonly log: Log,
    private readonly enabled = true,
  ) {}

  get kind(): CacheStore['kind'] {
    return this.store.kind;
  }

  /** The value at `slot` if it is current, else `load()`'s result, stored for `ttlSeconds`. */
  async get<T>(
    name: CacheName,
    slot: Slot,
    generations: string[],
    ttlSeconds: number,
    codec: Codec<T>,
    load: () => Promise<T | undefined>,
    veto?: { key: string; value: () => T },
  ): Promise<T | undefined> {
    if (!this.enabled) return load();
    if (!(await this.usable())) {
      this.failed(name, new Error('cache store is unreachable'));
      return load();
    }
    const counters = [...generations, cacheEpochKey()];
    let current: string[];
    try {
      const slots: Slot[] = [slot, ...counters.map((key) => ({ key })), ...(veto ? [{ key: veto.key }] : [])];
      const values = await this.store.read(slots);
      if (veto && values[values.length - 1] !== null) {
        this.metrics.cacheHits.inc({ cache: name });
        return veto.value();
      }
      current = await Promise.all(
        counters.map((key, i) => values[i + 1] ?? this.store.initCounter(key, freshCounter())),
      );
      const hit = values[0] ? this.match(values[0], current) : undefined;
      if (hit !== undefined) {
        this.metrics.cacheHits.inc({ cache: name });
        return codec.decode(hit.v);
      }
    } catch (err) {
      this.failed(name, err);
      return load();
    }
    this.metrics.cacheMisses.inc({ cache: name });
    // What is cached must come from the primary, even for a request that may read the replica.
    const value = await withPrimaryReads(load);
    if (value !== undefined) {
      const stored: Stored = { g: current, v: codec.encode(value) };
      const expected = counters.map((key, i): [string, string] => [key, current[i]!]);
      await this.store
        .writeIfCounters(expected, slot, JSON.stringify(stored), ttlSeconds)
        .catch((err) => this.failed(name, err));
    }
    return value;
  }

  /** Makes everything read under these counters stale, and deletes these keys. Call after commit. */
  async invalidate(name: CacheName, generations: string[], keys: string[] = []): Promise<void> {
    if (!this.enabled) return;
    try {
      if (!this.store.isReady()) throw new Error('cache store is unreachable');
      await this.store.bumpAndDelete(generations, keys);
    } catch (err) {
      this.dirty = true;
      this.failed(name, err);
    }
  }

  /** Stores a plain value (e.g. a revocation marker) for ttlSeconds; failures are logged, not thrown. */
  async put(name: CacheName, key: string, value: string, ttlSeconds: number): Promise<void> {
    if (!this.enabled) return;
    try {
      await this.store.set(key, value, ttlSeconds);
    } catch (err) {
      this.failed(name, err);
    }
  }

  /** The stored value if it was loaded under the current counters; one JSON parse per hit. */
  private match(text: string, current: string[]): { v: unknown } | undefined {
    try {
      const stored = JSON.parse(text) as Stored;
      return stored.g.length === current.length && stored.g.every((g, i) => g === current[i])
        ? stored
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** Ready, and not holding an invalidation that failed (if it is, bump the epoch first). */
  private async usable(): Promise<boolean> {
    if (!this.store.isReady()) return false;
    if (!this.dirty) return true;
    try {
      await this.store.bumpAndDelete([cacheEpochKey()], []);
      this.dirty = false;
      this.log.info(
        { cache: this.store.kind },
        'cache store is back: older entries discarded, cache in use again',
      );
      return true;
    } catch {
      return false;
    }
  }

  private failed(name: CacheName, err: unknown): void {
    this.metrics.cacheErrors.inc({ cache: name });
    const now = Date.now();
    if (now - this.lastWarning > 10_000) {
      this.lastWarning = now;
      this.log.warn(
        { cache: this.store.kind, err: { message: (err as Error).message } },
        'cache store unavailable: serving from the database',
      );
    }
  }
}
