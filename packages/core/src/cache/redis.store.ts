import { randomInt } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { CacheStore, Slot } from './cache.store';

const INIT_COUNTER = `redis.call('SET', KEYS[1], ARGV[1], 'NX') return redis.call('GET', KEYS[1])`;

// KEYS: counters…, slot key. ARGV: number of counters, expected values…, value, ttl, hash field ('' for a plain key).
const WRITE_IF_COUNTERS = `
local n = tonumber(ARGV[1])
for i = 1, n do
  if redis.call('GET', KEYS[i]) ~= ARGV[i + 1] then return 0 end
end
local key, value, ttl, field = KEYS[n + 1], ARGV[n + 2], ARGV[n + 3], ARGV[n + 4]
if field == '' then
  redis.call('SET', key, value, 'EX', ttl)
else
  redis.call('HSET', key, field, value)
  redis.call('EXPIRE', key, ttl)
end
return 1`;

// KEYS: counters…, then keys to delete. ARGV: number of counters, a fresh value for counters that had vanished.
// A counter that vanished (evicted) restarts at a random value, never at 1, which old entries may carry.
const BUMP_AND_DELETE = `
local n = tonumber(ARGV[1])
for i = 1, n do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('SET', KEYS[i], ARGV[2]) end
end
if #KEYS > n then redis.call('DEL', unpack(KEYS, n + 1)) end
return 1`;

type ScriptedRedis = Redis & {
  taskmanBumpAndDelete(numKeys: number, ...args: string[]): Promise<number>;
  taskmanInitCounter(key: string, initial: string): Promise<string>;
  taskmanWriteIfCounters(numKeys: number, ...args: (string | number)[]): Promise<number>;
};

/** Options for a Redis client that fails fast while Redis is unreachable, and reconnects by itself. */
export function redisOptions(keyPrefix: string): RedisOptions {
  return {
    keyPrefix,
    // Queueing commands while disconnected would make requests wait; failing lets them use the database.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    // A Redis that stops answering (frozen, partitioned) fails requests over to the database quickly.
    commandTimeout: 1_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: true,
    // Commands of concurrent requests issued in the same tick share one write: fewer syscalls under load.
    enableAutoPipelining: true,
  };
}

/** Opens a Redis client and waits (briefly) for it; an unreachable Redis is not fatal. */
export async function openRedis(url: string, keyPrefix: string, waitMs = 5_000): Promise<Redis> {
  const client = new Redis(url, redisOptions(keyPrefix));
  client.on('error', () => {}); // reported through isReady() and failed commands
  await Promise.race([client.connect().catch(() => {}), new Promise((r) => setTimeout(r, waitMs))]);
  return client;
}

/** The cache on Redis: Lua scripts make "write only if nothing was invalidated meanwhile" atomic. */
export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis' as const;
  private readonly redis: ScriptedRedis;

  constructor(redis: Redis) {
    redis.defineCommand('taskmanInitCounter', { numberOfKeys: 1, lua: INIT_COUNTER });
    redis.defineCommand('taskmanWriteIfCounters', { lua: WRITE_IF_COUNTERS });
    redis.defineCommand('taskmanBumpAndDelete', { lua: BUMP_AND_DELETE });
    this.redis = redis as ScriptedRedis;
  }

  isReady(): boolean {
    return this.redis.status === 'ready';
  }

  async read(slots: Slot[]): Promise<(string | null)[]> {
    // One MGET for the plain keys (a value and its counters) and an HGET for a hash field, as plain
    // commands: with auto-pipelining, the reads of every request in the same tick share one write.
    const plain = slots.filter((s) => s.field === undefined).map((s) => s.key);
    const [values, fields] = await Promise.all([
      plain.length ? this.redis.mget(plain) : Promise.resolve([] as (string | null)[]),
      Promise.all(slots.filter((s) => s.field !== undefined).map((s) => this.redis.hget(s.key, s.field!))),
    ]);
    let p = 0;
    let f = 0;
    return slots.map((s) => (s.field === undefined ? (values[p++] ?? null) : (fields[f++] ?? null)));
  }

  initCounter(key: string, initial: string): Promise<string> {
    return this.redis.taskmanInitCounter(key, initial);
  }

  async writeIfCounters(
    counters: [string, string][],
    slot: Slot,
    value: string,
    ttlSeconds: number,
  ): Promise<boolean> {
    const keys = [...counters.map(([k]) => k), slot.key];
    const args = [
      String(counters.length),
      ...counters.map(([, v]) => v),
      value,
      String(ttlSeconds),
      slot.field ?? '',
    ];
    return (await this.redis.taskmanWriteIfCounters(keys.length, ...keys, ...args)) === 1;
  }

  async bumpAndDelete(counters: string[], keys: string[]): Promise<void> {
    const all = [...counters, ...keys];
    await this.redis.taskmanBumpAndDelete(
      all.length,
      ...all,
      String(counters.length),
      String(randomInt(2 ** 47)),
    );
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  }

  async close(): Promise<void> {
    // The client is shared (rate limiter, queues); its owner closes it.
  }
}
