import type { ProjectRow, TaskRow } from '../db/schema';
import { DomainError, ValidationError } from '../errors';
import type { Clock } from '../lib/clock';
import {
  SNAPSHOT_PATTERN,
  SYNC_KINDS,
  type SyncPosition,
  type SyncRepository,
} from '../repositories/sync.repository';

/** How long deletions are remembered; a cursor older than this can no longer be answered. */
export const TOMBSTONE_DAYS = 30;
export const SYNC_LIMITS = { default: 200, max: 1000 } as const;

export interface SyncResult {
  projects: ProjectRow[];
  tasks: TaskRow[];
  deleted: { projects: string[]; tasks: string[] };
  cursor: string;
  hasMore: boolean;
  /** True when this answer started from nothing (no cursor): the client replaces what it has. */
  full: boolean;
}

/**
 * What a cursor holds (base64url JSON; opaque to clients). `s`: the snapshot the client's state
 * is complete up to (null before the first full sync), `st` when it was taken; while a sync is
 * paged, `u`/`ut` the snapshot of its first page, which becomes the next `s`, and `a` where
 * the last page stopped.
 */
interface Cursor {
  v: 1;
  s: string | null;
  st: number | null;
  u: string | null;
  ut: number | null;
  a: [string, SyncPosition['kind'], string] | null;
}

export class CursorExpiredError extends DomainError {
  constructor() {
    super(
      'GONE',
      `The cursor is older than the ${TOMBSTONE_DAYS} days deletions are kept: start again with a full sync (no cursor)`,
    );
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function encode(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function invalid(): ValidationError {
  return ValidationError.field('cursor', 'is not a cursor this server gave out');
}

function decode(raw: string): Cursor {
  let c: Cursor;
  try {
    c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const snap = (s: unknown) =>
    s === null || (typeof s === 'string' && s.length <= 8192 && SNAPSHOT_PATTERN.test(s));
  const time = (t: unknown) => t === null || (typeof t === 'number' && Number.isSafeInteger(t) && t > 0);
  const ok =
    c !== null &&
    typeof c === 'object' &&
    c.v === 1 &&
    snap(c.s) &&
    snap(c.u) &&
    time(c.st) &&
    time(c.ut) &&
    (c.s === null) === (c.st === null) &&
    (c.u === null) === (c.ut === null) &&
    (c.a === null ||
      (Array.isArray(c.a) &&
        c.a.length === 3 &&
        typeof c.a[0] === 'string' &&
        /^\d{1,20}$/.test(c.a[0]) &&
        SYNC_KINDS.includes(c.a[1]) &&
        typeof c.a[2] === 'string' &&
        UUID.test(c.a[2]))) &&
    // A later page always knows the snapshot of its first page.
    (c.a === null || c.u !== null);
  if (!ok) throw invalid();
  return c;
}

/**
 * Delta sync for offline clients: everything created or changed since the cursor, what was
 * deleted, and the next cursor. Correct under concurrent writes because a cursor is a database
 * snapshot (see migration 0011), not a time: a transaction still running when a sync reads is
 * not in its snapshot, so the next sync sends what it wrote, whenever it commits.
 */
export class SyncService {
  constructor(
    private readonly repo: SyncRepository,
    private readonly clock: Clock,
  ) {}

  async changes(userId: string, rawCursor: string | undefined, limit: number): Promise<SyncResult> {
    const cursor: Cursor = rawCursor
      ? decode(rawCursor)
      : { v: 1, s: null, st: null, u: null, ut: null, a: null };
    const now = this.clock.now().getTime();
    if (cursor.st !== null && now - cursor.st > TOMBSTONE_DAYS * 86_400_000) throw new CursorExpiredError();
    const page = await this.repo.page({
      userId,
      since: cursor.s,
      after: cursor.a ? { xid: cursor.a[0], kind: cursor.a[1], id: cursor.a[2] } : null,
      limit,
    });
    // The first page's snapshot bounds the whole sync: whatever it did not see is sent next time.
    const upto = cursor.u ?? page.snapshot;
    const uptoTime = cursor.ut ?? now;
    const last = page.changes.at(-1);
    const next: Cursor =
      page.hasMore && last
        ? { ...cursor, u: upto, ut: uptoTime, a: [last.xid, last.kind, last.row.id] }
        : { v: 1, s: upto, st: uptoTime, u: null, ut: null, a: null };
    const result: SyncResult = {
      projects: [],
      tasks: [],
      deleted: { projects: [], tasks: [] },
      cursor: encode(next),
      hasMore: page.hasMore,
      full: cursor.s === null,
    };
    for (const c of page.changes) {
      if (c.kind === 'project') result.projects.push(c.row);
      else if (c.kind === 'task') result.tasks.push(c.row);
      else if (c.row.kind === 'task') result.deleted.tasks.push(c.row.id);
      else result.deleted.projects.push(c.row.id);
    }
    return result;
  }

  /** Forgets deletions older than the cursor lifetime (the cleanup job). */
  purgeTombstones(): Promise<number> {
    return this.repo.purgeTombstonesBefore(
      new Date(this.clock.now().getTime() - (TOMBSTONE_DAYS + 1) * 86_400_000),
    );
  }
}
