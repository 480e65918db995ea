import type { EventBus, LiveEvent } from '../events/event-bus';
import { withSystemScope } from '../lib/request-context';
import type { OutboxRepository } from '../repositories/outbox.repository';
import { webhookBody } from '../webhooks/webhook.payload';

/** Sent instead of events a stream can no longer replay: the client should sync (GET /sync). */
export const RESYNC = 'resync' as const;

/**
 * A user's live event stream (GET /events): the events published from now on and, when the
 * client says where it stopped (Last-Event-ID), the ones it missed, first, in stream order, with
 * none twice.
 */
export class LiveEventService {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly bus: EventBus,
  ) {}

  /** Opens the stream; `send` gets each event (or RESYNC) in order. Returns the close. */
  async open(userId: string, lastId: number | undefined, send: (e: LiveEvent | typeof RESYNC) => void) {
    let last = lastId ?? 0;
    let replaying = lastId !== undefined;
    const held: LiveEvent[] = [];
    const deliver = (e: LiveEvent) => {
      if (e.id <= last) return;
      last = e.id;
      send(e);
    };
    // Listening before the replay: what is published meanwhile is held, then sent after it.
    const close = await this.bus.subscribe(userId, (e) => (replaying ? held.push(e) : deliver(e)));
    try {
      if (lastId !== undefined) {
        // The oldest position kept across every user's events (row-level security would show only
        // this user's, and a gap of other users' events before them would look like a purge).
        const oldest = await withSystemScope(() => this.outbox.oldestStreamSeq());
        // Events after lastId were purged (kept 7 days): what the client missed is unknown.
        if (oldest !== undefined && oldest > lastId + 1) send(RESYNC);
        for (;;) {
          const rows = await this.outbox.streamAfter(userId, last, 500);
          for (const row of rows)
            deliver({ id: row.streamSeq!, userId, type: row.type, body: webhookBody(row) });
          if (rows.length < 500) break;
        }
      }
    } catch (err) {
      close();
      throw err;
    }
    replaying = false;
    for (const e of held.sort((a, b) => a.id - b.id)) deliver(e);
    return close;
  }
}
