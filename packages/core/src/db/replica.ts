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
  /**
   * How far behind the primary it was at the last check (seconds); null while down; 60 when it is
   * further behind than the last minute of samples (or than this process has been watching).
   */
  lagSeconds: number | null;
  /** Reads go to it now. */
  usable: boolean;
}

interface Sample {
  at: number;
  lsn: bigint;
}

/**
 * How far behind the replica is (ms), from the primary's sampled WAL positions (oldest first, each
 * with the time just before it was asked) and the replica's replayed position: the replica holds
 * every commit made before the newest sample it has reached, so its lag is that sample's age.
 * `undefined` when it has reached none of them: further behind than anything remembered (or than
 * this process has been watching), which is too far. With the primary unreachable (`primaryDown`:
 * refused, shutting down), nothing new can be committed there: a replica that has everything last
 * seen is as current as anything reachable, 0 s behind, and keeps serving reads.
 */
export function replicaLag(
  samples: readonly Sample[],
  replayed: bigint,
  checkedAt: number,
  primaryDown: boolean,
): number | undefined {
  for (let i = samples.length - 1; i >= 0; i--) {
    const sample = samples[i]!;
    if (sample.lsn > replayed) continue;
    return primaryDown && i === samples.length - 1 ? 0 : checkedAt - sample.at;
  }
  return undefined;
}

/**
 * Measures the replica's lag without trusting clocks across servers or replay timestamps (which
 * stand still while the primary is idle): every check samples the primary's WAL position, then
 * the replica's replayed position (replicaLag). An idle primary leaves the position where it is,
 * so an idle replica is 0 s behind. It has a connection to each server of its own, so a busy
 * application pool neither delays a sample nor passes for the primary being down.
 */
export class ReplicaMonitor {
  private samples: Sample[] = [];
  private up = false;
  private lagMs: number | undefined;
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

  /** One check (the timer calls it). */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let primaryDown = false;
      // Taken before asking: the position that comes back holds every commit made before then.
      const at = this.now();
      try {
        const { rows } = await this.primary.query<{ lsn: string }>(
          'select pg_current_wal_lsn()::text as lsn',
        );
        this.samples.push({ at, lsn: parseLsn(rows[0]!.lsn) });
        while (this.samples.length > 1 && this.samples[0]!.at < at - HISTORY_MS) this.samples.shift();
      } catch (err) {
        primaryDown = isDatabaseUnavailable(err);
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
      this.up = true;
      this.checkedAt = this.now();
      this.lagMs = replicaLag(this.samples, replayed, this.checkedAt, primaryDown);
    } finally {
      this.running = false;
    }
  }

  /** After a failed query: no reads go to the replica until a check finds it again. */
  markDown(): void {
    this.up = false;
    this.lagMs = undefined;
  }

  state(): ReplicaState {
    const lagMs = this.lagMs;
    // The lag as of now: what it was at the last check, plus the time since (a check that stopped
    // coming, say with the event loop stalled, must not leave an old "0 s behind" in force).
    const usable = this.up && lagMs !== undefined && lagMs + (this.now() - this.checkedAt) <= this.maxLagMs;
    const lagSeconds = !this.up ? null : lagMs === undefined ? HISTORY_MS / 1000 : lagMs / 1000;
    return { up: this.up, lagSeconds, usable };
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
