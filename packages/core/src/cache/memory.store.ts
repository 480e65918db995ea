import { randomInt } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { CacheStore, Slot } from './cache.store';

type Entry = string | Map<string, string>;

/**
 * The cache inside the process (embedded mode). JavaScript runs one callback at a time, so each
 * method is as atomic as its Redis script.
 */
export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory' as const;
  private readonly entries: LRUCache<string, Entry>;
  // Evicting a counter is safe: it is re-created with a fresh random value, which no entry has.
  private readonly counters = new LRUCache<string, string>({ max: 100_000 });

  constructor(maxEntries = 10_000) {
    this.entries = new LRUCache<string, Entry>({ max: maxEntries, ttlAutopurge: false });
  }

  isReady(): boolean {
    return true;
  }

  async read(slots: Slot[]): Promise<(string | null)[]> {
    return slots.map((s) => {
      const entry = this.entries.get(s.key) ?? this.counters.get(s.key);
      if (entry === undefined) return null;
      if (s.field === undefined) return typeof entry === 'string' ? entry : null;
      return typeof entry === 'string' ? null : (entry.get(s.field) ?? null);
    });
  }

  async initCounter(key: string, initial: string): Promise<string> {
    const current = this.counters.get(key);
    if (current !== undefined) return current;
    this.counters.set(key, initial);
    return initial;
  }

  async writeIfCounters(
    counters: [string, string][],
    slot: Slot,
    value: string,
    ttlSeconds: number,
  ): Promise<boolean> {
    for (const [key, expected] of counters) if (this.counters.get(key) !== expected) return false;
    const ttl = ttlSeconds * 1000;
    if (slot.field === undefined) {
      this.entries.set(slot.key, value, { ttl });
    } else {
      const existing = this.entries.get(slot.key);
      const hash = existing instanceof Map ? existing : new Map<string, string>();
      hash.set(slot.field, value);
      this.entries.set(slot.key, hash, { ttl });
    }
    return true;
  }

  async bumpAndDelete(counters: string[], keys: string[]): Promise<void> {
    for (const c of counters) {
      const current = this.counters.get(c);
      // A vanished counter restarts at a random value, never at one old entries may carry.
      this.counters.set(c, current === undefined ? String(randomInt(2 ** 47)) : String(Number(current) + 1));
    }
    for (const k of keys) this.entries.delete(k);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.entries.set(key, value, { ttl: ttlSeconds * 1000 });
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}
