// Row-level security at run time (migration 0019 has the policies): the application's queries run
// as DATABASE_APP_ROLE (taskman_app), and each one with the setting taskman.row_scope of the work
// it belongs to — the signed-in user's id during a request, 'system' elsewhere (currentRowScope).
//
// The scope is a session setting, changed only when the next query's scope differs from the
// connection's: a connection serving one user after another pays one small statement per switch.
// That statement is not awaited: it is queued on the connection just ahead of the caller's query,
// and both drivers run a connection's statements in the order they were issued.
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { currentRowScope } from '../lib/request-context';

/** The setting the policies read; not secret, only ever set by the application. */
export const ROW_SCOPE_SETTING = 'taskman.row_scope';
const SET_SCOPE = `select set_config('${ROW_SCOPE_SETTING}', $1, false)`;

/** A role name as an SQL identifier (validated by the config; quoted all the same). */
export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

type Callback = (err: Error | undefined, client?: pg.PoolClient, release?: (err?: Error) => void) => void;

export interface ScopedPool {
  /** From now on every checked-out connection runs as `role` (once per connection, awaited). */
  setRole(role: string | undefined): void;
  /**
   * A connection outside the scoping (migrations): what it does to its role and scope is
   * forgotten when it is released, so its next checkout sets both again.
   */
  rawConnect(): Promise<pg.PoolClient>;
}

/**
 * Wraps `pool.connect` — both forms: drizzle's transactions use the promise, pg-pool's own
 * `pool.query` calls `this.connect(cb)` — so that each checkout gets the caller's row scope (and
 * the app role) before the caller's first query. The scope is read when connect is called, in the
 * caller's async context: the client itself may come back from another request's release.
 */
export function scopePool(pool: pg.Pool): ScopedPool {
  // The scope each connection will have once the statements already sent to it have run.
  const scopes = new WeakMap<pg.PoolClient, string>();
  // Connections that have switched to the app role.
  const switched = new WeakSet<pg.PoolClient>();
  let role: string | undefined;
  const original = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  // The driver's own query, not the metrics' timing wrapper (set per connection on 'connect').
  const rawQuery = (
    client: pg.PoolClient,
    query: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<unknown> =>
    (
      Object.getPrototypeOf(client) as {
        query(query: string | pg.QueryConfig, values?: unknown[]): Promise<unknown>;
      }
    ).query.call(client, query, values);

  const prepare = async (client: pg.PoolClient, scope: string) => {
    if (role && !switched.has(client)) {
      try {
        await rawQuery(client, `set role ${quoteIdent(role)}`);
      } catch (err) {
        // Never hand out a connection that did not switch: it would run as the owner.
        client.release(err as Error);
        throw err;
      }
      switched.add(client);
    }
    if (scopes.get(client) !== scope) {
      scopes.set(client, scope);
      // Not awaited: it runs before whatever the caller sends next. If it fails, the connection's
      // scope is unknown, and the next checkout sets it again.
      // A named statement: parsed once per connection (db/client.ts prepares the others alike).
      rawQuery(client, { name: 'tm_set_row_scope', text: SET_SCOPE }, [scope]).catch(() =>
        scopes.delete(client),
      );
    }
    return client;
  };

  const connect = (cb?: Callback) => {
    const scope = currentRowScope();
    const ready = original().then((client) => prepare(client, scope));
    if (!cb) return ready;
    ready
      .then(
        (client) => cb(undefined, client, client.release),
        (err: Error) => cb(err, undefined, () => {}),
      )
      // An exception thrown by the callback is the caller's, as if pg-pool had called it directly.
      .catch((err) =>
        process.nextTick(() => {
          throw err;
        }),
      );
    return undefined;
  };
  (pool as unknown as { connect: typeof connect }).connect = connect;

  return {
    setRole(next) {
      role = next || undefined;
    },
    async rawConnect() {
      const client = await original();
      const release = client.release;
      client.release = (err?: Error | boolean) => {
        switched.delete(client);
        scopes.delete(client);
        return release.call(client, err);
      };
      return client;
    },
  };
}

type PgliteQuery = PGlite['query'];
type PgliteExec = PGlite['exec'];
type PgliteTransaction = PGlite['transaction'];

export interface ScopedPglite {
  /** Runs `fn` on the bare connection (as its owner, no scope bookkeeping): migrations. */
  unscoped<T>(fn: () => Promise<T>): Promise<T>;
  setRole(role: string | undefined): Promise<void>;
}

/**
 * PGlite has one connection: before a query, exec or transaction whose scope differs from the
 * connection's, the set_config is issued first, in the same synchronous call. PGlite queues query,
 * exec and transaction on one FIFO mutex (async-mutex's semaphore, entered after the same single
 * `await` in all three), so the pair runs in order, with nothing of another caller's in between.
 * Queries inside a transaction go through its own object: the scope was set before its BEGIN.
 */
export function scopePglite(client: PGlite): ScopedPglite {
  // The driver's own methods (the instance's may be wrapped by the metrics' timing): the
  // set_config is not counted as a query of its own.
  const proto = Object.getPrototypeOf(client) as PGlite;
  const raw = {
    query: proto.query.bind(client) as PgliteQuery,
    exec: proto.exec.bind(client) as PgliteExec,
  };
  // The scope once everything queued so far has run (undefined: unknown, set it next time).
  let scope: string | undefined;
  let role: string | undefined;
  const sync = () => {
    const next = currentRowScope();
    if (next === scope) return;
    scope = next;
    raw.query(SET_SCOPE, [next]).catch(() => {
      scope = undefined;
    });
  };
  const scoped = {
    query: client.query,
    exec: client.exec,
    transaction: client.transaction,
  };
  client.query = ((...args: Parameters<PgliteQuery>) => {
    sync();
    return scoped.query.apply(client, args);
  }) as PgliteQuery;
  client.exec = ((...args: Parameters<PgliteExec>) => {
    sync();
    return scoped.exec.apply(client, args);
  }) as PgliteExec;
  client.transaction = ((...args: Parameters<PgliteTransaction>) => {
    sync();
    return scoped.transaction.apply(client, args);
  }) as PgliteTransaction;

  return {
    async unscoped(fn) {
      if (role) await raw.exec('reset role');
      await raw.query(SET_SCOPE, ['system']);
      scope = 'system';
      try {
        return await fn();
      } finally {
        if (role) await raw.exec(`set role ${quoteIdent(role)}`);
      }
    },
    async setRole(next) {
      if (next) await raw.exec(`set role ${quoteIdent(next)}`);
      else if (role) await raw.exec('reset role');
      role = next || undefined;
    },
  };
}
