// Reads on a streaming replica (DATABASE_REPLICA_URL). A read-only request whose caller has not
// written lately (request-context `reads`) sends its queries to the replica while the replica is
// up and close enough behind the primary; everything else goes to the primary: writes, every
// transaction, jobs, and any read when the replica is down or trails by more than
// DATABASE_REPLICA_MAX_LAG_MS. A query the replica cannot answer (it went away, or it is a write
// inside a GET) runs again on the primary, so a replica failing only moves reads, never fails them.
//
// Read-your-writes: the API sends a user's reads to the primary for READ_YOUR_WRITES_MS after
// their last write (apps/api/src/plugins/read-routing.ts). That window is longer than the lag the
// replica may have while it is used, so the replica has replayed any write it is asked to show.
import type pg from 'pg';
import { mayReadFromReplica } from '../lib/request-context';
import { isDatabaseUnavailable, sqlState } from './errors';

/** How often each process asks the replica how far it has come. */
export const REPLICA_CHECK_MS = 500;
// Primary positions older than this are forgotten: a replica further behind is simply "too far".
const HISTORY_MS = 60_000;

/** A WAL position written 'X/Y' (two 32-bit hexadecimal halves) as one number. */
export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  if (hi === undefined || lo === undefined) throw new Error(`not a WAL position: ${text}`);
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

export interface ReplicaState {
  /** The replica answered the last check and is still a replica (not promoted). */
  up: boolean;
  /** How far behind the primary it was at the last check (seconds); null while down. */
  lagSeconds: number | null;
  /** Reads go to it now. */
  usable: boolean;
}

/**
 * Measures the replica's lag without trusting clocks across servers or replay timestamps (which
 * stand still while the primary is idle): every check samples the primary's WAL position, then
 * the replica's replayed position. The replica holds every commit made before the newest sampled
 * primary position it has reached; its lag is the age of that sample. An idle primary leaves the
 * position where it is, so an idle replica is 0 s behind.
 */
export class ReplicaMonitor {
  private samples: { at: number; lsn: bigint }[] = [];
  private up = false;
  private lagMs: number | null = null;
  private checkedAt = 0;
  private running = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly primary: Pick<pg.Pool, 'query'>,
    private readonly replica: Pick<pg.Pool, 'query'>,
    private readonly maxLagMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), REPLICA_CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check (the timer calls it; tests may too). */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let primaryAnswered = true;
      try {
        const { rows } = await this.primary.query<{ lsn: string }>(
          'select pg_current_wal_lsn()::text as lsn',
        );
        const at = this.now();
        this.samples.push({ at, lsn: parseLsn(rows[0]!.lsn) });
        while (this.samples.length > 1 && this.samples[0]!.at < at - HISTORY_MS) this.samples.shift();
      } catch {
        primaryAnswered = false;
      }
      let replayed: bigint;
      try {
        const { rows } = await this.replica.query<{ recovering: boolean; lsn: string | null }>(
          'select pg_is_in_recovery() as recovering, pg_last_wal_replay_lsn()::text as lsn',
        );
        // A promoted replica has branched off: what it shows is no longer the primary's.
        if (!rows[0]?.recovering || !rows[0].lsn) return this.markDown();
        replayed = parseLsn(rows[0].lsn);
      } catch {
        return this.markDown();
      }
      const checkedAt = this.now();
      let reached: { at: number; lsn: bigint } | undefined;
      for (let i = this.samples.length - 1; i >= 0 && !reached; i--)
        if (this.samples[i]!.lsn <= replayed) reached = this.samples[i];
      this.up = true;
      this.checkedAt = checkedAt;
      if (!reached) this.lagMs = this.samples.length ? checkedAt - this.samples[0]!.at : null;
      // With the primary unreachable nothing new can be committed there: a replica that has
      // everything we last saw is as current as anything can be, and keeps serving reads.
      else if (!primaryAnswered && reached === this.samples.at(-1)) this.lagMs = 0;
      else this.lagMs = checkedAt - reached.at;
    } finally {
      this.running = false;
    }
  }

  /** After a failed query: no reads go to the replica until a check finds it again. */
  markDown(): void {
    this.up = false;
    this.lagMs = null;
  }

  state(): ReplicaState {
    const lagMs = this.lagMs;
    // The lag as of now: what it was at the last check, plus the time since (a check that stopped
    // coming, say with the event loop stalled, must not leave an old "0 s behind" in force).
    const usable = this.up && lagMs !== null && lagMs + (this.now() - this.checkedAt) <= this.maxLagMs;
    return { up: this.up, lagSeconds: lagMs === null ? null : lagMs / 1000, usable };
  }
}

export type ReadTarget = 'primary' | 'replica';

// The replica refuses a write (read_only_sql_transaction) or cancels a read that conflicts with
// the WAL it is replaying (serialization_failure, "conflict with recovery"): the primary answers.
const RETRY_ON_PRIMARY = new Set(['25006', '40001']);

/**
 * What drizzle is given instead of the primary's pool: `query` (statements outside transactions)
 * goes to the replica when the current request may read from it and the replica is usable;
 * `connect` (transactions) always to the primary. Its class name ends in Pool on purpose: drizzle
 * checks it to run each transaction on one checked-out connection.
 */
export class ReadRoutingPool {
  readonly reads: Record<ReadTarget, number> = { primary: 0, replica: 0 };

  constructor(
    private readonly primary: pg.Pool,
    private readonly replica: pg.Pool,
    private readonly monitor: ReplicaMonitor,
  ) {}

  query(...args: unknown[]): unknown {
    const onPrimary = () => (this.primary.query as (...a: unknown[]) => unknown)(...args);
    // The callback form is pg-pool's own, never drizzle's: keep it simple and on the primary.
    if (typeof args.at(-1) === 'function' || !mayReadFromReplica() || !this.monitor.state().usable) {
      this.reads.primary++;
      return onPrimary();
    }
    this.reads.replica++;
    return (this.replica.query as (...a: unknown[]) => Promise<unknown>)(...args).catch((err: unknown) => {
      if (isDatabaseUnavailable(err)) this.monitor.markDown();
      else if (!RETRY_ON_PRIMARY.has(sqlState(err) ?? '')) throw err;
      this.reads.replica--;
      this.reads.primary++;
      return onPrimary();
    });
  }

  connect(...args: unknown[]): unknown {
    return (this.primary.connect as (...a: unknown[]) => unknown)(...args);
  }
}
