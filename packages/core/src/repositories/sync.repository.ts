import { and, getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { type ProjectRow, projects, type TaskRow, tasks } from '../db/schema';
import type { TransactionRunner } from '../db/transaction';
import { taskColumns } from './task.repository';

/** The kinds of change, in the order a page lists those of one transaction: projects before their tasks. */
export const SYNC_KINDS = ['project', 'task', 'tombstone'] as const;
export type SyncKind = (typeof SYNC_KINDS)[number];

/** Where a page stopped: the last change it returned, in (transaction id, kind, id) order. */
export interface SyncPosition {
  xid: string;
  kind: SyncKind;
  id: string;
}

export interface SyncPageQuery {
  userId: string;
  /** The snapshot of the previous sync: what it saw is not sent again. Null: everything (a full sync). */
  since: string | null;
  /** Continue after this change (a later page of the same sync). */
  after: SyncPosition | null;
  limit: number;
}

export type SyncChange =
  | { kind: 'project'; xid: string; row: ProjectRow }
  | { kind: 'task'; xid: string; row: TaskRow }
  | { kind: 'tombstone'; xid: string; row: { kind: 'task' | 'project'; id: string } };

export interface SyncPage {
  /** The snapshot this page was read in (`pg_current_snapshot()`, as text). */
  snapshot: string;
  changes: SyncChange[];
  hasMore: boolean;
}

/** A PostgreSQL snapshot as text: xmin:xmax:xip,… (what pg_current_snapshot() prints). */
export const SNAPSHOT_PATTERN = /^\d{1,20}:\d{1,20}:(\d{1,20}(,\d{1,20})*)?$/;

/**
 * Reads a user's changes for delta sync: rows whose change_xid (the transaction that last wrote
 * them, migration 0011) the previous sync's snapshot did not see, in (xid, kind, id) order,
 * a page at a time, with the snapshot they were read in.
 */
export class SyncRepository {
  constructor(
    private readonly transaction: TransactionRunner,
    private readonly db: Executor,
  ) {}

  async page(q: SyncPageQuery): Promise<SyncPage> {
    return this.transaction(async (tx) => {
      // One snapshot for the three reads and the snapshot reported with them.
      await tx.execute(sql`set transaction isolation level repeatable read, read only`);
      const [snap] = (
        (await tx.execute(sql`select pg_current_snapshot()::text as s`)) as unknown as {
          rows: { s: string }[];
        }
      ).rows;
      const fetch = q.limit + 1;
      const [projectRows, taskRows, tombstones] = await Promise.all([
        this.read(tx, 'project', q, fetch),
        this.read(tx, 'task', q, fetch),
        q.since === null ? Promise.resolve([]) : this.read(tx, 'tombstone', q, fetch),
      ]);
      const all = [...projectRows, ...taskRows, ...tombstones].sort(compareChanges);
      return { snapshot: snap!.s, changes: all.slice(0, q.limit), hasMore: all.length > q.limit };
    });
  }

  /** Up to `limit` changes of one kind, in order, after the position. */
  private async read(tx: Executor, kind: SyncKind, q: SyncPageQuery, limit: number): Promise<SyncChange[]> {
    const table = kind === 'project' ? sql`projects` : kind === 'task' ? sql`tasks` : sql`sync_tombstones`;
    const xid = sql`${table}.change_xid`;
    const conds: SQL[] = [];
    if (q.since !== null) {
      const since = sql`${q.since}::pg_snapshot`;
      // Everything below the snapshot's xmin was seen: the first test keeps the index range short.
      conds.push(sql`${xid} >= pg_snapshot_xmin(${since}) and not pg_visible_in_snapshot(${xid}, ${since})`);
    }
    if (q.after) {
      const k = SYNC_KINDS.indexOf(kind);
      const a = SYNC_KINDS.indexOf(q.after.kind);
      // (xid, kind, id) > after: a later transaction, or the same one and a later kind, or the same kind and a later id.
      if (k === a) conds.push(sql`(${xid}, ${table}.id) > (${q.after.xid}::xid8, ${q.after.id}::uuid)`);
      else if (k > a) conds.push(sql`${xid} >= ${q.after.xid}::xid8`);
      else conds.push(sql`${xid} > ${q.after.xid}::xid8`);
    }
    const where = and(sql`${table}.user_id = ${q.userId}`, ...conds);
    const order = sql`${xid}, ${table}.id`;
    const xidText = sql<string>`${xid}::text`;
    if (kind === 'project') {
      const rows = await tx
        .select({ ...getTableColumns(projects), xid: xidText })
        .from(projects)
        .where(where)
        .orderBy(order)
        .limit(limit);
      return rows.map(({ xid: x, ...row }) => ({ kind, xid: x, row }));
    }
    if (kind === 'task') {
      const rows = await tx
        .select({ ...taskColumns, xid: xidText })
        .from(tasks)
        .where(where)
        .orderBy(order)
        .limit(limit);
      return rows.map(({ xid: x, ...row }) => ({ kind, xid: x, row }));
    }
    const res = (await tx.execute(
      sql`select kind, id, change_xid::text as xid from sync_tombstones where ${where} order by ${order} limit ${limit}`,
    )) as unknown as { rows: { kind: 'task' | 'project'; id: string; xid: string }[] };
    return res.rows.map((r) => ({ kind: 'tombstone', xid: r.xid, row: { kind: r.kind, id: r.id } }));
  }

  /** Deletes tombstones older than `cutoff` (the cleanup job); returns how many. */
  async purgeTombstonesBefore(cutoff: Date): Promise<number> {
    const res = (await this.db.execute(
      sql`delete from sync_tombstones where deleted_at < ${cutoff.toISOString()}::timestamptz returning 1`,
    )) as unknown as { rows: unknown[] };
    return res.rows.length;
  }
}

/** (xid, kind, id) order; xids compared as numbers (they are 64-bit, as text). */
export function compareChanges(a: SyncChange, b: SyncChange): number {
  const x = BigInt(a.xid) - BigInt(b.xid);
  if (x !== 0n) return x < 0n ? -1 : 1;
  const k = SYNC_KINDS.indexOf(a.kind) - SYNC_KINDS.indexOf(b.kind);
  if (k !== 0) return k;
  return a.row.id < b.row.id ? -1 : a.row.id > b.row.id ? 1 : 0;
}
