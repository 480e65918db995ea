import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { ReadRoutingPool, type ReadTarget, ReplicaMonitor, type ReplicaState } from './replica';
import { quoteIdent, ROW_SCOPE_SETTING, scopePglite, scopePool } from './rls';
import * as schema from './schema';

export type Schema = typeof schema;
/** A drizzle handle on either driver: the repositories never know which one. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A database handle or an open transaction: repositories accept either. */
export type Executor = Db | PgTransaction<PgQueryResultHKT, Schema, Record<string, never>>;

export interface Database {
  kind: 'pglite' | 'postgres';
  db: Db;
  /** Where the data lives, for the start-up log (never includes a password). */
  location: string;
  ping(): Promise<void>;
  /** Applies pending migrations, as the connection's login role (the owner), in the 'system' scope. */
  migrate(): Promise<void>;
  /**
   * From now on the application's queries run as `appRole` (row-level security, migration 0019;
   * call it after migrate: the migration creates the role). '' keeps the login role: for a login
   * that is itself restricted (a member of taskman_app). Either way every query carries the row
   * scope of the work it belongs to (currentRowScope), from the moment the database is opened.
   */
  restrict(appRole: string): Promise<void>;
  /** Pool figures for health and metrics; PGlite has a single connection. */
  poolStats(): { total: number; idle: number; waiting: number; max: number };
  /** With DATABASE_REPLICA_URL: the replica's state and how many reads went where (metrics). */
  replica?: { state(): ReplicaState; reads: Readonly<Record<ReadTarget, number>> };
  /** Calls `observe` with the duration (seconds) of every query from now on (metrics). */
  observeQueries(observe: (seconds: number) => void): void;
  close(): Promise<void>;
}

const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));
// Any constant works; it only has to be the same in every process that migrates.
const MIGRATION_LOCK_ID = 727_274_001;

export interface OpenDatabaseOptions {
  databaseUrl?: string | undefined;
  /** Directory for PGlite; 'memory://' for a throw-away database. */
  dataDir: string;
  poolMax?: number;
  /** A streaming replica of databaseUrl for reads (db/replica.ts). */
  replicaUrl?: string | undefined;
  replicaMaxLagMs?: number;
}

/** Opens PostgreSQL when a URL is given, else an embedded PGlite database in dataDir. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  if (!opts.databaseUrl) return openPglite(opts.dataDir);
  const replica = opts.replicaUrl
    ? { url: opts.replicaUrl, maxLagMs: opts.replicaMaxLagMs ?? 2_000 }
    : undefined;
  return openPostgres(opts.databaseUrl, opts.poolMax ?? 10, replica);
}

type QueryObserver = { current?: (seconds: number) => void };

/**
 * Times every call of `target.query` (promise or callback style, as pg's pool uses internally) and
 * reports it to the observer; the query itself is untouched.
 */
function timeQueries(target: { query: (...args: never[]) => unknown }, observer: QueryObserver): void {
  const original = target.query.bind(target) as (...args: unknown[]) => unknown;
  (target as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const start = performance.now();
    const done = () => observer.current?.((performance.now() - start) / 1000);
    const last = args.at(-1);
    if (typeof last === 'function') {
      args[args.length - 1] = (...cb: unknown[]) => {
        done();
        return (last as (...a: unknown[]) => unknown)(...cb);
      };
      return original(...args);
    }
    const result = original(...args);
    if (result && typeof (result as Promise<unknown>).then === 'function')
      (result as Promise<unknown>).then(done, done);
    return result;
  };
}

const WRITE = /^\s*(insert|update|delete)\s/i;
/** Distinct statements a connection keeps prepared; past this, further ones run unnamed. */
const MAX_PREPARED_PER_CONNECTION = 200;
const MAX_PREPARED_PARAMS = 64;
const MAX_PREPARED_TEXT = 8_192;
/** Statement text → its name: `tm_` and a hash of the text (the same in every process). */
const statementNames = new Map<string, string>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `tm_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
    // The application has a few hundred distinct statements; a bound all the same.
    if (statementNames.size >= 10_000) statementNames.clear();
    statementNames.set(text, name);
  }
  return name;
}

/**
 * Makes every INSERT, UPDATE and DELETE with parameters a named prepared statement on its
 * connection: PostgreSQL parses and analyses it once per connection, and after five runs may keep a
 * generic plan, instead of doing both for every request (node-postgres sends Parse only the first
 * time a name is used on a connection). Their plans do not depend on the values: a row by its key,
 * a user's rows by their user_id.
 *
 * SELECTs stay unnamed, planned for each run's values: a generic plan of a list, made for "any
 * user", is the plan of a small account, and reads a large account's tasks the slow way (npm run
 * bench: a 5,000-task account's filtered list and search served 40-60 % fewer requests/s named).
 * The few reads whose plan is a primary-key lookup whatever the values are prepared by name where
 * they are built (drizzle's .prepare(): the task by id, the session check).
 */
function prepareStatements(client: pg.PoolClient): void {
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  const connection = (
    client as unknown as { connection: { parsedStatements: Record<string, string>; stream: Socket } }
  ).connection;
  let prepared = 0;
  // A statement the server no longer has as it was prepared (a migration changed a column's type:
  // "cached plan must not change result type"; or it is gone): node-postgres would keep sending
  // the name on this connection and fail each time. The connection is dropped instead (the pool
  // replaces it); the statement that failed fails, the next one runs on a fresh connection.
  const dropIfStale = (err: unknown) => {
    const code = (err as { code?: string } | undefined)?.code;
    if (code === '0A000' || code === '26000') connection.stream.destroy();
  };
  (client as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const [first, values] = args;
    const given = first && typeof first === 'object' ? (first as pg.QueryConfig).name : undefined;
    const config =
      typeof first === 'string'
        ? { text: first }
        : first && typeof first === 'object' && !('submit' in first) && !given
          ? (first as pg.QueryConfig)
          : undefined;
    const params = Array.isArray(values) ? values : config?.values;
    // Writes only (see above), and only the ones of a fixed shape: a multi-row VALUES or a long
    // IN list has a text of its own for each size, and would fill the connection's statements.
    const name =
      config &&
      params?.length &&
      params.length <= MAX_PREPARED_PARAMS &&
      config.text.length <= MAX_PREPARED_TEXT &&
      prepared < MAX_PREPARED_PER_CONNECTION &&
      WRITE.test(config.text)
        ? statementName(config.text)
        : undefined;
    if (name) {
      if (!(name in connection.parsedStatements)) prepared++;
      args[0] = { ...config, name };
    }
    const result = original(...args);
    if ((name || given) && result && typeof (result as Promise<unknown>).then === 'function')
      (result as Promise<unknown>).then(undefined, dropIfStale);
    return result;
  };
}

/**
 * Holds what the application writes to a connection until the end of the current turn of the event
 * loop, then sends it in one write: a statement and the row scope's set_config before it, or the
 * statements a service issues together (pipeline mode), cost one system call, not one each. On
 * loopback a write is most of the cost of a small query for the client.
 */
function batchWrites(client: pg.PoolClient): void {
  const socket = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  if (!socket || typeof socket.cork !== 'function') return;
  const write = socket.write;
  let held = false;
  const flush = () => {
    held = false;
    if (socket.writableCorked > 0) socket.uncork();
  };
  socket.write = function (this: typeof socket, ...args: unknown[]) {
    if (!held && !socket.destroyed) {
      held = true;
      socket.cork();
      setImmediate(flush);
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof socket.write;
}

function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

function openPool(url: string, max: number, observer: QueryObserver, preparedStatements = true): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    // Pipeline mode: a statement issued while the connection still runs an earlier one is written
    // at once (each with its own Sync, so each is still its own implicit transaction) instead of
    // after the earlier one's answer. The row scope's set_config (rls.ts) then costs no round trip
    // of its own, and statements a service issues together (the outbox and audit rows) share one.
    pipeline: true,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    // A connection lost while checked out (in a transaction, say) emits 'error' as well as failing
    // its queries; pg-pool listens only while it is idle. Without a listener the process would
    // exit. The failed queries say what happened; the pool drops the client when it comes back.
    client.on('error', () => {});
    batchWrites(client);
    if (preparedStatements) prepareStatements(client);
    timeQueries(client, observer);
  });
  return pool;
}

function openPostgres(url: string, max: number, replicaOf?: { url: string; maxLagMs: number }): Database {
  const observer: QueryObserver = {};
  const pool = openPool(url, max, observer);
  const scoped = scopePool(pool);
  // The replica's connections take the same role and row scope as the primary's.
  const replicaPool = replicaOf ? openPool(replicaOf.url, max, observer) : undefined;
  const scopedReplica = replicaPool ? scopePool(replicaPool) : undefined;
  // The monitor's own connections (one to each server): never queued behind the application's.
  const watch = (connectionString: string) => {
    const p = new pg.Pool({ connectionString, max: 1, connectionTimeoutMillis: 2_000, idleTimeoutMillis: 0 });
    p.on('error', () => {});
    return p;
  };
  const watchers = replicaOf ? [watch(url), watch(replicaOf.url)] : [];
  const monitor = replicaPool
    ? new ReplicaMonitor(watchers[0]!, watchers[1]!, replicaOf!.maxLagMs)
    : undefined;
  const router = replicaPool && monitor ? new ReadRoutingPool(pool, replicaPool, monitor) : undefined;
  monitor?.start();
  const db = drizzlePg((router ?? pool) as pg.Pool, { schema }) as unknown as Db;
  return {
    kind: 'postgres',
    db,
    location: replicaOf ? `${redactUrl(url)} (reads: ${redactUrl(replicaOf.url)})` : redactUrl(url),
    async ping() {
      await pool.query('select 1');
    },
    async migrate() {
      // A connection of its own, as the login role (never the app role), seeing every row.
      const client = await scoped.rawConnect();
      try {
        await client.query('reset role');
        await client.query(`select set_config('${ROW_SCOPE_SETTING}', 'system', false)`);
        const { rows } = await client.query<{ ok: boolean }>(
          `select has_database_privilege(current_database(), 'CREATE') as ok`,
        );
        // A restricted login (DATABASE_APP_ROLE='') cannot migrate: it only checks that the owner did.
        if (!rows[0]?.ok) return await assertMigrated(client);
        // Several API processes may start at once: one migrates, the others wait and find nothing to do.
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
        try {
          await migratePg(drizzlePg(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
        }
      } finally {
        client.release();
      }
    },
    async restrict(appRole) {
      if (appRole) {
        // Once, up front: a role that cannot be taken is a start-up error, not one per query.
        const client = await scoped.rawConnect();
        try {
          await client.query(`set role ${quoteIdent(appRole)}`);
        } catch (err) {
          throw new Error(
            `cannot switch to the database role ${appRole} (DATABASE_APP_ROLE): ${(err as Error).message}`,
          );
        } finally {
          client.release();
        }
      }
      scoped.setRole(appRole);
      scopedReplica?.setRole(appRole);
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max }),
    ...(monitor && router ? { replica: { state: () => monitor.state(), reads: router.reads } } : {}),
    observeQueries(observe) {
      observer.current = observe;
    },
    async close() {
      monitor?.stop();
      await Promise.all([pool.end(), replicaPool?.end(), ...watchers.map((w) => w.end())]);
    },
  };
}

/** The newest migration in the folder, as drizzle records it (the journal's `when`). */
function latestMigrationMillis(): number {
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
    entries: { when: number }[];
  };
  return Math.max(...journal.entries.map((e) => e.when));
}

async function assertMigrated(client: pg.PoolClient): Promise<void> {
  const pending = () =>
    new Error(
      "the database has migrations pending, and this login cannot apply them: run `npm run migrate` with the owner's DATABASE_URL first",
    );
  let applied: number;
  try {
    const { rows } = await client.query<{ at: string | null }>(
      'select max(created_at)::text as at from drizzle.__drizzle_migrations',
    );
    applied = Number(rows[0]?.at ?? 0);
  } catch {
    throw pending();
  }
  if (applied < latestMigrationMillis()) throw pending();
}

async function openPglite(dataDir: string): Promise<Database> {
  if (dataDir.startsWith('memory://')) return databaseFromPglite(await PGlite.create(dataDir), 'in memory');
  const dir = path.join(dataDir, 'pgdata');
  mkdirSync(dir, { recursive: true });
  const release = lockDataDir(dataDir);
  try {
    const database = databaseFromPglite(await PGlite.create(dir), dir);
    return {
      ...database,
      close: async () => {
        await database.close();
        release();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite is one process's database: a second process opening the same folder would corrupt it.
 * A lock file holds the owner's pid; a lock left by a process that died is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, 'taskman.lock');
  const mine = String(process.pid);
  try {
    writeFileSync(file, mine, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = Number(readFileSync(file, 'utf8').trim());
    if (owner && owner !== process.pid && isAlive(owner)) {
      throw new Error(
        `the embedded database in ${dataDir} is in use by another Taskman process (pid ${owner}); stop it first, or set DATABASE_URL to share a PostgreSQL server`,
      );
    }
    writeFileSync(file, mine);
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === mine) unlinkSync(file);
    } catch {
      // already gone
    }
  };
}

/** Wraps an open PGlite client (e.g. one loaded from a dump in tests) as a Database. */
export function databaseFromPglite(client: PGlite, location: string): Database {
  const observer: QueryObserver = {};
  timeQueries(client, observer);
  // Queries inside a transaction go through the transaction object: time those too.
  const transaction = client.transaction.bind(client);
  client.transaction = ((
    run: (tx: Parameters<Parameters<PGlite['transaction']>[0]>[0]) => Promise<unknown>,
  ) =>
    transaction((tx) => {
      timeQueries(tx, observer);
      return run(tx);
    })) as PGlite['transaction'];
  const scoped = scopePglite(client);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    location,
    async ping() {
      await db.execute(sql`select 1`);
    },
    async migrate() {
      await scoped.unscoped(() =>
        migratePglite(drizzlePglite(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER }),
      );
    },
    async restrict(appRole) {
      try {
        await scoped.setRole(appRole);
      } catch (err) {
        throw new Error(
          `cannot switch to the database role ${appRole} (DATABASE_APP_ROLE): ${(err as Error).message}`,
        );
      }
    },
    poolStats: () => ({ total: 1, idle: 1, waiting: 0, max: 1 }),
    observeQueries(observe) {
      observer.current = observe;
    },
    close: () => client.close(),
  };
}
