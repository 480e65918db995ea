/** Where a value lives: a plain key, or one field of a hash (so a whole group can be deleted at once). */
export interface Slot {
  key: string;
  field?: string | undefined;
}

/**
 * The operations cache-aside needs, implemented by Redis (cluster mode) and in process (embedded).
 * Methods throw when the store is unreachable; callers fall back to the database.
 */
export interface CacheStore {
  readonly kind: 'redis' | 'memory';
  /** False while the store is unreachable: callers skip it rather than wait. */
  isReady(): boolean;
  /** Reads slots and plain keys in one round trip; null where missing. */
  read(slots: Slot[]): Promise<(string | null)[]>;
  /** Returns the counter's value, first setting it to `initial` if it does not exist. */
  initCounter(key: string, initial: string): Promise<string>;
  /** Writes the slot with a TTL only if every counter still has the value read before the load. */
  writeIfCounters(
    counters: [key: string, expected: string][],
    slot: Slot,
    value: string,
    ttlSeconds: number,
  ): Promise<boolean>;
  /** Increments counters and deletes keys, atomically. */
  bumpAndDelete(counters: string[], keys: string[]): Promise<void>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  close(): Promise<void>;
}
