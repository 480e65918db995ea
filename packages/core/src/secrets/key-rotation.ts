import { type SQL, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client';
import { SecretBox } from '../lib/encryption';
import { isClearWebhookSecret, webhookSecretAad } from '../repositories/webhook.repository';
import { calendarPasswordAad } from '../services/calendar-connection.service';

/** A column holding values sealed with the SecretBox; its table has a uuid primary key `id`. */
export interface SealedColumn {
  table: string;
  column: string;
  /** What a value of row `id` is bound to (as the code that seals it says). */
  aad(id: string): string;
  /** A value stored in clear (written before the column was sealed): the rotation seals it. */
  isClear?(value: string): boolean;
}

/** Every value sealed at rest. A new use of the SecretBox adds its column here. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  {
    table: 'webhooks',
    column: 'secret',
    aad: (id) => webhookSecretAad(id, 'secret'),
    isClear: isClearWebhookSecret,
  },
  {
    table: 'webhooks',
    column: 'previous_secret',
    aad: (id) => webhookSecretAad(id, 'previous_secret'),
    isClear: isClearWebhookSecret,
  },
  { table: 'calendar_connections', column: 'password_sealed', aad: calendarPasswordAad },
];

/** A value that cannot be opened with any key given (or is not a sealed value at all). */
export class KeyRotationError extends Error {
  override name = 'KeyRotationError';
  constructor(
    readonly table: string,
    readonly column: string,
    readonly rowId: string,
    reason: string,
  ) {
    super(`${table}.${column} of row ${rowId} ${reason}`);
  }
}

export interface ColumnReport {
  table: string;
  column: string;
  /** Values looked at (rows where the column is not null). */
  values: number;
  /** Sealed under an older key (or the first format), now under the current one. */
  resealed: number;
  /** Stored in clear, now sealed. */
  sealedFromClear: number;
  /** Under the current key already: left alone. */
  current: number;
}

export interface RotationReport {
  /** The key every value is sealed under now. */
  keyId: string;
  columns: ColumnReport[];
  /** resealed + sealedFromClear, over every column (a dry run: what would change). */
  changed: number;
}

export interface RotationOptions {
  /** Rows per transaction (default 500). */
  batchSize?: number;
  /** Check that every value opens and count what would change, changing nothing. */
  dryRun?: boolean;
  columns?: readonly SealedColumn[];
}

type Row = { id: string; value: string };

/** The tables of these columns the database lacks (not migrated yet); the command refuses to run then. */
export async function missingTables(
  db: Db,
  columns: readonly SealedColumn[] = SEALED_COLUMNS,
): Promise<string[]> {
  const missing: string[] = [];
  for (const table of new Set(columns.map((c) => c.table))) {
    const result = (await db.execute(
      sql`select to_regclass(${table}) is not null as present`,
    )) as unknown as {
      rows: { present: boolean }[];
    };
    if (!result.rows[0]?.present) missing.push(table);
  }
  return missing;
}
type Change = 'current' | 'clear' | 'reseal';

/**
 * `npm run rotate-encryption-key`: seals every value at rest under the box's current key, opening
 * the others with its previous keys. First every value to change is opened (a read-only pass): one
 * that opens with no known key stops the command there, naming its table and row, before anything
 * has changed. Then each batch of rows is locked, re-sealed and written in one transaction.
 * Idempotent: values under the current key are skipped, so a second run changes nothing, and a run
 * that stops half-way is finished by the next.
 */
export async function rotateEncryptionKey(
  db: Db,
  box: SecretBox,
  opts: RotationOptions = {},
): Promise<RotationReport> {
  const columns = opts.columns ?? SEALED_COLUMNS;
  const batchSize = opts.batchSize ?? 500;
  const missing = await missingTables(db, columns);
  if (missing.length > 0)
    throw new Error(
      `the database has no table ${missing.join(', ')}: migrate it first (npm run migrate, or start the server once)`,
    );

  const classify = (c: SealedColumn, row: Row): Change => {
    if (box.isCurrent(row.value)) return 'current';
    if (c.isClear?.(row.value)) return 'clear';
    if (!SecretBox.isSealed(row.value))
      throw new KeyRotationError(c.table, c.column, row.id, 'is neither sealed nor a value stored in clear');
    return 'reseal';
  };
  const newValue = (c: SealedColumn, row: Row, change: Change): string => {
    try {
      return change === 'clear' ? box.seal(row.value, c.aad(row.id)) : box.reseal(row.value, c.aad(row.id));
    } catch (err) {
      throw new KeyRotationError(c.table, c.column, row.id, (err as Error).message);
    }
  };

  // Pass 1, read-only: everything to change opens.
  const planned = new Map<SealedColumn, ColumnReport>();
  for (const c of columns) {
    const report = {
      table: c.table,
      column: c.column,
      values: 0,
      resealed: 0,
      sealedFromClear: 0,
      current: 0,
    };
    planned.set(c, report);
    await forEachBatch(db, c, batchSize, false, async (rows) => {
      for (const row of rows) {
        const change = classify(c, row);
        count(report, change);
        if (change === 'reseal') newValue(c, row, change);
      }
    });
  }
  if (opts.dryRun) return reportOf(box, [...planned.values()]);

  // Pass 2: each batch locked, re-sealed and written in a transaction.
  const done: ColumnReport[] = [];
  for (const c of columns) {
    const report = {
      table: c.table,
      column: c.column,
      values: 0,
      resealed: 0,
      sealedFromClear: 0,
      current: 0,
    };
    done.push(report);
    await forEachBatch(db, c, batchSize, true, async (rows, tx) => {
      for (const row of rows) {
        const change = classify(c, row);
        count(report, change);
        if (change === 'current') continue;
        await tx.execute(
          sql`update ${sql.identifier(c.table)} set ${sql.identifier(c.column)} = ${newValue(c, row, change)} where id = ${row.id}::uuid`,
        );
      }
    });
  }
  return reportOf(box, done);
}

function count(report: ColumnReport, change: Change): void {
  report.values++;
  if (change === 'current') report.current++;
  else if (change === 'clear') report.sealedFromClear++;
  else report.resealed++;
}

const reportOf = (box: SecretBox, columns: ColumnReport[]): RotationReport => ({
  keyId: box.keyId,
  columns,
  changed: columns.reduce((n, c) => n + c.resealed + c.sealedFromClear, 0),
});

/** Walks a column's non-null values in id order, `size` rows at a time; `lock`: each batch in a transaction, rows locked. */
async function forEachBatch(
  db: Db,
  c: SealedColumn,
  size: number,
  lock: boolean,
  fn: (rows: Row[], tx: Executor) => Promise<void>,
): Promise<void> {
  let after: string | undefined;
  for (;;) {
    const batch = async (tx: Executor) => {
      const conditions: SQL[] = [sql`${sql.identifier(c.column)} is not null`];
      if (after !== undefined) conditions.push(sql`id > ${after}::uuid`);
      const result = (await tx.execute(
        sql`select id::text as id, ${sql.identifier(c.column)} as value from ${sql.identifier(c.table)} where ${sql.join(conditions, sql` and `)} order by id limit ${size}${lock ? sql` for update` : sql``}`,
      )) as unknown as { rows: Row[] };
      if (result.rows.length > 0) await fn(result.rows, tx);
      return result.rows;
    };
    const rows = lock ? await db.transaction((tx) => batch(tx)) : await batch(db);
    if (rows.length < size) return;
    after = rows.at(-1)!.id;
  }
}
