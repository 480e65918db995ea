import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Log } from '../lib/log';

/** A published domain event as live clients get it: `id` is its place in the stream. */
export interface LiveEvent {
  id: number;
  userId: string;
  type: string;
  /** The JSON body, as a webhook delivery carries it: {id, type, created_at, data}. */
  body: string;
}

export type LiveListener = (event: LiveEvent) => void;

/**
 * Fans published events out to the live streams (GET /events) of every API process: in memory
 * in embedded mode (one process), over Redis pub/sub in cluster mode, one channel per user so a
 * process hears only the users it has streams for.
 */
export interface EventBus {
  publish(events: LiveEvent[]): Promise<void>;
  /** Calls `listener` with each of the user's events from now on; returns the unsubscribe. */
  subscribe(userId: string, listener: LiveListener): Promise<() => void>;
  close(): Promise<void>;
}

export class MemoryEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(events: LiveEvent[]): Promise<void> {
    for (const e of events) this.emitter.emit(e.userId, e);
  }

  async subscribe(userId: string, listener: LiveListener): Promise<() => void> {
    this.emitter.on(userId, listener);
    return () => this.emitter.off(userId, listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

export class RedisEventBus implements EventBus {
  private readonly local = new MemoryEventBus();
  private readonly counts = new Map<string, number>();
  private subscriber: Redis | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Log,
  ) {}

  private channel(userId: string): string {
    return `${this.prefix}events:${userId}`;
  }

  /** One connection in subscriber mode per process, opened with the first stream. */
  private connection(): Redis {
    if (!this.subscriber) {
      // Its own settings: it waits for Redis rather than failing fast (a stream can wait), and
      // ioredis subscribes again by itself after a reconnection.
      const sub = this.redis.duplicate({
        enableOfflineQueue: true,
        lazyConnect: false,
        enableAutoPipelining: false,
        commandTimeout: undefined,
        maxRetriesPerRequest: null,
      });
      sub.on('error', () => {});
      sub.on('message', (channel: string, message: string) => {
        try {
          const event = JSON.parse(message) as LiveEvent;
          if (channel === this.channel(event.userId)) void this.local.publish([event]);
        } catch {
          this.log.warn({ channel }, 'live events: a message that is not an event was ignored');
        }
      });
      this.subscriber = sub;
    }
    return this.subscriber;
  }

  async publish(events: LiveEvent[]): Promise<void> {
    if (events.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const e of events) pipeline.publish(this.channel(e.userId), JSON.stringify(e));
    await pipeline.exec();
  }

  async subscribe(userId: string, listener: LiveListener): Promise<() => void> {
    const n = this.counts.get(userId) ?? 0;
    this.counts.set(userId, n + 1);
    const off = await this.local.subscribe(userId, listener);
    if (n === 0) {
      const subscribed = this.connection().subscribe(this.channel(userId));
      // With Redis down the stream still opens (and replays from the database); live events
      // flow once the subscription goes through.
      const ok = await Promise.race([subscribed.then(() => true), sleep(3_000).then(() => false)]);
      if (!ok) this.log.warn({}, 'live events: Redis is not answering; the stream waits for it');
      subscribed.catch(() => {});
    }
    return () => {
      off();
      const left = (this.counts.get(userId) ?? 1) - 1;
      if (left > 0) this.counts.set(userId, left);
      else {
        this.counts.delete(userId);
        void this.subscriber?.unsubscribe(this.channel(userId)).catch(() => {});
      }
    };
  }

  async close(): Promise<void> {
    await this.local.close();
    if (this.subscriber) await this.subscriber.quit().catch(() => this.subscriber?.disconnect());
  }
}
